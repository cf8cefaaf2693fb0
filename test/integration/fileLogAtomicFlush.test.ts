/**
 * A flush is atomic across partitions (BatchJournal): a writer process is killed
 * at each named crash point of a flush that spans two streams, and on reopen
 * every batch is there in both streams or in neither, and every batch whose
 * append had resolved (was acknowledged) is there.
 */
import { spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { FileEventLog } from '../../src/log/file/FileEventLog';
import { LogRecord, StreamSpec } from '../../src/log/EventLog';
import { ensureBuilt } from '../helpers/childBroker';

const root = join(__dirname, '..', '..');
const SPECS: StreamSpec[] = [
  { name: 'a', partitions: 1, compacted: false },
  { name: 'b', partitions: 2, compacted: false },
];

/** Appends batch i as one record in `a` and one in each partition of `b`, one batch at a time, printing "acked i". */
const WRITER = `
const { FileEventLog } = require(${JSON.stringify(join(root, 'dist', 'src', 'log', 'file', 'FileEventLog.js'))});
(async () => {
  const log = new FileEventLog({ dir: process.argv[1], fsync: process.argv[2] });
  await log.open(${JSON.stringify(SPECS)});
  for (let i = 0; ; i++) {
    const v = Buffer.from(String(i));
    await log.append([{ stream: 'a', key: null, value: v, partition: 0 }, { stream: 'b', key: null, value: v, partition: 0 }, { stream: 'b', key: null, value: v, partition: 1 }]);
    process.stdout.write('acked ' + i + '\\n');
  }
})();
`;

function runWriter(dir: string, fsync: string, crashAt: string): Promise<{ acked: number; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['-e', WRITER, dir, fsync], { env: { ...process.env, MQLOG_TEST_CRASH_AT: crashAt }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.on('error', reject);
    proc.on('exit', (_code, signal) => {
      const acked = out.split('\n').filter((l) => l.startsWith('acked ')).length;
      if (signal !== 'SIGKILL') reject(new Error(`writer was not killed at ${crashAt} (exit ${_code}): ${err}`));
      else resolve({ acked, signal });
    });
  });
}

async function values(log: FileEventLog, stream: string, partition: number): Promise<string[]> {
  const out: LogRecord[] = [];
  for (let from = 0; ; ) {
    const next = await log.read(stream, partition, from);
    if (next.length === 0) break;
    out.push(...next);
    from = next[next.length - 1].offset + 1;
  }
  return out.map((r) => r.value!.toString());
}

let dir: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqlog-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['os', 'batch'])('fsync %s', (fsync) => {
  test.each([
    ['file-log.before-write', 7],
    ['file-log.between-partition-writes', 7],
    ['file-log.between-partition-writes', 23],
    ['file-log.before-commit', 11],
    ['file-log.after-commit', 5],
  ])('killed at %s (occurrence %i): every batch is in all three partitions or none, and every acknowledged batch is there', async (point, nth) => {
    const { acked } = await runWriter(dir, fsync, `${point}:${nth}`);
    // Each flush writes three partitions, so it passes between partition writes twice.
    const flush = point === 'file-log.between-partition-writes' ? Math.ceil(nth / 2) : nth;
    // The flushes before the one killed were acknowledged.
    expect(acked).toBe(flush - 1);
    const log = new FileEventLog({ dir });
    await log.open(SPECS);
    try {
      const a = await values(log, 'a', 0);
      const b0 = await values(log, 'b', 0);
      const b1 = await values(log, 'b', 1);
      expect(b0).toEqual(a);
      expect(b1).toEqual(a);
      const expected = point === 'file-log.after-commit' ? flush : flush - 1; // committed but not yet acknowledged: kept whole
      expect(a).toEqual(Array.from({ length: expected }, (_, i) => String(i)));
      // The log goes on from there: a new flush lands in all three, after the kept ones.
      await log.append([{ stream: 'a', key: null, value: Buffer.from('next'), partition: 0 }, { stream: 'b', key: null, value: Buffer.from('next'), partition: 1 }]);
      expect((await values(log, 'a', 0)).slice(-1)).toEqual(['next']);
    } finally {
      await log.close();
    }
  });
});
