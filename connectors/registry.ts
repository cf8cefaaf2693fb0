/**
 * Back ends by configuration `type`. Each connector module registers itself;
 * connectors/index.ts imports them all. A configuration naming an unknown type,
 * or asking a connector for something it does not provide, is a clear error.
 */
import { AclSource, Authenticator } from '../auth/types';
import type { ConnectorConfig } from '../src/config';
import { Logger } from '../src/logger';

export interface ConnectorFactory {
  authenticator?(config: ConnectorConfig, log: Logger): Authenticator;
  aclSource?(config: ConnectorConfig, log: Logger): AclSource;
}

const factories = new Map<string, ConnectorFactory>();

export function registerConnector(type: string, factory: ConnectorFactory): void {
  factories.set(type, factory);
}

export function connectorTypes(): string[] {
  return [...factories.keys()].sort();
}

export function createAuthenticator(config: ConnectorConfig, log: Logger): Authenticator {
  const f = factories.get(config.type);
  if (!f?.authenticator) throw new Error(`no authentication connector of type '${config.type}' (known: ${connectorTypes().join(', ') || 'none'})`);
  return f.authenticator(config, log);
}

export function createAclSource(config: ConnectorConfig, log: Logger): AclSource {
  const f = factories.get(config.type);
  if (!f?.aclSource) throw new Error(`no ACL connector of type '${config.type}' (known: ${connectorTypes().filter((t) => factories.get(t)?.aclSource).join(', ') || 'none'})`);
  return f.aclSource(config, log);
}
