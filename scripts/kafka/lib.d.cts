// Types for scripts/kafka/lib.cjs (local Kafka KRaft clusters; see docs/kafka-local.md).

import type { LogOptions } from '../common/progress.cjs';

export type { LogOptions };

export declare const DEFAULT_VERSION: string;
export declare const DEFAULT_PORT: number;
export declare const CONTROLLER_PORT_OFFSET: number;

export declare class KafkaScriptError extends Error {}

export interface DirOptions extends LogOptions {
  /** run dir holding state.json and one broker-<id>/ per node; default <tmpdir>/mqlog-kafka-<brokers> */
  dir?: string;
  /** only used to derive the default dir */
  brokers?: number;
}

export interface FetchResult {
  version: string;
  home: string;
  libs: string;
  jars: string[];
  storageToolClass: string;
  logging: 'log4j1' | 'log4j2';
  fetchedAt: string;
  /** false when the cache was already complete (no network, no mvn) */
  fetched: boolean;
}

export interface BrokerInfo {
  id: number;
  pid: number | null;
  port: number;
  controllerPort: number;
}

export interface ClusterInfo {
  /** e.g. "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094" */
  bootstrap: string;
  dir: string;
  version: string;
  clusterId: string;
  brokers: BrokerInfo[];
}

export interface StartOptions extends DirOptions {
  /** number of combined broker+controller nodes (default 1) */
  brokers?: number;
  /** client port of node 1; node i listens on port+i-1, its controller on port+i-1+CONTROLLER_PORT_OFFSET (default 19092) */
  port?: number;
  /** Kafka version (default DEFAULT_VERSION) */
  version?: string;
  /** broker JVM -Xmx in MiB (default 512, or $MQLOG_KAFKA_HEAP_MB) */
  heapMb?: number;
  /** partitions of __consumer_offsets (default 10) */
  offsetsTopicPartitions?: number;
  /** extra server.properties entries, applied to every node */
  extraConfig?: Record<string, string | number | boolean>;
  /** how long to wait for the cluster to be ready (default 120000) */
  timeoutMs?: number;
}

export interface StopOptions extends DirOptions {
  /** SIGTERM grace period before SIGKILL (default 20000) */
  timeoutMs?: number;
  /** delete the run dir afterwards */
  remove?: boolean;
  /** alias of remove */
  rm?: boolean;
}

export interface BrokerOptions extends DirOptions {
  /** node id, 1-based */
  broker: number;
  timeoutMs?: number;
}

export interface StatusResult {
  dir: string;
  version?: string;
  clusterId?: string;
  bootstrap?: string;
  running: boolean;
  brokers: Array<BrokerInfo & { alive: boolean; answering: boolean }>;
}

export declare function cacheRoot(): string;
export declare function kafkaHome(version?: string): string;
export declare function defaultDir(brokers?: number): string;
export declare function cachedInstall(version?: string): Omit<FetchResult, 'fetched'> | null;
export declare function fetchKafka(opts?: LogOptions & { version?: string; force?: boolean }): Promise<FetchResult>;
export declare function startKafka(opts?: StartOptions): Promise<ClusterInfo>;
export declare function stopKafka(opts?: StopOptions): Promise<{ dir: string; stopped: number[]; killed: number[] }>;
export declare function killBroker(opts: BrokerOptions): Promise<{ id: number; pid: number | null; port: number }>;
export declare function restartBroker(opts: BrokerOptions): Promise<{ id: number; pid: number; port: number; bootstrap: string }>;
export declare function kafkaStatus(opts?: DirOptions): Promise<StatusResult>;
export declare function metadataRequest(
  port: number,
  opts?: { host?: string; timeoutMs?: number },
): Promise<{ brokers: Array<{ id: number; host: string; port: number }>; clusterId: string | null; controllerId: number }>;
export declare function findFreePortBase(brokers?: number, range?: { min?: number; max?: number }): Promise<number>;
