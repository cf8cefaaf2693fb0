/**
 * The on-disk framing of one record in a segment file. Every part of the file
 * log that reads or writes record bytes goes through this module, so the format
 * is defined in exactly one place.
 *
 * All integers are big-endian:
 *
 *   u32  length      bytes after this field (so a record occupies 4 + length bytes)
 *   u32  crc         CRC32 (zlib) of every byte after this field
 *   u8   attributes  bit0 key is null, bit1 value is null (tombstone),
 *                    bit2 skipped marker written by `mqlog log repair --skip`
 *   u48  offset      absolute offset in the partition
 *   u48  timestamp   milliseconds since the epoch
 *   u32  keyLength   0 when the key is null
 *        key bytes
 *        value bytes (the rest of the record)
 */
import { crc32 } from 'zlib';

export const ATTR_KEY_NULL = 0b001;
export const ATTR_VALUE_NULL = 0b010;
export const ATTR_SKIPPED = 0b100;
const KNOWN_ATTRIBUTES = ATTR_KEY_NULL | ATTR_VALUE_NULL | ATTR_SKIPPED;

/** Bytes before the key: length, crc, attributes, offset, timestamp, key length. */
export const RECORD_HEADER_BYTES = 25;
/** The smallest legal value of the length field (a record with empty key and value). */
const MIN_LENGTH_FIELD = RECORD_HEADER_BYTES - 4;
const CRC_START = 8;
const ATTRIBUTES_AT = 8;
const OFFSET_AT = 9;
const TIMESTAMP_AT = 15;
const KEY_LENGTH_AT = 21;

/** Offsets and timestamps are stored in 48 bits. */
export const MAX_OFFSET = 2 ** 48 - 1;
export const MAX_TIMESTAMP = 2 ** 48 - 1;
/**
 * The largest record we accept. Index positions are u32, so a segment must stay
 * below 4 GiB even when one record overflows the configured segment size.
 */
export const MAX_RECORD_BYTES = 2 ** 31 - 1;

/** Bytes one record takes in a segment. */
export function encodedSize(key: Uint8Array | null, value: Uint8Array | null): number {
  return RECORD_HEADER_BYTES + (key ? key.length : 0) + (value ? value.length : 0);
}

/**
 * Writes one record into `target` at `at` (which must have `encodedSize` bytes
 * free) and returns the position after it. The caller sizes one buffer for a
 * whole batch, so a batch costs one allocation, not one per record.
 */
export function encodeRecord(
  target: Buffer,
  at: number,
  offset: number,
  timestamp: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
  attributes = 0,
): number {
  const keyLength = key ? key.length : 0;
  const valueLength = value ? value.length : 0;
  const end = at + RECORD_HEADER_BYTES + keyLength + valueLength;
  let attrs = attributes;
  if (key === null) attrs |= ATTR_KEY_NULL;
  if (value === null) attrs |= ATTR_VALUE_NULL;
  target.writeUInt32BE(end - at - 4, at);
  target[at + ATTRIBUTES_AT] = attrs;
  target.writeUIntBE(offset, at + OFFSET_AT, 6);
  target.writeUIntBE(timestamp, at + TIMESTAMP_AT, 6);
  target.writeUInt32BE(keyLength, at + KEY_LENGTH_AT);
  let p = at + RECORD_HEADER_BYTES;
  if (key) {
    target.set(key, p);
    p += keyLength;
  }
  if (value) target.set(value, p);
  target.writeUInt32BE(crc32(target.subarray(at + CRC_START, end)), at + 4);
  return end;
}

/** The empty record `repair --skip` leaves in place of a record, keeping its offset. */
export function encodeSkippedMarker(offset: number, timestamp: number): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  encodeRecord(buf, 0, offset, timestamp, null, null, ATTR_SKIPPED);
  return buf;
}

export interface DecodedRecord {
  attributes: number;
  offset: number;
  timestamp: number;
  /** Views into the buffer that was decoded (no copy). */
  key: Buffer | null;
  value: Buffer | null;
  /** Bytes the record occupies in the segment. */
  size: number;
}

export type DecodeResult =
  | { kind: 'record'; record: DecodedRecord }
  /** The buffer ends inside this record; `size` is what the length field claims, when it could be read. */
  | { kind: 'incomplete'; size: number | null }
  /** Checksum or framing failure. `size` is the claimed size when the length field is plausible. */
  | { kind: 'corrupt'; detail: string; size: number | null; headerOffset: number | null };

/**
 * Decodes the record at `at`; `end` bounds the bytes that may be used.
 * `verifyCrc` is false only for bytes this process has just encoded itself.
 */
export function decodeRecord(buf: Buffer, at: number, end = buf.length, verifyCrc = true): DecodeResult {
  const available = end - at;
  if (available < 4) return { kind: 'incomplete', size: null };
  const length = buf.readUInt32BE(at);
  if (length < MIN_LENGTH_FIELD || length > MAX_RECORD_BYTES) {
    return { kind: 'corrupt', detail: `bad length field ${length}`, size: null, headerOffset: readHeaderOffset(buf, at, end) };
  }
  const size = length + 4;
  if (available < size) return { kind: 'incomplete', size };
  const headerOffset = buf.readUIntBE(at + OFFSET_AT, 6);
  if (verifyCrc) {
    const storedCrc = buf.readUInt32BE(at + 4);
    const actualCrc = crc32(buf.subarray(at + CRC_START, at + size));
    if (storedCrc !== actualCrc) {
      return { kind: 'corrupt', detail: `CRC mismatch (stored ${hex(storedCrc)}, computed ${hex(actualCrc)})`, size, headerOffset };
    }
  }
  const attributes = buf[at + ATTRIBUTES_AT];
  const keyLength = buf.readUInt32BE(at + KEY_LENGTH_AT);
  const valueLength = size - RECORD_HEADER_BYTES - keyLength;
  if ((attributes & ~KNOWN_ATTRIBUTES) !== 0) {
    return { kind: 'corrupt', detail: `unknown attributes ${hex(attributes)}`, size, headerOffset };
  }
  if (valueLength < 0 || (attributes & ATTR_KEY_NULL && keyLength !== 0) || (attributes & ATTR_VALUE_NULL && valueLength !== 0)) {
    return { kind: 'corrupt', detail: `bad framing (key length ${keyLength} in a ${size}-byte record)`, size, headerOffset };
  }
  const keyStart = at + RECORD_HEADER_BYTES;
  const valueStart = keyStart + keyLength;
  return {
    kind: 'record',
    record: {
      attributes,
      offset: headerOffset,
      timestamp: buf.readUIntBE(at + TIMESTAMP_AT, 6),
      key: attributes & ATTR_KEY_NULL ? null : buf.subarray(keyStart, valueStart),
      value: attributes & ATTR_VALUE_NULL ? null : buf.subarray(valueStart, at + size),
      size,
    },
  };
}

/*
 * Header readers for records this process has just encoded (known to be valid),
 * used to index a batch without decoding it again or allocating per record.
 */
export function recordSizeAt(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) + 4;
}

export function recordOffsetAt(buf: Buffer, at: number): number {
  return buf.readUIntBE(at + OFFSET_AT, 6);
}

export function recordTimestampAt(buf: Buffer, at: number): number {
  return buf.readUIntBE(at + TIMESTAMP_AT, 6);
}

export function isSkippedMarker(record: DecodedRecord): boolean {
  return (record.attributes & ATTR_SKIPPED) !== 0;
}

function readHeaderOffset(buf: Buffer, at: number, end: number): number | null {
  return end - at >= OFFSET_AT + 6 ? buf.readUIntBE(at + OFFSET_AT, 6) : null;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}
