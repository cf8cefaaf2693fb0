/**
 * Segments, indexes, retention, compaction, tails and locking of the file log,
 * on real files in a temp directory.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { LogRecord, StreamSpec } from '../../src/log/EventLog';
import { FileEventLog, FileLogOptions } from '../../src/log/file/FileEventLog';
import { LOCK_FILE_NAME } from '../../src/log/file/Lockfile';
import { encodedSize } from '../../src/log/file/RecordFormat';

const EVENTS = 'events';
const LATEST = 'latest';
const SPECS: StreamSpec[] = [
  { name: EVENTS, partitions: 1, compacted: false },
  { name: LATEST, partitions: 1, compacted: true },
];
const b = (s: string) => Buffer.from(s);
const str = (r: LogRecord) => r.value?.toString() ?? null;
const value = (i: number) => `value-${String(i).padStart(4, '0')}`;
const RECORD_SIZE = encodedSize(null, b(value(0)));
const T0 = 1_700_000_000_000;

let dir: string;
let log: FileEventLog | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqlog-segments-'));
});

afterEach(async () => {
  await log?.close();
  log = null;
  rmSync(dir, { recursive: true, force: true });
});

async function open(options: Omit<FileLogOptions, 'dir'> = {}, specs: StreamSpec[] = SPECS): Promise<FileEventLog> {
  log = new FileEventLog({ dir, ...options });
  await log.open(specs);
  return log;
}

async function reopen(options: Omit<FileLogOptions, 'dir'> = {}, specs: StreamSpec[] = SPECS): Promise<FileEventLog> {
  await log?.close();
  log = null;
  return open(options, specs);
}

/** Appends values i in [from, to) to events/0, timestamp T0 + i seconds. */
async function appendValues(l: FileEventLog, from: number, to: number, timestamp = (i: number) => T0 + i * 1000): Promise<void> {
  await l.append(
    Array.from({ length: to - from }, (_, j) => ({ stream: EVENTS, key: null, value: b(value(from + j)), partition: 0, timestamp: timestamp(from + j) })),
  );
}

async function readAll(l: FileEventLog, stream = EVENTS): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let from = await l.startOffset(stream, 0);
  for (;;) {
    const next = await l.read(stream, 0, from);
    if (next.length === 0) return out;
    out.push(...next);
    from = next[next.length - 1].offset + 1;
  }
}

const partitionDir = (stream = EVENTS) => join(dir, stream, '0');
const filesOf = (suffix: string, stream = EVENTS) =>
  readdirSync(partitionDir(stream))
    .filter((f) => f.endsWith(suffix))
    .sort();

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('segments and indexes', () => {
  const small = { segmentBytes: 10 * RECORD_SIZE, indexIntervalBytes: 2 * RECORD_SIZE };

  test('rolls segments by size, names them by base offset and reads across them', async () => {
    const l = await open(small);
    await appendValues(l, 0, 25);
    await appendValues(l, 25, 35);
    expect(filesOf('.log')).toEqual(['00000000000000000000.log', '00000000000000000010.log', '00000000000000000020.log', '00000000000000000030.log']);
    for (const f of filesOf('.log').slice(0, 3)) expect(statSync(join(partitionDir(), f)).size).toBe(10 * RECORD_SIZE);
    expect((await readAll(l)).map(str)).toEqual(Array.from({ length: 35 }, (_, i) => value(i)));
    expect((await l.read(EVENTS, 0, 8, { maxRecords: 5 })).map((r) => r.offset)).toEqual([8, 9, 10, 11, 12]);
    expect((await l.read(EVENTS, 0, 17, { endOffset: 23 })).map((r) => r.offset)).toEqual([17, 18, 19, 20, 21, 22]);

    const again = await reopen(small);
    expect((await readAll(again)).map(str)).toEqual(Array.from({ length: 35 }, (_, i) => value(i)));
    const [next] = await again.append([{ stream: EVENTS, key: null, value: b('x'), partition: 0 }]);
    expect(next.offset).toBe(35);
  });

  test('rolls the active segment by age', async () => {
    const l = await open({ segmentMs: 30 });
    await appendValues(l, 0, 2);
    await new Promise((r) => setTimeout(r, 60));
    await appendValues(l, 2, 4);
    expect(filesOf('.log')).toEqual(['00000000000000000000.log', '00000000000000000002.log']);
    expect((await readAll(l)).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
  });

  test('writes sparse indexes and rebuilds them when the index files are deleted or damaged', async () => {
    const l = await open(small);
    await appendValues(l, 0, 30);
    await l.close();
    log = null;
    const index = readFileSync(join(partitionDir(), '00000000000000000000.index'));
    // Entries at records 2, 4, 6, 8: relative offset and file position, 8 bytes each.
    expect(index.length).toBe(4 * 8);
    expect([index.readUInt32BE(0), index.readUInt32BE(4)]).toEqual([2, 2 * RECORD_SIZE]);

    for (const f of filesOf('.index')) unlinkSync(join(partitionDir(), f));
    for (const f of filesOf('.timeindex')) unlinkSync(join(partitionDir(), f));
    writeFileSync(join(partitionDir(), '00000000000000000010.index'), Buffer.from([1, 2, 3])); // torn
    let l2 = await open(small);
    expect(readFileSync(join(partitionDir(), '00000000000000000000.index'))).toEqual(index);
    expect(filesOf('.timeindex')).toHaveLength(3);
    expect((await l2.read(EVENTS, 0, 13, { maxRecords: 3 })).map(str)).toEqual([value(13), value(14), value(15)]);
    expect(await l2.offsetForTimestamp(EVENTS, 0, T0 + 17_500)).toBe(18);

    // An index entry pointing at the wrong record is caught too.
    await l2.close();
    log = null;
    const wrong = Buffer.alloc(8);
    wrong.writeUInt32BE(3, 0); // claims offset 23 where offset 22 is
    wrong.writeUInt32BE(2 * RECORD_SIZE, 4);
    writeFileSync(join(partitionDir(), '00000000000000000020.index'), wrong);
    writeFileSync(join(partitionDir(), '00000000000000000020.timeindex'), Buffer.alloc(0));
    l2 = await open(small);
    expect(readFileSync(join(partitionDir(), '00000000000000000020.index'))).toEqual(index);
    expect((await readAll(l2)).map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  test('finds offsets by timestamp across segments, with out-of-order timestamps', async () => {
    const l = await open(small);
    // Timestamps rise by a second per record, except record 15, which is late (older).
    await appendValues(l, 0, 30, (i) => (i === 15 ? T0 : T0 + i * 1000));
    expect(await l.offsetForTimestamp(EVENTS, 0, 0)).toBe(0);
    expect(await l.offsetForTimestamp(EVENTS, 0, T0 + 3000)).toBe(3);
    expect(await l.offsetForTimestamp(EVENTS, 0, T0 + 12_500)).toBe(13);
    expect(await l.offsetForTimestamp(EVENTS, 0, T0 + 15_000)).toBe(16);
    expect(await l.offsetForTimestamp(EVENTS, 0, T0 + 29_000)).toBe(29);
    expect(await l.offsetForTimestamp(EVENTS, 0, T0 + 30_000)).toBe(30);
    const again = await reopen(small);
    expect(await again.offsetForTimestamp(EVENTS, 0, T0 + 21_000)).toBe(21);
  });

  test('a record larger than a segment gets a segment of its own', async () => {
    const l = await open({ segmentBytes: 1024 });
    const big = Buffer.alloc(5000, 7);
    await l.append([
      { stream: EVENTS, key: null, value: b('small'), partition: 0 },
      { stream: EVENTS, key: null, value: big, partition: 0 },
      { stream: EVENTS, key: null, value: b('small again'), partition: 0 },
    ]);
    expect(filesOf('.log')).toHaveLength(3);
    const records = await readAll(await reopen({ segmentBytes: 1024 }));
    expect(records.map((r) => r.value?.length)).toEqual([5, 5000, 11]);
    expect(records[1].value?.equals(big)).toBe(true);
  });
});

describe('retention', () => {
  const small = { segmentBytes: 10 * RECORD_SIZE };

  test('by bytes: deletes the oldest closed segments, like Kafka, and moves startOffset', async () => {
    const specs: StreamSpec[] = [{ name: EVENTS, partitions: 1, compacted: false, retentionBytes: 25 * RECORD_SIZE }];
    const l = await open(small, specs);
    await appendValues(l, 0, 45);
    await l.applyRetentionNow();
    // 45 records in 5 segments: dropping the first two leaves 25 records, at least retentionBytes.
    expect(filesOf('.log')).toEqual(['00000000000000000020.log', '00000000000000000030.log', '00000000000000000040.log']);
    expect(filesOf('.index')).toHaveLength(3);
    expect(await l.startOffset(EVENTS, 0)).toBe(20);
    expect(await l.endOffset(EVENTS, 0)).toBe(45);
    expect((await l.read(EVENTS, 0, 0, { maxRecords: 2 })).map((r) => r.offset)).toEqual([20, 21]);
    expect(await reopen(small, specs).then((again) => again.startOffset(EVENTS, 0))).toBe(20);
  });

  test('by age: deletes closed segments whose newest record is older than retentionMs, never the active one', async () => {
    const specs: StreamSpec[] = [{ name: EVENTS, partitions: 1, compacted: false, retentionMs: 60_000 }];
    const l = await open(small, specs);
    const now = Date.now();
    await appendValues(l, 0, 20, () => now - 3_600_000); // two segments an hour old
    await appendValues(l, 20, 25, () => now - 3_600_000); // the active segment, also old
    await l.applyRetentionNow();
    expect(filesOf('.log')).toEqual(['00000000000000000020.log']);
    expect(await l.startOffset(EVENTS, 0)).toBe(20);
    await appendValues(l, 25, 30, () => now - 3_600_000);
    await appendValues(l, 30, 32, () => now); // rolls at 30; retention runs on roll
    await waitFor(() => filesOf('.log').length === 1 && filesOf('.log')[0] === '00000000000000000030.log', 'retention on roll');
    expect((await readAll(l)).map((r) => r.offset)).toEqual([30, 31]);
  });

  test('runs on its timer', async () => {
    const specs: StreamSpec[] = [{ name: EVENTS, partitions: 1, compacted: false, retentionBytes: 0 }];
    const l = await open({ ...small, retentionCheckIntervalMs: 20 }, specs);
    await appendValues(l, 0, 15);
    await waitFor(() => filesOf('.log').length === 1, 'timed retention');
    expect(await l.startOffset(EVENTS, 0)).toBe(10);
  });
});

describe('compaction', () => {
  const small = { segmentBytes: 300, indexIntervalBytes: 64 };

  test('keeps the latest record per key with its offset, drops superseded records and expired tombstones', async () => {
    const l = await open({ ...small, deleteRetentionMs: 60_000 });
    const now = Date.now();
    const appended: { key: string; value: string | null; timestamp: number }[] = [];
    for (let round = 0; round < 5; round++) {
      for (const k of ['a', 'b', 'c', 'd']) appended.push({ key: k, value: `${k}${round}`, timestamp: now });
    }
    appended.push({ key: 'b', value: null, timestamp: now - 3_600_000 }); // an old tombstone: expired
    appended.push({ key: 'c', value: null, timestamp: now }); // a fresh tombstone: kept for now
    for (let i = 0; i < 12; i++) appended.push({ key: 'e', value: `e${i}`, timestamp: now }); // fills segments past the tombstones
    await l.append(appended.map((r) => ({ stream: LATEST, key: b(r.key), value: r.value === null ? null : b(r.value), partition: 0, timestamp: r.timestamp })));
    const before = await readAll(l, LATEST);
    expect(before).toHaveLength(appended.length);
    expect(filesOf('.log', LATEST).length).toBeGreaterThan(3);

    await l.compactNow();
    const after = await readAll(l, LATEST);
    const latestOffset = (k: string) => appended.map((r) => r.key).lastIndexOf(k);
    const closedEnd = Number(filesOf('.log', LATEST).slice(-1)[0].slice(0, 20)); // the active segment is not compacted
    const expected = appended
      .map((r, offset) => ({ ...r, offset }))
      .filter((r) => r.offset >= closedEnd || (r.offset === latestOffset(r.key) && !(r.key === 'b')));
    expect(after.map((r) => r.offset)).toEqual(expected.map((r) => r.offset));
    expect(after.map((r) => [r.key?.toString(), str(r)])).toEqual(expected.map((r) => [r.key, r.value]));
    expect(after.length).toBeLessThan(before.length / 2);
    expect(await l.endOffset(LATEST, 0)).toBe(appended.length);

    // The fold is unchanged, offsets and timestamps still answer, and it all survives a reopen.
    const fold = (records: LogRecord[]) => {
      const state = new Map<string, string>();
      for (const r of records) {
        if (r.value === null) state.delete(r.key!.toString());
        else state.set(r.key!.toString(), r.value.toString());
      }
      return Object.fromEntries(state);
    };
    expect(fold(after)).toEqual(fold(before));
    expect((await l.read(LATEST, 0, 1, { maxRecords: 1 }))[0].offset).toBe(after.find((r) => r.offset >= 1)!.offset);
    const again = await reopen({ ...small, deleteRetentionMs: 60_000 });
    expect((await readAll(again, LATEST)).map((r) => r.offset)).toEqual(after.map((r) => r.offset));
    expect(readdirSync(partitionDir(LATEST)).filter((f) => f.includes('.cleaned'))).toEqual([]);
  });

  test('a tombstone is dropped once older than deleteRetentionMs, and a key superseded in the active segment goes', async () => {
    const halfAnHourAgo = Date.now() - 30 * 60_000;
    const l = await open({ ...small, deleteRetentionMs: 60 * 60_000 });
    await l.append([
      { stream: LATEST, key: b('gone'), value: b('v'), partition: 0, timestamp: halfAnHourAgo },
      { stream: LATEST, key: b('gone'), value: null, partition: 0, timestamp: halfAnHourAgo },
      ...Array.from({ length: 10 }, (_, i) => ({ stream: LATEST, key: b(`k${i}`), value: b(`v${i}`), partition: 0 })),
      { stream: LATEST, key: b('k0'), value: b('v0 again'), partition: 0 },
    ]);
    await l.compactNow();
    let keys = (await readAll(l, LATEST)).map((r) => r.key!.toString());
    expect(keys.filter((k) => k === 'gone')).toHaveLength(1); // the tombstone, still within the hour
    expect(keys.filter((k) => k === 'k0')).toEqual(['k0']);
    // With a 10-minute delete retention the half-hour-old tombstone has expired.
    const again = await reopen({ ...small, deleteRetentionMs: 10 * 60_000 });
    await again.compactNow();
    keys = (await readAll(again, LATEST)).map((r) => r.key!.toString());
    expect(keys).not.toContain('gone');
    expect(keys.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
  });

  test('a tail reading through compacted segments sees the surviving records in order', async () => {
    const l = await open(small);
    await l.append(Array.from({ length: 40 }, (_, i) => ({ stream: LATEST, key: b(`k${i % 4}`), value: b(`v${i}`), partition: 0 })));
    await l.compactNow();
    const survivors = (await readAll(l, LATEST)).map((r) => r.offset);
    const seen: number[] = [];
    const tail = l.tail(LATEST, 0, 0, (recs) => {
      for (const r of recs) seen.push(r.offset);
    });
    await waitFor(() => seen.length === survivors.length, 'tail backlog');
    await l.append([{ stream: LATEST, key: b('new'), value: b('x'), partition: 0 }]);
    await waitFor(() => seen.length === survivors.length + 1, 'tail live');
    tail.close();
    expect(seen).toEqual([...survivors, 40]);
  });
});

describe('timers and durability policies', () => {
  test("fsync 'interval' acknowledges after write(2) and syncs in the background", async () => {
    const l = await open({ fsync: 'interval', fsyncIntervalMs: 10 });
    await appendValues(l, 0, 50);
    await new Promise((r) => setTimeout(r, 40));
    await appendValues(l, 50, 60);
    const again = await reopen({ fsync: 'interval', fsyncIntervalMs: 10 });
    expect((await readAll(again)).map(str)).toEqual(Array.from({ length: 60 }, (_, i) => value(i)));
  });

  test('compaction runs on its timer', async () => {
    const l = await open({ segmentBytes: 300, compactionIntervalMs: 20 });
    await l.append(Array.from({ length: 60 }, (_, i) => ({ stream: LATEST, key: b(`k${i % 3}`), value: b(`v${i}`), partition: 0 })));
    const before = (await readAll(l, LATEST)).length;
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = (await readAll(l, LATEST)).length;
    }
    expect(after).toBeLessThan(before);
  });
});

describe('tails', () => {
  test('follow appends across segment rolls and survive a lagging handler', async () => {
    const l = await open({ segmentBytes: 5 * RECORD_SIZE });
    await appendValues(l, 0, 12);
    const seen: string[] = [];
    const tail = l.tail(EVENTS, 0, 3, async (recs) => {
      await new Promise((r) => setTimeout(r, 1));
      for (const r of recs) seen.push(str(r)!);
    });
    for (let i = 12; i < 60; i += 4) await appendValues(l, i, i + 4);
    await waitFor(() => seen.length === 57, 'tail');
    tail.close();
    expect(seen).toEqual(Array.from({ length: 57 }, (_, i) => value(i + 3)));
    expect(filesOf('.log').length).toBeGreaterThanOrEqual(12);
  });
});

describe('lock and layout', () => {
  test('a second open of the same directory is refused, naming the directory and pid', async () => {
    await open();
    const second = new FileEventLog({ dir });
    await expect(second.open(SPECS)).rejects.toThrow(new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*${process.pid}`));
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
    await log!.close();
    log = null;
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
    await open();
  });

  test('a stale lock left by a dead process is taken over', async () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    writeFileSync(join(dir, LOCK_FILE_NAME), `${deadPid}\n`);
    await open();
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
  });

  test('stores meta.json per stream and positions.json, and refuses a changed shape', async () => {
    const l = await open();
    await l.commitPosition('g', EVENTS, 0, 12);
    expect(JSON.parse(readFileSync(join(dir, EVENTS, 'meta.json'), 'utf8'))).toEqual({ partitions: 1, compacted: false });
    expect(JSON.parse(readFileSync(join(dir, LATEST, 'meta.json'), 'utf8'))).toEqual({ partitions: 1, compacted: true });
    expect(existsSync(join(dir, 'positions.json'))).toBe(true);
    await Promise.all([l.commitPosition('g', EVENTS, 0, 13), l.commitPosition('h', LATEST, 0, 2), l.commitPosition('g', EVENTS, 0, 14)]);
    const again = await reopen();
    expect(await again.committedPosition('g', EVENTS, 0)).toBe(14);
    expect(await again.committedPosition('h', LATEST, 0)).toBe(2);
    await again.close();
    log = null;
    await expect(new FileEventLog({ dir }).open([{ name: EVENTS, partitions: 4, compacted: false }])).rejects.toThrow(
      /events has 1 partition\(s\) on disk but is configured with 4/,
    );
    await expect(new FileEventLog({ dir }).open([{ name: LATEST, partitions: 1, compacted: false }])).rejects.toThrow(/compacted=true on disk/);
    await expect(new FileEventLog({ dir }).open([{ name: '../escape', partitions: 1, compacted: false }])).rejects.toThrow(/invalid stream name/);
  });
});
