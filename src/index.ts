/**
 * The embedding API: `createBroker(config)` builds a node on the configured log
 * backend; `start()` rebuilds its state from the log and opens the listeners.
 */
import { join } from 'path';
import { Acl } from '../auth/StaticAcl';
import { Authenticator } from '../auth/Authenticator';
import { BrokerConfig, DeepPartial, loadConfig } from './config';
import { EventLog } from './log/EventLog';
import { FileEventLog } from './log/file/FileEventLog';
import { createLogger, Logger } from './logger';
import { BrokerNode, ListeningPorts } from './node/BrokerNode';

export { BrokerNode, loadConfig };
export type { BrokerConfig, ListeningPorts, EventLog, Logger };

export interface CreateBrokerOptions {
  /** Use this log instead of the configured backend (tests, embedding). */
  log?: EventLog;
  logger?: Logger;
  authenticator?: Authenticator;
  acl?: Acl;
}

export function createEventLog(config: BrokerConfig, logger: Logger): EventLog {
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
    authenticator: options.authenticator,
    acl: options.acl,
  });
}
