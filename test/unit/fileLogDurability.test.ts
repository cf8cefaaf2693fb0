/**
 * kill -9 durability: a child process appends as fast as it can and prints
 * every acknowledged position; the test kills it with SIGKILL mid-stream and
 * reopens the log. Every acknowledged record must be there, intact, at the
 * offset it was acknowledged with.
 *
 * The child runs the real log code compiled once with tsc into a temp
 * directory (there is no ts-node here); NODE_PATH lets it find pino.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, resolve } from 'path';
import { FileEventLog, FsyncPolicy } from '../../src/log/file/FileEventLog';

const ROOT = resolve(__dirname, '../..');
const STREAM = 'events';
const SPECS = [{ name: STREAM, partitions: 2, compacted: false }];

let compiled: string;

beforeAll(() => {
  compiled = mkdtempSync(join(tmpdir(), 'mqlog-compiled-'));
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      '--outDir', compiled,
      '--rootDir', ROOT,
      '--module', 'commonjs',
      '--target', 'ES2022',
      '--esModuleInterop',
      '--skipLibCheck',
      '--strict',
      '--types', 'node',
      join(ROOT, 'src/log/file/FileEventLog.ts'),
    ],
    { cwd: ROOT, stdio: 'pipe' },
  );
}, 120_000);

afterAll(() => {
  if (compiled) rmSync(compiled, { recursive: true, force: true });
});

/** Appends forever from 8 concurrent writers, printing "seq partition offset" per acknowledged record. */
function childScript(dir: string, fsync: FsyncPolicy): string {
  return `
    const { FileEventLog } = require(${JSON.stringify(join(compiled, 'src/log/file/FileEventLog.js'))});
    (async () => {
      const log = new FileEventLog({ dir: ${JSON.stringify(dir)}, segmentBytes: 32 * 1024, indexIntervalBytes: 512, fsync: ${JSON.stringify(fsync)} });
      await log.open(${JSON.stringify(SPECS)});
      let seq = 0;
      const writer = async () => {
        for (;;) {
          const n = seq++;
          const batch = [{ stream: ${JSON.stringify(STREAM)}, key: Buffer.from('k' + n), value: Buffer.from('value-' + n + '-'.repeat(n % 50)) }];
          const [p] = await log.append(batch);
          process.stdout.write(n + ' ' + p.partition + ' ' + p.offset + '\\n');
        }
      };
      for (let i = 0; i < 8; i++) writer().catch((e) => { console.error(e); process.exit(3); });
    })().catch((e) => { console.error(e); process.exit(2); });
  `;
}

interface Ack {
  seq: number;
  partition: number;
  offset: number;
}

/** Runs the child until it has acknowledged `count` records, then SIGKILLs it; returns the complete ack lines. */
function runAndKill(dir: string, fsync: FsyncPolicy, count: number): Promise<{ acks: Ack[]; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['-e', childScript(dir, fsync)], {
      env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let lines = 0;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      lines = out.split('\n').length - 1;
      if (lines >= count) child.kill('SIGKILL');
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code}: ${err}`));
      // The last line may be cut by the kill: only complete lines are acknowledgements.
      const complete = out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter(Boolean);
      const acks = complete.map((line) => {
        const [seq, partition, offset] = line.split(' ').map(Number);
        return { seq, partition, offset };
      });
      resolveRun({ acks, stderr: err });
    });
  });
}

describe.each<FsyncPolicy>(['os', 'batch'])("kill -9 with fsync '%s'", (fsync) => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqlog-kill-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('every acknowledged record survives, intact, at its offset', async () => {
    const { acks, stderr } = await runAndKill(dir, fsync, 3000);
    expect(stderr).toBe('');
    expect(acks.length).toBeGreaterThanOrEqual(3000);

    const log = new FileEventLog({ dir, segmentBytes: 32 * 1024, indexIntervalBytes: 512 });
    await log.open(SPECS);
    try {
      const bad: string[] = [];
      for (const ack of acks) {
        const [record] = await log.read(STREAM, ack.partition, ack.offset, { maxRecords: 1 });
        const expected = `value-${ack.seq}${'-'.repeat(ack.seq % 50)}`;
        if (!record || record.offset !== ack.offset || record.key?.toString() !== `k${ack.seq}` || record.value?.toString() !== expected) {
          bad.push(`seq ${ack.seq} at ${ack.partition}/${ack.offset}: ${record ? `${record.offset} ${record.value?.toString()}` : 'missing'}`);
        }
      }
      expect(bad).toEqual([]);
      // Offsets are dense: nothing acknowledged was lost in the middle either.
      for (const partition of [0, 1]) {
        const acked = acks.filter((a) => a.partition === partition).map((a) => a.offset);
        expect(new Set(acked).size).toBe(acked.length);
        expect(await log.endOffset(STREAM, partition)).toBeGreaterThan(Math.max(...acked));
      }
      const end = await log.endOffset(STREAM, 0);
      const [next] = await log.append([{ stream: STREAM, key: null, value: Buffer.from('after the crash'), partition: 0 }]);
      expect(next.offset).toBe(end);
    } finally {
      await log.close();
    }
  }, 60_000);
});
