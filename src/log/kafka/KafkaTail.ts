/**
 * Tails over Kafka partitions. Kafka answers the requests of one connection in
 * order, so one long-polling fetch per partition would hold up every other
 * partition behind it; instead all tails share one fetch loop per leader broker,
 * each request asking for every partition that broker leads (like a consumer).
 * Records are handed over in offset order; a tail whose handler is still busy
 * (a returned promise) sits out fetches until it is done. Fetch errors (a broker
 * restart, a leader move) are retried with backoff, so tails resume by themselves
 * when Kafka comes back; only a handler error stops a tail.
 */
import { Logger } from '../../logger';
import { LogRecord, TailHandle, TailHandler } from '../EventLog';
import { RawCluster, RawMessage } from './kafkaClient';

const READ_COMMITTED = 1;
const PARTITION_MAX_BYTES = 1024 * 1024;

export class KafkaTail implements TailHandle {
  busy = false;
  closed = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    public next: number,
    readonly handler: TailHandler,
    readonly onError: ((err: Error) => void) | undefined,
    private readonly onClose: (tail: KafkaTail) => void,
  ) {}

  get position(): number {
    return this.next;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}

interface KafkaJsError extends Error {
  type?: string;
}

export class KafkaTailer {
  private readonly tails = new Set<KafkaTail>();
  private running: Promise<void> | null = null;
  private readonly topics = new Set<string>();
  private stopped = false;
  private failures = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly cluster: RawCluster,
    private readonly logStart: (topic: string, partition: number) => Promise<number>,
    private readonly maxWaitMs: number,
    private readonly log: Logger,
  ) {}

  add(topic: string, partition: number, fromOffset: number, handler: TailHandler, onError?: (err: Error) => void): KafkaTail {
    const tail = new KafkaTail(topic, partition, fromOffset, handler, onError, (t) => this.tails.delete(t));
    this.tails.add(tail);
    this.topics.add(topic);
    this.kick();
    return tail;
  }

  stop(): void {
    this.stopped = true;
    for (const t of [...this.tails]) t.close();
    this.wake?.();
  }

  /** Starts the coordinating loop if it is not running. */
  private kick(): void {
    if (this.running) {
      this.wake?.();
      return;
    }
    this.running = this.run().finally(() => {
      this.running = null;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.tails.size > 0) {
      try {
        for (const topic of this.topics) await this.cluster.addTargetTopic(topic);
        await this.cluster.refreshMetadataIfNecessary();
        const byLeader = new Map<string, KafkaTail[]>();
        for (const t of this.tails) {
          if (t.busy || t.closed) continue;
          const leader = Object.keys(this.cluster.findLeaderForPartitions(t.topic, [t.partition]))[0];
          if (leader === undefined) throw Object.assign(new Error(`no leader for ${t.topic}/${t.partition}`), { type: 'LEADER_NOT_AVAILABLE' });
          const list = byLeader.get(leader) ?? [];
          list.push(t);
          byLeader.set(leader, list);
        }
        if (byLeader.size === 0) {
          await this.idle(50);
          continue;
        }
        await Promise.all([...byLeader].map(([nodeId, tails]) => this.fetchFrom(nodeId, tails)));
        if (this.failures > 0) this.log.info('Kafka tails resumed');
        this.failures = 0;
      } catch (err) {
        if (this.stopped) return;
        this.failures++;
        const e = err as KafkaJsError;
        await this.cluster.refreshMetadata().catch(() => undefined);
        const delay = Math.min(5000, 100 * 2 ** Math.min(this.failures, 6));
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.log.warn({ err: e.message, type: e.type, failures: this.failures }, 'Kafka fetch failed; retrying');
        }
        await this.idle(delay);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async fetchFrom(nodeId: string, tails: KafkaTail[]): Promise<void> {
    const broker = await this.cluster.findBroker({ nodeId });
    const topics = new Map<string, Array<{ partition: number; fetchOffset: string; maxBytes: number }>>();
    for (const t of tails) {
      const list = topics.get(t.topic) ?? [];
      list.push({ partition: t.partition, fetchOffset: String(t.next), maxBytes: PARTITION_MAX_BYTES });
      topics.set(t.topic, list);
    }
    let response;
    try {
      response = await broker.fetch({
        replicaId: -1,
        isolationLevel: READ_COMMITTED,
        maxWaitTime: this.maxWaitMs,
        minBytes: 1,
        maxBytes: 16 * 1024 * 1024,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
    } catch (err) {
      if ((err as KafkaJsError).type === 'OFFSET_OUT_OF_RANGE') {
        await this.skipToStart(tails);
        return;
      }
      throw err;
    }
    for (const topicResponse of response.responses) {
      for (const p of topicResponse.partitions) {
        const tail = tails.find((t) => t.topic === topicResponse.topicName && t.partition === p.partition);
        if (!tail || tail.closed) continue;
        this.deliver(tail, p.messages);
      }
    }
  }

  /** Retention moved a partition's start past a tail: continue from the new start. */
  private async skipToStart(tails: KafkaTail[]): Promise<void> {
    for (const t of tails) {
      const start = await this.logStart(t.topic, t.partition);
      if (start > t.next) {
        this.log.warn({ topic: t.topic, partition: t.partition, from: t.next, to: start }, 'tail skipped records deleted by retention');
        t.next = start;
      }
    }
  }

  private deliver(tail: KafkaTail, messages: RawMessage[]): void {
    const records: LogRecord[] = [];
    for (const m of messages) {
      if (m.isControlRecord) continue;
      const offset = Number(m.offset);
      if (offset < tail.next) continue;
      records.push({ partition: tail.partition, offset, timestamp: Number(m.timestamp), key: m.key ?? null, value: m.value ?? null });
    }
    if (records.length === 0) return;
    tail.next = records[records.length - 1].offset + 1;
    const fail = (err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      tail.close();
      if (tail.onError) tail.onError(error);
      else this.log.error({ err: error, topic: tail.topic, partition: tail.partition }, 'Kafka tail handler failed; tail stopped');
    };
    let result: void | Promise<void>;
    try {
      result = tail.handler(records);
    } catch (err) {
      fail(err);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      tail.busy = true;
      (result as Promise<void>).then(
        () => {
          tail.busy = false;
          this.wake?.();
        },
        fail,
      );
    }
  }
}
