/**
 * One partition of a stream: a directory of segments in offset order, the last
 * one active. It writes encoded batches (rolling segments by size and age),
 * announces them to its tails, reads across segments (seek with the offset
 * index, then scan; gaps left by compaction are skipped), finds offsets by time
 * and applies retention.
 *
 * What readers may see is bounded by `visibleEnd`: the offset after the last
 * record that is durable under the fsync policy and was pushed to the tails.
 */
import { readdirSync, unlinkSync } from 'fs';
import { unlink } from 'fs/promises';
import { join } from 'path';
import { CorruptRecordError, LogRecord, ReadOptions, StreamSpec } from '../EventLog';
import type { Logger } from '../../logger';
import { TailCursor } from '../TailCursor';
import {
  CLEANED_SUFFIX,
  FileSegment,
  LOG_SUFFIX,
  OFFSET_INDEX_SUFFIX,
  parseSegmentLogName,
  segmentBaseName,
  TIME_INDEX_SUFFIX,
} from './FileSegment';
import { decodeRecord, DecodedRecord, isSkippedMarker, recordSizeAt } from './RecordFormat';
import { loadSegment } from './SegmentRecovery';
import { corruptRecordOffset, ScanStop } from './SegmentScanner';
import { fsyncDirectorySync, isNotFound } from './fileIo';

/** A read without `maxBytes` returns about this much key and value data at most. */
export const DEFAULT_READ_MAX_BYTES = 4 * 1024 * 1024;

export interface PartitionConfig {
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  /** fsync the partition directory when a segment is created ('batch' durability). */
  syncDirectoryOnRoll: boolean;
  logger: Logger;
  /** Called after a roll, so the log can apply retention. */
  onRoll: (partition: FilePartition) => void;
}

/** What writing one batch did. */
export interface PartitionWrite {
  /** Segments written to: to make durable, then readable. */
  segments: FileSegment[];
  /** Bytes of the batch written: all of it unless `error` is set. */
  writtenBytes: number;
  error: Error | null;
}

export class FilePartition {
  readonly tails = new Set<TailCursor>();
  /** Offset after the last record readers and tails may see. */
  visibleEnd: number;
  private segments: FileSegment[];
  /** Background fsyncs of rolled segments, awaited by close(). */
  private readonly sealing = new Set<Promise<void>>();

  private constructor(
    readonly stream: string,
    readonly partition: number,
    readonly dir: string,
    segments: FileSegment[],
    private readonly config: PartitionConfig,
  ) {
    this.segments = segments;
    this.visibleEnd = this.active.nextOffset;
  }

  /** Opens (or creates) the partition directory, recovering the active segment's tail. */
  static async open(stream: string, partition: number, dir: string, config: PartitionConfig): Promise<FilePartition> {
    const bases = listSegments(dir, config.logger);
    const segments: FileSegment[] = [];
    try {
      for (let i = 0; i < bases.length; i++) {
        segments.push(
          await loadSegment({
            dir,
            stream,
            partition,
            baseOffset: bases[i],
            nextBaseOffset: i + 1 < bases.length ? bases[i + 1] : null,
            active: i === bases.length - 1,
            indexIntervalBytes: config.indexIntervalBytes,
            logger: config.logger,
          }),
        );
      }
      if (segments.length === 0) segments.push(FileSegment.create(dir, 0, config.indexIntervalBytes));
    } catch (err) {
      for (const s of segments) s.retire();
      throw err;
    }
    return new FilePartition(stream, partition, dir, segments, config);
  }

  get active(): FileSegment {
    return this.segments[this.segments.length - 1];
  }

  /** The offset the next appended record gets. */
  get nextOffset(): number {
    return this.active.nextOffset;
  }

  /** The earliest offset still held: the base of the oldest segment. */
  get startOffset(): number {
    return this.segments[0].baseOffset;
  }

  /** A snapshot of the segments, oldest first (for compaction and maintenance). */
  segmentList(): readonly FileSegment[] {
    return this.segments.slice();
  }

  get sizeBytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  /**
   * Writes a batch encoded with offsets from `nextOffset`, rolling to new
   * segments by size and age. Stops at the first failed write and reports it;
   * what was written before stays (whole records only).
   */
  write(batch: Buffer, now: number): PartitionWrite {
    const touched: FileSegment[] = [];
    let at = 0;
    try {
      while (at < batch.length) {
        let segment = this.active;
        if (!segment.isEmpty && now - segment.createdAt >= this.config.segmentMs) segment = this.roll();
        let end = at;
        while (end < batch.length) {
          const size = recordSizeAt(batch, end);
          // A record bigger than a whole segment still goes in, alone in an empty one.
          if (segment.size + (end - at) + size > this.config.segmentBytes && (end > at || !segment.isEmpty)) break;
          end += size;
        }
        if (end === at) {
          this.roll();
          continue;
        }
        segment.append(batch.subarray(at, end));
        if (touched[touched.length - 1] !== segment) touched.push(segment);
        at = end;
      }
    } catch (err) {
      return { segments: touched, writtenBytes: at, error: err instanceof Error ? err : new Error(String(err)) };
    }
    return { segments: touched, writtenBytes: at, error: null };
  }

  /** Durability for the 'batch' policy: fdatasync every segment the batch wrote to. */
  async syncWrite(write: PartitionWrite): Promise<void> {
    await Promise.all(write.segments.map((s) => s.syncData()));
  }

  /** Background fdatasync for the 'interval' policy. */
  async syncIfDirty(): Promise<void> {
    if (this.active.needsSync) await this.active.syncData();
  }

  /**
   * Makes a durable batch visible, then pushes its records to the tails
   * synchronously (before the appends resolve), in offset order. Tails get the
   * records as they were appended (no decode of what was just encoded); only
   * those the write actually stored (`ends` within `writtenBytes`).
   */
  publish(write: PartitionWrite, appended: LogRecord[], ends: number[]): void {
    for (const s of write.segments) s.markReadable();
    this.visibleEnd = this.active.nextOffset;
    if (this.tails.size === 0 || write.writtenBytes === 0) return;
    let count = appended.length;
    while (count > 0 && ends[count - 1] > write.writtenBytes) count--;
    const records = count === appended.length ? appended : appended.slice(0, count);
    for (const tail of this.tails) tail.push(records);
  }

  async read(fromOffset: number, options: ReadOptions = {}): Promise<LogRecord[]> {
    const end = Math.min(options.endOffset ?? Infinity, this.visibleEnd);
    const maxRecords = options.maxRecords ?? Infinity;
    const maxBytes = options.maxBytes ?? DEFAULT_READ_MAX_BYTES;
    const out: LogRecord[] = [];
    let bytes = 0;
    await this.scanFrom(Math.max(fromOffset, 0), end, (record) => {
      if (out.length >= maxRecords) return false;
      if (isSkippedMarker(record)) return true; // an operator's repair marker: not data
      const size = (record.key?.length ?? 0) + (record.value?.length ?? 0);
      if (out.length > 0 && bytes + size > maxBytes) return false;
      bytes += size;
      out.push(toLogRecord(this.partition, record));
      return true;
    });
    return out;
  }

  /** The first offset whose timestamp is at or after `timestamp`, or the visible end. */
  async offsetForTimestamp(timestamp: number): Promise<number> {
    const end = this.visibleEnd;
    let found = -1;
    let cursor = this.startOffset;
    for (;;) {
      const segment = this.segmentFor(cursor);
      if (segment.maxTimestamp >= timestamp) {
        const from = segment.baseOffset + segment.timeIndex.scanStartFor(timestamp);
        await this.scanSegment(segment, Math.max(from, cursor), end, (record) => {
          if (record.timestamp >= timestamp && !isSkippedMarker(record)) {
            found = record.offset;
            return false;
          }
          return true;
        });
        if (found >= 0) return found;
      }
      const next = this.segmentAfter(segment);
      if (!next || next.baseOffset >= end) return end;
      cursor = next.baseOffset;
    }
  }

  /**
   * Deletes the oldest closed segments that retention allows, never the active
   * one. By time: a segment whose newest record is older than `retentionMs`. By
   * size, like Kafka: while the partition stays at least `retentionBytes`
   * without its oldest segment.
   */
  async applyRetention(spec: StreamSpec, now: number): Promise<number> {
    const retentionMs = spec.retentionMs ?? -1;
    const retentionBytes = spec.retentionBytes ?? -1;
    if (retentionMs < 0 && retentionBytes < 0) return 0;
    let total = this.sizeBytes;
    const expired: FileSegment[] = [];
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      const byTime = retentionMs >= 0 && oldest.maxTimestamp < now - retentionMs;
      const bySize = retentionBytes >= 0 && total - oldest.size >= retentionBytes;
      if (!byTime && !bySize) break;
      this.segments.shift();
      total -= oldest.size;
      expired.push(oldest);
    }
    for (const segment of expired) await this.deleteSegment(segment);
    if (expired.length) {
      this.config.logger.info(
        { stream: this.stream, partition: this.partition, segments: expired.length, startOffset: this.startOffset },
        'retention deleted segments',
      );
    }
    return expired.length;
  }

  /** Swaps a closed segment for its compacted copy, or drops it when nothing was kept. */
  replaceSegment(old: FileSegment, replacement: FileSegment | null): boolean {
    const i = this.segments.indexOf(old);
    if (i < 0 || i === this.segments.length - 1) return false;
    if (replacement) this.segments[i] = replacement;
    else this.segments.splice(i, 1);
    old.retire();
    return true;
  }

  /** Waits for background work, then fsyncs and closes every segment. */
  async close(): Promise<void> {
    for (const tail of this.tails) tail.close();
    await Promise.allSettled([...this.sealing]);
    let first: unknown = null;
    for (const s of this.segments) {
      try {
        s.close();
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }

  /**
   * Visits records with offsets in [from, end) across segments, oldest first,
   * skipping gaps. A bad record throws CorruptRecordError.
   */
  private async scanFrom(from: number, end: number, visit: (record: DecodedRecord) => boolean): Promise<void> {
    let cursor = Math.max(from, this.startOffset);
    while (cursor < end) {
      const segment = this.segmentFor(cursor);
      const stop = await this.scanSegment(segment, cursor, end, visit);
      if (stop.kind === 'stopped') return;
      const next = this.segmentAfter(segment);
      if (!next) return;
      cursor = Math.max(cursor, next.baseOffset);
    }
  }

  /** Scans one segment from `from` (seeking with its index) until `end` or the visitor stops. */
  private async scanSegment(segment: FileSegment, from: number, end: number, visit: (record: DecodedRecord) => boolean): Promise<ScanStop> {
    const position = segment.scanStartFor(from);
    let previous = -1;
    let endReached = false;
    const stop = await segment.scan(position, (record, at) => {
      if (record.offset <= previous) {
        throw new CorruptRecordError(this.stream, this.partition, this.segmentName(segment), previous + 1, at, `record offset ${record.offset} is out of order`);
      }
      previous = record.offset;
      if (record.offset < from) return true;
      if (record.offset >= end) {
        endReached = true;
        return false;
      }
      return visit(record);
    });
    if (stop.kind === 'corrupt' || stop.kind === 'incomplete') {
      const expected = previous >= 0 ? previous + 1 : segment.baseOffset + segment.offsetIndex.lookup(Math.max(0, from - segment.baseOffset)).relativeOffset;
      const next = this.segmentAfter(segment);
      const offset =
        stop.kind === 'corrupt'
          ? corruptRecordOffset(stop.headerOffset, expected, stop.position, segment.readableSize, next ? next.baseOffset : null)
          : expected;
      const detail = stop.kind === 'corrupt' ? stop.detail : 'record runs past the end of the segment';
      throw new CorruptRecordError(this.stream, this.partition, this.segmentName(segment), offset, stop.position, detail);
    }
    // Reaching `end` inside this segment ends the whole scan, as the visitor stopping does.
    return endReached ? { kind: 'stopped', position: stop.position } : stop;
  }

  /** The segment that would hold `offset`: the last one whose base is at or below it. */
  private segmentFor(offset: number): FileSegment {
    const segments = this.segments;
    let lo = 0;
    let hi = segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return segments[found];
  }

  /** The segment after `segment` in the current list (which may have changed since it was found). */
  private segmentAfter(segment: FileSegment): FileSegment | null {
    for (const s of this.segments) if (s.baseOffset > segment.baseOffset) return s;
    return null;
  }

  private roll(): FileSegment {
    const old = this.active;
    const segment = FileSegment.create(this.dir, old.nextOffset, this.config.indexIntervalBytes);
    this.segments.push(segment);
    if (this.config.syncDirectoryOnRoll) fsyncDirectorySync(this.dir);
    const sealing = old.seal().catch((err: unknown) => {
      this.config.logger.warn({ file: old.files.log, err }, 'could not fsync a rolled segment');
    });
    this.sealing.add(sealing);
    void sealing.finally(() => this.sealing.delete(sealing));
    this.config.onRoll(this);
    return segment;
  }

  private async deleteSegment(segment: FileSegment): Promise<void> {
    segment.retire();
    for (const file of [segment.files.log, segment.files.offsetIndex, segment.files.timeIndex]) {
      try {
        await unlink(file);
      } catch (err) {
        if (!isNotFound(err)) this.config.logger.warn({ file, err }, 'could not delete a segment file');
      }
    }
  }

  private segmentName(segment: FileSegment): string {
    return `${this.stream}/${this.partition}/${segment.fileName}`;
  }
}

/**
 * A LogRecord with its own copy of key and value (one allocation for both): the
 * decoded views point into a whole read chunk or batch buffer, which a consumer
 * keeping one small record would otherwise pin in memory.
 */
export function toLogRecord(partition: number, record: DecodedRecord): LogRecord {
  const keyLength = record.key ? record.key.length : 0;
  const valueLength = record.value ? record.value.length : 0;
  const copy = Buffer.allocUnsafe(keyLength + valueLength);
  if (record.key) record.key.copy(copy, 0);
  if (record.value) record.value.copy(copy, keyLength);
  return {
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key ? copy.subarray(0, keyLength) : null,
    value: record.value ? copy.subarray(keyLength) : null,
  };
}

/**
 * The base offsets of the segments in a partition directory, sorted. Leftovers
 * of an interrupted compaction or repair (`.cleaned`, `.tmp`) and index files
 * without a segment are removed: the segments themselves are always complete.
 */
function listSegments(dir: string, logger: Logger): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const bases = new Set<number>();
  for (const name of names) {
    const base = parseSegmentLogName(name);
    if (base !== null) bases.add(base);
  }
  for (const name of names) {
    const orphanIndex =
      (name.endsWith(OFFSET_INDEX_SUFFIX) || name.endsWith(TIME_INDEX_SUFFIX)) &&
      !bases.has(Number(name.slice(0, 20)));
    if (name.endsWith(CLEANED_SUFFIX) || name.endsWith('.tmp') || orphanIndex) {
      logger.warn({ file: join(dir, name) }, 'removing leftover file');
      unlinkSync(join(dir, name));
    }
  }
  return [...bases].sort((a, b) => a - b);
}

/** For tests and tools: the file name of the segment holding base offset `base`. */
export function segmentLogFileName(base: number): string {
  return segmentBaseName(base) + LOG_SUFFIX;
}
