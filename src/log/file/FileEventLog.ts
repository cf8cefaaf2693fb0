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
import { mkdirSync, statfsSync } from 'fs';
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
import { BatchJournal, JournalCommit, PartitionEnd, readJournal } from './BatchJournal';
import { truncatePartitionFrom } from './LogMaintenance';
import { crashPoint } from './testFaults';

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
  /** Set when durability can no longer be promised (a failed fsync or write): appends are refused. */
  private failure: Error | null = null;
  /** Told once about `failure` (the node stops: NodeHealth). */
  onFailure: ((err: Error) => void) | null = null;
  /** The commit of every flush (BatchJournal): a flush survives a crash whole or not at all. */
  private journal: BatchJournal | null = null;
  /** Every partition's end, in journal order, updated in place before each commit. */
  private ends: Array<PartitionEnd & { of: FilePartition }> = [];
  /** Set while the disk has no room for the next flush: it waits (appends are not acknowledged) and is retried. */
  private diskFull: string | null = null;
  /** Free bytes on the log's filesystem when last asked, less what was written since (a cheap estimate). */
  private freeEstimate = -1;
  private freeCheckedAt = 0;
  private diskFullRetry: NodeJS.Timeout | null = null;

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
      await this.recoverBatch();
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

  /** True while appends wait: the disk is full (they are retried), see `congestion`. */
  get congested(): boolean {
    return this.diskFull !== null;
  }

  get congestion(): string | null {
    return this.diskFull;
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

  /**
   * Writes everything queued as one batch, then commits it (BatchJournal); under
   * 'batch' completion waits for the fdatasync of data and commit. A disk without
   * room for the batch holds it (nothing is written or acknowledged) and retries.
   */
  private flush(): void {
    if (this.flushing || this.queue.length === 0 || this.failure) return;
    const calls = this.queue;
    const { batches, bytes } = this.groupBatches(calls);
    if (!this.roomFor(bytes)) return; // held: retried by the disk-full timer
    this.queue = [];
    this.encodeBatches(calls, batches);
    if (!this.writeBatches(batches)) {
      this.failDurability(calls, batches.values().next().value?.write?.error ?? new Error('write failed'));
      return;
    }
    if (this.options.fsync !== 'batch') {
      this.complete(calls, batches);
      return;
    }
    const syncs: Promise<void>[] = [this.journal!.sync()];
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

  /** Each touched partition's share of the calls, with its size in bytes. */
  private groupBatches(calls: PendingAppend[]): { batches: Map<FilePartition, PartitionBatch>; bytes: number } {
    const batches = new Map<FilePartition, PartitionBatch>();
    let bytes = 0;
    for (const call of calls) {
      for (let i = 0; i < call.records.length; i++) {
        const target = call.targets[i];
        let batch = batches.get(target);
        if (!batch) {
          batch = { appended: [], ends: [], bytes: 0, buffer: EMPTY, at: 0, nextOffset: target.nextOffset, write: null };
          batches.set(target, batch);
        }
        const size = encodedSize(call.records[i].key, call.records[i].value);
        batch.bytes += size;
        bytes += size;
      }
    }
    return { batches, bytes };
  }

  /** Encodes each partition's records into one buffer, offsets assigned in call order. */
  private encodeBatches(calls: PendingAppend[], batches: Map<FilePartition, PartitionBatch>): void {
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
  }

  /**
   * Whether the filesystem has room for a flush of `bytes` (and a margin for indexes
   * and new segments). The OS is asked once a second, or at every flush while
   * the estimate is low; a full disk holds the appends (nothing is written or
   * acknowledged, the node reads no more from clients) and they are retried.
   */
  private roomFor(bytes: number): boolean {
    const need = bytes + SPACE_MARGIN;
    const now = Date.now();
    if (now - this.freeCheckedAt >= 1000 || this.freeEstimate < need + LOW_SPACE) {
      try {
        const fs = statfsSync(this.options.dir);
        this.freeEstimate = fs.bavail * fs.bsize;
      } catch {
        this.freeEstimate = Number.MAX_SAFE_INTEGER; // no statfs here: write errors will tell
      }
      this.freeCheckedAt = now;
    }
    if (this.freeEstimate >= need) {
      this.freeEstimate -= need - SPACE_MARGIN;
      if (this.diskFull !== null) {
        this.logger.warn({ dir: this.options.dir, freeBytes: this.freeEstimate }, 'the disk has room again: held appends are written');
        this.diskFull = null;
      }
      return true;
    }
    if (this.diskFull === null) {
      this.diskFull = `disk full: the log at ${this.options.dir} needs ${need} bytes for the next batch and ${this.freeEstimate} are free; appends wait and nothing is acknowledged until there is room`;
      this.logger.error({ dir: this.options.dir, neededBytes: need, freeBytes: this.freeEstimate }, this.diskFull);
    }
    if (this.diskFullRetry === null) {
      this.diskFullRetry = setTimeout(() => {
        this.diskFullRetry = null;
        this.flush();
      }, DISK_FULL_RETRY_MS);
      this.diskFullRetry.unref();
    }
    return false;
  }

  /**
   * Writes every partition's buffer, then the commit. All or nothing: a write
   * that fails leaves the flush uncommitted (recovery cuts it back on the next
   * open) and the log refuses appends from then on. Returns false on failure.
   */
  private writeBatches(batches: Map<FilePartition, PartitionBatch>): boolean {
    const now = Date.now();
    let written = 0;
    crashPoint('file-log.before-write');
    for (const [partition, batch] of batches) {
      if (written++ > 0) crashPoint('file-log.between-partition-writes');
      batch.write = partition.write(batch.buffer, now);
      if (batch.write.error) {
        this.logger.error({ stream: partition.stream, partition: partition.partition, err: batch.write.error }, 'append failed');
        for (const b of batches.values()) if (b !== batch) b.write = b.write ? { ...b.write, error: batch.write.error } : null;
        return false;
      }
    }
    crashPoint('file-log.before-commit');
    try {
      this.commitEnds();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.logger.error({ err: error }, 'batch commit failed');
      for (const b of batches.values()) if (b.write) b.write = { ...b.write, error };
      return false;
    }
    crashPoint('file-log.after-commit');
    return true;
  }

  /** Writes the commit of every partition's current end. */
  private commitEnds(): void {
    for (const e of this.ends) e.end = e.of.nextOffset;
    this.journal!.commit(this.ends);
  }

  /** Publishes the written records to readers and tails, then settles the calls. */
  private complete(calls: PendingAppend[], batches: Map<FilePartition, PartitionBatch>): void {
    for (const [partition, batch] of batches) if (batch.write) partition.publish(batch.write, batch.appended, batch.ends);
    for (const call of calls) call.done(null, call);
  }

  /**
   * A failed write or fdatasync means durability can no longer be promised
   * (the kernel may have dropped the data; retrying cannot tell). The log
   * refuses appends, fails what waits, and tells its owner: the node stops,
   * and the next open cuts back whatever the failed flush left uncommitted.
   */
  private failDurability(calls: PendingAppend[], err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const first = this.failure === null;
    this.failure ??= error;
    this.logger.error({ err: error }, 'a write or fdatasync failed; the log refuses further appends until restarted');
    for (const call of calls) call.done(new LogError(`append not durable: ${error.message}`), call);
    for (const call of this.queue.splice(0)) call.done(new LogError(`append not durable: ${error.message}`), call);
    if (first) this.onFailure?.(error);
  }

  /**
   * Cuts every partition back to the newest commit its data fully holds: what a
   * flush cut short by a crash wrote was never acknowledged (BatchJournal).
   * Then starts the journal afresh from what the partitions now hold.
   */
  private async recoverBatch(): Promise<void> {
    const file = join(this.options.dir, JOURNAL_FILE);
    const partitions = new Map<string, FilePartition>();
    for (const [name, stream] of this.streams) for (const p of stream.partitions) partitions.set(`${name}/${p.partition}`, p);
    const commits = readJournal(file);
    const holds = (c: JournalCommit) => c.ends.every((e) => (partitions.get(`${e.stream}/${e.partition}`)?.nextOffset ?? Infinity) >= e.end);
    // Under 'batch' a flush's commit may be durable while its data is not (a machine crash during
    // its fdatasync): then the older commit, whose data was synced before that flush began, holds.
    let chosen = commits.find((c, i) => holds(c) && (i === 0 || this.options.fsync === 'batch'));
    if (!chosen && commits.length > 0) {
      // Data lost after it was committed (a machine crash without fsync 'batch', or a file cut short):
      // nothing to undo there; records past the newest commit elsewhere are still uncommitted.
      chosen = commits[0];
      for (const e of chosen.ends) {
        const p = partitions.get(`${e.stream}/${e.partition}`);
        if (p && p.nextOffset < e.end) this.logger.warn({ stream: e.stream, partition: e.partition, committedEnd: e.end, end: p.nextOffset }, 'partition holds fewer records than were committed (lost in a machine crash?)');
      }
    }
    for (const e of chosen?.ends ?? []) {
      const p = partitions.get(`${e.stream}/${e.partition}`);
      if (!p || p.nextOffset <= e.end) continue;
      const uncommitted = p.nextOffset - e.end;
      const stream = this.streams.get(e.stream)!;
      await p.close();
      await truncatePartitionFrom(p.dir, e.stream, e.partition, e.end);
      stream.partitions[e.partition] = await this.openPartition(stream, e.stream, e.partition);
      this.logger.warn({ stream: e.stream, partition: e.partition, records: uncommitted, from: e.end }, 'rolled back the uncommitted records of a flush a crash cut short');
    }
    this.ends = [];
    for (const [name, stream] of this.streams) for (const p of stream.partitions) this.ends.push({ stream: name, partition: p.partition, end: p.nextOffset, of: p });
    this.journal = new BatchJournal(file, (chosen?.seq ?? commits[0]?.seq ?? 0) + 1, this.ends);
  }

  private async drainAppends(): Promise<void> {
    while (this.flushing || this.queue.length) {
      if (this.flushing) {
        await this.flushing.catch(() => undefined);
        continue;
      }
      this.flush();
      if (!this.flushing && this.queue.length) {
        // Held by a full disk (or the log failed): closing cannot wait for room.
        const why = this.failure?.message ?? this.diskFull ?? 'the log is closing';
        for (const call of this.queue.splice(0)) call.done(new LogError(`append not written: ${why}`), call);
      }
    }
  }

  // ---- opening and closing ----

  private async openStream(spec: StreamSpec): Promise<void> {
    const streamDir = join(this.options.dir, spec.name);
    await ensureStreamMeta(streamDir, spec);
    const opened: OpenStream = { spec: { ...spec }, partitions: [] };
    this.streams.set(spec.name, opened);
    for (let i = 0; i < spec.partitions; i++) opened.partitions.push(await this.openPartition(opened, spec.name, i));
  }

  private async openPartition(stream: OpenStream, name: string, partition: number): Promise<FilePartition> {
    const dir = join(this.options.dir, name, String(partition));
    mkdirSync(dir, { recursive: true });
    return FilePartition.open(name, partition, dir, {
      segmentBytes: this.options.segmentBytes,
      segmentMs: this.options.segmentMs,
      indexIntervalBytes: this.options.indexIntervalBytes,
      syncDirectoryOnRoll: this.options.fsync === 'batch',
      logger: this.logger,
      onRoll: (p) => this.onRoll(stream, p),
    });
  }

  /** Closes whatever is open (also after a failed open) and releases the lock. */
  private async shutdown(): Promise<void> {
    this.state = 'closing';
    if (this.diskFullRetry) clearTimeout(this.diskFullRetry);
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
    try {
      this.journal?.close();
    } catch (err) {
      first ??= err;
    }
    this.journal = null;
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

  /**
   * The 'interval' policy's background fdatasync. A failure is not logged and
   * forgotten: what was acknowledged since the last sync may be lost, so the
   * log refuses appends and its owner (the node) stops.
   */
  private async syncDirtyPartitions(): Promise<void> {
    if (this.intervalSyncRunning || this.state !== 'open' || this.failure) return;
    this.intervalSyncRunning = true;
    try {
      for (const stream of this.streams.values()) for (const partition of stream.partitions) await partition.syncIfDirty();
      await this.journal?.sync();
    } catch (err) {
      this.logger.error({ err }, 'background fdatasync failed');
      this.failDurability([], err);
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
/** The batch journal's file in the log directory. */
const JOURNAL_FILE = 'batches.journal';
/** Room kept beyond a batch's own bytes: index entries, a new segment's files. */
const SPACE_MARGIN = 64 * 1024;
/** Below this much free space (beyond the batch) the OS is asked at every flush. */
const LOW_SPACE = 64 * 1024 * 1024;
/** How often appends held by a full disk are retried. */
const DISK_FULL_RETRY_MS = 500;
