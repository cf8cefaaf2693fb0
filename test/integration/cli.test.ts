/**
 * The `mqlog` command as a user runs it: help, bad options, a port in use, a
 * torn tail repaired on start, and a corrupt record refused at start with the
 * segment and offset named, then verified and repaired with `mqlog log`.
 */
import { execFileSync, spawnSync } from 'child_process';
import { closeSync, openSync, readdirSync, rmSync, statSync, writeSync, ftruncateSync } from 'fs';
import { createServer, Server } from 'net';
import { join } from 'path';
import { tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, ensureBuilt, spawnBroker, writeConfig } from '../helpers/childBroker';
import { RawClient } from '../helpers/rawClient';

jest.setTimeout(120_000);

const bin = join(__dirname, '..', '..', 'bin', 'mqlog.js');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });

let dir: string;
let configFile: string;

beforeAll(() => ensureBuilt());

beforeEach(() => {
  dir = tempDir('mqlog-cli-');
  configFile = writeConfig(dir, brokerConfig(join(dir, 'data')));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function stopHard(b: ChildBroker): Promise<void> {
  b.proc.kill('SIGKILL');
  await b.exited;
}

/** Starts a broker, records a few session events and messages, kills it. */
async function seed(): Promise<void> {
  const b = await spawnBroker(['start', '--config', configFile]);
  const c = await RawClient.connect(b.port);
  await c.handshake('seed', { clean: false });
  for (let i = 1; i <= 40; i++) {
    c.send({ cmd: 'subscribe', messageId: i, subscriptions: [{ topic: `seed/${i}`, qos: 1 }] });
    await c.nextCmd('suback');
  }
  c.destroy();
  await stopHard(b);
}

function sessionSegment(): string {
  const p = join(dir, 'data', 'log', 'mqlog.sessions', '0');
  const log = readdirSync(p).filter((f) => f.endsWith('.log')).sort()[0];
  return join(p, log);
}

test('mqlog --help documents the commands and options', () => {
  const r = run(['--help']);
  expect(r.status).toBe(0);
  for (const word of ['start', '--config', '--port', '--data-dir', 'log verify', 'log repair', 'passwd', 'audit', 'replay', 'archiver', 'status', 'clients', 'kick', 'publish', 'retained', 'admin add', '--api-key']) expect(r.stdout).toContain(word);
});

test('an unknown option or setting is a clear error with exit code 2', () => {
  const r = run(['start', '--bogus', 'x']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('unknown option --bogus');
  const s = run(['start', '--set', 'mqtt.maxInflihgt=5']);
  expect(s.status).toBe(2);
  expect(s.stderr).toContain("unknown setting 'mqtt.maxInflihgt'");
});

test('a port in use is a clear error, not a crash loop', async () => {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const r = run(['start', '--config', configFile, '--port', String(port)]);
  server.close();
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`port 127.0.0.1:${port} is already in use`);
});

test('a torn tail from a crash is truncated on start and the broker runs', async () => {
  await seed();
  const seg = sessionSegment();
  const size = statSync(seg).size;
  const fd = openSync(seg, 'r+');
  ftruncateSync(fd, size - 7); // half of the last record
  closeSync(fd);
  const b = await spawnBroker(['start', '--config', configFile]);
  expect(b.output()).toMatch(/torn/i);
  const c = await RawClient.connect(b.port);
  expect((await c.handshake('seed', { clean: false })).sessionPresent).toBe(true);
  c.destroy();
  await stopHard(b);
});

test('a corrupt record is refused at start with segment and offset, then verified and repaired with mqlog log', async () => {
  await seed();
  const seg = sessionSegment();
  // Flip a byte well inside the segment: a record in the middle, valid records after it.
  const fd = openSync(seg, 'r+');
  writeSync(fd, Buffer.from([0xee]), 0, 1, Math.floor(statSync(seg).size / 2));
  closeSync(fd);

  const start = run(['start', '--config', configFile]);
  expect(start.status).toBe(1);
  expect(start.stderr).toMatch(/corrupt record in mqlog\.sessions\/0, segment \S+\.log, offset \d+/);
  expect(start.stderr).toContain('mqlog log repair');
  const offset = Number(/offset (\d+)/.exec(start.stderr)![1]);

  const verify = run(['log', 'verify', '--config', configFile]);
  expect(verify.status).toBe(2);
  const report = JSON.parse(verify.stdout) as { partitions: Array<{ stream: string; corrupt: Array<{ offset: number }> }> };
  const bad = report.partitions.find((p) => p.stream === 'mqlog.sessions')!;
  expect(bad.corrupt.map((c) => c.offset)).toEqual([offset]);

  const repair = run(['log', 'repair', '--config', configFile, '--stream', 'mqlog.sessions', '--partition', '0', '--skip', String(offset)]);
  expect(repair.status).toBe(0);
  expect(run(['log', 'verify', '--config', configFile]).status).toBe(0);

  const b = await spawnBroker(['start', '--config', configFile]);
  const c = await RawClient.connect(b.port);
  await c.handshake('after-repair');
  c.destroy();
  await stopHard(b);
});

test('mqlog --version prints the package version', () => {
  const r = run(['--version']);
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe((JSON.parse(execFileSync('cat', [join(__dirname, '..', '..', 'package.json')]).toString()) as { version: string }).version);
});

test('operator commands talk to a running node: status, publish (an MQTT client receives it), retained list and delete, clients, kick, admin add', async () => {
  const b = await spawnBroker(['start', '--config', configFile]);
  const env = { ...process.env, MQLOG_API_URL: `http://127.0.0.1:${b.apiPort}` };
  const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env });
  const spawnCli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = require('child_process').spawn(process.execPath, [bin, ...args], { env }) as import('child_process').ChildProcess;
      let stdout = '';
      let stderr = '';
      p.stdout!.on('data', (d) => (stdout += d));
      p.stderr!.on('data', (d) => (stderr += d));
      p.on('exit', (status) => resolve({ status, stdout, stderr }));
    });
  try {
    const status = await spawnCli(['status']);
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/health\s+healthy/);

    const sub = await RawClient.connect(b.port);
    await sub.handshake('cli-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cli/#', qos: 1 }] });
    await sub.nextCmd('suback');
    const pub = await spawnCli(['publish', 'cli/t', 'hello from the cli', '--qos', '1', '--retain']);
    expect([pub.status, pub.stderr]).toEqual([0, '']);
    const got = await sub.nextCmd<import('mqtt-packet').IPublishPacket>('publish');
    expect([got.topic, got.payload.toString(), got.qos]).toEqual(['cli/t', 'hello from the cli', 1]);
    sub.send({ cmd: 'puback', messageId: got.messageId });

    const list = await spawnCli(['retained', 'list']);
    expect(list.stdout).toMatch(/cli\/t\s+1\s+18\s+hello from the cli/);
    expect((await spawnCli(['retained', 'delete', 'cli/t'])).status).toBe(0);
    expect((await spawnCli(['retained', 'list', '--json'])).stdout).toBe('');

    const clients = await spawnCli(['clients', '--search', 'cli-sub']);
    expect(clients.stdout).toMatch(/cli-sub\s+yes/);
    expect((await spawnCli(['kick', 'cli-sub'])).status).toBe(0);
    expect(await sub.waitClosed()).toBe(true);
    const again = await spawnCli(['kick', 'cli-sub']);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('not connected');

    const add = cli(['admin', 'add', 'ops', '--password', 'a-long-password', '--config', configFile]);
    expect(add.status).toBe(0);
    expect(add.stderr).toContain("added admin 'ops'");
    const asOps = await spawnCli(['status', '--api-user', 'ops', '--api-password', 'a-long-password']);
    expect(asOps.status).toBe(0);
    expect((await spawnCli(['status', '--api-user', 'ops', '--api-password', 'wrong-password'])).status).toBe(1);
  } finally {
    await stopHard(b);
  }
});

test('logs are readable lines on a terminal (MQLOG_LOG_FORMAT=pretty here) with a start banner naming every listener and the dashboard', async () => {
  const p = require('child_process').spawn(process.execPath, [bin, 'start', '--config', configFile, '--set', 'listeners.ws.enabled=true', '--set', 'listeners.ws.port=0'], {
    env: { ...process.env, MQLOG_LOG_FORMAT: 'pretty' },
  }) as import('child_process').ChildProcess;
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  try {
    for (let i = 0; i < 200 && !out.includes('dashboard and API'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/INFO: mqlog \S+ node \S+ ready \(file log\)/);
    expect(out).toMatch(/MQTT over TCP +mqtt:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/MQTT over WebSocket +ws:\/\/0\.0\.0\.0:\d+\/mqtt/);
    expect(out).toMatch(/dashboard and API +http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).not.toContain('{"level"');
  } finally {
    p.kill('SIGKILL');
  }
});
