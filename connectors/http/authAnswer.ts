/**
 * The HTTP service's answers, checked: a login answer
 * {"result":"allow"|"deny"|"ignore","superuser"?:bool,"groups"?:[string]} becomes
 * an AuthDecision; an ACL answer {"rules":[...]} becomes its rule rows. An
 * answer of another shape is an Error (the service is not answering properly),
 * never a guess.
 */
import { AuthDecision } from '../../auth/types';

function objectOf(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('answer is not a JSON object');
  return body as Record<string, unknown>;
}

export function decisionFromAnswer(body: unknown): AuthDecision {
  const answer = objectOf(body);
  const { result, superuser, groups } = answer;
  if (superuser !== undefined && typeof superuser !== 'boolean') throw new Error('"superuser" must be true or false');
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) throw new Error('"groups" must be a list of strings');
  switch (result) {
    case 'allow':
      return { result: 'allow', ...(superuser !== undefined && { superuser }), ...(groups !== undefined && { groups: [...(groups as string[])] }) };
    case 'deny':
      // The service's own wording is not passed on: it could echo what the client sent.
      return { result: 'deny', refusal: 'bad-credentials', reason: 'denied by the HTTP service' };
    case 'ignore':
      return { result: 'ignore', reason: 'the HTTP service left the decision to others' };
    default:
      throw new Error(`"result" must be "allow", "deny" or "ignore", not ${JSON.stringify(result ?? null)}`);
  }
}

export function ruleRowsFromAnswer(body: unknown): unknown[] {
  const { rules } = objectOf(body);
  if (!Array.isArray(rules)) throw new Error('"rules" must be a list');
  return rules;
}
