/**
 * `mqlog archiver`: the archiver as its own process, on the configured log (the
 * Kafka log of a cluster; the embedded log is held by its broker, so there the
 * archiver runs inside the node with archive.enabled). Serves /metrics and
 * /api/v1/archiver on the API port.
 */
import { BrokerConfig, ConfigError } from '../config';
import { createEventLog } from '../index';
import { Logger } from '../logger';
import { OperatorServices } from '../node/OperatorServices';
import { streamLayout, streamSpecs } from '../node/streams';

const PROGRESS_MS = 10_000;

export async function runArchiver(config: BrokerConfig, logger: Logger): Promise<() => Promise<void>> {
  if (config.elasticsearch.nodes.length === 0) throw new ConfigError(`the archiver needs 'elasticsearch.nodes' (e.g. --set elasticsearch.nodes='["http://127.0.0.1:9200"]')`);
  const c = config.log;
  const log = createEventLog(config, logger);
  try {
    await log.open(streamSpecs({ prefix: c.streamPrefix, messagePartitions: c.messagePartitions, sessionPartitions: c.sessionPartitions, messageRetentionMs: c.messageRetentionMs, messageRetentionBytes: c.messageRetentionBytes, sessionRetentionMs: c.sessionRetentionMs }));
  } catch (err) {
    if (c.backend === 'file' && /lock/i.test((err as Error).message)) {
      throw new ConfigError(`the embedded log in ${config.dataDir} is held by a running broker; run the archiver inside it (archive.enabled=true) or use the Kafka log: ${(err as Error).message}`);
    }
    throw err;
  }
  const services = new OperatorServices({ config: { ...config, archive: { ...config.archive, enabled: true } }, log, streams: streamLayout(c.streamPrefix), nodeId: config.nodeId || 'archiver', logger });
  await services.start();
  const timer = setInterval(() => {
    const s = services.archiver!.status();
    logger.info({ lag: s.lag, indexed: s.indexed, duplicates: s.duplicates, rejected: s.rejected, elasticsearchDown: s.elasticsearchDown }, 'archiver progress');
  }, PROGRESS_MS);
  timer.unref();
  logger.info({ api: services.apiPort, group: config.archive.group, backend: c.backend }, 'mqlog archiver running');
  return async () => {
    clearInterval(timer);
    await services.close();
    await log.close();
  };
}
