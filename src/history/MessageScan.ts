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

/** One partition's share of an ordered read: pages of records from `next` to `end`. */
class PartitionCursor {
  private buf: LogRecord[] = [];
  private i = 0;

  constructor(
    private readonly log: EventLog,
    private readonly stream: string,
    readonly partition: number,
    private next: number,
    private readonly end: number,
    private readonly pageSize: number,
  ) {}

  async head(): Promise<LogRecord | null> {
    if (this.i < this.buf.length) return this.buf[this.i];
    if (this.next >= this.end) return null;
    this.buf = await this.log.read(this.stream, this.partition, this.next, { endOffset: this.end, maxRecords: this.pageSize });
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
  }

  /** The offset of the first record not consumed yet (the end once all were). */
  get position(): number {
    return this.i < this.buf.length ? this.buf[this.i].offset : this.next;
  }
}

/**
 * The one ordered reader of the message stream: every partition of a range at
 * once, in (timestamp, partition, offset) order, which is log order per
 * partition and so per topic. History, replays and sessions reading their
 * backlog all read through it. `positions` says where a read stopped, so the
 * next one continues there.
 */
export class MessageStreamReader {
  private readonly cursors: PartitionCursor[];
  /** Records consumed so far (wanted or not). */
  scanned = 0;

  constructor(log: EventLog, stream: string, range: ScanRange, pageSize = PAGE) {
    this.cursors = range.start.map((s, p) => new PartitionCursor(log, stream, p, s, range.end[p], pageSize));
  }

  /** The next record in order, consumed; null at the end of the range. */
  async next(): Promise<{ record: LogRecord; partition: number } | null> {
    let best: PartitionCursor | null = null;
    let bestRecord: LogRecord | null = null;
    for (const cursor of this.cursors) {
      const r = await cursor.head();
      if (!r) continue;
      if (!bestRecord || r.timestamp < bestRecord.timestamp || (r.timestamp === bestRecord.timestamp && cursor.partition < best!.partition)) {
        best = cursor;
        bestRecord = r;
      }
    }
    if (!best || !bestRecord) return null;
    best.advance();
    this.scanned++;
    return { record: bestRecord, partition: best.partition };
  }

  /** Per partition, the first offset not consumed: where a following read continues. */
  positions(): number[] {
    return this.cursors.map((c) => c.position);
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
  const reader = new MessageStreamReader(log, stream, range);
  const after = filter.after ?? null;
  for (;;) {
    const next = await reader.next();
    if (!next) break;
    progress.scanned++;
    const { record: r, partition } = next;
    if (!r.key || !r.value) continue;
    if (filter.from !== null && r.timestamp < filter.from) continue;
    if (filter.to !== null && r.timestamp >= filter.to) continue;
    if (after && (r.timestamp < after.timestamp || (r.timestamp === after.timestamp && (partition < after.partition || (partition === after.partition && r.offset <= after.offset))))) continue;
    if (!filter.topic(r.key.toString('utf8'))) continue;
    let event;
    try {
      event = decode(r.value);
    } catch (err) {
      throw UndecodableRecord.at(stream, partition, r.offset, err);
    }
    if (!event) continue;
    if (!(await visit({ event, partition, offset: r.offset }))) break;
  }
  return progress;
}

function decodePublished(value: Buffer): MessagePublished | null {
  const event = decodeEvent(value);
  return event.type === 'message.published' && event.origin !== MessageOrigin.Replay ? event : null;
}
