/**
 * Opening a segment after a restart or a crash. Its index files are loaded and
 * checked; a missing or inconsistent index is rebuilt by scanning the segment.
 * Then the records after the last index entry are scanned, which finds the
 * segment's last offset and largest timestamp and, in the active segment, a
 * torn tail: an incomplete last record, or a last record whose CRC fails and
 * that reaches the end of the file (a write cut short by a crash). That tail is
 * cut off with a warning.
 *
 * A bad record with valid records after it is not a torn write but corruption,
 * and is never dropped silently: the open fails with CorruptRecordError and the
 * operator decides with `mqlog log verify` / `repair`. A closed segment must be
 * complete, so any bad record in its scanned tail is corruption too.
 */
import { closeSync, fstatSync, ftruncateSync, openSync } from 'fs';
import { readFile } from 'fs/promises';
import { CorruptRecordError } from '../EventLog';
import type { Logger } from '../../logger';
import { FileSegment, IndexFds, segmentFiles, SegmentFiles } from './FileSegment';
import { OffsetIndex } from './OffsetIndex';
import { SegmentIndexer } from './SegmentIndexer';
import { corruptRecordOffset, findNextValidRecord, scanRecords } from './SegmentScanner';
import { TimeIndex } from './TimeIndex';
import { isNotFound } from './fileIo';

export interface LoadSegmentOptions {
  dir: string;
  stream: string;
  partition: number;
  baseOffset: number;
  /** Base offset of the following segment (every record here is below it); null for the last segment. */
  nextBaseOffset: number | null;
  /** The last segment of the partition: takes appends, and a torn tail is truncated. */
  active: boolean;
  indexIntervalBytes: number;
  logger: Logger;
}

type TailScan =
  | { kind: 'clean' }
  | { kind: 'torn'; position: number; detail: string }
  | { kind: 'corrupt'; position: number; offset: number; detail: string }
  /** The index points at a record that is not there: rebuild it. */
  | { kind: 'index-mismatch'; detail: string };

export async function loadSegment(options: LoadSegmentOptions): Promise<FileSegment> {
  const { dir, baseOffset, active, logger } = options;
  const files = segmentFiles(dir, baseOffset);
  const fd = openSync(files.log, 'r+');
  try {
    const stat = fstatSync(fd);
    let size = stat.size;
    const loaded = await loadIndexes(files, size, options);
    let rebuilt = typeof loaded === 'string';
    if (rebuilt && loaded !== 'missing') logger.warn({ file: files.log, reason: loaded }, 'segment index is inconsistent; rebuilding it');
    let indexer = typeof loaded === 'string' ? freshIndexer(options) : loaded;

    for (;;) {
      const scan = await scanTail(fd, size, indexer, options);
      if (scan.kind === 'clean') break;
      if (scan.kind === 'index-mismatch') {
        logger.warn({ file: files.log, reason: scan.detail }, 'segment index is inconsistent; rebuilding it');
        indexer = freshIndexer(options);
        rebuilt = true;
        continue;
      }
      if (scan.kind === 'corrupt') {
        throw new CorruptRecordError(options.stream, options.partition, relativeName(files), scan.offset, scan.position, scan.detail);
      }
      logger.warn(
        {
          file: files.log,
          offset: indexer.lastOffset >= 0 ? indexer.lastOffset + 1 : baseOffset,
          filePosition: scan.position,
          bytesDropped: size - scan.position,
          reason: scan.detail,
        },
        'truncating torn tail of segment',
      );
      ftruncateSync(fd, scan.position);
      size = scan.position;
      if (indexer.offsetIndex.last().position < size) break;
      // The torn record was an indexed one, so the entries loaded from disk point
      // past the new end: rebuild from the start of the (now clean) segment.
      indexer = freshIndexer(options);
      rebuilt = true;
    }

    const indexFds = writeIndexes(files, indexer, rebuilt, active);
    return new FileSegment({
      dir,
      baseOffset,
      fd,
      size,
      indexer,
      // Age for segmentMs: the file's birth time where the filesystem keeps one.
      createdAt: stat.birthtimeMs > 0 ? stat.birthtimeMs : Date.now(),
      indexFds,
    });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Loads both index files, or says why they must be rebuilt ('missing' when a file is absent). */
async function loadIndexes(files: SegmentFiles, segmentSize: number, options: LoadSegmentOptions): Promise<SegmentIndexer | string> {
  let offsetBytes: Buffer;
  let timeBytes: Buffer;
  try {
    [offsetBytes, timeBytes] = await Promise.all([readFile(files.offsetIndex), readFile(files.timeIndex)]);
  } catch (err) {
    if (isNotFound(err)) return 'missing';
    throw err;
  }
  const offsetIndex = OffsetIndex.decode(offsetBytes, segmentSize);
  if (typeof offsetIndex === 'string') return `offset index: ${offsetIndex}`;
  const timeIndex = TimeIndex.decode(timeBytes);
  if (typeof timeIndex === 'string') return `time index: ${timeIndex}`;
  if (timeIndex.length > 0 && !offsetIndex.has(timeIndex.lastRelativeOffset)) {
    return 'time index refers to an offset the offset index does not have';
  }
  return new SegmentIndexer(options.baseOffset, options.indexIntervalBytes, offsetIndex, timeIndex);
}

function freshIndexer(options: LoadSegmentOptions): SegmentIndexer {
  return new SegmentIndexer(options.baseOffset, options.indexIntervalBytes);
}

/**
 * Scans from the indexer's last entry to the end of the file, feeding it the
 * records found, and classifies how the scan ended.
 */
async function scanTail(fd: number, size: number, indexer: SegmentIndexer, options: LoadSegmentOptions): Promise<TailScan> {
  const { baseOffset, nextBaseOffset } = options;
  const start = indexer.offsetIndex.last();
  /** The offset the record at `start` must have, when an index entry vouches for it. */
  const indexedOffset = start.position > 0 ? baseOffset + start.relativeOffset : null;
  let problem = null as TailScan | null;
  let first = true;
  const stop = await scanRecords(fd, start.position, size, (record, position) => {
    if (first && indexedOffset !== null && record.offset !== indexedOffset) {
      problem = { kind: 'index-mismatch', detail: `entry for offset ${indexedOffset} finds offset ${record.offset}` };
      return false;
    }
    first = false;
    const lowest = indexer.lastOffset >= 0 ? indexer.lastOffset + 1 : baseOffset;
    if (record.offset < lowest || (nextBaseOffset !== null && record.offset >= nextBaseOffset)) {
      problem = { kind: 'corrupt', position, offset: lowest, detail: `record offset ${record.offset} is out of order` };
      return false;
    }
    indexer.add(record.offset, record.timestamp, position, record.size);
  });
  if (problem) return problem;
  if (stop.kind === 'end') return { kind: 'clean' };
  if (stop.kind === 'stopped') return { kind: 'clean' }; // not produced without a problem
  const expected = indexer.lastOffset >= 0 ? indexer.lastOffset + 1 : (indexedOffset ?? baseOffset);
  if (stop.kind === 'incomplete') {
    const detail = `incomplete record (${size - stop.position} bytes left, ${stop.claimedSize ?? 'unknown'} claimed)`;
    if (options.active) return { kind: 'torn', position: stop.position, detail };
    return { kind: 'corrupt', position: stop.position, offset: expected, detail };
  }
  const offset = corruptRecordOffset(stop.headerOffset, expected, stop.position, size, nextBaseOffset);
  if (!options.active) return { kind: 'corrupt', position: stop.position, offset, detail: stop.detail };
  if (stop.claimedSize !== null && stop.position + stop.claimedSize >= size) {
    return { kind: 'torn', position: stop.position, detail: `last record: ${stop.detail}` };
  }
  const next = await findNextValidRecord(fd, stop.position + 1, size, indexer.lastOffset);
  if (next !== null) {
    return { kind: 'corrupt', position: stop.position, offset, detail: `${stop.detail}; valid records follow at file position ${next.position}` };
  }
  return { kind: 'torn', position: stop.position, detail: `no valid record after: ${stop.detail}` };
}

/**
 * Writes index entries the scan added (all of them after a rebuild). The active
 * segment keeps the index fds for its appends; a closed one closes them.
 */
function writeIndexes(files: SegmentFiles, indexer: SegmentIndexer, rebuilt: boolean, active: boolean): IndexFds | null {
  const flags = rebuilt ? 'w+' : 'r+';
  const fds: IndexFds = { offset: openSync(files.offsetIndex, flags), time: -1 };
  try {
    fds.time = openSync(files.timeIndex, flags);
    indexer.timeIndex.persist(fds.time);
    indexer.offsetIndex.persist(fds.offset);
  } catch (err) {
    closeSync(fds.offset);
    if (fds.time >= 0) closeSync(fds.time);
    throw err;
  }
  if (active) return fds;
  closeSync(fds.offset);
  closeSync(fds.time);
  return null;
}

/** `<stream>/<partition>/<file>`, as errors name segments. */
function relativeName(files: SegmentFiles): string {
  return files.log.split(/[\\/]/).slice(-3).join('/');
}
