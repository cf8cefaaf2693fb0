/**
 * Stored ACL rows (SQL result rows, Redis list entries, HTTP `rules` items)
 * turned into AclRules. Every back end validates through here: a row with an
 * unknown permission or action or an invalid topic filter is skipped (and
 * reported) rather than guessed at, so one bad row cannot widen access.
 */
import { AclAction, AclRule } from '../../auth/types';
import { topicFilterError } from '../../src/protocol/topics';
import { textOf } from '../sql/storedValues';

const PERMISSIONS: ReadonlySet<string> = new Set<AclRule['permission']>(['allow', 'deny']);
const ACTIONS: ReadonlySet<string> = new Set<AclAction>(['publish', 'subscribe', 'all']);

/** Told about every row that was skipped, and why. */
export type InvalidAclRowHandler = (row: unknown, why: string) => void;

/** The rule a row stands for, or the reason it is not a valid rule. */
export function aclRuleFromRow(row: unknown): { rule: AclRule } | { invalid: string } {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return { invalid: 'not an object with permission, action and topic' };
  const record = row as Record<string, unknown>;
  const permission = textOf(record.permission)?.trim().toLowerCase();
  if (!permission || !PERMISSIONS.has(permission)) return { invalid: `permission must be "allow" or "deny", not ${JSON.stringify(permission ?? null)}` };
  const action = textOf(record.action)?.trim().toLowerCase();
  if (!action || !ACTIONS.has(action)) return { invalid: `action must be "publish", "subscribe" or "all", not ${JSON.stringify(action ?? null)}` };
  const topic = textOf(record.topic);
  if (topic === null) return { invalid: 'no topic' };
  const topicError = topicFilterError(topic);
  if (topicError) return { invalid: topicError };
  return { rule: { permission: permission as AclRule['permission'], action: action as AclAction, topic } };
}

/** The valid rules among `rows`, in their order. */
export function aclRulesFromRows(rows: readonly unknown[], onInvalid: InvalidAclRowHandler): AclRule[] {
  const rules: AclRule[] = [];
  for (const row of rows) {
    const parsed = aclRuleFromRow(row);
    if ('rule' in parsed) rules.push(parsed.rule);
    else onInvalid(row, parsed.invalid);
  }
  return rules;
}
