/**
 * Faults are handled, not logged: a node that meets an undecodable record, an
 * uncaught exception or a failed fdatasync stops acknowledging, says exactly
 * why, and exits (70) for its supervisor; a start after an undecodable record
 * refuses, naming the record and `mqlog log repair`, until it is repaired.
 */
import { execFile } from 'child_process';
import { rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import { promisify } from 'util';
import { tempDir, startBroker } from '../helpers/broker';
import { brokerConfig, ChildBroker, ensureBuilt, spawnBroker, writeConfig, killIfRunning } from '../helpers/childBroker';
import { api, apiBase } from '../helpers/api';
import { drainPublishes, RawClient, waitFor } from '../helpers/rawClient';

jest.setTimeout(90_000);

const root = join(__dirname, '..', '..');
let dir: string;
let child: ChildBroker | null = null;

beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = tempDir('mqlog-failure-');
});
afterEach(async () => {
  await killIfRunning(child);
  child = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A message-stream record this build cannot decode (format version 3, tag 5, then garbage). */
const BAD_VALUE = Buffer.from([3, 5, 0xff, 0xff, 0xff]);

async function mqlog(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'mqlog.js'), ...args], { cwd: root });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

test('an undecodable record met while delivering: the node fails (status failed, exit 70), the next start refuses naming the record and the repair, and after `mqlog log repair --skip` it serves again', async () => {
  const dataDir = join(dir, 'data');
  // A persistent subscriber, offline, and behind it in the log a good message, a record nobody can decode, another good one.
  const a = await startBroker({ dataDir });
  const s = await RawClient.connect(a.ports.tcp!);
  await s.handshake('fail-sub', { clean: false });
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bad/#', qos: 1 }] });
  await s.nextCmd('suback');
  s.send({ cmd: 'disconnect' });
  await s.waitClosed();
  const stream = a.node.streams.messages;
  const pub = await RawClient.connect(a.ports.tcp!);
  await pub.handshake('fail-pub');
  pub.send({ cmd: 'publish', topic: 'bad/x', payload: Buffer.from('before'), qos: 1, retain: false, dup: false, messageId: 1 });
  await pub.nextCmd('puback');
  const [bad] = await a.node.eventLog.append([{ stream, key: Buffer.from('bad/x'), value: BAD_VALUE }]);
  pub.send({ cmd: 'publish', topic: 'bad/x', payload: Buffer.from('after'), qos: 1, retain: false, dup: false, messageId: 2 });
  await pub.nextCmd('puback');
  pub.destroy();
  await a.stop();

  const configFile = writeConfig(dir, brokerConfig(dataDir));
  child = await spawnBroker(['start', '--config', configFile]);
  const back = await RawClient.connect(child.port);
  await back.handshake('fail-sub', { clean: false });
  // Its offline queue holds the bad record: the node cannot serve that session correctly and stops.
  expect(await child.exited).toBe(70);
  expect(child.output()).toContain(`cannot decode ${stream}/0 offset ${bad.offset}`);
  expect(child.output()).toContain('node failed');

  // Until repaired, the node will not start again: the record and the way out are named.
  await expect(spawnBroker(['start', '--config', configFile])).rejects.toThrow(`mqlog log repair --stream ${stream} --partition 0 --skip ${bad.offset}`);
  const repaired = await mqlog(['log', 'repair', '--data-dir', dataDir, '--stream', stream, '--partition', '0', '--skip', String(bad.offset)]);
  expect(repaired.code).toBe(0);

  child = await spawnBroker(['start', '--config', configFile]);
  const again = await RawClient.connect(child.port);
  await again.handshake('fail-sub', { clean: false });
  const got = await drainPublishes(again, 800);
  expect(got.map((p) => p.payload.toString())).toEqual(['before', 'after']);
  again.destroy();
});

test('an undecodable record on the live tail: the node reports failed on /api/v1/status and in the metrics, and acknowledges nothing more', async () => {
  const b = await startBroker({ dataDir: join(dir, 'live') });
  const failed = new Promise<Error>((resolve) => b.node.on('failed', resolve));
  try {
    const s = await RawClient.connect(b.ports.tcp!);
    await s.handshake('live-sub');
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bad/#', qos: 1 }] });
    await s.nextCmd('suback');
    const [bad] = await b.node.eventLog.append([{ stream: b.node.streams.messages, key: Buffer.from('bad/live'), value: BAD_VALUE }]);
    const err = await failed;
    expect(err.message).toContain(`offset ${bad.offset}`);
    const status = await api<{ health: { state: string; reasons: string[] } }>(apiBase(b.ports.api), 'GET', '/api/v1/status');
    expect(status.body.health.state).toBe('failed');
    expect(status.body.health.reasons[0]).toContain(`cannot decode ${b.node.streams.messages}/0 offset ${bad.offset}`);
    const metrics = await api<string>(apiBase(b.ports.api), 'GET', '/metrics');
    expect(metrics.body).toMatch(/^mqlog_node_health 2$/m);
    // New connections are refused at once.
    const late = await RawClient.connect(b.ports.tcp!);
    expect(await late.waitClosed(5000)).toBe(true);
    s.destroy();
  } finally {
    await b.stop();
  }
});

test('a failed fdatasync under fsync: interval: the node exits 70 naming it, and every message acknowledged before is delivered after the restart', async () => {
  const dataDir = join(dir, 'data');
  const configFile = writeConfig(dir, brokerConfig(dataDir, { log: { file: { fsync: 'interval', fsyncIntervalMs: 300 } } }));
  child = await spawnBroker(['start', '--config', configFile], 20_000, { MQLOG_TEST_FAIL_FSYNC: '3' });
  const sub = await RawClient.connect(child.port);
  await sub.handshake('fsync-sub', { clean: false });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fs/#', qos: 1 }] });
  await sub.nextCmd('suback');
  sub.send({ cmd: 'disconnect' });
  await sub.waitClosed();
  const pub = await RawClient.connect(child.port);
  await pub.handshake('fsync-pub');
  const acked: number[] = [];
  for (let i = 1; i < 60_000 && !pub.closed; i++) {
    pub.send({ cmd: 'publish', topic: 'fs/t', payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, messageId: i % 65535 || 1 });
    try {
      await pub.next((p) => p.cmd === 'puback', 5000);
      acked.push(i);
    } catch {
      break; // the node failed: no PUBACK, then the connection closes with the process
    }
  }
  expect(await child.exited).toBe(70);
  expect(child.output()).toMatch(/node failed.*EIO/);
  expect(acked.length).toBeGreaterThan(0);

  child = await spawnBroker(['start', '--config', configFile]);
  const back = await RawClient.connect(child.port);
  await back.handshake('fsync-sub', { clean: false });
  const got = new Set((await drainPublishes(back, 1000)).map((p) => Number(p.payload.toString())));
  expect(acked.filter((i) => !got.has(i))).toEqual([]);
  back.destroy();
});

test('an uncaught exception: the node stops serving and exits 70 naming it, instead of serving on in an unknown state', async () => {
  const preload = join(dir, 'throw-later.js');
  writeFileSync(preload, "setTimeout(() => { throw new Error('injected by the test'); }, 1500);\n");
  const configFile = writeConfig(dir, brokerConfig(join(dir, 'data')));
  child = await spawnBroker(['start', '--config', configFile], 20_000, {}, ['--require', preload]);
  const c = await RawClient.connect(child.port);
  await c.handshake('uncaught');
  expect(await child.exited).toBe(70);
  expect(child.output()).toMatch(/node failed \(uncaught exception\).*injected by the test|uncaught exception: injected by the test/);
  await waitFor(() => c.closed, 'the client to be disconnected');
});
