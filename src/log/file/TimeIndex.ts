/**
 * The sparse time index of one segment, Kafka style. An entry (T, R) says:
 * every record before relative offset R has a timestamp of at most T, i.e. T is
 * the largest timestamp seen so far when the record at R was indexed. Entries
 * are added together with offset-index entries, and only when T grew, so R is
 * always an offset-index entry and the list is increasing in both columns even
 * when producers send timestamps out of order.
 *
 * To find the first record at or after time t, take the last entry with T < t:
 * nothing before its R can match, so the scan starts at R.
 *
 * File format: u64 timestamp, u32 relative offset, big-endian. Like the offset
 * index it is a cache of the segment, rebuilt when missing or inconsistent.
 */
import { writeSync } from 'fs';

export const TIME_INDEX_ENTRY_BYTES = 12;

export class TimeIndex {
  private timestamps: Float64Array;
  private relatives: Uint32Array;
  private count = 0;
  private persisted = 0;

  constructor(capacity = 64) {
    this.timestamps = new Float64Array(capacity);
    this.relatives = new Uint32Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** The largest timestamp recorded, or -1 when empty. */
  get lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1];
  }

  get lastRelativeOffset(): number {
    return this.count === 0 ? 0 : this.relatives[this.count - 1];
  }

  append(timestamp: number, relativeOffset: number): void {
    if (this.count === this.timestamps.length) this.grow();
    this.timestamps[this.count] = timestamp;
    this.relatives[this.count] = relativeOffset;
    this.count++;
  }

  /** The relative offset from which to scan for the first record with a timestamp >= `timestamp`. */
  scanStartFor(timestamp: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid] < timestamp) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.relatives[found];
  }

  persist(fd: number): void {
    if (this.persisted === this.count) return;
    const buf = this.encode(this.persisted, this.count);
    writeSync(fd, buf, 0, buf.length, this.persisted * TIME_INDEX_ENTRY_BYTES);
    this.persisted = this.count;
  }

  encode(from = 0, to = this.count): Buffer {
    const buf = Buffer.allocUnsafe((to - from) * TIME_INDEX_ENTRY_BYTES);
    for (let i = from, at = 0; i < to; i++, at += TIME_INDEX_ENTRY_BYTES) {
      buf.writeBigUInt64BE(BigInt(this.timestamps[i]), at);
      buf.writeUInt32BE(this.relatives[i], at + 8);
    }
    return buf;
  }

  /** Loads an index file or explains why it cannot be trusted. */
  static decode(buf: Buffer): TimeIndex | string {
    if (buf.length % TIME_INDEX_ENTRY_BYTES !== 0) return `size ${buf.length} is not a multiple of ${TIME_INDEX_ENTRY_BYTES}`;
    const n = buf.length / TIME_INDEX_ENTRY_BYTES;
    const index = new TimeIndex(Math.max(64, n));
    let previousTimestamp = -1;
    let previousRelative = -1;
    for (let at = 0; at < buf.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = Number(buf.readBigUInt64BE(at));
      const relative = buf.readUInt32BE(at + 8);
      if (timestamp <= previousTimestamp || relative <= previousRelative) return `entry ${at / TIME_INDEX_ENTRY_BYTES} is out of order`;
      index.append(timestamp, relative);
      previousTimestamp = timestamp;
      previousRelative = relative;
    }
    index.persisted = n;
    return index;
  }

  private grow(): void {
    const timestamps = new Float64Array(this.timestamps.length * 2);
    const relatives = new Uint32Array(this.relatives.length * 2);
    timestamps.set(this.timestamps);
    relatives.set(this.relatives);
    this.timestamps = timestamps;
    this.relatives = relatives;
  }
}
