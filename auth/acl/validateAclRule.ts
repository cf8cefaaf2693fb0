import { parseRange } from '../cidr';
import { AclRule } from '../types';

/** Checks one rule from configuration, a file or a back end; throws naming `where` and what is wrong. */
export function validateAclRule(raw: unknown, where: string): AclRule {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: a rule must be an object`);
  const r = raw as Record<string, unknown>;
  if (r.permission !== 'allow' && r.permission !== 'deny') throw new Error(`${where}: permission must be allow or deny`);
  if (r.action !== 'publish' && r.action !== 'subscribe' && r.action !== 'all') throw new Error(`${where}: action must be publish, subscribe or all`);
  if (typeof r.topic !== 'string' || r.topic.length === 0) throw new Error(`${where}: topic must be a topic filter`);
  const rule: AclRule = { permission: r.permission, action: r.action, topic: r.topic };
  for (const k of ['clientId', 'username', 'group', 'ip'] as const) {
    if (r[k] === undefined || r[k] === null) continue;
    if (typeof r[k] !== 'string') throw new Error(`${where}: ${k} must be a string`);
    rule[k] = r[k] as string;
  }
  if (rule.ip) parseRange(rule.ip);
  return rule;
}
