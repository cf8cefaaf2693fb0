/** The LDAP authentication connector (docs/ldap.md). */
export { LdapAuthenticator } from './LdapAuthenticator';
export { LDAP_DEFAULTS } from './config';
export type { LdapAuthenticatorConfig, LdapGroupOptions, LdapServiceAccount, LdapTlsOptions } from './config';
export { escapeDnValue, escapeFilterValue } from './escape';
