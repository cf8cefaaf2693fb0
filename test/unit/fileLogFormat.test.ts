/**
 * The file log's record framing and sparse indexes, byte for byte.
 */
import { crc32 } from 'zlib';
import { OffsetIndex } from '../../src/log/file/OffsetIndex';
import {
  ATTR_SKIPPED,
  decodeRecord,
  encodedSize,
  encodeRecord,
  encodeSkippedMarker,
  isSkippedMarker,
  RECORD_HEADER_BYTES,
} from '../../src/log/file/RecordFormat';
import { SegmentIndexer } from '../../src/log/file/SegmentIndexer';
import { TimeIndex } from '../../src/log/file/TimeIndex';

const b = (s: string) => Buffer.from(s);

function encode(offset: number, timestamp: number, key: Buffer | null, value: Buffer | null): Buffer {
  const buf = Buffer.alloc(encodedSize(key, value));
  expect(encodeRecord(buf, 0, offset, timestamp, key, value)).toBe(buf.length);
  return buf;
}

describe('record format', () => {
  test('lays out length, CRC, attributes, offset, timestamp, key length, key, value (big-endian)', () => {
    const buf = encode(0x0102030405, 1_700_000_000_123, b('key'), b('value'));
    expect(buf.length).toBe(RECORD_HEADER_BYTES + 3 + 5);
    expect(buf.readUInt32BE(0)).toBe(buf.length - 4);
    expect(buf.readUInt32BE(4)).toBe(crc32(buf.subarray(8)));
    expect(buf[8]).toBe(0);
    expect(buf.readUIntBE(9, 6)).toBe(0x0102030405);
    expect(buf.readUIntBE(15, 6)).toBe(1_700_000_000_123);
    expect(buf.readUInt32BE(21)).toBe(3);
    expect(buf.subarray(25).toString()).toBe('keyvalue');
  });

  test('round-trips null keys, tombstones, empty buffers and skipped markers', () => {
    const cases: [Buffer | null, Buffer | null][] = [
      [null, b('v')],
      [b('k'), null],
      [b(''), b('')],
      [null, null],
    ];
    for (const [key, value] of cases) {
      const result = decodeRecord(encode(7, 8, key, value), 0);
      if (result.kind !== 'record') throw new Error(`expected a record, got ${result.kind}`);
      expect(result.record.key === null ? null : result.record.key.toString()).toBe(key === null ? null : key.toString());
      expect(result.record.value === null ? null : result.record.value.toString()).toBe(value === null ? null : value.toString());
      expect(isSkippedMarker(result.record)).toBe(false);
    }
    const marker = decodeRecord(encodeSkippedMarker(42, 5), 0);
    expect(marker.kind === 'record' && isSkippedMarker(marker.record) && marker.record.offset === 42).toBe(true);
    expect(marker.kind === 'record' && marker.record.attributes & ATTR_SKIPPED).toBeTruthy();
  });

  test('any flipped byte makes the record corrupt or incomplete, never a different record', () => {
    const original = encode(3, 4, b('sensor/1'), b('21.5'));
    for (let i = 0; i < original.length; i++) {
      const damaged = Buffer.from(original);
      damaged[i] ^= 0x55;
      expect(decodeRecord(damaged, 0).kind).not.toBe('record');
    }
  });

  test('reports an incomplete record with the size its length field claims', () => {
    const buf = encode(1, 1, b('k'), b('value'));
    expect(decodeRecord(buf, 0, buf.length - 1)).toEqual({ kind: 'incomplete', size: buf.length });
    expect(decodeRecord(buf, 0, 3)).toEqual({ kind: 'incomplete', size: null });
  });
});

describe('sparse indexes', () => {
  test('the offset index finds the closest entry at or before an offset and round-trips its file', () => {
    const index = new OffsetIndex(2);
    index.append(5, 500);
    index.append(9, 900);
    index.append(20, 2000);
    expect(index.lookup(0)).toEqual({ relativeOffset: 0, position: 0 });
    expect(index.lookup(5)).toEqual({ relativeOffset: 5, position: 500 });
    expect(index.lookup(19)).toEqual({ relativeOffset: 9, position: 900 });
    expect(index.lookup(1000)).toEqual({ relativeOffset: 20, position: 2000 });
    const loaded = OffsetIndex.decode(index.encode(), 3000);
    expect(loaded instanceof OffsetIndex && loaded.lookup(19).position).toBe(900);
    expect(OffsetIndex.decode(index.encode(), 1500)).toMatch(/past the end/);
    expect(OffsetIndex.decode(index.encode().subarray(0, 12), 3000)).toMatch(/multiple/);
    const swapped = Buffer.concat([index.encode().subarray(8, 16), index.encode().subarray(0, 8)]);
    expect(OffsetIndex.decode(swapped, 3000)).toMatch(/out of order/);
  });

  test('the time index starts scans after every entry whose max timestamp is below the target', () => {
    const index = new TimeIndex();
    index.append(100, 4);
    index.append(200, 8);
    index.append(300, 12);
    expect(index.scanStartFor(50)).toBe(0);
    expect(index.scanStartFor(100)).toBe(0);
    expect(index.scanStartFor(101)).toBe(4);
    expect(index.scanStartFor(250)).toBe(8);
    expect(index.scanStartFor(10_000)).toBe(12);
    const loaded = TimeIndex.decode(index.encode());
    expect(loaded instanceof TimeIndex && loaded.scanStartFor(250)).toBe(8);
  });

  test('the indexer adds an entry after every interval of bytes, and a time entry only when the max grew', () => {
    const indexer = new SegmentIndexer(100, 50);
    const timestamps = [10, 30, 20, 20, 20, 40];
    timestamps.forEach((ts, i) => indexer.add(100 + i, ts, i * 30, 30));
    // Entries before records 2 (60 bytes since 0), 4 and 6 would follow; record 0 is the implicit entry.
    expect(indexer.offsetIndex.length).toBe(2);
    expect(indexer.offsetIndex.lookup(3)).toEqual({ relativeOffset: 2, position: 60 });
    expect(indexer.offsetIndex.lookup(5)).toEqual({ relativeOffset: 4, position: 120 });
    // At record 2 the max so far was 30 (a new time entry); at record 4 still 30 (none).
    expect(indexer.timeIndex.length).toBe(1);
    expect(indexer.timeIndex.scanStartFor(35)).toBe(2);
    expect(indexer.maxTimestamp).toBe(40);
    expect(indexer.lastOffset).toBe(105);
  });
});
