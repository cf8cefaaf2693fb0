/**
 * Sequential scanning of the records in a segment file, a chunk at a time. It is
 * the one loop behind reads, crash recovery, index rebuilds, compaction and
 * verification; each of them decides what a bad record means for it.
 *
 * The visitor runs synchronously for each record of a chunk, so the only
 * asynchronous step (and the only allocation besides the records) is one read
 * per chunk.
 */
import { decodeRecord, DecodedRecord, RECORD_HEADER_BYTES } from './RecordFormat';
import { readAt } from './fileIo';

/**
 * A scan reads a small first chunk (a read of one record stays cheap), then
 * doubles the chunk size while the visitor keeps consuming, up to the maximum.
 */
export const FIRST_SCAN_CHUNK_BYTES = 16 * 1024;
export const MAX_SCAN_CHUNK_BYTES = 1024 * 1024;

/** Why a scan stopped; `position` is where the first record not consumed starts. */
export type ScanStop =
  | { kind: 'end'; position: number }
  | { kind: 'stopped'; position: number }
  /** The record at `position` runs past the scan limit. */
  | { kind: 'incomplete'; position: number; claimedSize: number | null }
  | { kind: 'corrupt'; position: number; detail: string; claimedSize: number | null; headerOffset: number | null };

/** Return `false` to stop before this record (it is not consumed). */
export type RecordVisitor = (record: DecodedRecord, position: number) => boolean | void;

/** Scans records in [from, limit) of the file open as `fd`. */
export async function scanRecords(fd: number, from: number, limit: number, visit: RecordVisitor): Promise<ScanStop> {
  let position = from;
  let chunkBytes = FIRST_SCAN_CHUNK_BYTES;
  let want = chunkBytes;
  while (position < limit) {
    const length = Math.min(Math.max(want, RECORD_HEADER_BYTES), limit - position);
    const buf = Buffer.allocUnsafe(length);
    const got = await readAt(fd, buf, length, position);
    const chunkEnd = got; // the file may be shorter than `limit` says (truncated under us)
    const atLimit = position + got >= limit || got < length;
    let at = 0;
    chunkBytes = Math.min(chunkBytes * 2, MAX_SCAN_CHUNK_BYTES);
    want = chunkBytes;
    for (;;) {
      if (at >= chunkEnd) break;
      const result = decodeRecord(buf, at, chunkEnd);
      if (result.kind === 'record') {
        if (visit(result.record, position + at) === false) return { kind: 'stopped', position: position + at };
        at += result.record.size;
        continue;
      }
      if (result.kind === 'corrupt') {
        return { kind: 'corrupt', position: position + at, detail: result.detail, claimedSize: result.size, headerOffset: result.headerOffset };
      }
      // Incomplete within this chunk: the record continues past it.
      if (atLimit) return { kind: 'incomplete', position: position + at, claimedSize: result.size };
      if (at === 0) want = Math.max(chunkBytes, result.size ?? 0); // one record bigger than a chunk
      break;
    }
    if (at === 0 && atLimit) return { kind: 'incomplete', position, claimedSize: null };
    position += at;
  }
  return { kind: 'end', position };
}

/**
 * Looks for a valid record anywhere after `from` (byte by byte), with an offset
 * above `minOffset`: it tells real corruption (good records follow the bad one)
 * from a torn or garbage tail (nothing valid follows). Only used on the error
 * path, so it may read the rest of the file.
 */
export async function findNextValidRecord(
  fd: number,
  from: number,
  limit: number,
  minOffset: number,
): Promise<{ position: number; offset: number } | null> {
  if (limit - from < RECORD_HEADER_BYTES) return null;
  const buf = Buffer.allocUnsafe(limit - from);
  const got = await readAt(fd, buf, buf.length, from);
  for (let at = 0; at + RECORD_HEADER_BYTES <= got; at++) {
    const length = buf.readUInt32BE(at);
    if (length < RECORD_HEADER_BYTES - 4 || at + 4 + length > got) continue; // cheap filters before the CRC
    const result = decodeRecord(buf, at, got);
    if (result.kind === 'record' && result.record.offset > minOffset) return { position: from + at, offset: result.record.offset };
  }
  return null;
}

/**
 * The offset to name for a corrupt record at `position`: the offset in its
 * header when that is plausible (at least the offset expected there and below
 * what the rest of the segment could hold), otherwise the expected one. Reads,
 * recovery, verify and repair all use it, so the offset an error names is the
 * one `repair --skip` and `--truncate-at` find.
 */
export function corruptRecordOffset(
  headerOffset: number | null,
  expected: number,
  position: number,
  limit: number,
  nextBaseOffset: number | null,
): number {
  const upper = nextBaseOffset ?? expected + Math.ceil((limit - position) / RECORD_HEADER_BYTES) + 1;
  return headerOffset !== null && headerOffset >= expected && headerOffset < upper ? headerOffset : expected;
}
