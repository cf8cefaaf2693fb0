/**
 * The embedding API: `createBroker(config)` builds a node on the configured log
 * backend; `start()` rebuilds its state from the log and opens the listeners.
 */
import { join } from 'path';
import { AccessControl } from '../auth/AccessControl';
import { BrokerConfig, DeepPartial, loadConfig } from './config';
import { EventLog } from './log/EventLog';
import { FileEventLog } from './log/file/FileEventLog';
import { KafkaEventLog } from './log/kafka/KafkaEventLog';
import { createLogger, Logger } from './logger';
import { BrokerNode, ListeningPorts } from './node/BrokerNode';

export { BrokerNode, loadConfig };
export type { BrokerConfig, ListeningPorts, EventLog, Logger };

export interface CreateBrokerOptions {
  /** Use this log instead of the configured backend (tests, embedding). */
  log?: EventLog;
  logger?: Logger;
  /** Authentication and access rules instead of those built from the configuration. */
  access?: AccessControl;
}

export function createEventLog(config: BrokerConfig, logger: Logger): EventLog {
  if (config.log.backend === 'kafka') {
    const k = config.log.kafka;
    return new KafkaEventLog({
      brokers: k.brokers,
      clientId: k.clientId || `mqlog-${config.nodeId || 'node'}`,
      replicationFactor: k.replicationFactor,
      minInsyncReplicas: k.minInsyncReplicas,
      lingerMs: k.lingerMs,
      maxRequestBytes: k.maxRequestBytes,
      maxBufferedBytes: k.maxBufferedBytes,
      fetchMaxWaitMs: k.fetchMaxWaitMs,
      connectionTimeoutMs: k.connectionTimeoutMs,
      requestTimeoutMs: k.requestTimeoutMs,
      startupTimeoutMs: k.startupTimeoutMs,
      tls: k.tls.enabled ? { caFile: k.tls.caFile || undefined, certFile: k.tls.certFile || undefined, keyFile: k.tls.keyFile || undefined, rejectUnauthorized: k.tls.rejectUnauthorized } : null,
      sasl: k.sasl.mechanism ? { mechanism: k.sasl.mechanism, username: k.sasl.username, password: k.sasl.password } : null,
      logger: logger.child({ component: 'kafka-log' }),
    });
  }
  const f = config.log.file;
  return new FileEventLog({
    dir: join(config.dataDir, 'log'),
    segmentBytes: f.segmentBytes,
    fsync: f.fsync,
    fsyncIntervalMs: f.fsyncIntervalMs,
    logger: logger.child({ component: 'file-log' }),
  });
}

export function createBroker(config: BrokerConfig | DeepPartial<BrokerConfig> = {}, options: CreateBrokerOptions = {}): BrokerNode {
  const full = loadConfig({ object: config as DeepPartial<BrokerConfig> });
  const logger = options.logger ?? createLogger({ level: full.logging.level });
  return new BrokerNode({
    config: full,
    log: options.log ?? createEventLog(full, logger),
    logger,
    access: options.access,
  });
}
