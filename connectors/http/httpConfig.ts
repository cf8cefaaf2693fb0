/**
 * Configuration of the HTTP connector with its defaults, checked before any
 * request is made (a mistake throws a plain Error naming the setting).
 */
import type { Logger } from '../../src/logger';
import { connectorLogger } from '../shared/connectorLogger';
import { integerSetting, positiveTimeout } from '../shared/settingChecks';

export interface HttpConnectorConfig {
  /** Shown in logs and in ConnectorUnavailable messages. Default "http". */
  name?: string;
  /** Where logins are POSTed (http:// or https://). Needed to authenticate. */
  authUrl?: string;
  /** Where ACL lookups are POSTed. Needed to serve ACL rules. */
  aclUrl?: string;
  /** Extra request headers, e.g. { Authorization: "Bearer …" } for the service. Default: none. */
  headers?: Record<string, string>;
  /** Limit for every request, connecting included. Default 5000 ms. */
  timeoutMs?: number;
  /** How long an answer to a login is reused for the same client id, user name and password. Default 60000 ms; 0: no cache. */
  cacheTtlMs?: number;
  /** Cached logins kept at most (the oldest go first). Default 10000. */
  cacheMaxEntries?: number;
  /** Keep-alive connections per host at most. Default 10. */
  poolSize?: number;
  /** Longest answer accepted. Default 65536 bytes. */
  maxResponseBytes?: number;
  /** Where skipped ACL rules are reported. Default: nowhere. */
  logger?: Logger;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 5000;
export const DEFAULT_CACHE_TTL_MS = 60_000;
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_HTTP_POOL_SIZE = 10;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpSettings {
  name: string;
  logger: Logger;
  authUrl: URL | null;
  aclUrl: URL | null;
  headers: Record<string, string>;
  timeoutMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  poolSize: number;
  maxResponseBytes: number;
}

export function httpSettings(config: HttpConnectorConfig): HttpSettings {
  const name = config.name ?? 'http';
  const url = (key: 'authUrl' | 'aclUrl'): URL | null => {
    const text = config[key];
    if (text === undefined) return null;
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      throw new Error(`${name}: ${key} is not a URL: ${JSON.stringify(text)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${name}: ${key} must be an http:// or https:// URL, not ${parsed.protocol}`);
    return parsed;
  };
  const authUrl = url('authUrl');
  const aclUrl = url('aclUrl');
  if (!authUrl && !aclUrl) throw new Error(`${name}: set authUrl, aclUrl or both`);
  const count = (key: 'cacheTtlMs' | 'cacheMaxEntries' | 'poolSize' | 'maxResponseBytes', fallback: number, min: number): number =>
    integerSetting(config[key] ?? fallback, min, name, key);
  return {
    name,
    logger: connectorLogger(config.logger, name),
    authUrl,
    aclUrl,
    headers: { ...config.headers },
    timeoutMs: positiveTimeout(config.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS, name),
    cacheTtlMs: count('cacheTtlMs', DEFAULT_CACHE_TTL_MS, 0),
    cacheMaxEntries: count('cacheMaxEntries', DEFAULT_CACHE_MAX_ENTRIES, 1),
    poolSize: count('poolSize', DEFAULT_HTTP_POOL_SIZE, 1),
    maxResponseBytes: count('maxResponseBytes', DEFAULT_MAX_RESPONSE_BYTES, 1),
  };
}
