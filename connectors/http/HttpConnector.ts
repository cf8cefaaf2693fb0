/**
 * Authentication and ACL rules from an HTTP service: logins are POSTed as
 * {clientId, username, password, ip, protocol} to authUrl, ACL lookups as
 * {clientId, username, ip, groups} to aclUrl. Only a 200 with a well-formed
 * JSON answer counts; anything else, a network error or the time limit makes
 * the call fail with ConnectorUnavailable.
 */
import { Agent as HttpAgent } from 'http';
import { Agent as HttpsAgent } from 'https';
import { AclRule, AclSource, AuthDecision, AuthRequest, Authenticator, ClientIdentity, ConnectorUnavailable } from '../../auth/types';
import { aclRulesFromRows } from '../shared/aclRows';
import { withDeadline } from '../shared/deadline';
import { ignoreWithoutUsername } from '../shared/storedCredential';
import { AuthCache } from './AuthCache';
import { decisionFromAnswer, ruleRowsFromAnswer } from './authAnswer';
import { HttpConnectorConfig, HttpSettings, httpSettings } from './httpConfig';
import { postJson } from './postJson';

export class HttpConnector implements Authenticator, AclSource {
  readonly name: string;
  private readonly settings: HttpSettings;
  private readonly cache: AuthCache;
  private readonly agents: { http: HttpAgent; https: HttpsAgent };

  constructor(config: HttpConnectorConfig) {
    this.settings = httpSettings(config);
    this.name = this.settings.name;
    this.cache = new AuthCache(this.settings.cacheTtlMs, this.settings.cacheMaxEntries);
    const pool = { keepAlive: true, maxSockets: this.settings.poolSize };
    this.agents = { http: new HttpAgent(pool), https: new HttpsAgent(pool) };
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (request.username === null) return ignoreWithoutUsername();
    const cached = this.cache.get(request);
    if (cached) return cached;
    const decision = await this.post('login request', this.settings.authUrl, 'authUrl', decisionFromAnswer, {
      clientId: request.clientId,
      username: request.username,
      password: request.password === null ? null : request.password.toString('utf8'),
      ip: request.ip,
      protocol: request.protocolVersion,
    });
    this.cache.set(request, decision);
    return decision;
  }

  async rulesFor(client: ClientIdentity): Promise<AclRule[]> {
    const rows = await this.post('ACL request', this.settings.aclUrl, 'aclUrl', ruleRowsFromAnswer, {
      clientId: client.clientId,
      username: client.username,
      ip: client.ip,
      groups: client.groups,
    });
    return aclRulesFromRows(rows, (row, why) => this.settings.logger.warn({ row, why }, 'ACL rule skipped'));
  }

  async close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** POSTs `body` and reads the answer with `read`, all under the time limit; a malformed answer is a failure too. */
  private post<T>(what: string, url: URL | null, setting: string, read: (answer: unknown) => T, body: unknown): Promise<T> {
    if (url === null) return Promise.reject(new ConnectorUnavailable(this.name, `${what}: no ${setting} configured`));
    const { timeoutMs, headers, maxResponseBytes } = this.settings;
    return withDeadline({ connector: this.name, timeoutMs, what }, async (signal) =>
      read(await postJson({ url, body, headers, agents: this.agents, signal, maxResponseBytes })),
    );
  }
}
