/**
 * ACL list entries as stored in Redis: one JSON object per entry,
 * {"permission":"allow","action":"publish","topic":"sensors/%u/#"}. An entry
 * that is not JSON, or not a valid rule, is skipped and reported.
 */
import { AclRule } from '../../auth/types';
import { aclRulesFromRows, InvalidAclRowHandler } from '../shared/aclRows';

export function aclRulesFromEntries(entries: readonly string[], onInvalid: InvalidAclRowHandler): AclRule[] {
  const rows: unknown[] = [];
  for (const entry of entries) {
    try {
      rows.push(JSON.parse(entry));
    } catch {
      onInvalid(entry, 'not JSON');
    }
  }
  return aclRulesFromRows(rows, onInvalid);
}
