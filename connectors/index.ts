/**
 * Every connector, registered by its configuration `type` (see registry.ts):
 * `auth.connectors` and `acl.connectors` entries name one of these.
 *
 * The SQL, Redis and HTTP connectors answer both questions (login and ACL); an
 * entry in `auth.connectors` and one in `acl.connectors` are separate instances
 * with their own pools, so each list can point at a different server.
 */
import { Logger } from '../src/logger';
import type { ConnectorConfig } from '../src/config';
import { HttpConnector, HttpConnectorConfig } from './http';
import { LdapAuthenticator, LdapAuthenticatorConfig } from './ldap';
import { ConnectorFactory, registerConnector } from './registry';
import { RedisConnector, RedisConnectorConfig } from './redis';
import { MySqlConnector, MySqlConnectorConfig, PostgresConnector, PostgresConnectorConfig } from './sql';

registerConnector('ldap', {
  authenticator: (config) => new LdapAuthenticator(config as unknown as LdapAuthenticatorConfig),
});

/** A connector that is both an Authenticator and an AclSource, built from its settings plus the broker's logger. */
function bothWays<C>(build: (config: C) => HttpConnector | RedisConnector | MySqlConnector | PostgresConnector): ConnectorFactory {
  const make = (config: ConnectorConfig, logger: Logger) => build({ ...config, logger } as unknown as C);
  return { authenticator: make, aclSource: make };
}

const mysql = bothWays<MySqlConnectorConfig>((c) => new MySqlConnector(c));
const postgres = bothWays<PostgresConnectorConfig>((c) => new PostgresConnector(c));
registerConnector('mysql', mysql);
registerConnector('mariadb', mysql);
registerConnector('postgres', postgres);
registerConnector('postgresql', postgres);
registerConnector('redis', bothWays<RedisConnectorConfig>((c) => new RedisConnector(c)));
registerConnector('http', bothWays<HttpConnectorConfig>((c) => new HttpConnector(c)));

export { createAclSource, createAuthenticator, connectorTypes, registerConnector } from './registry';
