/**
 * Log compaction of one partition of a compacted stream. Closed segments are
 * rewritten keeping only the latest record per key: a record is dropped when a
 * later record with the same key exists anywhere in the partition, including
 * the active segment (which itself is never rewritten). The latest record of a
 * key that is a tombstone (null value) is kept for `deleteRetentionMs` after its
 * timestamp, so consumers that are behind still see the delete, then dropped.
 * Keyless records count as one key of their own.
 *
 * Offsets are preserved, so gaps appear; readers and tails skip them. A
 * rewritten segment is written beside the original (`.cleaned`), fsynced, and
 * renamed over it; its index files are removed before the swap and renamed in
 * after it, so a crash at any point leaves a complete segment whose index is
 * either consistent or missing (and rebuilt on open). Readers that already hold
 * the old segment keep reading its (unlinked) file until they finish.
 */
import { closeSync, openSync, writeSync } from 'fs';
import { rename, writeFile } from 'fs/promises';
import { CorruptRecordError } from '../EventLog';
import type { Logger } from '../../logger';
import { CLEANED_SUFFIX, FileSegment, SegmentFiles } from './FileSegment';
import type { FilePartition } from './FilePartition';
import { DecodedRecord, encodedSize, encodeRecord, isSkippedMarker } from './RecordFormat';
import { SegmentIndexer } from './SegmentIndexer';
import { corruptRecordOffset, RecordVisitor } from './SegmentScanner';
import { closeAsync, fdatasyncAsync, fsyncDirectory, unlinkIfExists } from './fileIo';

const WRITE_BUFFER_BYTES = 1024 * 1024;

export interface CompactionOptions {
  now: number;
  deleteRetentionMs: number;
  indexIntervalBytes: number;
  logger: Logger;
  /** Checked between segments, to stop early when the log closes. */
  shouldStop: () => boolean;
}

export interface CompactionResult {
  segmentsRewritten: number;
  segmentsRemoved: number;
  recordsRemoved: number;
  /** Tombstones still kept (they expire later, so the next run has work even without appends). */
  tombstonesKept: number;
}

export async function compactPartition(partition: FilePartition, options: CompactionOptions): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, segmentsRemoved: 0, recordsRemoved: 0, tombstonesKept: 0 };
  const segments = partition.segmentList();
  if (segments.length < 2) return result;

  const latest = new Map<string, number>();
  for (const segment of segments) {
    await scanWhole(partition, segment, (record) => {
      if (!isSkippedMarker(record)) latest.set(keyId(record.key), record.offset);
    });
  }

  const tombstoneHorizon = options.now - options.deleteRetentionMs;
  const keep = (record: DecodedRecord): boolean =>
    !isSkippedMarker(record) &&
    latest.get(keyId(record.key)) === record.offset &&
    (record.value !== null || record.timestamp >= tombstoneHorizon);

  for (const segment of segments.slice(0, -1)) {
    if (options.shouldStop()) break;
    let dropped = 0;
    await scanWhole(partition, segment, (record) => {
      if (!keep(record)) dropped++;
      else if (record.value === null) result.tombstonesKept++;
    });
    if (dropped === 0) continue;
    const replacement = await rewriteSegment(partition, segment, keep, options);
    result.recordsRemoved += dropped;
    if (replacement) result.segmentsRewritten++;
    else result.segmentsRemoved++;
  }
  if (result.recordsRemoved > 0) {
    options.logger.info({ stream: partition.stream, partition: partition.partition, ...result }, 'compacted partition');
  }
  return result;
}

/** Writes the kept records of `segment` to a cleaned copy and swaps it in (or removes the segment when none are kept). */
async function rewriteSegment(
  partition: FilePartition,
  segment: FileSegment,
  keep: (record: DecodedRecord) => boolean,
  options: CompactionOptions,
): Promise<FileSegment | null> {
  const files = segment.files;
  const cleaned = cleanedFiles(files);
  const indexer = new SegmentIndexer(segment.baseOffset, options.indexIntervalBytes);
  try {
    return await writeAndSwap(partition, segment, keep, indexer, files, cleaned);
  } catch (err) {
    // Leave the original in place; a half-written copy is useless (open() would remove it too).
    await unlinkIfExists([cleaned.log, cleaned.offsetIndex, cleaned.timeIndex]).catch(() => undefined);
    throw err;
  }
}

async function writeAndSwap(
  partition: FilePartition,
  segment: FileSegment,
  keep: (record: DecodedRecord) => boolean,
  indexer: SegmentIndexer,
  files: SegmentFiles,
  cleaned: SegmentFiles,
): Promise<FileSegment | null> {
  const fd = openSync(cleaned.log, 'w');
  let size = 0;
  try {
    let buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
    let used = 0;
    const flush = (): void => {
      for (let done = 0; done < used; ) done += writeSync(fd, buffer, done, used - done, size - used + done);
      used = 0;
    };
    await scanWhole(partition, segment, (record) => {
      if (!keep(record)) return;
      const recordSize = encodedSize(record.key, record.value);
      if (used + recordSize > buffer.length) {
        flush();
        if (recordSize > buffer.length) buffer = Buffer.allocUnsafe(recordSize);
      }
      indexer.add(record.offset, record.timestamp, size, recordSize);
      used = encodeRecord(buffer, used, record.offset, record.timestamp, record.key, record.value);
      size += recordSize;
    });
    flush();
    await fdatasyncAsync(fd);
  } finally {
    closeSync(fd);
  }

  if (size === 0) {
    partition.replaceSegment(segment, null);
    await unlinkIfExists([cleaned.log, files.log, files.offsetIndex, files.timeIndex]);
    return null;
  }

  await writeSynced(cleaned.offsetIndex, indexer.offsetIndex.encode());
  await writeSynced(cleaned.timeIndex, indexer.timeIndex.encode());
  await unlinkIfExists([files.offsetIndex, files.timeIndex]);
  await rename(cleaned.log, files.log);
  await rename(cleaned.offsetIndex, files.offsetIndex);
  await rename(cleaned.timeIndex, files.timeIndex);
  await fsyncDirectory(partition.dir);

  const replacement = new FileSegment({
    dir: partition.dir,
    baseOffset: segment.baseOffset,
    fd: openSync(files.log, 'r+'),
    size,
    indexer,
    createdAt: segment.createdAt,
    indexFds: null,
  });
  if (!partition.replaceSegment(segment, replacement)) replacement.retire();
  return replacement;
}

/** Scans every readable record of a segment; a bad record aborts compaction with CorruptRecordError. */
async function scanWhole(partition: FilePartition, segment: FileSegment, visit: (record: DecodedRecord) => void): Promise<void> {
  let previous = -1;
  const visitor: RecordVisitor = (record) => {
    previous = record.offset;
    visit(record);
  };
  const stop = await segment.scan(0, visitor);
  if (stop.kind === 'corrupt' || stop.kind === 'incomplete') {
    const expected = previous >= 0 ? previous + 1 : segment.baseOffset;
    const offset = stop.kind === 'corrupt' ? corruptRecordOffset(stop.headerOffset, expected, stop.position, segment.readableSize, null) : expected;
    throw new CorruptRecordError(
      partition.stream,
      partition.partition,
      `${partition.stream}/${partition.partition}/${segment.fileName}`,
      offset,
      stop.position,
      stop.kind === 'corrupt' ? stop.detail : 'record runs past the end of the segment',
    );
  }
}

/** Null keys are one key of their own, distinct from the empty key. */
function keyId(key: Buffer | null): string {
  return key === null ? 'N' : 'K' + key.toString('latin1');
}

function cleanedFiles(files: SegmentFiles): SegmentFiles {
  return { log: files.log + CLEANED_SUFFIX, offsetIndex: files.offsetIndex + CLEANED_SUFFIX, timeIndex: files.timeIndex + CLEANED_SUFFIX };
}

async function writeSynced(path: string, data: Buffer): Promise<void> {
  await writeFile(path, data);
  const fd = openSync(path, 'r');
  try {
    await fdatasyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}
