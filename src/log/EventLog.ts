/**
 * The log every mqlog node reads and writes. It is shaped after Kafka on purpose
 * (named streams of partitions, keyed records, offsets, consumer positions and
 * compacted streams) so the embedded file log and the Kafka log are two
 * implementations of one contract (`test/contract/eventLog.contract.ts`).
 */

export interface StreamSpec {
  name: string;
  partitions: number;
  /**
   * Compacted streams keep at least the latest record per key; a record with a
   * null value (a tombstone) deletes the key once compaction has run.
   */
  compacted: boolean;
  /** Delete records older than this (ms); -1 keeps them. Not applied to the latest value of a compacted key. */
  retentionMs?: number;
  /** Delete the oldest segments past this size (bytes per partition); -1 keeps them. */
  retentionBytes?: number;
}

export interface AppendRecord {
  stream: string;
  key: Buffer | null;
  /** null is a tombstone in a compacted stream. */
  value: Buffer | null;
  /** Defaults to `partitionFor(stream, key)`; keyless records go to partition 0. */
  partition?: number;
  /** Milliseconds since the epoch; defaults to the append time. */
  timestamp?: number;
  /**
   * What `value` encodes, as an in-process object. Never stored: a tail in this
   * process may hand it over (LogRecord.local) so the consumer skips decoding
   * what was just encoded. Consumers must work without it (other processes, Kafka).
   */
  local?: unknown;
}

export interface RecordPosition {
  stream: string;
  partition: number;
  offset: number;
}

export interface LogRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** AppendRecord.local, when the record was appended by this process and reached a tail directly. */
  local?: unknown;
}

export interface ReadOptions {
  /** Stop before this offset (exclusive). */
  endOffset?: number;
  maxRecords?: number;
  /** Soft limit: at least one record is returned when one is available. */
  maxBytes?: number;
}

/**
 * Called with each batch of new records in offset order. A returned promise holds
 * back the next batch (backpressure); a thrown error or rejection stops the tail
 * and is reported to `onError`.
 */
export type TailHandler = (records: LogRecord[]) => void | Promise<void>;

export interface TailOptions {
  onError?: (err: Error) => void;
}

export interface TailHandle {
  /** The next offset this tail will hand out. */
  readonly position: number;
  close(): void;
}

export interface EventLog {
  /**
   * True while appends are waiting beyond the backend's buffer (a remote log slow
   * or away). The node then stops reading from clients and sheds QoS 0.
   */
  readonly congested?: boolean;
  /** Why the log is congested, for the node's health (e.g. "disk full: ..."), while it is. */
  readonly congestion?: string | null;
  /**
   * Called once when the log can no longer promise what it acknowledged (a failed
   * fsync, a write error other than a full disk): it refuses appends from then on,
   * and the node must stop (NodeHealth).
   */
  onFailure?: ((err: Error) => void) | null;
  /** Opens the log, creating the streams that are missing and verifying those that exist. */
  open(streams: readonly StreamSpec[]): Promise<void>;
  /** Flushes what is buffered, stops tails and releases files and connections. */
  close(): Promise<void>;

  partitionCount(stream: string): number;
  /** Kafka's default partitioner (murmur2 of the key), so both backends agree. */
  partitionFor(stream: string, key: Buffer | null): number;

  /**
   * Appends a batch. Resolves once every record is durable under the configured
   * policy, with their positions in the order given. Records for one partition
   * keep their relative order.
   */
  append(records: readonly AppendRecord[]): Promise<RecordPosition[]>;

  /**
   * `append` for the hot path: the same durability and ordering, but `done` is
   * called (in submission order, with null or the error) instead of a promise
   * resolving with positions. It saves a promise and a position per record per
   * message, which showed in allocation profiles.
   */
  submit(records: readonly AppendRecord[], done: (err: Error | null) => void): void;

  read(stream: string, partition: number, fromOffset: number, options?: ReadOptions): Promise<LogRecord[]>;
  /** The earliest offset still held (retention and compaction may have removed earlier ones). */
  startOffset(stream: string, partition: number): Promise<number>;
  /** The offset the next appended record will get. */
  endOffset(stream: string, partition: number): Promise<number>;
  /** The first offset whose record timestamp is at or after `timestamp`, or the end offset. */
  offsetForTimestamp(stream: string, partition: number, timestamp: number): Promise<number>;

  /** Hands every record from `fromOffset` on to `handler`: the backlog first, then live appends. */
  tail(stream: string, partition: number, fromOffset: number, handler: TailHandler, options?: TailOptions): TailHandle;

  /** Consumer positions: the next offset a named group will read. */
  commitPosition(group: string, stream: string, partition: number, offset: number): Promise<void>;
  committedPosition(group: string, stream: string, partition: number): Promise<number | null>;
}

export class LogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogError';
  }
}

/** A record that fails its checksum or framing, named by where it is. */
export class CorruptRecordError extends LogError {
  constructor(
    readonly stream: string,
    readonly partition: number,
    readonly segment: string,
    readonly offset: number,
    readonly filePosition: number,
    detail: string,
  ) {
    super(
      `corrupt record in ${stream}/${partition}, segment ${segment}, offset ${offset} (file position ${filePosition}): ${detail}. ` +
        `Inspect with 'mqlog log verify', then 'mqlog log repair --stream ${stream} --partition ${partition} --truncate-at ${offset}' ` +
        `(drops this record and everything after it) or '--skip ${offset}' (replaces only this record with an empty marker).`,
    );
    this.name = 'CorruptRecordError';
  }
}
