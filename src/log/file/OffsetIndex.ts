/**
 * The sparse offset index of one segment: every `indexIntervalBytes` of records
 * it maps a relative offset (offset - segment base) to the file position of that
 * record, so a read seeks close to its start offset and scans from there.
 * Position 0 (the segment's first record) is implicit and never stored.
 *
 * The entries live in memory; new ones are appended to the `.index` file
 * (u32 relative offset, u32 position, big-endian) in one write per batch. The
 * file is only a cache of the segment: when it is missing or inconsistent the
 * segment is scanned and the index rebuilt.
 */
import { writeSync } from 'fs';

export const OFFSET_INDEX_ENTRY_BYTES = 8;

export interface OffsetIndexEntry {
  relativeOffset: number;
  position: number;
}

export class OffsetIndex {
  private relatives: Uint32Array;
  private positions: Uint32Array;
  private count = 0;
  /** Entries [0, persisted) are in the file. */
  private persisted = 0;

  constructor(capacity = 64) {
    this.relatives = new Uint32Array(capacity);
    this.positions = new Uint32Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  append(relativeOffset: number, position: number): void {
    if (this.count === this.relatives.length) this.grow();
    this.relatives[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count++;
  }

  /** The last entry at or before `relativeOffset`, or the implicit start of the segment. */
  lookup(relativeOffset: number): OffsetIndexEntry {
    const i = this.floorIndex(relativeOffset);
    return i < 0 ? { relativeOffset: 0, position: 0 } : { relativeOffset: this.relatives[i], position: this.positions[i] };
  }

  last(): OffsetIndexEntry {
    return this.count === 0
      ? { relativeOffset: 0, position: 0 }
      : { relativeOffset: this.relatives[this.count - 1], position: this.positions[this.count - 1] };
  }

  /** Whether an entry exists for exactly this relative offset. */
  has(relativeOffset: number): boolean {
    const i = this.floorIndex(relativeOffset);
    return i >= 0 && this.relatives[i] === relativeOffset;
  }

  /** Appends the entries not yet in the file, in one write. */
  persist(fd: number): void {
    if (this.persisted === this.count) return;
    const buf = this.encode(this.persisted, this.count);
    writeSync(fd, buf, 0, buf.length, this.persisted * OFFSET_INDEX_ENTRY_BYTES);
    this.persisted = this.count;
  }

  /** The whole index in its file format. */
  encode(from = 0, to = this.count): Buffer {
    const buf = Buffer.allocUnsafe((to - from) * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = from, at = 0; i < to; i++, at += OFFSET_INDEX_ENTRY_BYTES) {
      buf.writeUInt32BE(this.relatives[i], at);
      buf.writeUInt32BE(this.positions[i], at + 4);
    }
    return buf;
  }

  /**
   * Loads an index file, or explains why it cannot be trusted: a torn size,
   * entries out of order, or a position beyond the end of the segment.
   */
  static decode(buf: Buffer, segmentSize: number): OffsetIndex | string {
    if (buf.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return `size ${buf.length} is not a multiple of ${OFFSET_INDEX_ENTRY_BYTES}`;
    const n = buf.length / OFFSET_INDEX_ENTRY_BYTES;
    const index = new OffsetIndex(Math.max(64, n));
    let previousRelative = -1;
    let previousPosition = 0;
    for (let at = 0; at < buf.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const relative = buf.readUInt32BE(at);
      const position = buf.readUInt32BE(at + 4);
      if (relative <= previousRelative || position <= previousPosition) return `entry ${at / OFFSET_INDEX_ENTRY_BYTES} is out of order`;
      if (position >= segmentSize) return `entry ${at / OFFSET_INDEX_ENTRY_BYTES} points past the end of the segment`;
      index.append(relative, position);
      previousRelative = relative;
      previousPosition = position;
    }
    index.persisted = n;
    return index;
  }

  private floorIndex(relativeOffset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relatives[mid] <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private grow(): void {
    const relatives = new Uint32Array(this.relatives.length * 2);
    const positions = new Uint32Array(this.positions.length * 2);
    relatives.set(this.relatives);
    positions.set(this.positions);
    this.relatives = relatives;
    this.positions = positions;
  }
}
