/**
 * kafkajs wiring: the client configuration (TLS, SASL, logging into pino) and a
 * raw fetch client. kafkajs only reads records through consumer groups, which
 * cost a group rebalance per reader; the log instead needs random-access reads
 * (offline queues, redelivery) and per-partition tails, so it fetches through
 * kafkajs's own Cluster and Broker classes (kafkajs 2.2.4 ships its sources and
 * is no longer changing; this module is the only place that reaches into them).
 */
import { readFileSync } from 'fs';
import { ConnectionOptions } from 'tls';
import { KafkaConfig, logLevel, LogEntry, SASLOptions } from 'kafkajs';
import { Logger, silentLogger } from '../../logger';
import { KafkaLogOptions } from './KafkaOptions';

/* eslint-disable @typescript-eslint/no-var-requires */
const Cluster = require('kafkajs/src/cluster') as new (options: Record<string, unknown>) => RawCluster;
const { createLogger } = require('kafkajs/src/loggers') as { createLogger(o: { level: number; logCreator: unknown }): unknown };
const socketFactory = require('kafkajs/src/network/socketFactory') as () => unknown;
const InstrumentationEmitter = require('kafkajs/src/instrumentation/emitter') as new () => unknown;
/* eslint-enable @typescript-eslint/no-var-requires */

export interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
}

export interface RawFetchResponse {
  responses: Array<{
    topicName: string;
    partitions: Array<{ partition: number; errorCode: number; highWatermark: string; logStartOffset?: string; messages: RawMessage[] }>;
  }>;
}

export interface RawBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<RawFetchResponse>;
  /** OffsetCommit; generation -1 and an empty member id commit for a group with no members. */
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<unknown>;
}

export interface RawCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<RawBroker>;
  findGroupCoordinator(query: { groupId: string }): Promise<RawBroker>;
}

function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level === logLevel.ERROR) logger.error(extra, `kafka: ${message}`);
      else if (level === logLevel.WARN) logger.warn(extra, `kafka: ${message}`);
      else if (level === logLevel.INFO) logger.debug(extra, `kafka: ${message}`);
      else logger.trace(extra, `kafka: ${message}`);
    };
}

function tlsOptions(o: KafkaLogOptions): ConnectionOptions | boolean | undefined {
  if (!o.tls) return undefined;
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  return { ca: read(o.tls.caFile), cert: read(o.tls.certFile), key: read(o.tls.keyFile), rejectUnauthorized: o.tls.rejectUnauthorized !== false };
}

export function kafkaConfig(o: KafkaLogOptions): KafkaConfig {
  return {
    brokers: o.brokers,
    clientId: o.clientId,
    ssl: tlsOptions(o),
    sasl: (o.sasl ?? undefined) as SASLOptions | undefined,
    connectionTimeout: o.connectionTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator(o.logger ?? silentLogger()),
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 8 },
  };
}

/** A kafkajs Cluster for raw fetches, configured like the client. */
export function rawCluster(o: KafkaLogOptions): RawCluster {
  const config = kafkaConfig(o);
  return new Cluster({
    logger: createLogger({ level: logLevel.INFO, logCreator: config.logCreator }),
    socketFactory: socketFactory(),
    brokers: config.brokers,
    ssl: config.ssl,
    sasl: config.sasl,
    clientId: `${o.clientId}-fetch`,
    connectionTimeout: config.connectionTimeout,
    requestTimeout: Math.max(config.requestTimeout ?? 30000, o.fetchMaxWaitMs + 5000),
    enforceRequestTimeout: true,
    metadataMaxAge: 300000,
    retry: config.retry,
    allowAutoTopicCreation: false,
    maxInFlightRequests: null,
    isolationLevel: 1, // READ_COMMITTED
    instrumentationEmitter: new InstrumentationEmitter(),
    offsets: new Map(),
  });
}
