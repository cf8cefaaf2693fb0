import { Logger } from '../../logger';

export interface KafkaSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaTlsOptions {
  /** PEM CA bundle to trust (empty: the system's). */
  caFile?: string;
  /** PEM client certificate and key for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** Verify the broker certificate (default true). */
  rejectUnauthorized?: boolean;
}

export interface KafkaLogOptions {
  /** Bootstrap brokers, host:port. */
  brokers: string[];
  /** Kafka client id (shows in broker logs and quotas). */
  clientId: string;
  tls?: KafkaTlsOptions | null;
  sasl?: KafkaSaslOptions | null;
  /** Replication factor of topics this log creates. */
  replicationFactor: number;
  /** min.insync.replicas of topics this log creates (acks=all waits for this many). */
  minInsyncReplicas: number;
  /** How long appends wait to be batched with others before they are sent (ms; 0: the end of the event-loop turn). */
  lingerMs: number;
  /** Most bytes of records in one produce request (keep below the topics' max.message.bytes, 1 MB by default). */
  maxRequestBytes: number;
  /** Appends buffered while Kafka is slow or away, in bytes; beyond it `congested` is true and QoS 0 is shed. */
  maxBufferedBytes: number;
  /** Long-poll wait of tail fetches (ms). */
  fetchMaxWaitMs: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /** Give up opening after this long without reaching Kafka (ms; 0: keep retrying). */
  startupTimeoutMs: number;
  logger?: Logger;
}

export const defaultKafkaLogOptions: Omit<KafkaLogOptions, 'brokers' | 'clientId'> = {
  tls: null,
  sasl: null,
  replicationFactor: 1,
  minInsyncReplicas: 1,
  lingerMs: 0,
  maxRequestBytes: 512 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  fetchMaxWaitMs: 250,
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 30000,
  startupTimeoutMs: 0,
};
