// Types for scripts/services/lib.cjs (local MariaDB, PostgreSQL and Redis for the connector tests).

import type { LogOptions } from '../common/progress.cjs';

export type { LogOptions };

export type ServiceName = 'mariadb' | 'postgres' | 'redis';

export declare const SERVICE_NAMES: ServiceName[];
export declare const DEFAULT_TIMEOUT_MS: number;

export declare class ServiceError extends Error {}

export interface SqlServiceSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface RedisServiceSettings {
  host: string;
  port: number;
  /** Empty: no AUTH. */
  password: string;
}

export interface EnsureOptions extends LogOptions {
  /** How long to wait for the service to answer after starting it. Default 60 s. */
  timeoutMs?: number;
}

export type PingState = 'up' | 'starting' | 'failing' | 'down';

export declare function ensureService(name: 'mariadb' | 'postgres', opts?: EnsureOptions): Promise<SqlServiceSettings>;
export declare function ensureService(name: 'redis', opts?: EnsureOptions): Promise<RedisServiceSettings>;
export declare function ensureService(name: ServiceName, opts?: EnsureOptions): Promise<SqlServiceSettings | RedisServiceSettings>;

export declare function serviceStatus(
  name: ServiceName,
  opts?: { pingTimeoutMs?: number },
): Promise<{ service: ServiceName; settings: SqlServiceSettings | RedisServiceSettings; state: PingState; detail: string }>;
