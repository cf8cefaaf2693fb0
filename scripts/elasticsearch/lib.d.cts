// Types for scripts/elasticsearch/lib.cjs (a local single-node Elasticsearch; see docs/elasticsearch-local.md).

import type { LogOptions } from '../common/progress.cjs';

export type { LogOptions };

export declare const DEFAULT_VERSION: string;
export declare const DEFAULT_PORT: number;
export declare const TRANSPORT_PORT_OFFSET: number;
export declare const DEFAULT_HEAP_MB: number;
export declare const DEFAULT_USER: string;

export declare class ElasticsearchScriptError extends Error {}

export interface DirOptions extends LogOptions {
  /** run dir holding state.json, config/, data/, logs/, tmp/ (and dist/ as root); default <tmpdir>/mqlog-elasticsearch */
  dir?: string;
}

export interface FetchResult {
  version: string;
  /** Maven coordinates of the zip */
  artifact: string;
  zipBytes: number;
  /** the tool that unpacked the zip */
  unpackedWith: 'unzip' | 'jar' | 'python3';
  fetchedAt: string;
  /** <cache>/elasticsearch-<version> */
  home: string;
  /** the unpacked distribution (ES_HOME) */
  dist: string;
  /** false when the cache was already complete (no network, no mvn) */
  fetched: boolean;
}

export interface NodeInfo {
  /** e.g. "http://127.0.0.1:29200" */
  url: string;
  /** pid of the server JVM */
  pid: number | null;
  port: number;
  transportPort: number;
  dir: string;
  version: string;
  /** random per run dir (mqlog-<hex>); readiness checks that the node on the port has it */
  clusterName: string;
}

export interface StartOptions extends DirOptions {
  /** HTTP port (default 29200) */
  port?: number;
  /** transport port (default port + TRANSPORT_PORT_OFFSET) */
  transportPort?: number;
  /** JVM heap (-Xms = -Xmx) in MiB (default 512, or $MQLOG_ELASTICSEARCH_HEAP_MB) */
  heapMb?: number;
  /** Elasticsearch version (default DEFAULT_VERSION) */
  version?: string;
  /** extra elasticsearch.yml settings, recorded in state.json and written on every start */
  extraConfig?: Record<string, string | number | boolean>;
  /** how long to wait for the node to be ready (default 120000) */
  timeoutMs?: number;
}

export interface StopOptions extends DirOptions {
  /** SIGTERM grace period before SIGKILL (default 30000) */
  timeoutMs?: number;
  /** delete the run dir afterwards */
  rm?: boolean;
  /** alias of rm */
  remove?: boolean;
}

export interface StatusResult extends Partial<NodeInfo> {
  dir: string;
  /** pid of the launcher (bin/elasticsearch's CLI JVM, or setpriv/runuser while it starts) */
  launcherPid?: number | null;
  /** the user the node runs as (null: the caller's user) */
  user?: string | null;
  heapMb?: number;
  /** the server JVM is alive */
  alive: boolean;
  /** it answers GET /_cluster/health with our cluster name */
  answering: boolean;
  /** green | yellow | red, or null */
  health?: string | null;
  /** answering with status green or yellow */
  running: boolean;
}

export interface ClusterHealth {
  cluster_name: string;
  status: 'green' | 'yellow' | 'red';
  number_of_nodes: number;
  active_shards: number;
  [key: string]: unknown;
}

export declare function cacheRoot(): string;
export declare function elasticsearchHome(version?: string): string;
export declare function defaultDir(): string;
export declare function cachedInstall(version?: string): Omit<FetchResult, 'fetched'> | null;
export declare function javaHome(): string;
export declare function extractZip(zip: string, dest: string): Promise<'unzip' | 'jar' | 'python3'>;
export declare function fetchElasticsearch(opts?: LogOptions & { version?: string; force?: boolean }): Promise<FetchResult>;
export declare function startElasticsearch(opts?: StartOptions): Promise<NodeInfo>;
export declare function stopElasticsearch(opts?: StopOptions): Promise<{ dir: string; result: 'stopped' | 'killed' | 'not running' }>;
export declare function killElasticsearch(opts?: DirOptions): Promise<{ pid: number | null; port: number; dir: string }>;
export declare function restartElasticsearch(opts?: DirOptions & { timeoutMs?: number }): Promise<NodeInfo>;
export declare function elasticsearchStatus(opts?: DirOptions): Promise<StatusResult>;
export declare function clusterHealth(port: number, opts?: { timeoutMs?: number }): Promise<ClusterHealth | null>;
export declare function httpRequest(
  port: number,
  method: string,
  path: string,
  opts?: { body?: unknown; host?: string; timeoutMs?: number },
): Promise<{ status: number | undefined; body: any }>;
export declare function findFreePort(range?: { min?: number; max?: number; transportOffset?: number }): Promise<number>;
