/**
 * Offline maintenance of a file log directory, behind `mqlog log verify` and
 * `mqlog log repair`. Both take the directory's lock for their whole run, so
 * they refuse to touch a log a live broker has open, and a broker cannot start
 * while they work.
 *
 * verify scans every record of every partition and reports what it finds,
 * continuing past corruption. repair changes one partition, in one of two ways
 * an operator chooses after reading the CorruptRecordError or the report:
 *   - truncateAt: drop the record at that offset and everything after it;
 *   - skip: replace just that record (or the damaged bytes around it) with an
 *     empty "skipped" marker that keeps its offset; readers pass over markers
 *     silently, because an operator put them there on purpose.
 * Index files of the changed segments are deleted; the next open rebuilds them.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readdirSync, statSync, writeSync } from 'fs';
import { rename } from 'fs/promises';
import { join } from 'path';
import { LogError } from '../EventLog';
import { LOG_SUFFIX, parseSegmentLogName, segmentBaseName, segmentFiles } from './FileSegment';
import { Lockfile } from './Lockfile';
import { DecodedRecord, encodeSkippedMarker, isSkippedMarker } from './RecordFormat';
import { corruptRecordOffset, findNextValidRecord, scanRecords } from './SegmentScanner';
import { readStreamMeta } from './StreamMeta';
import { fdatasyncAsync, fsyncDirectory, isNotFound, readAt, unlinkIfExists } from './fileIo';

export interface CorruptRecordReport {
  /** `<stream>/<partition>/<base>.log` */
  segment: string;
  /** The offset to pass to `repair` (see CorruptRecordError). */
  offset: number;
  filePosition: number;
  detail: string;
}

/** Bytes at the end of a partition that open() would truncate as a torn write. */
export interface TornTailReport {
  segment: string;
  filePosition: number;
  bytes: number;
}

export interface PartitionVerifyReport {
  stream: string;
  partition: number;
  segments: number;
  /** Data records (skipped markers are counted apart). */
  records: number;
  skipped: number;
  firstOffset: number | null;
  lastOffset: number | null;
  corrupt: CorruptRecordReport[];
  tornTail: TornTailReport | null;
}

export interface VerifyReport {
  dir: string;
  /** No corrupt records anywhere (a torn tail is not corruption: open() repairs it). */
  ok: boolean;
  partitions: PartitionVerifyReport[];
}

export type RepairAction = { truncateAt: number } | { skip: number };

export interface RepairResult {
  stream: string;
  partition: number;
  action: 'truncate' | 'skip';
  offset: number;
  /** The segment changed. */
  segment: string;
  filePosition: number;
  /** Bytes removed from that segment (for skip: replaced by a marker). */
  bytesRemoved: number;
  /** Later segments deleted entirely (truncate only). */
  segmentsDeleted: number;
}

/** Scans every record of every partition of the log in `dir`. */
export async function verifyLog(dir: string): Promise<VerifyReport> {
  return withLock(dir, async () => {
    const partitions: PartitionVerifyReport[] = [];
    for (const { stream, partitions: count } of await listStreams(dir)) {
      for (let partition = 0; partition < count; partition++) partitions.push(await verifyPartition(dir, stream, partition));
    }
    return { dir, ok: partitions.every((p) => p.corrupt.length === 0), partitions };
  });
}

/** Repairs one partition: see the module comment for `truncateAt` and `skip`. */
export async function repairPartition(dir: string, stream: string, partition: number, action: RepairAction): Promise<RepairResult> {
  return withLock(dir, async () => {
    const meta = await readStreamMeta(join(dir, stream));
    if (!meta) throw new LogError(`no stream ${stream} in ${dir}`);
    if (!Number.isInteger(partition) || partition < 0 || partition >= meta.partitions) {
      throw new LogError(`stream ${stream} has no partition ${partition} (it has ${meta.partitions})`);
    }
    const partitionDir = join(dir, stream, String(partition));
    const bases = listSegmentBases(partitionDir);
    if (bases.length === 0) throw new LogError(`partition ${stream}/${partition} has no segments`);
    return 'truncateAt' in action
      ? truncatePartition(partitionDir, stream, partition, bases, action.truncateAt)
      : skipRecord(partitionDir, stream, partition, bases, action.skip);
  });
}

// ---- verify ----

async function verifyPartition(dir: string, stream: string, partition: number): Promise<PartitionVerifyReport> {
  const partitionDir = join(dir, stream, String(partition));
  const bases = listSegmentBases(partitionDir);
  const report: PartitionVerifyReport = {
    stream,
    partition,
    segments: bases.length,
    records: 0,
    skipped: 0,
    firstOffset: null,
    lastOffset: null,
    corrupt: [],
    tornTail: null,
  };
  for (let i = 0; i < bases.length; i++) {
    const last = i === bases.length - 1;
    const name = `${stream}/${partition}/${segmentBaseName(bases[i]) + LOG_SUFFIX}`;
    await walkSegment(
      segmentFiles(partitionDir, bases[i]).log,
      bases[i],
      last ? null : bases[i + 1],
      (record) => {
        if (isSkippedMarker(record)) report.skipped++;
        else report.records++;
        report.firstOffset ??= record.offset;
        report.lastOffset = record.offset;
      },
      (region) => {
        if (last && region.nextValid === null) {
          report.tornTail = { segment: name, filePosition: region.position, bytes: region.end - region.position };
        } else {
          report.corrupt.push({ segment: name, offset: region.offset, filePosition: region.position, detail: region.detail });
        }
        return true;
      },
    );
  }
  return report;
}

// ---- repair ----

/**
 * Drops the records of a partition from `offset` on, for a caller that already
 * holds the log's lock (the file log rolling back a flush a crash cut short).
 */
export async function truncatePartitionFrom(partitionDir: string, stream: string, partition: number, offset: number): Promise<RepairResult> {
  return truncatePartition(partitionDir, stream, partition, listSegmentBases(partitionDir), offset);
}

async function truncatePartition(dir: string, stream: string, partition: number, bases: number[], offset: number): Promise<RepairResult> {
  const i = segmentIndexFor(bases, offset);
  const files = segmentFiles(dir, bases[i]);
  const name = `${stream}/${partition}/${segmentBaseName(bases[i]) + LOG_SUFFIX}`;
  let cut: number | null = null;
  let blocker: BadRegion | null = null;
  await walkSegment(
    files.log,
    bases[i],
    i + 1 < bases.length ? bases[i + 1] : null,
    (record, position) => {
      if (record.offset < offset) return true;
      cut = position;
      return false;
    },
    (region) => {
      if (coversOffset(region, offset) || region.offset >= offset) {
        cut = region.position;
        return false;
      }
      blocker = region;
      return false;
    },
  );
  const bad = blocker as BadRegion | null;
  if (bad) {
    throw new LogError(
      `corrupt record at offset ${bad.offset} of ${name} lies before offset ${offset}; ` + `truncate at ${bad.offset} or skip it first`,
    );
  }
  const size = statSync(files.log).size;
  const at = (cut as number | null) ?? size;
  if (at === size && i === bases.length - 1) throw new LogError(`partition ${stream}/${partition} has no record at or after offset ${offset}`);

  const fd = openSync(files.log, 'r+');
  try {
    ftruncateSync(fd, at);
    await fdatasyncAsync(fd);
  } finally {
    closeSync(fd);
  }
  await unlinkIfExists([files.offsetIndex, files.timeIndex]);
  for (const later of bases.slice(i + 1)) {
    const f = segmentFiles(dir, later);
    await unlinkIfExists([f.log, f.offsetIndex, f.timeIndex]);
  }
  await fsyncDirectory(dir);
  return {
    stream,
    partition,
    action: 'truncate',
    offset,
    segment: name,
    filePosition: at,
    bytesRemoved: size - at,
    segmentsDeleted: bases.length - i - 1,
  };
}

async function skipRecord(dir: string, stream: string, partition: number, bases: number[], offset: number): Promise<RepairResult> {
  const i = segmentIndexFor(bases, offset);
  const files = segmentFiles(dir, bases[i]);
  const name = `${stream}/${partition}/${segmentBaseName(bases[i]) + LOG_SUFFIX}`;
  let target: { position: number; end: number } | null = null;
  let previousTimestamp = 0;
  await walkSegment(
    files.log,
    bases[i],
    i + 1 < bases.length ? bases[i + 1] : null,
    (record, position) => {
      if (record.offset === offset) {
        target = { position, end: position + record.size };
        return false;
      }
      if (record.offset > offset) return false;
      previousTimestamp = record.timestamp;
      return true;
    },
    (region) => {
      if (!coversOffset(region, offset)) return region.offset < offset;
      target = { position: region.position, end: region.end };
      return false;
    },
  );
  const found = target as { position: number; end: number } | null;
  if (!found) throw new LogError(`partition ${stream}/${partition} has no record at offset ${offset} in ${name}`);

  // Rewrite the segment beside the original with the marker in place of the bad bytes, then swap it in.
  const tmp = `${files.log}.repair.tmp`;
  const source = openSync(files.log, 'r');
  const copy = openSync(tmp, 'w');
  try {
    const size = fstatSync(source).size;
    let written = await copyRange(source, copy, 0, found.position, 0);
    const marker = encodeSkippedMarker(offset, previousTimestamp);
    writeSync(copy, marker, 0, marker.length, written);
    written += marker.length;
    await copyRange(source, copy, found.end, size, written);
    await fdatasyncAsync(copy);
  } finally {
    closeSync(source);
    closeSync(copy);
  }
  await unlinkIfExists([files.offsetIndex, files.timeIndex]);
  await rename(tmp, files.log);
  await fsyncDirectory(dir);
  return {
    stream,
    partition,
    action: 'skip',
    offset,
    segment: name,
    filePosition: found.position,
    bytesRemoved: found.end - found.position,
    segmentsDeleted: 0,
  };
}

// ---- walking segments past corruption ----

/** A stretch of bytes that holds no valid record, from a bad record to the next valid one (or the end). */
interface BadRegion {
  position: number;
  end: number;
  /** The offset an error names for it (see corruptRecordOffset). */
  offset: number;
  /** The lowest offset it may hold: one past the previous record. */
  expected: number;
  /** The next valid record after it, if any. */
  nextValid: { position: number; offset: number } | null;
  detail: string;
}

/** Whether the offsets a bad region may have held include `offset`. */
function coversOffset(region: BadRegion, offset: number): boolean {
  return offset === region.offset || (offset >= region.expected && (region.nextValid === null || offset < region.nextValid.offset));
}

/**
 * Visits every record of a segment file in order; at a bad record it calls
 * `onBad` with the region up to the next valid record and, if that returns
 * true, carries on from there. Either callback returns false to stop.
 */
async function walkSegment(
  path: string,
  baseOffset: number,
  nextBaseOffset: number | null,
  onRecord: (record: DecodedRecord, position: number) => boolean | void,
  onBad: (region: BadRegion) => boolean,
): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let position = 0;
    let previous = -1;
    while (position < size) {
      let misplaced: { position: number; size: number; offset: number } | null = null;
      let stoppedByVisitor = false;
      const stop = await scanRecords(fd, position, size, (record, at) => {
        const lowest = previous >= 0 ? previous + 1 : baseOffset;
        if (record.offset < lowest || (nextBaseOffset !== null && record.offset >= nextBaseOffset)) {
          misplaced = { position: at, size: record.size, offset: record.offset };
          return false;
        }
        if (onRecord(record, at) === false) {
          stoppedByVisitor = true;
          return false;
        }
        previous = record.offset;
        return true;
      });
      if (stoppedByVisitor || stop.kind === 'end') return;
      const expected = previous >= 0 ? previous + 1 : baseOffset;
      let region: BadRegion;
      const out = misplaced as { position: number; size: number; offset: number } | null;
      if (out) {
        region = {
          position: out.position,
          end: out.position + out.size,
          offset: expected,
          expected,
          nextValid: null,
          detail: `record offset ${out.offset} is out of order`,
        };
        region.nextValid = await findNextValidRecord(fd, region.end, size, previous);
      } else {
        const nextValid = await findNextValidRecord(fd, stop.position + 1, size, previous);
        region = {
          position: stop.position,
          end: nextValid ? nextValid.position : size,
          offset:
            stop.kind === 'corrupt' ? corruptRecordOffset(stop.headerOffset, expected, stop.position, size, nextBaseOffset) : expected,
          expected,
          nextValid,
          detail: stop.kind === 'corrupt' ? stop.detail : `incomplete record (${size - stop.position} bytes left)`,
        };
      }
      if (!onBad(region)) return;
      position = region.end;
    }
  } finally {
    closeSync(fd);
  }
}

// ---- files ----

async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  try {
    statSync(dir);
  } catch (err) {
    if (isNotFound(err)) throw new LogError(`no log directory ${dir}`);
    throw err;
  }
  const lock = Lockfile.acquire(dir);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

async function listStreams(dir: string): Promise<{ stream: string; partitions: number }[]> {
  const streams: { stream: string; partitions: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const meta = await readStreamMeta(join(dir, entry.name));
    if (meta) streams.push({ stream: entry.name, partitions: meta.partitions });
  }
  return streams.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
}

function listSegmentBases(partitionDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(partitionDir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const bases: number[] = [];
  for (const name of names) {
    const base = parseSegmentLogName(name);
    if (base !== null) bases.push(base);
  }
  return bases.sort((a, b) => a - b);
}

/** The segment that holds `offset`: the last whose base is at or below it (the first one for earlier offsets). */
function segmentIndexFor(bases: number[], offset: number): number {
  let found = 0;
  for (let i = 0; i < bases.length; i++) if (bases[i] <= offset) found = i;
  return found;
}

/** Copies [from, to) of `source` to `target` at `at`; returns the position after. */
async function copyRange(source: number, target: number, from: number, to: number, at: number): Promise<number> {
  const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(1, to - from)));
  let position = from;
  let out = at;
  while (position < to) {
    const n = await readAt(source, chunk, Math.min(chunk.length, to - position), position);
    if (n === 0) break;
    for (let done = 0; done < n; ) done += writeSync(target, chunk, done, n - done, out + done);
    position += n;
    out += n;
  }
  return out;
}
