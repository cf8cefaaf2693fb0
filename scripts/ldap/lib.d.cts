// Types for scripts/ldap/lib.cjs (a local OpenLDAP server; see docs/ldap.md).

import type { LogOptions } from '../common/progress.cjs';

export type { LogOptions };

export declare const DEFAULT_PORT: number;
export declare const DEFAULT_TLS_PORT: number;
export declare const BASE_DN: string;

export declare class LdapScriptError extends Error {}

export interface DirOptions extends LogOptions {
  /** run dir holding state.json, slapd.conf, data/, tls/ and slapd.log; default <tmpdir>/mqlog-ldap */
  dir?: string;
}

export interface StartOptions extends DirOptions {
  /** ldap:// (and StartTLS) port on 127.0.0.1; default DEFAULT_PORT */
  port?: number;
  /** ldaps:// port on 127.0.0.1; default DEFAULT_TLS_PORT */
  tlsPort?: number;
  /** how long to wait for slapd to answer binds; default 20000 */
  timeoutMs?: number;
}

export interface LdapServerInfo {
  dir: string;
  pid: number | null;
  url: string;
  ldapsUrl: string;
  port: number;
  tlsPort: number;
  baseDn: string;
  peopleDn: string;
  groupsDn: string;
  adminDn: string;
  adminPassword: string;
  serviceDn: string;
  servicePassword: string;
  /** the CA that signed the server certificate (a copy of test/fixtures/tls/ca.pem) */
  caFile: string;
}

export interface LdapInstall {
  slapd: string;
  slapadd: string;
  ldapwhoami: string;
  schemaDir: string;
  moduleDir: string | null;
}

export declare function defaultDir(): string;
export declare function ensureInstalled(opts?: LogOptions): Promise<LdapInstall>;
/** {SSHA} hash of a password, for userPassword values. */
export declare function sshaPassword(password: string): string;
export declare function startLdap(opts?: StartOptions): Promise<LdapServerInfo>;
export declare function stopLdap(opts?: DirOptions & { rm?: boolean; remove?: boolean; timeoutMs?: number }): Promise<{ dir: string; result: 'not running' | 'stopped' | 'killed' }>;
export declare function ldapStatus(opts?: DirOptions): Promise<(LdapServerInfo & { alive: boolean; running: boolean }) | { dir: string; alive: false; running: false }>;
