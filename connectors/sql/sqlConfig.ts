/**
 * The settings the MySQL and PostgreSQL connectors share (queries, password
 * scheme, time limit, pool size), checked and filled in with their defaults
 * before any connection is opened. Connection settings are per driver
 * (MySqlConnectorConfig, PostgresConnectorConfig).
 */
import type { Logger } from '../../src/logger';
import { connectorLogger } from '../shared/connectorLogger';
import { integerSetting, passwordSchemeSetting, positiveTimeout } from '../shared/settingChecks';
import { PasswordScheme } from '../shared/storedCredential';

export interface SqlQueriesConfig {
  /** Shown in logs and in ConnectorUnavailable messages. Default "mysql" / "postgres". */
  name?: string;
  /**
   * Returns at most one row with `password_hash` and optionally `salt` and
   * `is_superuser` (alias your columns to these names). Placeholders: %u user
   * name, %c client id, %a IP address, always bound as parameters.
   */
  authQuery?: string;
  /** Returns rows with `permission`, `action`, `topic`, in the order they apply. Same placeholders. */
  aclQuery?: string;
  /** How `password_hash` (and `salt`) are read. Default `self-describing`. */
  passwordScheme?: PasswordScheme;
  /** Limit for every lookup, connecting included. Default 5000 ms. */
  timeoutMs?: number;
  /** Connections kept in the pool at most. Default 10. */
  poolSize?: number;
  /** Where skipped ACL rows and connection errors are reported. Default: nowhere. */
  logger?: Logger;
}

export const DEFAULT_AUTH_QUERY = 'SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = %u LIMIT 1';
export const DEFAULT_ACL_QUERY =
  'SELECT permission, action, topic FROM mqtt_acl WHERE username = %u OR clientid = %c OR (username IS NULL AND clientid IS NULL) ORDER BY id';
export const DEFAULT_SQL_TIMEOUT_MS = 5000;
export const DEFAULT_SQL_POOL_SIZE = 10;

/** SqlQueriesConfig checked, with every default filled in. */
export interface SqlSettings {
  name: string;
  logger: Logger;
  authQuery: string;
  aclQuery: string;
  passwordScheme: PasswordScheme;
  timeoutMs: number;
  poolSize: number;
}

/** Fills in the defaults; throws a plain Error naming the setting for a configuration mistake. */
export function sqlSettings(config: SqlQueriesConfig, defaultName: string): SqlSettings {
  const name = config.name ?? defaultName;
  for (const key of ['authQuery', 'aclQuery'] as const) {
    const query = config[key];
    if (query !== undefined && (typeof query !== 'string' || query.trim() === '')) throw new Error(`${name}: ${key} must be a non-empty SQL query`);
  }
  return {
    name,
    logger: connectorLogger(config.logger, name),
    authQuery: config.authQuery ?? DEFAULT_AUTH_QUERY,
    aclQuery: config.aclQuery ?? DEFAULT_ACL_QUERY,
    passwordScheme: passwordSchemeSetting(config.passwordScheme, name),
    timeoutMs: positiveTimeout(config.timeoutMs ?? DEFAULT_SQL_TIMEOUT_MS, name),
    poolSize: integerSetting(config.poolSize ?? DEFAULT_SQL_POOL_SIZE, 1, name, 'poolSize'),
  };
}
