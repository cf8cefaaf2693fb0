/**
 * An in-memory EventLog for unit tests only: nothing survives the process. It
 * follows the same contract as the file and Kafka logs, including compaction
 * (on demand) and consumer positions.
 */
import {
  AppendRecord,
  EventLog,
  LogError,
  LogRecord,
  ReadOptions,
  RecordPosition,
  StreamSpec,
  TailHandle,
  TailHandler,
  TailOptions,
} from '../EventLog';
import { partitionForKey } from '../partitioner';
import { TailCursor } from '../TailCursor';

interface MemoryPartition {
  /** Offset of records[0]; records may have gaps after compaction. */
  records: LogRecord[];
  next: number;
  tails: Set<TailCursor>;
}

export interface MemoryLogStore {
  streams: Map<string, { spec: StreamSpec; partitions: MemoryPartition[] }>;
  positions: Map<string, number>;
}

export function createMemoryLogStore(): MemoryLogStore {
  return { streams: new Map(), positions: new Map() };
}

export class MemoryEventLog implements EventLog {
  private opened = false;

  /** Pass the same store to a new instance to model a restart. */
  constructor(private readonly store: MemoryLogStore = createMemoryLogStore()) {}

  async open(streams: readonly StreamSpec[]): Promise<void> {
    for (const spec of streams) {
      const existing = this.store.streams.get(spec.name);
      if (existing) {
        if (existing.spec.partitions !== spec.partitions || existing.spec.compacted !== spec.compacted) {
          throw new LogError(
            `stream ${spec.name} exists with ${existing.spec.partitions} partition(s), compacted=${existing.spec.compacted}; ` +
              `configured ${spec.partitions}, compacted=${spec.compacted}`,
          );
        }
        continue;
      }
      const partitions: MemoryPartition[] = [];
      for (let i = 0; i < spec.partitions; i++) partitions.push({ records: [], next: 0, tails: new Set() });
      this.store.streams.set(spec.name, { spec: { ...spec }, partitions });
    }
    this.opened = true;
  }

  async close(): Promise<void> {
    for (const s of this.store.streams.values()) for (const p of s.partitions) for (const t of p.tails) t.close();
    this.opened = false;
  }

  private partition(stream: string, partition: number): MemoryPartition {
    if (!this.opened) throw new LogError('log is not open');
    const s = this.store.streams.get(stream);
    if (!s) throw new LogError(`unknown stream ${stream}`);
    const p = s.partitions[partition];
    if (!p) throw new LogError(`stream ${stream} has no partition ${partition}`);
    return p;
  }

  partitionCount(stream: string): number {
    const s = this.store.streams.get(stream);
    if (!s) throw new LogError(`unknown stream ${stream}`);
    return s.spec.partitions;
  }

  partitionFor(stream: string, key: Buffer | null): number {
    return partitionForKey(key, this.partitionCount(stream));
  }

  async append(records: readonly AppendRecord[]): Promise<RecordPosition[]> {
    const now = Date.now();
    const positions: RecordPosition[] = [];
    const touched = new Map<MemoryPartition, LogRecord[]>();
    for (const r of records) {
      const partition = r.partition ?? this.partitionFor(r.stream, r.key);
      const p = this.partition(r.stream, partition);
      const rec: LogRecord = {
        partition,
        offset: p.next++,
        timestamp: r.timestamp ?? now,
        key: r.key ? Buffer.from(r.key) : null,
        value: r.value ? Buffer.from(r.value) : null,
        local: r.local,
      };
      p.records.push(rec);
      positions.push({ stream: r.stream, partition, offset: rec.offset });
      let list = touched.get(p);
      if (!list) touched.set(p, (list = []));
      list.push(rec);
    }
    for (const [p, list] of touched) for (const t of p.tails) t.push(list);
    return positions;
  }

  submit(records: readonly AppendRecord[], done: (err: Error | null) => void): void {
    this.append(records).then(
      () => done(null),
      (err: Error) => done(err),
    );
  }

  async read(stream: string, partition: number, fromOffset: number, options: ReadOptions = {}): Promise<LogRecord[]> {
    const p = this.partition(stream, partition);
    const end = options.endOffset ?? Infinity;
    const maxRecords = options.maxRecords ?? Infinity;
    const maxBytes = options.maxBytes ?? Infinity;
    const out: LogRecord[] = [];
    let bytes = 0;
    for (const r of p.records) {
      if (r.offset < fromOffset) continue;
      if (r.offset >= end || out.length >= maxRecords) break;
      const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(r);
    }
    return out;
  }

  async startOffset(stream: string, partition: number): Promise<number> {
    const p = this.partition(stream, partition);
    return p.records.length ? p.records[0].offset : p.next;
  }

  async endOffset(stream: string, partition: number): Promise<number> {
    return this.partition(stream, partition).next;
  }

  async offsetForTimestamp(stream: string, partition: number, timestamp: number): Promise<number> {
    const p = this.partition(stream, partition);
    for (const r of p.records) if (r.timestamp >= timestamp) return r.offset;
    return p.next;
  }

  tail(stream: string, partition: number, fromOffset: number, handler: TailHandler, options: TailOptions = {}): TailHandle {
    const p = this.partition(stream, partition);
    const cursor = new TailCursor(
      fromOffset,
      handler,
      (from) => this.read(stream, partition, from, { maxRecords: 1000 }),
      () => p.next,
      options.onError,
      () => p.tails.delete(cursor),
    );
    p.tails.add(cursor);
    cursor.start();
    return cursor;
  }

  async commitPosition(group: string, stream: string, partition: number, offset: number): Promise<void> {
    this.partition(stream, partition);
    this.store.positions.set(`${group}\u0000${stream}\u0000${partition}`, offset);
  }

  async committedPosition(group: string, stream: string, partition: number): Promise<number | null> {
    this.partition(stream, partition);
    return this.store.positions.get(`${group}\u0000${stream}\u0000${partition}`) ?? null;
  }

  /** Test hook: compacts every compacted stream now (keeps the latest record per key, drops tombstones). */
  compactNow(): void {
    for (const s of this.store.streams.values()) {
      if (!s.spec.compacted) continue;
      for (const p of s.partitions) {
        const latest = new Map<string, number>();
        for (const r of p.records) latest.set(r.key ? r.key.toString('latin1') : '', r.offset);
        p.records = p.records.filter((r) => latest.get(r.key ? r.key.toString('latin1') : '') === r.offset && r.value !== null);
      }
    }
  }
}
