/**
 * Group membership of an authenticated user, as group names for ACL rules
 * (AclRule.group) and the superuser flag.
 */
import { Entry } from 'ldapts';
import { ResolvedGroups } from './config';
import { firstRdnValue } from './dn';
import { escapeFilterValue, fillTemplate } from './escape';
import { LdapSession } from './session';

/** More groups than this are not read (a runaway filter must not stall a login). */
const MAX_GROUPS = 1000;

export interface Membership {
  groups: string[];
  superuser: boolean;
}

/** The string values of one attribute of an entry (attribute names are case-insensitive, RFC 4512 section 2.5). */
export function attributeValues(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  if (key === undefined || key === 'dn') return [];
  const v = entry[key];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
}

/** Group names (first RDN values) of group DNs, without duplicates. */
export function groupNames(dns: string[]): string[] {
  const names = new Set<string>();
  for (const dn of dns) {
    const name = firstRdnValue(dn);
    if (name !== null) names.add(name);
  }
  return [...names];
}

export function membership(groups: ResolvedGroups, names: string[]): Membership {
  const admin = groups.adminGroup?.toLowerCase();
  // Group names compare like cn values: caseIgnoreMatch (RFC 4519 section 2.3).
  return { groups: names, superuser: admin !== undefined && names.some((n) => n.toLowerCase() === admin) };
}

/** The group DNs listed in the user entry's memberOf (or configured) attribute. */
export function memberOfGroups(attribute: string, entry: Entry | undefined): string[] {
  return entry ? attributeValues(entry, attribute) : [];
}

/** The DNs of the groups the group search finds for this user (%d: user DN, %u: user name, RFC 4515-escaped). */
export async function searchedGroups(
  session: LdapSession,
  g: Extract<ResolvedGroups, { source: 'search' }>,
  userDn: string,
  username: string,
): Promise<string[]> {
  const filter = fillTemplate(g.filter, { d: userDn, u: username }, escapeFilterValue);
  // "1.1": no attributes, the DNs are all we need (RFC 4511 section 4.5.1.8).
  const entries = await session.search(g.base, g.scope, filter, ['1.1'], MAX_GROUPS);
  return entries.map((e) => e.dn);
}
