/**
 * The user name as the directory spells it. Directories compare names with
 * caseIgnoreMatch and insignificant-space handling (RFC 4517 section 4.2.11,
 * RFC 4518 section 2.6.1), so "ALICE" and " alice" find (and bind as) alice.
 * The broker's ACL rules and superuser list compare names exactly: the login
 * must continue as "alice", or rules written for alice would not apply.
 */
import { Entry } from 'ldapts';
import { attributeValues } from './groups';

/** Case-folded, NFKC-normalised, with insignificant spaces removed: close to how the directory matched. */
function matchKey(name: string): string {
  return name.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/**
 * The entry's value of the user-name attribute that the given name matched,
 * when it is spelled differently; undefined when the name is already the
 * entry's own spelling or no value matches (e.g. the login used the mail address).
 */
export function canonicalUsername(entry: Entry | undefined, attribute: string | null, given: string): string | undefined {
  if (!entry || attribute === null) return undefined;
  const values = attributeValues(entry, attribute);
  if (values.includes(given)) return undefined;
  const key = matchKey(given);
  return values.find((v) => matchKey(v) === key);
}
