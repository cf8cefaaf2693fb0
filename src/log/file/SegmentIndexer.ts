/**
 * The rule that decides when a record gets an index entry, in one place: it is
 * applied when appending, when recovering the tail of a segment, when rebuilding
 * a lost index and when compaction writes a cleaned segment, and all four must
 * produce the same indexes.
 *
 * A record gets an offset-index entry when at least `intervalBytes` of records
 * were written since the previous entry (the first record of a segment is the
 * implicit entry at position 0). At the same point a time-index entry is added
 * if the largest timestamp so far grew.
 */
import { OffsetIndex } from './OffsetIndex';
import { TimeIndex } from './TimeIndex';

export class SegmentIndexer {
  /** Largest timestamp of the records indexed so far, -1 when none. */
  maxTimestamp: number;
  /** Offset of the last record indexed, -1 when none. */
  lastOffset = -1;

  constructor(
    readonly baseOffset: number,
    private readonly intervalBytes: number,
    readonly offsetIndex: OffsetIndex = new OffsetIndex(),
    readonly timeIndex: TimeIndex = new TimeIndex(),
    /** Bytes of records since the last entry (the record at an entry's position counts). */
    private bytesSinceEntry = 0,
  ) {
    this.maxTimestamp = timeIndex.lastTimestamp;
  }

  /** Accounts for the record at `position`, adding index entries as the rule says. */
  add(offset: number, timestamp: number, position: number, size: number): void {
    if (this.bytesSinceEntry >= this.intervalBytes && position > 0) {
      const relative = offset - this.baseOffset;
      this.offsetIndex.append(relative, position);
      if (this.maxTimestamp > this.timeIndex.lastTimestamp) this.timeIndex.append(this.maxTimestamp, relative);
      this.bytesSinceEntry = 0;
    }
    this.bytesSinceEntry += size;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    this.lastOffset = offset;
  }
}
