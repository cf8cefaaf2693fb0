/**
 * One segment of a partition: `<base offset>.log` with its `.index` and
 * `.timeindex`. The last segment of a partition is the active one and takes
 * appends; the others are closed and only read (and rewritten by compaction).
 *
 * Appends are synchronous positional writes (the group commit in FileEventLog
 * makes them one write per partition per batch). Reads go through
 * `SegmentScanner` on the same fd and never look past `readableSize`, the bytes
 * already made durable and announced, so a reader can't see a record whose
 * append has not resolved yet.
 *
 * A segment removed by retention or replaced by compaction is retired: its fd
 * stays open until the reads that are using it finish.
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'fs';
import { join } from 'path';
import { OffsetIndex } from './OffsetIndex';
import { recordOffsetAt, recordSizeAt, recordTimestampAt } from './RecordFormat';
import { SegmentIndexer } from './SegmentIndexer';
import { RecordVisitor, scanRecords, ScanStop } from './SegmentScanner';
import { TimeIndex } from './TimeIndex';
import { closeAsync, fdatasyncAsync, fsyncAsync } from './fileIo';
import { fsyncFault } from './testFaults';

const BASE_OFFSET_DIGITS = 20;

export const LOG_SUFFIX = '.log';
export const OFFSET_INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
/** Suffix of the files compaction writes before swapping them in. */
export const CLEANED_SUFFIX = '.cleaned';

/** `00000000000000000042` for base offset 42: names sort like offsets. */
export function segmentBaseName(baseOffset: number): string {
  return String(baseOffset).padStart(BASE_OFFSET_DIGITS, '0');
}

/** The base offset of a `.log` file name, or null for any other file. */
export function parseSegmentLogName(fileName: string): number | null {
  const match = /^(\d{20})\.log$/.exec(fileName);
  return match ? Number(match[1]) : null;
}

export interface SegmentFiles {
  log: string;
  offsetIndex: string;
  timeIndex: string;
}

export function segmentFiles(dir: string, baseOffset: number): SegmentFiles {
  const base = join(dir, segmentBaseName(baseOffset));
  return { log: base + LOG_SUFFIX, offsetIndex: base + OFFSET_INDEX_SUFFIX, timeIndex: base + TIME_INDEX_SUFFIX };
}

/** Open fds of the index files; only the active segment keeps them. */
export interface IndexFds {
  offset: number;
  time: number;
}

export interface SegmentInit {
  dir: string;
  baseOffset: number;
  /** The `.log` fd, opened read-write. */
  fd: number;
  size: number;
  indexer: SegmentIndexer;
  /** Wall-clock time the segment was created, for `segmentMs`. */
  createdAt: number;
  indexFds: IndexFds | null;
}

export class FileSegment {
  readonly baseOffset: number;
  readonly files: SegmentFiles;
  readonly createdAt: number;
  /** Bytes written. */
  size: number;
  /** Bytes readers may see: written, durable under the policy, and announced to tails. */
  readableSize: number;
  private readonly fd: number;
  private readonly indexer: SegmentIndexer;
  private indexFds: IndexFds | null;
  private readers = 0;
  private retired = false;
  /** Written since the last fdatasync. */
  private unsynced = false;
  private closed = false;

  constructor(init: SegmentInit) {
    this.baseOffset = init.baseOffset;
    this.files = segmentFiles(init.dir, init.baseOffset);
    this.fd = init.fd;
    this.size = init.size;
    this.readableSize = init.size;
    this.indexer = init.indexer;
    this.createdAt = init.createdAt;
    this.indexFds = init.indexFds;
  }

  /** Creates a new, empty active segment (synchronously: it happens inside a flush). */
  static create(dir: string, baseOffset: number, indexIntervalBytes: number): FileSegment {
    const files = segmentFiles(dir, baseOffset);
    const fd = openSync(files.log, 'wx+');
    let indexFds: IndexFds;
    try {
      indexFds = { offset: openSync(files.offsetIndex, 'w+'), time: openSync(files.timeIndex, 'w+') };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new FileSegment({
      dir,
      baseOffset,
      fd,
      size: 0,
      indexer: new SegmentIndexer(baseOffset, indexIntervalBytes),
      createdAt: Date.now(),
      indexFds,
    });
  }

  get fileName(): string {
    return segmentBaseName(this.baseOffset) + LOG_SUFFIX;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** Offset of the last record (a skipped marker counts), -1 when empty. */
  get lastOffset(): number {
    return this.indexer.lastOffset;
  }

  /** The offset a record appended here would get. */
  get nextOffset(): number {
    return this.indexer.lastOffset >= 0 ? this.indexer.lastOffset + 1 : this.baseOffset;
  }

  /** Largest record timestamp in the segment, -1 when empty. */
  get maxTimestamp(): number {
    return this.indexer.maxTimestamp;
  }

  get offsetIndex(): OffsetIndex {
    return this.indexer.offsetIndex;
  }

  get timeIndex(): TimeIndex {
    return this.indexer.timeIndex;
  }

  /**
   * Writes whole encoded records at the end of the segment, then indexes them.
   * On a failed write the file is cut back so no partial record stays behind.
   */
  append(records: Buffer): void {
    let written = 0;
    try {
      while (written < records.length) {
        written += writeSync(this.fd, records, written, records.length - written, this.size + written);
      }
    } catch (err) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The recovery scan on the next open drops a torn tail anyway.
      }
      throw err;
    }
    for (let at = 0; at < records.length; ) {
      const size = recordSizeAt(records, at);
      this.indexer.add(recordOffsetAt(records, at), recordTimestampAt(records, at), this.size + at, size);
      at += size;
    }
    this.size += records.length;
    this.unsynced = true;
    this.persistIndexes();
  }

  /** Makes everything written visible to readers (called once it is durable under the policy). */
  markReadable(): void {
    this.readableSize = this.size;
  }

  /** Where to start scanning for `offset`: the closest indexed record at or before it. */
  scanStartFor(offset: number): number {
    return this.indexer.offsetIndex.lookup(Math.max(0, offset - this.baseOffset)).position;
  }

  /** Scans records from `position` up to `limit` (the readable end by default). */
  async scan(position: number, visit: RecordVisitor, limit = this.readableSize): Promise<ScanStop> {
    this.acquire();
    try {
      return await scanRecords(this.fd, position, limit, visit);
    } finally {
      this.release();
    }
  }

  /** Whether writes since the last fdatasync are waiting for one. */
  get needsSync(): boolean {
    return this.unsynced;
  }

  /** fdatasync of the log file, for the 'batch' and 'interval' policies. */
  async syncData(): Promise<void> {
    this.acquire();
    try {
      this.unsynced = false; // cleared first: a write during the sync sets it again
      fsyncFault();
      await fdatasyncAsync(this.fd);
    } catch (err) {
      this.unsynced = true;
      throw err;
    } finally {
      this.release();
    }
  }

  /**
   * The segment stops taking appends (a roll): indexes are written out, then
   * everything is fsynced and the index fds closed in the background, so a
   * closed segment is complete on disk without slowing the flush that rolled it.
   */
  async seal(): Promise<void> {
    const fds = this.indexFds;
    this.persistIndexes();
    this.indexFds = null;
    this.acquire(); // retention may retire the segment meanwhile; keep the fd open until done
    try {
      await fdatasyncAsync(this.fd);
      this.unsynced = false;
      if (fds) await Promise.all([fsyncAsync(fds.offset), fsyncAsync(fds.time)]);
    } finally {
      this.release();
      if (fds) await Promise.all([closeAsync(fds.offset), closeAsync(fds.time)]);
    }
  }

  /** Removed from the partition: the fd closes once no read is using it. */
  retire(): void {
    this.retired = true;
    if (this.readers === 0) this.closeFds();
  }

  /** Flushes indexes, fsyncs and closes (log shutdown). */
  close(): void {
    if (this.closed || this.retired) return;
    this.persistIndexes();
    try {
      if (this.unsynced) fdatasyncSync(this.fd);
      if (this.indexFds) {
        fsyncSync(this.indexFds.offset);
        fsyncSync(this.indexFds.time);
      }
      this.unsynced = false;
    } finally {
      this.retire(); // a read still running finishes on the open fd
    }
  }

  private acquire(): void {
    if (this.closed) throw new Error(`segment ${this.files.log} is closed`);
    this.readers++;
  }

  private release(): void {
    this.readers--;
    if (this.readers === 0 && this.retired) this.closeFds();
  }

  private persistIndexes(): void {
    if (!this.indexFds) return;
    try {
      // Time index first, so the file never holds an offset entry without the time
      // entry written with it (that would understate the segment's largest
      // timestamp after a restart); a time entry whose offset entry is missing is
      // detected as inconsistent on open and both are rebuilt.
      this.indexer.timeIndex.persist(this.indexFds.time);
      this.indexer.offsetIndex.persist(this.indexFds.offset);
    } catch {
      // Index files are a cache of the segment: a failed write is retried with the
      // next batch, and a torn index file is rebuilt on open.
    }
  }

  private closeFds(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if (this.indexFds) {
      closeSync(this.indexFds.offset);
      closeSync(this.indexFds.time);
      this.indexFds = null;
    }
  }
}
