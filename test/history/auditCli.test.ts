/** `mqlog audit`, `mqlog replay` and `mqlog archiver` as an auditor or operator runs them, against a running node. */
import { execFile } from 'child_process';
import mqtt from 'mqtt';
import { join } from 'path';
import { promisify } from 'util';
import { startBroker, TestBroker } from '../helpers/broker';
import { ensureBuilt } from '../helpers/childBroker';
import { waitFor } from '../helpers/rawClient';
import { collect } from '../helpers/suite';

jest.setTimeout(60_000);
const run = promisify(execFile);
const BIN = join(__dirname, '..', '..', 'bin', 'mqlog.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function mqlog(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let broker: TestBroker;
let url: string;
let since = 0;

beforeAll(async () => {
  ensureBuilt();
  broker = await startBroker();
  url = `http://127.0.0.1:${broker.ports.api}`;
  since = Date.now();
  const c = await mqtt.connectAsync(broker.url, { clientId: 'cli-pub', username: 'ann', reconnectPeriod: 0 });
  for (let i = 0; i < 5; i++) await c.publishAsync(`cli/t${i % 2}`, `reading ${i}`, { qos: 1 });
  await c.publishAsync('other/x', 'noise', { qos: 0 });
  await c.endAsync();
});

afterAll(async () => {
  await broker.stop();
  broker.cleanup();
});

test('mqlog audit prints a table of who published what, where, when', async () => {
  const r = await mqlog('audit', '--url', url, '--topic', 'cli/#');
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^TIME\s+TOPIC\s+CLIENT\s+USER\s+QOS\s+R\s+SIZE\s+PAYLOAD$/);
  expect(lines).toHaveLength(6);
  expect(lines[1]).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z\s+cli\/t0\s+cli-pub\s+ann\s+1\s+-\s+9\s+"reading 0"$/);
  expect(r.stderr).toContain('5 message(s)');
});

test('mqlog audit --json prints JSON lines; --all follows every page', async () => {
  const r = await mqlog('audit', '--url', url, '--json', '--all', '--limit', '2', '--client-id', 'cli-pub', '--from', String(since));
  expect(r.code).toBe(0);
  const messages = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { topic: string; payload: string });
  expect(messages.map((m) => m.payload)).toEqual(['reading 0', 'reading 1', 'reading 2', 'reading 3', 'reading 4', 'noise']);
  const one = await mqlog('audit', '--url', url, '--json', '--limit', '2');
  expect(one.stdout.trim().split('\n')).toHaveLength(2);
  expect(one.stderr).toMatch(/more messages follow: add --after \S+ \(or --all\)/);
});

test('mqlog audit --text finds payload words', async () => {
  const r = await mqlog('audit', '--url', url, '--json', '--text', 'READING 3');
  expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { payload: string }).payload)).toEqual(['reading 3']);
});

test('mqlog audit with a bad filter or no node says what is wrong', async () => {
  const bad = await mqlog('audit', '--url', url, '--topic', 'cli/#/x');
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/not a valid MQTT topic filter.*\(HTTP 400\)/);
  const away = await mqlog('audit', '--url', 'http://127.0.0.1:9');
  expect(away.code).toBe(1);
  expect(away.stderr).toMatch(/cannot reach the mqlog API at http:\/\/127\.0\.0\.1:9/);
  const denied = await mqlog('audit', '--url', url, '--api-password', 'wrong');
  expect(denied.stderr).toMatch(/authentication required.*\(HTTP 401\)/);
});

test('mqlog replay republishes under a prefix and reports progress', async () => {
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'cli-sub', reconnectPeriod: 0 });
  const got = collect(sub);
  await sub.subscribeAsync('again/#', { qos: 1 });
  const r = await mqlog('replay', '--url', url, '--topic', 'cli/t1', '--from', new Date(since).toISOString(), '--target', 'prefix', '--prefix', 'again/');
  expect(r.code).toBe(0);
  const status = JSON.parse(r.stdout) as { state: string; replayed: number };
  expect(status).toMatchObject({ state: 'completed', replayed: 2 });
  expect(r.stderr).toMatch(/replay \w+ (running|completed)/);
  await waitFor(() => got.length === 2, 'the replayed messages', 10_000);
  expect(got.map((g) => `${g.topic} ${g.payload}`)).toEqual(['again/cli/t1 reading 1', 'again/cli/t1 reading 3']);
  await sub.endAsync();
});

test('mqlog replay needs a topic and a range', async () => {
  const noTopic = await mqlog('replay', '--url', url, '--from', String(since));
  expect(noTopic.code).toBe(2);
  expect(noTopic.stderr).toContain('replay needs --topic');
  const noRange = await mqlog('replay', '--url', url, '--topic', 'cli/#');
  expect(noRange.code).toBe(1);
  expect(noRange.stderr).toMatch(/give a time range/);
});

test('mqlog archiver refuses to start without Elasticsearch, or on an embedded log a broker holds', async () => {
  const none = await mqlog('archiver', '--set', `dataDir=${broker.dataDir}`);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/needs 'elasticsearch.nodes'/);
  const held = await mqlog('archiver', '--set', `dataDir=${broker.dataDir}`, '--set', 'elasticsearch.nodes=["http://127.0.0.1:9"]', '--set', 'api.port=0', '--log-level', 'silent');
  expect(held.code).toBe(2);
  expect(held.stderr).toMatch(/held by a running broker; run the archiver inside it \(archive.enabled=true\)/);
});
