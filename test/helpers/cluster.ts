/**
 * mqlog nodes over one Kafka cluster, in this process: each node has its own
 * node id and Kafka clients; a per-test stream prefix keeps tests apart on a
 * shared Kafka.
 */
import { randomBytes } from 'crypto';
import { BrokerConfig, DeepPartial } from '../../src/config';
import { CreateBrokerOptions } from '../../src/index';
import { startBroker, TestBroker } from './broker';

export function uniquePrefix(name: string): string {
  return `t-${name}-${randomBytes(3).toString('hex')}.`;
}

export function kafkaNodeConfig(brokers: string[], prefix: string, nodeId: string, extra: DeepPartial<BrokerConfig> = {}): DeepPartial<BrokerConfig> {
  return {
    ...extra,
    nodeId,
    log: {
      backend: 'kafka',
      streamPrefix: prefix,
      messagePartitions: 3,
      sessionPartitions: 2,
      ...(extra.log ?? {}),
      kafka: { brokers, replicationFactor: 1, minInsyncReplicas: 1, startupTimeoutMs: 30_000, clientId: `mqlog-${nodeId}`, ...(extra.log?.kafka ?? {}) },
    },
    cluster: { heartbeatIntervalMs: 500, nodeTimeoutMs: 3000, ...(extra.cluster ?? {}) },
  };
}

export async function startKafkaNode(
  brokers: string[],
  prefix: string,
  nodeId: string,
  extra: DeepPartial<BrokerConfig> = {},
  options: CreateBrokerOptions = {},
): Promise<TestBroker> {
  return startBroker(kafkaNodeConfig(brokers, prefix, nodeId, extra), options);
}
