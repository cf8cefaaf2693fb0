/**
 * Reads the message stream over a range of positions, every partition at once,
 * in one order: (timestamp, partition, offset). Per partition, and so per topic,
 * that is log order. Topics are checked on the record key before any value is
 * decoded. Both history queries on the log and replays read through this.
 */
import { decodeEvent } from '../events/codec';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { MessageOrigin, MessagePublished } from '../events/types';
import { EventLog, LogRecord } from '../log/EventLog';

export interface ScanRange {
  /** Per partition: the first offset to read. */
  start: number[];
  /** Per partition: the offset to stop before. */
  end: number[];
}

export interface ScannedMessage {
  event: MessagePublished;
  partition: number;
  offset: number;
}

export interface ScanFilter {
  /** Whether a topic (the record key) is wanted; false skips the record undecoded. */
  topic: (topic: string) => boolean;
  /** Publish time range, from inclusive, to exclusive. */
  from: number | null;
  to: number | null;
  /** Skip records at or before this (timestamp, partition, offset). */
  after?: { timestamp: number; partition: number; offset: number } | null;
}

const PAGE = 1000;

/**
 * The range of offsets holding messages published in [from, to), per partition,
 * bounded by what the log holds now (appends made later are not part of it).
 */
export async function rangeForTimes(log: EventLog, stream: string, from: number | null, to: number | null): Promise<ScanRange> {
  const start: number[] = [];
  const end: number[] = [];
  for (let p = 0; p < log.partitionCount(stream); p++) {
    const first = await log.startOffset(stream, p);
    const last = await log.endOffset(stream, p);
    start.push(from === null ? first : Math.max(first, await log.offsetForTimestamp(stream, p, from)));
    end.push(to === null ? last : Math.min(last, await log.offsetForTimestamp(stream, p, to)));
  }
  return { start, end };
}

/** How many records a range spans (the total a scan reports progress against). */
export function rangeSize(range: ScanRange): number {
  let n = 0;
  for (let p = 0; p < range.start.length; p++) n += Math.max(0, range.end[p] - range.start[p]);
  return n;
}

class PartitionReader {
  private buf: LogRecord[] = [];
  private i = 0;
  /** Records read so far (wanted or not). */
  scanned = 0;

  constructor(
    private readonly log: EventLog,
    private readonly stream: string,
    readonly partition: number,
    private next: number,
    private readonly end: number,
  ) {}

  async head(): Promise<LogRecord | null> {
    if (this.i < this.buf.length) return this.buf[this.i];
    if (this.next >= this.end) return null;
    this.buf = await this.log.read(this.stream, this.partition, this.next, { endOffset: this.end, maxRecords: PAGE });
    this.i = 0;
    if (this.buf.length === 0) {
      // Retention removed the rest of the range.
      this.next = this.end;
      return null;
    }
    this.next = this.buf[this.buf.length - 1].offset + 1;
    return this.buf[0];
  }

  advance(): void {
    this.i++;
    this.scanned++;
  }
}

export interface ScanProgress {
  /** Records looked at, wanted or not. */
  scanned: number;
}

/**
 * Calls `visit` for every wanted message of the range in order; `visit` returns
 * false to stop. Replays (MessageOrigin.Replay) are history's echoes, not
 * history: the default decoder skips them.
 */
export async function scanMessages(
  log: EventLog,
  stream: string,
  range: ScanRange,
  filter: ScanFilter,
  visit: (m: ScannedMessage) => boolean | Promise<boolean>,
  /** Counted as the scan goes, unwanted records included (a caller may report it meanwhile). */
  progress: ScanProgress = { scanned: 0 },
  decode: (value: Buffer) => MessagePublished | null = decodePublished,
): Promise<ScanProgress> {
  const readers = range.start.map((s, p) => new PartitionReader(log, stream, p, s, range.end[p]));
  const after = filter.after ?? null;
  for (;;) {
    let best: PartitionReader | null = null;
    let bestRecord: LogRecord | null = null;
    for (const reader of readers) {
      const r = await reader.head();
      if (!r) continue;
      if (!bestRecord || r.timestamp < bestRecord.timestamp || (r.timestamp === bestRecord.timestamp && reader.partition < best!.partition)) {
        best = reader;
        bestRecord = r;
      }
    }
    if (!best || !bestRecord) break;
    best.advance();
    progress.scanned++;
    const r = bestRecord;
    if (!r.key || !r.value) continue;
    if (filter.from !== null && r.timestamp < filter.from) continue;
    if (filter.to !== null && r.timestamp >= filter.to) continue;
    if (after && (r.timestamp < after.timestamp || (r.timestamp === after.timestamp && (best.partition < after.partition || (best.partition === after.partition && r.offset <= after.offset))))) continue;
    if (!filter.topic(r.key.toString('utf8'))) continue;
    let event;
    try {
      event = decode(r.value);
    } catch (err) {
      throw UndecodableRecord.at(stream, best.partition, r.offset, err);
    }
    if (!event) continue;
    if (!(await visit({ event, partition: best.partition, offset: r.offset }))) break;
  }
  return progress;
}

function decodePublished(value: Buffer): MessagePublished | null {
  const event = decodeEvent(value);
  return event.type === 'message.published' && event.origin !== MessageOrigin.Replay ? event : null;
}
