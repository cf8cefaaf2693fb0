/**
 * Builds the node's access control from configuration. The chain's order:
 * address rules, client-id rules, the TLS certificate, the users file, the
 * connectors in the order configured, and last the anonymous rule.
 */
import { createAclSource, createAuthenticator } from '../connectors';
import type { BrokerConfig } from '../src/config';
import { Logger } from '../src/logger';
import { AclEngine } from './acl/AclEngine';
import { StaticAclSource } from './acl/StaticAclSource';
import { AccessControl } from './AccessControl';
import { AuthChain } from './AuthChain';
import { AddressRules } from './builtin/AddressRules';
import { AnonymousAuthenticator } from './builtin/AnonymousAuthenticator';
import { CertificateAuthenticator } from './builtin/CertificateAuthenticator';
import { ClientIdRules } from './builtin/ClientIdRules';
import { UsersFileAuthenticator } from './builtin/UsersFileAuthenticator';
import { LoginRateLimiter } from './LoginRateLimiter';
import { Authenticator } from './types';

export function accessControlFromConfig(config: BrokerConfig, log: Logger): AccessControl {
  const a = config.auth;
  const chain: Authenticator[] = [];
  const reloaders: Array<() => void> = [];
  const superusers = new Set(a.superusers);
  let scram: UsersFileAuthenticator | null = null;
  if (a.addresses.allow.length || a.addresses.deny.length) chain.push(new AddressRules(a.addresses.allow, a.addresses.deny));
  if (a.clientIds.allow.length || a.clientIds.deny.length) chain.push(new ClientIdRules(a.clientIds.allow, a.clientIds.deny));
  if (a.certificateAsUsername) chain.push(new CertificateAuthenticator());
  if (a.usersFile) {
    const users = new UsersFileAuthenticator(a.usersFile, superusers);
    chain.push(users);
    scram = users;
    reloaders.push(() => users.reload());
  }
  for (const c of a.connectors) chain.push(createAuthenticator(c, log.child({ connector: c.type })));
  chain.push(new AnonymousAuthenticator(a.allowAnonymous));
  const credentialsConfigured = a.usersFile !== '' || a.connectors.length > 0;
  const defaultResult = a.default === 'auto' ? (credentialsConfigured ? 'deny' : 'allow') : a.default;

  const rules = new StaticAclSource(config.acl.rules, config.acl.file || null);
  reloaders.push(() => rules.reload());
  const sources = [rules, ...config.acl.connectors.map((c) => createAclSource(c, log.child({ connector: c.type })))];
  const engine = new AclEngine(sources, { defaultAllow: config.acl.default === 'allow', sysReadableByAll: config.acl.sysReadableByAll, cacheMaxEntries: config.acl.cacheMaxEntries });

  const limiter = a.rateLimit.maxFailuresPerIp > 0 || a.rateLimit.maxFailuresPerClientId > 0 ? new LoginRateLimiter(a.rateLimit) : null;
  return new AccessControl(new AuthChain(chain, { default: defaultResult, onError: a.onConnectorError, timeoutMs: a.timeoutMs }, log), engine, limiter, log, reloaders, superusers, scram);
}
