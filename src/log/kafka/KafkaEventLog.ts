/**
 * The EventLog on Apache Kafka (kafkajs): each stream is a topic, partitions and
 * keys map one to one, compacted streams are topics with cleanup.policy=compact.
 *
 * - Appends are batched (linger, or the end of the event-loop turn) and sent by
 *   an idempotent producer with acks=all, one batch in flight at a time, so
 *   per-partition order is the call order. A batch that fails is retried until
 *   Kafka takes it: while Kafka is away, appends wait (nothing acknowledged
 *   is lost) and `bufferedBytes` tells the node how much is waiting.
 * - Reads and tails fetch from partition leaders directly (PartitionReader).
 * - Consumer positions are committed offsets of a consumer group.
 */
import { Admin, ConfigResourceTypes, Kafka, Producer } from 'kafkajs';
import { Logger, silentLogger } from '../../logger';
import {
  AppendRecord,
  EventLog,
  LogError,
  LogRecord,
  ReadOptions,
  RecordPosition,
  StreamSpec,
  TailHandle,
  TailHandler,
  TailOptions,
} from '../EventLog';
import { partitionForKey } from '../partitioner';
import { kafkaConfig, rawCluster, RawCluster } from './kafkaClient';
import { defaultKafkaLogOptions, KafkaLogOptions } from './KafkaOptions';
import { KafkaTailer } from './KafkaTail';
import { PartitionReader } from './PartitionReader';

interface PendingAppend {
  records: readonly AppendRecord[];
  bytes: number;
  resolve: (positions: RecordPosition[]) => void;
  reject: (err: Error) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An error Kafka will give again however often the batch is retried: a protocol
 * error Kafka marks non-retriable (record too large, invalid timestamp...), found
 * at the bottom of kafkajs's chain of wrapping errors (`cause`).
 */
function isPermanent(err: unknown): boolean {
  let e = err as { retriable?: boolean; cause?: unknown; type?: string } | undefined;
  while (e && e.cause && e.cause !== e) e = e.cause as typeof e;
  return e !== undefined && typeof e.type === 'string' && e.retriable === false;
}

/** A Kafka error that passes once leadership or metadata settles (kafkajs marks them retriable). */
function isRetriable(err: unknown): boolean {
  return (err as { retriable?: boolean } | undefined)?.retriable === true;
}

/**
 * Admin calls that kafkajs does not retry although Kafka answers them with
 * transient errors (metadata of a topic just created not yet on every broker;
 * "not the coordinator" right after the offsets topic appears): a few tries with
 * backoff. `done` treats an error as success (e.g. the topic already exists).
 */
async function retrying<T>(what: string, call: () => Promise<T>, done?: (err: unknown) => boolean, retryIf?: (err: unknown) => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (done?.(err)) return undefined as T;
      if (retryIf && !retryIf(err)) throw err;
      if (attempt >= 10) throw new LogError(`${what} failed after ${attempt} attempts: ${(err as Error).message}`);
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }
}

export class KafkaEventLog implements EventLog {
  private readonly options: KafkaLogOptions;
  private readonly log: Logger;
  private readonly kafka: Kafka;
  private admin: Admin | null = null;
  private producer: Producer | null = null;
  /** Two fetch clients: tails long-poll, and a read must not queue behind a long poll on the same connection. */
  private readCluster: RawCluster | null = null;
  private tailCluster: RawCluster | null = null;
  private reader: PartitionReader | null = null;
  private tailer: KafkaTailer | null = null;
  private readonly specs = new Map<string, StreamSpec>();
  private pending: PendingAppend[] = [];
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private flushScheduled = false;
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Consecutive failed sends; > 0 while Kafka is not taking appends. */
  private failures = 0;

  constructor(options: Partial<KafkaLogOptions> & Pick<KafkaLogOptions, 'brokers' | 'clientId'>) {
    this.options = { ...defaultKafkaLogOptions, ...options };
    this.log = this.options.logger ?? silentLogger();
    this.kafka = new Kafka(kafkaConfig(this.options));
  }

  /** Bytes appended but not yet acknowledged by Kafka. */
  get bufferedBytes(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  /** True while appends wait beyond `maxBufferedBytes` (Kafka slow or away). */
  get congested(): boolean {
    return this.bufferedBytes > this.options.maxBufferedBytes;
  }

  /** True while sends are failing. */
  get unavailable(): boolean {
    return this.failures > 0;
  }

  private topic(stream: string): string {
    if (!this.specs.has(stream)) throw new LogError(`unknown stream ${stream}`);
    return stream;
  }

  async open(streams: readonly StreamSpec[]): Promise<void> {
    const started = Date.now();
    // Probe with a client that fails fast, so each attempt is logged and backed off here.
    const probe = new Kafka({ ...kafkaConfig(this.options), retry: { retries: 0 } });
    for (let attempt = 1; ; attempt++) {
      const admin = probe.admin();
      try {
        await admin.connect();
        await admin.listTopics();
        await admin.disconnect();
        this.admin = this.kafka.admin();
        await this.admin.connect();
        break;
      } catch (err) {
        await admin.disconnect().catch(() => undefined);
        const waited = Date.now() - started;
        if (this.options.startupTimeoutMs > 0 && waited >= this.options.startupTimeoutMs) {
          throw new LogError(`Kafka unreachable at ${this.options.brokers.join(',')} after ${waited} ms: ${(err as Error).message}`);
        }
        const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt - 1, 6));
        this.log.warn({ brokers: this.options.brokers, attempt, retryInMs: delay, err: (err as Error).message }, 'Kafka unreachable; retrying');
        await sleep(delay);
        if (this.closed) throw new LogError('log closed while connecting to Kafka');
      }
    }
    await this.ensureTopics(streams);
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
    this.readCluster = rawCluster(this.options);
    await this.readCluster.connect();
    this.reader = new PartitionReader(this.readCluster);
    this.tailCluster = rawCluster(this.options);
    await this.tailCluster.connect();
    this.tailer = new KafkaTailer(this.tailCluster, (topic, partition) => this.startOffset(topic, partition), this.options.fetchMaxWaitMs, this.log);
    this.log.info({ brokers: this.options.brokers, topics: streams.map((s) => s.name) }, 'Kafka log open');
  }

  /** Creates missing topics with their configs and verifies existing ones. */
  private async ensureTopics(streams: readonly StreamSpec[]): Promise<void> {
    const admin = this.admin!;
    const existing = new Set(await admin.listTopics());
    const missing = streams.filter((s) => !existing.has(s.name));
    if (missing.length) {
      await retrying('create topics', () => admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor: this.options.replicationFactor,
          configEntries: [
            { name: 'cleanup.policy', value: s.compacted ? 'compact' : 'delete' },
            { name: 'min.insync.replicas', value: String(this.options.minInsyncReplicas) },
            ...(s.compacted ? [] : [{ name: 'retention.ms', value: String(s.retentionMs ?? -1) }, { name: 'retention.bytes', value: String(s.retentionBytes ?? -1) }]),
          ],
        })),
      }), (err) => (err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS');
      // A new topic's metadata reaches every broker a little later than its creation is confirmed.
      await retrying('topic metadata', async () => {
        const meta = await admin.fetchTopicMetadata({ topics: missing.map((s) => s.name) });
        const notReady = meta.topics.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0));
        if (notReady.length) throw new Error(`no leaders yet for ${notReady.map((t) => t.name).join(', ')}`);
      });
      this.log.info({ topics: missing.map((s) => s.name) }, 'Kafka topics created');
    }
    const present = streams.filter((s) => existing.has(s.name));
    if (present.length) {
      const meta = await retrying('topic metadata', () => admin.fetchTopicMetadata({ topics: present.map((s) => s.name) }));
      const configs = await retrying('topic configs', () =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name, configNames: ['cleanup.policy'] })),
        }),
      );
      for (const s of present) {
        const partitions = meta.topics.find((t) => t.name === s.name)?.partitions.length ?? 0;
        if (partitions !== s.partitions) {
          throw new LogError(`Kafka topic ${s.name} has ${partitions} partition(s); mqlog is configured for ${s.partitions}`);
        }
        const policy = configs.resources.find((r) => r.resourceName === s.name)?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? '';
        const compacted = policy.split(',').includes('compact');
        if (compacted !== s.compacted) {
          throw new LogError(`Kafka topic ${s.name} has cleanup.policy=${policy}; mqlog needs ${s.compacted ? 'compact' : 'delete'} (compacted=${s.compacted})`);
        }
      }
    }
    for (const s of streams) this.specs.set(s.name, { ...s });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tailer?.stop();
    if (this.producer) {
      // Give queued appends a bounded chance to land.
      const deadline = Date.now() + 10_000;
      while ((this.pending.length || this.flushing) && Date.now() < deadline) {
        this.scheduleFlush();
        await (this.flushing ?? sleep(10));
      }
    }
    for (const p of this.pending) p.reject(new LogError('log closed before the append was written'));
    this.pending = [];
    await Promise.all([this.producer?.disconnect(), this.admin?.disconnect(), this.readCluster?.disconnect(), this.tailCluster?.disconnect()].map((p) => p?.catch(() => undefined)));
  }

  partitionCount(stream: string): number {
    const spec = this.specs.get(stream);
    if (!spec) throw new LogError(`unknown stream ${stream}`);
    return spec.partitions;
  }

  partitionFor(stream: string, key: Buffer | null): number {
    return partitionForKey(key, this.partitionCount(stream));
  }

  append(records: readonly AppendRecord[]): Promise<RecordPosition[]> {
    if (this.closed) return Promise.reject(new LogError('log is closed'));
    try {
      for (const r of records) if (r.partition !== undefined) this.checkPartition(r.stream, r.partition);
      else this.topic(r.stream);
    } catch (err) {
      return Promise.reject(err);
    }
    let bytes = 0;
    for (const r of records) bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64;
    return new Promise((resolve, reject) => {
      this.pending.push({ records, bytes, resolve, reject });
      this.pendingBytes += bytes;
      this.scheduleFlush();
    });
  }

  submit(records: readonly AppendRecord[], done: (err: Error | null) => void): void {
    this.append(records).then(
      () => done(null),
      (err: Error) => done(err),
    );
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = null;
        if (this.pending.length && !this.closed) this.scheduleFlush();
      });
    };
    if (this.options.lingerMs > 0) setTimeout(run, this.options.lingerMs);
    else setImmediate(run);
  }

  /** Sends everything pending as one batch, retrying until Kafka takes it. */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    // A produce request's record batches must stay under Kafka's message.max.bytes (1 MB by default):
    // take appends up to `maxRequestBytes`; the rest go in the next request.
    let take = 0;
    let bytes = 0;
    while (take < this.pending.length && (take === 0 || bytes + this.pending[take].bytes <= this.options.maxRequestBytes)) {
      bytes += this.pending[take].bytes;
      take++;
    }
    const batch = this.pending.splice(0, take);
    this.pendingBytes -= bytes;
    this.inFlightBytes += bytes;
    const now = Date.now();
    // Group by topic and partition, keeping call order within each partition.
    const groups = new Map<string, { topic: string; partition: number; messages: Array<{ key: Buffer | null; value: Buffer | null; partition: number; timestamp: string }> }>();
    const slots: Array<Array<{ group: string; index: number; stream: string; partition: number }>> = [];
    for (const p of batch) {
      const s: Array<{ group: string; index: number; stream: string; partition: number }> = [];
      for (const r of p.records) {
        const partition = r.partition ?? this.partitionFor(r.stream, r.key);
        const id = `${r.stream}\u0000${partition}`;
        let g = groups.get(id);
        if (!g) groups.set(id, (g = { topic: r.stream, partition, messages: [] }));
        s.push({ group: id, index: g.messages.length, stream: r.stream, partition });
        g.messages.push({ key: r.key, value: r.value, partition, timestamp: String(r.timestamp ?? now) });
      }
      slots.push(s);
    }
    const topicMessages = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; partition: number; timestamp: string }>>();
    for (const g of groups.values()) {
      const list = topicMessages.get(g.topic) ?? [];
      list.push(...g.messages);
      topicMessages.set(g.topic, list);
    }
    try {
      for (;;) {
        try {
          const result = await this.producer!.sendBatch({
            acks: -1,
            topicMessages: [...topicMessages].map(([topic, messages]) => ({ topic, messages })),
          });
          if (this.failures > 0) this.log.info({ after: this.failures }, 'Kafka is taking appends again');
          this.failures = 0;
          const base = new Map<string, number>();
          for (const r of result) base.set(`${r.topicName}\u0000${r.partition}`, Number(r.baseOffset));
          batch.forEach((p, i) =>
            p.resolve(slots[i].map((s) => ({ stream: s.stream, partition: s.partition, offset: (base.get(s.group) ?? 0) + s.index }))),
          );
          return;
        } catch (err) {
          if (isPermanent(err)) {
            // Kafka refused something in the batch for good (too large, bad timestamp...):
            // send each append on its own so only the offending one fails.
            this.log.warn({ err: (err as Error).message, appends: batch.length }, 'Kafka refused a batch; sending its appends one by one');
            await this.sendIndividually(batch);
            return;
          }
          this.failures++;
          if (this.closed) throw err;
          const delay = Math.min(5000, 200 * 2 ** Math.min(this.failures, 5));
          this.log.warn({ err: (err as Error).message, failures: this.failures, bufferedBytes: this.bufferedBytes, retryInMs: delay }, 'Kafka append failed; retrying');
          await sleep(delay);
        }
      }
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    } finally {
      this.inFlightBytes -= bytes;
    }
  }

  private async sendIndividually(batch: PendingAppend[]): Promise<void> {
    for (const p of batch) {
      const now = Date.now();
      try {
        const positions: RecordPosition[] = [];
        for (const r of p.records) {
          const partition = r.partition ?? this.partitionFor(r.stream, r.key);
          const [meta] = await this.producer!.send({
            topic: r.stream,
            acks: -1,
            messages: [{ key: r.key, value: r.value, partition, timestamp: String(r.timestamp ?? now) }],
          });
          positions.push({ stream: r.stream, partition, offset: Number(meta.baseOffset) });
        }
        p.resolve(positions);
      } catch (err) {
        p.reject(new LogError(`Kafka refused the append: ${(err as Error).message}`));
      }
    }
  }

  async read(stream: string, partition: number, fromOffset: number, options: ReadOptions = {}): Promise<LogRecord[]> {
    this.checkPartition(stream, partition);
    const end = options.endOffset ?? Infinity;
    const maxRecords = options.maxRecords ?? Infinity;
    let from = fromOffset;
    const start = await this.startOffset(stream, partition);
    if (from < start) from = start;
    const { records } = await this.reader!.fetch(stream, partition, from, 0, options.maxBytes ?? 4 * 1024 * 1024);
    const out: LogRecord[] = [];
    for (const r of records) {
      if (r.offset >= end || out.length >= maxRecords) break;
      out.push(r);
    }
    return out;
  }

  private checkPartition(stream: string, partition: number): void {
    if (partition < 0 || partition >= this.partitionCount(this.topic(stream))) throw new LogError(`stream ${stream} has no partition ${partition}`);
  }

  private async offsets(stream: string, partition: number): Promise<{ low: number; high: number }> {
    this.checkPartition(stream, partition);
    // kafkajs does not retry "not the leader" here, which Kafka answers for a topic just created or a leader moving.
    const all = await retrying(`offsets of ${stream}`, () => this.admin!.fetchTopicOffsets(stream), undefined, isRetriable);
    const p = all.find((x) => x.partition === partition);
    if (!p) throw new LogError(`stream ${stream} has no partition ${partition}`);
    return { low: Number(p.low), high: Number(p.high) };
  }

  async startOffset(stream: string, partition: number): Promise<number> {
    return (await this.offsets(stream, partition)).low;
  }

  async endOffset(stream: string, partition: number): Promise<number> {
    return (await this.offsets(stream, partition)).high;
  }

  async offsetForTimestamp(stream: string, partition: number, timestamp: number): Promise<number> {
    this.checkPartition(stream, partition);
    const all = await retrying(`offsets of ${stream} by time`, () => this.admin!.fetchTopicOffsetsByTimestamp(stream, timestamp), undefined, isRetriable);
    const p = all.find((x) => x.partition === partition);
    return p ? Number(p.offset) : this.endOffset(stream, partition);
  }

  tail(stream: string, partition: number, fromOffset: number, handler: TailHandler, options: TailOptions = {}): TailHandle {
    this.checkPartition(stream, partition);
    return this.tailer!.add(stream, partition, fromOffset, handler, options.onError);
  }

  async commitPosition(group: string, stream: string, partition: number, offset: number): Promise<void> {
    this.checkPartition(stream, partition);
    // A plain OffsetCommit to the group's coordinator, as a consumer without a
    // group membership commits. (kafkajs's admin.setOffsets joins the group with
    // a throwaway consumer: a rebalance per commit, and concurrent commits for
    // two partitions fail with "the consumer group must have no running instances".)
    await retrying('commit position', async () => {
      const coordinator = await this.readCluster!.findGroupCoordinator({ groupId: group });
      await coordinator.offsetCommit({ groupId: group, groupGenerationId: -1, memberId: '', topics: [{ topic: stream, partitions: [{ partition, offset: String(offset) }] }] });
    });
  }

  async committedPosition(group: string, stream: string, partition: number): Promise<number | null> {
    this.checkPartition(stream, partition);
    const res = await retrying('committed position', () => this.admin!.fetchOffsets({ groupId: group, topics: [stream] }));
    const p = res.find((t) => t.topic === stream)?.partitions.find((x) => x.partition === partition);
    if (!p || Number(p.offset) < 0) return null;
    return Number(p.offset);
  }
}
