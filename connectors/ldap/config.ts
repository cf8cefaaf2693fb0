/**
 * Configuration of the LDAP authenticator: what a user writes, with its
 * defaults, and the checked, filled-in form the authenticator runs on.
 * Configuration mistakes throw at construction (a plain Error), never later
 * as a login failure.
 */
import { readFileSync } from 'fs';
import { isIP } from 'net';

export interface LdapTlsOptions {
  /** PEM file of the CA(s) that signed the server certificate. Default: Node's built-in public CAs. */
  caFile?: string;
  /** PEM text of the CA(s), instead of caFile. */
  ca?: string;
  /** Verify the server certificate and host name. Default true; false only for experiments. */
  rejectUnauthorized?: boolean;
  /** Host name the certificate must carry when it differs from the URL's host. */
  servername?: string;
}

export interface LdapServiceAccount {
  dn: string;
  password: string;
}

export interface LdapGroupOptions {
  /**
   * Where group membership comes from:
   *  - "memberOf": the user entry's memberOf attribute (OpenLDAP memberof overlay, Active Directory);
   *  - "search": a search for group entries that list the user (groupOfNames/member, groupOfUniqueNames...);
   *  - "none": no groups (default).
   */
  source?: 'memberOf' | 'search' | 'none';
  /** Attribute holding the group DNs for "memberOf". Default "memberOf". */
  attribute?: string;
  /** Base of the group search. Required for "search". */
  base?: string;
  /**
   * Filter of the group search; %d is the user's DN, %u the user name (both
   * escaped per RFC 4515). Default "(&(objectClass=groupOfNames)(member=%d))".
   */
  filter?: string;
  /** Group search scope. Default "sub". */
  scope?: 'one' | 'sub';
  /** Members of this group (by name: cn=admins,... -> "admins") are superusers. Default: none. */
  adminGroup?: string;
}

export interface LdapAuthenticatorConfig {
  /** Shown in logs and audit events. Default "ldap". */
  name?: string;
  /** ldap://host[:389] or ldaps://host[:636]. */
  url: string;
  /** Upgrade an ldap:// connection with StartTLS (RFC 4511 section 4.14, RFC 4513 section 3) before any bind. Default false. */
  startTls?: boolean;
  /** Certificate checks for ldaps:// and StartTLS. */
  tls?: LdapTlsOptions;
  /**
   * "bind": bind directly as dnTemplate with %u replaced (no search; the
   * directory layout must be uniform).
   * "search": bind as serviceAccount, find the user with searchFilter under
   * searchBase, then bind as the DN found ("search-then-bind").
   */
  mode: 'bind' | 'search';
  /** bind mode: the user's DN, %u being the user name escaped per RFC 4514, e.g. "uid=%u,ou=people,dc=example,dc=com". */
  dnTemplate?: string;
  /**
   * Required in search mode. In bind mode optional: after a failed bind it tells
   * an unknown user (ignore: left to the next authenticator) from a wrong
   * password (deny); without it every failed bind is a deny.
   * Group lookups run as this account when set, otherwise as the user.
   */
  serviceAccount?: LdapServiceAccount;
  /** search mode: where users live. */
  searchBase?: string;
  /** search mode: %u is the user name escaped per RFC 4515. Default "(&(objectClass=inetOrgPerson)(uid=%u))". */
  searchFilter?: string;
  /** search mode scope. Default "sub". */
  searchScope?: 'one' | 'sub';
  groups?: LdapGroupOptions;
  /**
   * The attribute holding the user name in user entries. Directories match
   * names loosely (case, surrounding spaces: RFC 4518), so "ALICE" or "alice "
   * can bind as alice: the login then carries the entry's own spelling
   * ("alice") as its user name, so ACL rules and superuser lists written for
   * "alice" apply. null: the name is kept as the client sent it. Default "uid".
   */
  usernameAttribute?: string | null;
  /**
   * Budget of one whole authentication (connect, TLS, binds, searches), in
   * milliseconds. Past it the back end counts as unavailable. Default 5000.
   */
  timeoutMs?: number;
}

export const LDAP_DEFAULTS = {
  name: 'ldap',
  startTls: false,
  searchFilter: '(&(objectClass=inetOrgPerson)(uid=%u))',
  searchScope: 'sub',
  groupSource: 'none',
  groupAttribute: 'memberOf',
  groupFilter: '(&(objectClass=groupOfNames)(member=%d))',
  groupScope: 'sub',
  usernameAttribute: 'uid',
  timeoutMs: 5000,
} as const;

/** A DN template (RFC 4514) or filter (RFC 4515) with placeholders still in it. */
export type Template = string;

export type ResolvedGroups =
  | { source: 'none'; adminGroup?: string }
  | { source: 'memberOf'; attribute: string; adminGroup?: string }
  | { source: 'search'; base: string; filter: Template; scope: 'one' | 'sub'; adminGroup?: string };

export interface ResolvedTls {
  ca?: string;
  rejectUnauthorized: boolean;
  /** Host for the certificate's name check (also the SNI name unless it is an IP address). */
  host: string;
  servername?: string;
}

export interface ResolvedLdapConfig {
  name: string;
  url: string;
  secure: boolean;
  startTls: boolean;
  tls: ResolvedTls;
  mode: 'bind' | 'search';
  dnTemplate?: Template;
  serviceAccount?: LdapServiceAccount;
  searchBase?: string;
  searchFilter: Template;
  searchScope: 'one' | 'sub';
  groups: ResolvedGroups;
  usernameAttribute: string | null;
  timeoutMs: number;
}

function fail(detail: string): never {
  throw new Error(`LDAP authenticator configuration: ${detail}`);
}

function resolveTls(url: URL, tls: LdapTlsOptions = {}): ResolvedTls {
  let ca = tls.ca;
  if (tls.caFile) {
    try {
      ca = readFileSync(tls.caFile, 'utf8');
    } catch (err) {
      fail(`cannot read tls.caFile ${tls.caFile}: ${(err as Error).message}`);
    }
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // SNI carries host names only (RFC 6066 section 3), never an address.
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  return { ca, rejectUnauthorized: tls.rejectUnauthorized ?? true, host: tls.servername ?? host, servername };
}

function resolveGroups(g: LdapGroupOptions = {}): ResolvedGroups {
  const source = g.source ?? LDAP_DEFAULTS.groupSource;
  const adminGroup = g.adminGroup;
  if (source === 'none') return { source, adminGroup };
  if (source === 'memberOf') return { source, attribute: g.attribute ?? LDAP_DEFAULTS.groupAttribute, adminGroup };
  if (source === 'search') {
    if (!g.base) fail('groups.base is required when groups.source is "search"');
    return { source, base: g.base, filter: g.filter ?? LDAP_DEFAULTS.groupFilter, scope: g.scope ?? LDAP_DEFAULTS.groupScope, adminGroup };
  }
  return fail(`groups.source must be "memberOf", "search" or "none", not ${JSON.stringify(source)}`);
}

export function resolveConfig(c: LdapAuthenticatorConfig): ResolvedLdapConfig {
  let url: URL;
  try {
    url = new URL(c.url);
  } catch {
    return fail(`url ${JSON.stringify(c.url)} is not a URL`);
  }
  if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') fail(`url must be ldap:// or ldaps://, not ${url.protocol}//`);
  const secure = url.protocol === 'ldaps:';
  const startTls = c.startTls ?? LDAP_DEFAULTS.startTls;
  if (secure && startTls) fail('startTls applies to ldap:// URLs; ldaps:// is TLS from the first byte');
  if (c.mode !== 'bind' && c.mode !== 'search') fail(`mode must be "bind" or "search", not ${JSON.stringify(c.mode)}`);
  if (c.mode === 'bind' && !c.dnTemplate?.includes('%u')) fail('bind mode needs a dnTemplate containing %u');
  if (c.mode === 'search') {
    if (!c.serviceAccount?.dn || !c.serviceAccount.password) fail('search mode needs serviceAccount.dn and serviceAccount.password');
    if (!c.searchBase) fail('search mode needs searchBase');
  }
  const searchFilter = c.searchFilter ?? LDAP_DEFAULTS.searchFilter;
  if (c.mode === 'search' && !searchFilter.includes('%u')) fail('searchFilter must contain %u');
  const timeoutMs = c.timeoutMs ?? LDAP_DEFAULTS.timeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail(`timeoutMs must be a positive number, not ${timeoutMs}`);
  return {
    name: c.name ?? LDAP_DEFAULTS.name,
    url: c.url,
    secure,
    startTls,
    tls: resolveTls(url, c.tls),
    mode: c.mode,
    dnTemplate: c.dnTemplate,
    serviceAccount: c.serviceAccount,
    searchBase: c.searchBase,
    searchFilter,
    searchScope: c.searchScope ?? LDAP_DEFAULTS.searchScope,
    groups: resolveGroups(c.groups),
    usernameAttribute: c.usernameAttribute === undefined ? LDAP_DEFAULTS.usernameAttribute : c.usernameAttribute || null,
    timeoutMs,
  };
}
