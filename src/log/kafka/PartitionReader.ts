/**
 * Reads records of one topic partition from its leader with a raw Fetch, the
 * way a consumer does but without a consumer group: used for random-access reads
 * and for tails. Leader moves and broker restarts surface as retriable errors;
 * the caller decides how long to wait.
 */
import { LogRecord } from '../EventLog';
import { RawCluster } from './kafkaClient';

export interface FetchResult {
  records: LogRecord[];
  highWatermark: number;
  /** Set when `fromOffset` was below the log start (retention): where the log now starts. */
  logStart: number | null;
}

const READ_COMMITTED = 1;

interface KafkaJsError extends Error {
  type?: string;
  retriable?: boolean;
}

export class PartitionReader {
  private known = new Set<string>();

  constructor(private readonly cluster: RawCluster) {}

  async fetch(topic: string, partition: number, fromOffset: number, maxWaitMs: number, maxBytes = 4 * 1024 * 1024): Promise<FetchResult> {
    if (!this.known.has(topic)) {
      await this.cluster.addTargetTopic(topic);
      this.known.add(topic);
    }
    await this.cluster.refreshMetadataIfNecessary();
    const leaders = this.cluster.findLeaderForPartitions(topic, [partition]);
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) {
      await this.cluster.refreshMetadata();
      throw Object.assign(new Error(`no leader for ${topic}/${partition}`), { retriable: true });
    }
    const broker = await this.cluster.findBroker({ nodeId });
    let response;
    try {
      response = await broker.fetch({
        replicaId: -1,
        isolationLevel: READ_COMMITTED,
        maxWaitTime: maxWaitMs,
        minBytes: 1,
        maxBytes,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(fromOffset), maxBytes }] }],
      });
    } catch (err) {
      const e = err as KafkaJsError;
      if (e.type === 'OFFSET_OUT_OF_RANGE') return { records: [], highWatermark: -1, logStart: null };
      if (e.type === 'NOT_LEADER_FOR_PARTITION' || e.type === 'UNKNOWN_TOPIC_OR_PARTITION' || e.type === 'LEADER_NOT_AVAILABLE' || e.retriable) {
        await this.cluster.refreshMetadata().catch(() => undefined);
      }
      throw err;
    }
    const p = response.responses[0]?.partitions.find((x) => x.partition === partition);
    if (!p) return { records: [], highWatermark: -1, logStart: null };
    const records: LogRecord[] = [];
    for (const m of p.messages) {
      if (m.isControlRecord) continue;
      const offset = Number(m.offset);
      if (offset < fromOffset) continue; // a batch starts before the asked offset
      records.push({ partition, offset, timestamp: Number(m.timestamp), key: m.key ?? null, value: m.value ?? null });
    }
    const logStart = p.logStartOffset !== undefined ? Number(p.logStartOffset) : -1;
    return { records, highWatermark: Number(p.highWatermark), logStart: logStart > fromOffset ? logStart : null };
  }
}
