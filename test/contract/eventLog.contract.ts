/**
 * The EventLog contract. Every implementation (memory, file, Kafka) runs this
 * suite unchanged: `describeEventLogContract('FileEventLog', factory)`.
 */
import { randomBytes } from 'crypto';
import { EventLog, LogRecord, StreamSpec } from '../../src/log/EventLog';
import { partitionForKey } from '../../src/log/partitioner';

export interface EventLogFactory {
  /** A fresh, empty log (its own storage). */
  create(): Promise<EventLog>;
  /** A new instance over the storage of the last `create()`, as after a restart. */
  reopen(): Promise<EventLog>;
  /** Releases storage made by `create()`. */
  destroy(): Promise<void>;
  /** Runs compaction now where the backend allows it; otherwise resolves (the contract only relies on folding). */
  compact?(log: EventLog): Promise<void>;
}

const waitFor = async (cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const b = (s: string) => Buffer.from(s);
const str = (r: LogRecord) => (r.value ? r.value.toString() : null);

export function describeEventLogContract(name: string, factory: EventLogFactory): void {
  describe(`EventLog contract: ${name}`, () => {
    let log: EventLog;
    let suffix: string;
    const streams = (): StreamSpec[] => [
      { name: `events-${suffix}`, partitions: 3, compacted: false },
      { name: `latest-${suffix}`, partitions: 2, compacted: true },
    ];
    const EV = () => `events-${suffix}`;
    const LATEST = () => `latest-${suffix}`;

    beforeEach(async () => {
      suffix = randomBytes(4).toString('hex');
      log = await factory.create();
      await log.open(streams());
    });

    afterEach(async () => {
      await log.close();
      await factory.destroy();
    });

    test('creates streams with their partition counts', () => {
      expect(log.partitionCount(EV())).toBe(3);
      expect(log.partitionCount(LATEST())).toBe(2);
    });

    test('assigns consecutive offsets per partition from 0, in append order', async () => {
      const pos = await log.append([
        { stream: EV(), key: null, value: b('a'), partition: 0 },
        { stream: EV(), key: null, value: b('b'), partition: 1 },
        { stream: EV(), key: null, value: b('c'), partition: 0 },
      ]);
      expect(pos).toEqual([
        { stream: EV(), partition: 0, offset: 0 },
        { stream: EV(), partition: 1, offset: 0 },
        { stream: EV(), partition: 0, offset: 1 },
      ]);
      expect(await log.endOffset(EV(), 0)).toBe(2);
      expect(await log.endOffset(EV(), 1)).toBe(1);
      expect(await log.endOffset(EV(), 2)).toBe(0);
      const recs = await log.read(EV(), 0, 0);
      expect(recs.map(str)).toEqual(['a', 'c']);
      expect(recs.map((r) => r.offset)).toEqual([0, 1]);
    });

    test('partitions keyed records with murmur2, like Kafka', async () => {
      const keys = ['sensors/1', 'sensors/2', 'a', 'client-42', 'ü/topic', ''];
      const pos = await log.append(keys.map((k) => ({ stream: EV(), key: b(k), value: b(k) })));
      pos.forEach((p, i) => {
        expect(p.partition).toBe(partitionForKey(b(keys[i]), 3));
        expect(log.partitionFor(EV(), b(keys[i]))).toBe(p.partition);
      });
      // Known Kafka values: murmur2("a")... checked through the shared implementation's test vectors elsewhere.
      for (const p of pos) {
        const [rec] = await log.read(EV(), p.partition, p.offset, { maxRecords: 1 });
        expect(rec.offset).toBe(p.offset);
      }
    });

    test('keeps keys, values, null keys, tombstones and timestamps', async () => {
      const ts = 1_700_000_000_123;
      await log.append([
        { stream: EV(), key: b('k1'), value: b('v1'), partition: 2, timestamp: ts },
        { stream: EV(), key: null, value: b(''), partition: 2, timestamp: ts + 1 },
        { stream: EV(), key: b('k2'), value: null, partition: 2, timestamp: ts + 2 },
        { stream: EV(), key: b(''), value: randomBytes(70_000), partition: 2, timestamp: ts + 3 },
      ]);
      const recs = await log.read(EV(), 2, 0);
      expect(recs).toHaveLength(4);
      expect(recs[0].key?.toString()).toBe('k1');
      expect(recs[0].value?.toString()).toBe('v1');
      expect(recs[0].timestamp).toBe(ts);
      expect(recs[1].key).toBeNull();
      expect(recs[1].value?.length).toBe(0);
      expect(recs[2].value).toBeNull();
      expect(recs[2].timestamp).toBe(ts + 2);
      expect(recs[3].key?.length).toBe(0);
      expect(recs[3].value?.length).toBe(70_000);
    });

    test('reads ranges with endOffset, maxRecords and maxBytes', async () => {
      await log.append(Array.from({ length: 50 }, (_, i) => ({ stream: EV(), key: null, value: b(`m${i}`), partition: 1 })));
      expect((await log.read(EV(), 1, 10, { endOffset: 15 })).map(str)).toEqual(['m10', 'm11', 'm12', 'm13', 'm14']);
      expect((await log.read(EV(), 1, 45, { maxRecords: 2 })).map(str)).toEqual(['m45', 'm46']);
      const small = await log.read(EV(), 1, 0, { maxBytes: 1 });
      expect(small.length).toBeGreaterThanOrEqual(1);
      expect(small[0].offset).toBe(0);
      expect(await log.read(EV(), 1, 50)).toEqual([]);
      expect(await log.startOffset(EV(), 1)).toBe(0);
    });

    test('an append resolves only when its records can be read', async () => {
      const pending = Array.from({ length: 20 }, (_, i) =>
        log.append([{ stream: EV(), key: null, value: b(`x${i}`), partition: 0 }]).then(async ([p]) => {
          const [rec] = await log.read(EV(), 0, p.offset, { maxRecords: 1 });
          return str(rec);
        }),
      );
      const seen = await Promise.all(pending);
      expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}`));
    });

    test('submit calls back in submission order once records can be read, and reports errors', async () => {
      const order: number[] = [];
      await new Promise<void>((resolve, reject) => {
        for (let i = 0; i < 50; i++) {
          log.submit([{ stream: EV(), key: null, value: b(`s${i}`), partition: i % 2 }], (err) => {
            if (err) reject(err);
            order.push(i);
            if (order.length === 50) resolve();
          });
        }
      });
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect((await log.read(EV(), 0, 0)).map(str)).toEqual(Array.from({ length: 25 }, (_, i) => `s${i * 2}`));
      const err = await new Promise<Error | null>((resolve) => log.submit([{ stream: 'nope', key: null, value: b('x') }], resolve));
      expect(err?.message).toMatch(/nope/);
    });

    test('keeps the order of concurrent appends to one partition', async () => {
      const n = 2000;
      await Promise.all(
        Array.from({ length: n / 100 }, (_, batch) =>
          log.append(Array.from({ length: 100 }, (_, i) => ({ stream: EV(), key: null, value: b(String(batch * 100 + i)), partition: 0 }))),
        ),
      );
      const all: LogRecord[] = [];
      while (all.length < n) {
        const next = await log.read(EV(), 0, all.length);
        if (next.length === 0) break;
        all.push(...next);
      }
      expect(all.map((r) => Number(str(r)))).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    test('tails the backlog, then live appends, in order', async () => {
      await log.append(Array.from({ length: 5 }, (_, i) => ({ stream: EV(), key: null, value: b(`old${i}`), partition: 0 })));
      const seen: string[] = [];
      const handle = log.tail(EV(), 0, 2, (recs) => {
        for (const r of recs) seen.push(str(r)!);
      });
      await waitFor(() => seen.length === 3, 10_000, 'backlog');
      await log.append([{ stream: EV(), key: null, value: b('new0'), partition: 0 }]);
      await log.append([
        { stream: EV(), key: null, value: b('new1'), partition: 0 },
        { stream: EV(), key: null, value: b('other'), partition: 1 },
      ]);
      await waitFor(() => seen.length === 5, 10_000, 'live records');
      expect(seen).toEqual(['old2', 'old3', 'old4', 'new0', 'new1']);
      expect(handle.position).toBe(7);
      handle.close();
      await log.append([{ stream: EV(), key: null, value: b('after-close'), partition: 0 }]);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toHaveLength(5);
    });

    test('a slow asynchronous tail handler still sees every record once, in order', async () => {
      const seen: number[] = [];
      const handle = log.tail(EV(), 2, 0, async (recs) => {
        await new Promise((r) => setTimeout(r, 2));
        for (const r of recs) seen.push(Number(str(r)));
      });
      const total = 3000;
      for (let i = 0; i < total; i += 300) {
        await log.append(Array.from({ length: 300 }, (_, j) => ({ stream: EV(), key: null, value: b(String(i + j)), partition: 2 })));
      }
      await waitFor(() => seen.length >= total, 20_000, 'slow tail');
      handle.close();
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
    });

    test('finds offsets by timestamp', async () => {
      // In the past: Kafka 4 refuses timestamps more than an hour ahead (log.message.timestamp.after.max.ms).
      const t0 = 1_600_000_000_000;
      await log.append(
        Array.from({ length: 10 }, (_, i) => ({ stream: EV(), key: null, value: b(`t${i}`), partition: 0, timestamp: t0 + i * 1000 })),
      );
      expect(await log.offsetForTimestamp(EV(), 0, t0 - 5)).toBe(0);
      expect(await log.offsetForTimestamp(EV(), 0, t0 + 3000)).toBe(3);
      expect(await log.offsetForTimestamp(EV(), 0, t0 + 3500)).toBe(4);
      expect(await log.offsetForTimestamp(EV(), 0, t0 + 99_000)).toBe(10);
    });

    test('stores consumer positions per group and partition', async () => {
      expect(await log.committedPosition('g1', EV(), 0)).toBeNull();
      await log.commitPosition('g1', EV(), 0, 17);
      await log.commitPosition('g1', EV(), 1, 4);
      await log.commitPosition('g2', EV(), 0, 3);
      expect(await log.committedPosition('g1', EV(), 0)).toBe(17);
      expect(await log.committedPosition('g1', EV(), 1)).toBe(4);
      expect(await log.committedPosition('g2', EV(), 0)).toBe(3);
      await log.commitPosition('g1', EV(), 0, 18);
      expect(await log.committedPosition('g1', EV(), 0)).toBe(18);
    });

    test('commits positions of several partitions at once (a consumer tailing them all)', async () => {
      for (let round = 1; round <= 3; round++) {
        await Promise.all([0, 1, 2].map((p) => log.commitPosition('gc', EV(), p, round * 10 + p)));
      }
      expect(await Promise.all([0, 1, 2].map((p) => log.committedPosition('gc', EV(), p)))).toEqual([30, 31, 32]);
    });

    test('a compacted stream folds to the latest value per key, tombstones delete', async () => {
      await log.append([
        { stream: LATEST(), key: b('a'), value: b('a1'), partition: 0 },
        { stream: LATEST(), key: b('b'), value: b('b1'), partition: 0 },
        { stream: LATEST(), key: b('a'), value: b('a2'), partition: 0 },
        { stream: LATEST(), key: b('c'), value: b('c1'), partition: 0 },
        { stream: LATEST(), key: b('b'), value: null, partition: 0 },
      ]);
      if (factory.compact) await factory.compact(log);
      const state = new Map<string, string>();
      for (const r of await log.read(LATEST(), 0, await log.startOffset(LATEST(), 0))) {
        if (r.value === null) state.delete(r.key!.toString());
        else state.set(r.key!.toString(), r.value.toString());
      }
      expect(Object.fromEntries(state)).toEqual({ a: 'a2', c: 'c1' });
      expect(await log.endOffset(LATEST(), 0)).toBe(5);
    });

    test('everything appended survives a reopen: records, offsets and positions', async () => {
      await log.append(Array.from({ length: 30 }, (_, i) => ({ stream: EV(), key: b(`k${i}`), value: b(`v${i}`), partition: i % 3 })));
      await log.commitPosition('g', EV(), 1, 5);
      await log.close();
      log = await factory.reopen();
      await log.open(streams());
      for (let p = 0; p < 3; p++) {
        expect(await log.endOffset(EV(), p)).toBe(10);
        const recs = await log.read(EV(), p, 0);
        expect(recs.map(str)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i * 3 + p}`));
      }
      expect(await log.committedPosition('g', EV(), 1)).toBe(5);
      const [next] = await log.append([{ stream: EV(), key: null, value: b('after'), partition: 0 }]);
      expect(next.offset).toBe(10);
    });

    test('refuses to open a stream with a different partition count or policy', async () => {
      await log.close();
      log = await factory.reopen();
      await expect(log.open([{ name: EV(), partitions: 5, compacted: false }])).rejects.toThrow(/partition/);
      log = await factory.reopen();
      await expect(log.open([{ name: LATEST(), partitions: 2, compacted: false }])).rejects.toThrow(/compact/);
      log = await factory.reopen();
      await log.open(streams());
    });

    test('rejects unknown streams and partitions with a clear error', async () => {
      await expect(log.append([{ stream: 'nope', key: null, value: b('x') }])).rejects.toThrow(/nope/);
      await expect(log.read(EV(), 9, 0)).rejects.toThrow(/partition 9/);
    });
  });
}
