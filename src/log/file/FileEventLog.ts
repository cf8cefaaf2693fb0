/**
 * The embedded EventLog: streams of partitions stored as segment files under one
 * directory, for single-node deployments that do not run Kafka.
 *
 *   <dir>/mqlog.lock                     pid of the process that has the log open
 *   <dir>/positions.json                 consumer positions
 *   <dir>/<stream>/meta.json             {partitions, compacted}
 *   <dir>/<stream>/<partition>/<base>.log, .index, .timeindex
 *
 * Appends are group-committed: `append()` only queues; once per event-loop turn
 * a flush encodes each touched partition's records into one buffer, writes it
 * with one write(2) (more only when a segment rolls), makes it durable under the
 * fsync policy, pushes the records to the partition's tails and only then
 * resolves the appends. Flushes run one after another, so batches become
 * durable, visible and resolved in order. Because encoding happens at the
 * flush, the key and value buffers given to `append()` must not be modified
 * until it resolves.
 *
 * Reads never see past `endOffset()`, the end of what is durable and was
 * announced to tails. A read without `maxBytes` returns at most about 4 MiB of
 * keys and values (DEFAULT_READ_MAX_BYTES); page on by offset for more.
 * Returned records own their key and value buffers.
 */
import { mkdirSync } from 'fs';
import { join } from 'path';
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
import { Logger, silentLogger } from '../../logger';
import { partitionForKey } from '../partitioner';
import { TailCursor } from '../TailCursor';
import { compactPartition } from './Compactor';
import { FilePartition, PartitionWrite } from './FilePartition';
import { Lockfile } from './Lockfile';
import { PositionStore } from './PositionStore';
import { encodedSize, encodeRecord, MAX_RECORD_BYTES, MAX_TIMESTAMP } from './RecordFormat';
import { ensureStreamMeta, validateStreamSpec } from './StreamMeta';

/**
 * When an append resolves:
 * - 'os': once written to the OS with write(2). Survives the process being
 *   killed (even kill -9), not a machine crash or power loss.
 * - 'batch': after an fdatasync of every batch. Survives a machine crash; costs
 *   one disk flush per batch (concurrent appends share it).
 * - 'interval': like 'os', plus an fdatasync in the background every
 *   `fsyncIntervalMs`, which bounds what a machine crash can lose.
 */
export type FsyncPolicy = 'os' | 'batch' | 'interval';

export interface FileLogOptions {
  /** The log directory; created if missing. */
  dir: string;
  /** Roll the active segment once it would grow past this many bytes. Default 64 MiB (max 2 GiB). */
  segmentBytes?: number;
  /** Roll the active segment once it is this old (ms), at the next append. Default 7 days. */
  segmentMs?: number;
  /** Bytes of records between two index entries. Default 4096. */
  indexIntervalBytes?: number;
  /** Durability policy, see FsyncPolicy. Default 'os'. */
  fsync?: FsyncPolicy;
  /** Background fdatasync period under the 'interval' policy (ms). Default 1000. */
  fsyncIntervalMs?: number;
  /** How often retention is applied (ms); it also runs when a segment rolls. Default 60000. */
  retentionCheckIntervalMs?: number;
  /** How long compaction keeps a tombstone after its timestamp (ms). Default 24 h. */
  deleteRetentionMs?: number;
  /** How often compacted streams are compacted (ms). Default 60000. */
  compactionIntervalMs?: number;
  /** Default: a silent logger. */
  logger?: Logger;
}

const MIB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Index positions are u32 and a segment may exceed segmentBytes by one record. */
const MAX_SEGMENT_BYTES = 2 * 1024 * MIB;
/** Records a tail reads from storage at a time while catching up. */
const TAIL_READ_RECORDS = 1000;

type ResolvedOptions = Required<Omit<FileLogOptions, 'logger'>>;

interface OpenStream {
  spec: StreamSpec;
  partitions: FilePartition[];
}

/** One `append()`/`submit()` call waiting for the next flush. */
interface PendingAppend {
  records: readonly AppendRecord[];
  /** Filled with each record's offset by the flush. */
  offsets: number[];
  /** The partition of each record. */
  targets: FilePartition[];
  /** The default timestamp of the call's records. */
  timestamp: number;
  done: (err: Error | null, call: PendingAppend) => void;
}

/** One partition's share of a flush. */
interface PartitionBatch {
  /** The records as appended (the callers' buffers), for the partition's tails. */
  appended: LogRecord[];
  /** End of each appended record in `buffer`. */
  ends: number[];
  bytes: number;
  buffer: Buffer;
  at: number;
  nextOffset: number;
  write: PartitionWrite | null;
  /** Records from this offset on were not written (a write failed). */
  failedFrom: number;
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

export class FileEventLog implements EventLog {
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private state: State = 'new';
  private readonly streams = new Map<string, OpenStream>();
  private lock: Lockfile | null = null;
  private positions: PositionStore | null = null;

  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  /** The flush waiting for its fdatasync ('batch'); the next one starts after it. */
  private flushing: Promise<void> | null = null;
  /** Set when durability can no longer be promised (a failed fsync): appends are refused. */
  private failure: Error | null = null;

  /** Retention and compaction run one task at a time, in this chain. */
  private maintenance: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Where each compacted partition stood after its last compaction. */
  private readonly lastCompaction = new Map<FilePartition, { end: number; tombstonesKept: number }>();
  private intervalSyncRunning = false;

  constructor(options: FileLogOptions) {
    this.options = {
      dir: options.dir,
      segmentBytes: Math.min(options.segmentBytes ?? 64 * MIB, MAX_SEGMENT_BYTES),
      segmentMs: options.segmentMs ?? 7 * DAY_MS,
      indexIntervalBytes: Math.max(1, options.indexIntervalBytes ?? 4096),
      fsync: options.fsync ?? 'os',
      fsyncIntervalMs: options.fsyncIntervalMs ?? 1000,
      retentionCheckIntervalMs: options.retentionCheckIntervalMs ?? 60_000,
      deleteRetentionMs: options.deleteRetentionMs ?? DAY_MS,
      compactionIntervalMs: options.compactionIntervalMs ?? 60_000,
    };
    const logger = options.logger ?? silentLogger();
    // Callers often hand in a child already bound to this component; don't bind it twice.
    this.logger = logger.bindings().component ? logger : logger.child({ component: 'file-log' });
  }

  async open(streams: readonly StreamSpec[]): Promise<void> {
    if (this.state !== 'new') throw new LogError('a FileEventLog can be opened once; create a new instance to reopen');
    this.state = 'opening';
    const { dir } = this.options;
    try {
      mkdirSync(dir, { recursive: true });
      this.lock = Lockfile.acquire(dir, this.logger);
      this.positions = await PositionStore.load(dir);
      const seen = new Set<string>();
      for (const spec of streams) {
        validateStreamSpec(spec);
        if (seen.has(spec.name)) throw new LogError(`stream ${spec.name} is configured twice`);
        seen.add(spec.name);
        await this.openStream(spec);
      }
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    this.startTimers();
    this.state = 'open';
    this.logger.info({ dir, streams: streams.map((s) => s.name), fsync: this.options.fsync }, 'file log open');
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    await this.drainAppends();
    await this.shutdown();
  }

  partitionCount(stream: string): number {
    return this.stream(stream).partitions.length;
  }

  partitionFor(stream: string, key: Buffer | null): number {
    return partitionForKey(key, this.partitionCount(stream));
  }

  async append(records: readonly AppendRecord[]): Promise<RecordPosition[]> {
    if (records.length === 0) {
      this.assertOpen();
      return [];
    }
    return new Promise((resolve, reject) => {
      this.enqueue(records, (err, call) => {
        if (err) reject(err);
        else resolve(call.offsets.map((offset, i) => ({ stream: records[i].stream, partition: call.targets[i].partition, offset })));
      });
    });
  }

  submit(records: readonly AppendRecord[], done: (err: Error | null) => void): void {
    try {
      if (records.length === 0) {
        this.assertOpen();
        queueMicrotask(() => done(null));
        return;
      }
      this.enqueue(records, done);
    } catch (err) {
      queueMicrotask(() => done(err as Error));
    }
  }

  /** Validates and queues a call for the next flush (throws what is wrong with it). */
  private enqueue(records: readonly AppendRecord[], done: PendingAppend['done']): void {
    this.assertOpen();
    if (this.failure) throw new LogError(`the log refuses appends after a failed fsync: ${this.failure.message}`);
    const timestamp = Date.now();
    const targets: FilePartition[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const stream = this.stream(r.stream);
      const partition = r.partition ?? partitionForKey(r.key, stream.partitions.length);
      targets[i] = this.partitionOf(stream, r.stream, partition);
      if (r.timestamp !== undefined && !(Number.isInteger(r.timestamp) && r.timestamp >= 0 && r.timestamp <= MAX_TIMESTAMP)) {
        throw new LogError(`invalid timestamp ${r.timestamp} for stream ${r.stream}: an integer number of ms in [0, 2^48)`);
      }
      if (encodedSize(r.key, r.value) > MAX_RECORD_BYTES) throw new LogError(`record for stream ${r.stream} is larger than 2 GiB`);
    }
    this.queue.push({ records, offsets: new Array<number>(records.length), targets, timestamp, done });
    this.scheduleFlush();
  }

  async read(stream: string, partition: number, fromOffset: number, options?: ReadOptions): Promise<LogRecord[]> {
    return this.partition(stream, partition).read(fromOffset, options);
  }

  async startOffset(stream: string, partition: number): Promise<number> {
    const p = this.partition(stream, partition);
    return Math.min(p.startOffset, p.visibleEnd);
  }

  async endOffset(stream: string, partition: number): Promise<number> {
    return this.partition(stream, partition).visibleEnd;
  }

  async offsetForTimestamp(stream: string, partition: number, timestamp: number): Promise<number> {
    return this.partition(stream, partition).offsetForTimestamp(timestamp);
  }

  tail(stream: string, partition: number, fromOffset: number, handler: TailHandler, options: TailOptions = {}): TailHandle {
    const p = this.partition(stream, partition);
    const cursor = new TailCursor(
      fromOffset,
      handler,
      (from) => p.read(from, { maxRecords: TAIL_READ_RECORDS }),
      () => p.visibleEnd,
      options.onError,
      () => p.tails.delete(cursor),
    );
    p.tails.add(cursor);
    cursor.start();
    return cursor;
  }

  async commitPosition(group: string, stream: string, partition: number, offset: number): Promise<void> {
    this.partition(stream, partition);
    if (!Number.isInteger(offset) || offset < 0) throw new LogError(`invalid position ${offset} for group ${group}`);
    await this.positions!.set(group, stream, partition, offset);
  }

  async committedPosition(group: string, stream: string, partition: number): Promise<number | null> {
    this.partition(stream, partition);
    return this.positions!.get(group, stream, partition);
  }

  /** Compacts every compacted stream now (tests and tools; a timer does it every `compactionIntervalMs`). */
  compactNow(): Promise<void> {
    this.assertOpen();
    return this.runMaintenance(() => this.compactAll(true));
  }

  /** Applies retention to every stream now (tests and tools; a timer does it every `retentionCheckIntervalMs`). */
  applyRetentionNow(): Promise<void> {
    this.assertOpen();
    return this.runMaintenance(() => this.applyRetentionAll());
  }

  // ---- group commit ----

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes everything queued as one batch; under 'batch' completion waits for the fdatasync. */
  private flush(): void {
    if (this.flushing || this.queue.length === 0) return;
    const calls = this.queue;
    this.queue = [];
    const batches = this.writeBatches(calls);
    if (this.options.fsync !== 'batch') {
      this.complete(calls, batches);
      return;
    }
    const syncs: Promise<void>[] = [];
    for (const [partition, batch] of batches) if (batch.write) syncs.push(partition.syncWrite(batch.write));
    this.flushing = Promise.all(syncs).then(
      () => this.complete(calls, batches),
      (err: unknown) => this.failDurability(calls, err),
    );
    void this.flushing.finally(() => {
      this.flushing = null;
      if (this.queue.length) this.scheduleFlush();
    });
  }

  /** Encodes each partition's records into one buffer (offsets assigned in call order) and writes it. */
  private writeBatches(calls: PendingAppend[]): Map<FilePartition, PartitionBatch> {
    const batches = new Map<FilePartition, PartitionBatch>();
    for (const call of calls) {
      for (let i = 0; i < call.records.length; i++) {
        const target = call.targets[i];
        let batch = batches.get(target);
        if (!batch) {
          batch = { appended: [], ends: [], bytes: 0, buffer: EMPTY, at: 0, nextOffset: target.nextOffset, write: null, failedFrom: Infinity };
          batches.set(target, batch);
        }
        batch.bytes += encodedSize(call.records[i].key, call.records[i].value);
      }
    }
    for (const batch of batches.values()) batch.buffer = Buffer.allocUnsafe(batch.bytes);
    for (const call of calls) {
      for (let i = 0; i < call.records.length; i++) {
        const r = call.records[i];
        const batch = batches.get(call.targets[i])!;
        const offset = batch.nextOffset++;
        const timestamp = r.timestamp ?? call.timestamp;
        batch.at = encodeRecord(batch.buffer, batch.at, offset, timestamp, r.key, r.value);
        batch.ends.push(batch.at);
        batch.appended.push({ partition: call.targets[i].partition, offset, timestamp, key: r.key, value: r.value, local: r.local });
        call.offsets[i] = offset;
      }
    }
    const now = Date.now();
    for (const [partition, batch] of batches) {
      batch.write = partition.write(batch.buffer, now);
      if (batch.write.error) {
        batch.failedFrom = partition.nextOffset;
        this.logger.error({ stream: partition.stream, partition: partition.partition, err: batch.write.error }, 'append failed');
      }
    }
    return batches;
  }

  /** Publishes the written records to readers and tails, then settles the calls. */
  private complete(calls: PendingAppend[], batches: Map<FilePartition, PartitionBatch>): void {
    for (const [partition, batch] of batches) if (batch.write) partition.publish(batch.write, batch.appended, batch.ends);
    for (const call of calls) {
      let error: Error | null = null;
      for (let i = 0; i < call.offsets.length && !error; i++) {
        const batch = batches.get(call.targets[i])!;
        if (call.offsets[i] >= batch.failedFrom) error = batch.write!.error;
      }
      call.done(error ? new LogError(`append failed: ${error.message}`) : null, call);
    }
  }

  /**
   * A failed fdatasync means the kernel may have dropped the data; retrying
   * cannot tell, so the log stops taking appends (restart recovers from disk).
   */
  private failDurability(calls: PendingAppend[], err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.failure = error;
    this.logger.error({ err: error }, 'fdatasync failed; the log refuses further appends until restarted');
    for (const call of calls) call.done(new LogError(`append not durable: ${error.message}`), call);
    for (const call of this.queue.splice(0)) call.done(new LogError(`append not durable: ${error.message}`), call);
  }

  private async drainAppends(): Promise<void> {
    while (this.flushing || this.queue.length) {
      if (this.flushing) await this.flushing.catch(() => undefined);
      else this.flush();
    }
  }

  // ---- opening and closing ----

  private async openStream(spec: StreamSpec): Promise<void> {
    const streamDir = join(this.options.dir, spec.name);
    await ensureStreamMeta(streamDir, spec);
    const opened: OpenStream = { spec: { ...spec }, partitions: [] };
    this.streams.set(spec.name, opened);
    for (let i = 0; i < spec.partitions; i++) {
      const dir = join(streamDir, String(i));
      mkdirSync(dir, { recursive: true });
      opened.partitions.push(
        await FilePartition.open(spec.name, i, dir, {
          segmentBytes: this.options.segmentBytes,
          segmentMs: this.options.segmentMs,
          indexIntervalBytes: this.options.indexIntervalBytes,
          syncDirectoryOnRoll: this.options.fsync === 'batch',
          logger: this.logger,
          onRoll: (partition) => this.onRoll(opened, partition),
        }),
      );
    }
  }

  /** Closes whatever is open (also after a failed open) and releases the lock. */
  private async shutdown(): Promise<void> {
    this.state = 'closing';
    await this.maintenance;
    let first: unknown = null;
    try {
      await this.positions?.flush();
    } catch (err) {
      first = err;
    }
    for (const stream of this.streams.values()) {
      for (const partition of stream.partitions) {
        try {
          await partition.close();
        } catch (err) {
          first ??= err;
        }
      }
    }
    this.streams.clear();
    this.lock?.release();
    this.lock = null;
    this.state = 'closed';
    if (first) throw first;
  }

  // ---- maintenance ----

  private startTimers(): void {
    const every = (ms: number, task: () => void): void => {
      const timer = setInterval(task, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.retentionCheckIntervalMs, () => void this.runMaintenance(() => this.applyRetentionAll()).catch(() => undefined));
    every(this.options.compactionIntervalMs, () => void this.runMaintenance(() => this.compactAll(false)).catch(() => undefined));
    if (this.options.fsync === 'interval') every(this.options.fsyncIntervalMs, () => void this.syncDirtyPartitions());
  }

  /** Queues a maintenance task behind the running one; the returned promise carries its outcome. */
  private runMaintenance(task: () => Promise<void>): Promise<void> {
    const run = this.maintenance.then(() => (this.state === 'open' ? task() : undefined));
    this.maintenance = run.catch((err: unknown) => {
      this.logger.error({ err }, 'log maintenance failed');
    });
    return run;
  }

  private onRoll(stream: OpenStream, partition: FilePartition): void {
    if (stream.spec.compacted) return;
    void this.runMaintenance(() => partition.applyRetention(stream.spec, Date.now()).then(() => undefined)).catch(() => undefined);
  }

  /** Retention does not apply to compacted streams: compaction decides what they keep. */
  private async applyRetentionAll(): Promise<void> {
    for (const stream of this.streams.values()) {
      if (stream.spec.compacted) continue;
      for (const partition of stream.partitions) {
        if (this.state !== 'open') return;
        await partition.applyRetention(stream.spec, Date.now());
      }
    }
  }

  /**
   * Compacts every compacted partition. The timer passes `force = false` and
   * skips partitions with nothing new since their last run (no appends, no
   * tombstones waiting to expire), since a run reads the whole partition.
   */
  private async compactAll(force: boolean): Promise<void> {
    for (const stream of this.streams.values()) {
      if (!stream.spec.compacted) continue;
      for (const partition of stream.partitions) {
        if (this.state !== 'open') return;
        const last = this.lastCompaction.get(partition);
        if (!force && last && last.end === partition.visibleEnd && last.tombstonesKept === 0) continue;
        const end = partition.visibleEnd;
        const result = await compactPartition(partition, {
          now: Date.now(),
          deleteRetentionMs: this.options.deleteRetentionMs,
          indexIntervalBytes: this.options.indexIntervalBytes,
          logger: this.logger,
          shouldStop: () => this.state !== 'open',
        });
        this.lastCompaction.set(partition, { end, tombstonesKept: result.tombstonesKept });
      }
    }
  }

  private async syncDirtyPartitions(): Promise<void> {
    if (this.intervalSyncRunning || this.state !== 'open') return;
    this.intervalSyncRunning = true;
    try {
      for (const stream of this.streams.values()) for (const partition of stream.partitions) await partition.syncIfDirty();
    } catch (err) {
      this.logger.error({ err }, 'background fdatasync failed');
    } finally {
      this.intervalSyncRunning = false;
    }
  }

  // ---- lookups ----

  private assertOpen(): void {
    if (this.state !== 'open') throw new LogError(`log is not open (${this.state})`);
  }

  private stream(name: string): OpenStream {
    const stream = this.streams.get(name);
    if (!stream) throw new LogError(`unknown stream ${name}`);
    return stream;
  }

  private partition(stream: string, partition: number): FilePartition {
    this.assertOpen();
    return this.partitionOf(this.stream(stream), stream, partition);
  }

  private partitionOf(stream: OpenStream, name: string, partition: number): FilePartition {
    const p = Number.isInteger(partition) ? stream.partitions[partition] : undefined;
    if (!p) throw new LogError(`stream ${name} has no partition ${partition}`);
    return p;
  }
}

const EMPTY = Buffer.alloc(0);
