/**
 * Every connector, registered by its configuration `type` (see registry.ts):
 * `auth.connectors` and `acl.connectors` entries name one of these.
 */
import { LdapAuthenticator, LdapAuthenticatorConfig } from './ldap';
import { registerConnector } from './registry';

registerConnector('ldap', {
  authenticator: (config) => new LdapAuthenticator(config as unknown as LdapAuthenticatorConfig),
});

export { createAclSource, createAuthenticator, connectorTypes, registerConnector } from './registry';
