/**
 * Authentication and ACL rules from Redis: a hash per user (default key
 * mqtt_user:%u with fields password_hash, salt, is_superuser) and lists of
 * JSON rules per user and per client (default mqtt_acl:user:%u,
 * mqtt_acl:client:%c).
 */
import Redis from 'ioredis';
import { AclRule, AclSource, AuthDecision, AuthRequest, Authenticator, ClientIdentity } from '../../auth/types';
import { withDeadline } from '../shared/deadline';
import { PlaceholderValues } from '../shared/placeholders';
import { credentialFromRecord, decideLogin, ignoreWithoutUsername } from '../shared/storedCredential';
import { aclRulesFromEntries } from './aclEntries';
import { expandKey } from './keyPattern';
import { RedisConnectorConfig, RedisSettings, redisSettings } from './redisConfig';
import { RedisPool } from './RedisPool';

export class RedisConnector implements Authenticator, AclSource {
  readonly name: string;
  private readonly settings: RedisSettings;
  private readonly pool: RedisPool;

  constructor(config: RedisConnectorConfig = {}) {
    this.settings = redisSettings(config);
    this.name = this.settings.name;
    this.pool = new RedisPool(this.settings);
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (request.username === null) return ignoreWithoutUsername();
    const key = expandKey(this.settings.userKey, { username: request.username, clientId: request.clientId, ip: request.ip });
    const record = await this.run('user lookup', (redis) => redis.hgetall(key));
    // HGETALL answers {} for a missing key: the user is not in Redis.
    const stored = Object.keys(record).length > 0 ? credentialFromRecord(record, this.settings.fields) : null;
    return decideLogin(stored, request.password, this.settings.passwordScheme);
  }

  async rulesFor(client: ClientIdentity): Promise<AclRule[]> {
    const values: PlaceholderValues = { username: client.username, clientId: client.clientId, ip: client.ip };
    const keys = [...new Set(this.settings.aclKeys.map((pattern) => expandKey(pattern, values)).filter((k): k is string => k !== null))];
    if (keys.length === 0) return [];
    const lists = await this.run('ACL lookup', (redis) => Promise.all(keys.map((key) => redis.lrange(key, 0, -1))));
    return aclRulesFromEntries(lists.flat(), (entry, why) => this.settings.logger.warn({ entry, why }, 'ACL entry skipped'));
  }

  async close(): Promise<void> {
    this.pool.close();
  }

  private run<T>(what: string, command: (redis: Redis) => Promise<T>): Promise<T> {
    return withDeadline({ connector: this.name, timeoutMs: this.settings.timeoutMs, what }, () => this.pool.run(command));
  }
}
