/**
 * Configuration of the Redis connector with its defaults, checked before any
 * connection is opened (a mistake throws a plain Error naming the setting).
 */
import type { Logger } from '../../src/logger';
import { connectorLogger } from '../shared/connectorLogger';
import { integerSetting, passwordSchemeSetting, positiveTimeout } from '../shared/settingChecks';
import { CredentialFields, DEFAULT_CREDENTIAL_FIELDS, PasswordScheme } from '../shared/storedCredential';

export interface RedisConnectorConfig {
  /** Shown in logs and in ConnectorUnavailable messages. Default "redis". */
  name?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 6379. */
  port?: number;
  /** ACL user for AUTH (Redis 6+). Default: none. */
  username?: string;
  /** Default: none (no AUTH). */
  password?: string;
  /** Database number. Default 0. */
  db?: number;
  /** The hash holding a user's credential; %u user name, %c client id. Default "mqtt_user:%u". */
  userKey?: string;
  /** Field names in that hash. Default password_hash, salt, is_superuser. */
  fields?: Partial<CredentialFields>;
  /**
   * Lists of ACL entries, read in this order; a key with %u is skipped for
   * clients without a user name. Default ["mqtt_acl:user:%u", "mqtt_acl:client:%c"].
   */
  aclKeys?: string[];
  /** How the stored hash (and salt) are read. Default `self-describing`. */
  passwordScheme?: PasswordScheme;
  /** Limit for every lookup (the command timeout), connecting included. Default 5000 ms. */
  timeoutMs?: number;
  /** Limit for opening a TCP connection. Default: timeoutMs. */
  connectTimeoutMs?: number;
  /** Connections used in turn. Default 2 (each pipelines its commands). */
  poolSize?: number;
  /** Where skipped ACL entries and connection errors are reported. Default: nowhere. */
  logger?: Logger;
}

export const DEFAULT_USER_KEY = 'mqtt_user:%u';
export const DEFAULT_ACL_KEYS: readonly string[] = ['mqtt_acl:user:%u', 'mqtt_acl:client:%c'];
export const DEFAULT_REDIS_TIMEOUT_MS = 5000;
export const DEFAULT_REDIS_POOL_SIZE = 2;

export interface RedisSettings {
  name: string;
  logger: Logger;
  connection: { host: string; port: number; username?: string; password?: string; db: number };
  userKey: string;
  fields: CredentialFields;
  aclKeys: readonly string[];
  passwordScheme: PasswordScheme;
  timeoutMs: number;
  connectTimeoutMs: number;
  poolSize: number;
}

export function redisSettings(config: RedisConnectorConfig): RedisSettings {
  const name = config.name ?? 'redis';
  const userKey = config.userKey ?? DEFAULT_USER_KEY;
  if (!userKey.includes('%u') && !userKey.includes('%c')) throw new Error(`${name}: userKey must contain %u or %c, or every user would share one record`);
  const aclKeys = config.aclKeys ?? DEFAULT_ACL_KEYS;
  if (!Array.isArray(aclKeys) || aclKeys.some((k) => typeof k !== 'string' || k === '')) throw new Error(`${name}: aclKeys must be a list of key patterns`);
  const timeoutMs = positiveTimeout(config.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS, name);
  return {
    name,
    logger: connectorLogger(config.logger, name),
    connection: {
      host: config.host ?? '127.0.0.1',
      port: config.port ?? 6379,
      username: config.username,
      password: config.password,
      db: integerSetting(config.db ?? 0, 0, name, 'db'),
    },
    userKey,
    fields: { ...DEFAULT_CREDENTIAL_FIELDS, ...config.fields },
    aclKeys,
    passwordScheme: passwordSchemeSetting(config.passwordScheme, name),
    timeoutMs,
    connectTimeoutMs: positiveTimeout(config.connectTimeoutMs ?? timeoutMs, name, 'connectTimeoutMs'),
    poolSize: integerSetting(config.poolSize ?? DEFAULT_REDIS_POOL_SIZE, 1, name, 'poolSize'),
  };
}
