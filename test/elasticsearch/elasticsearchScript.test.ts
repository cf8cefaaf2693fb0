/**
 * scripts/elasticsearch (lib.cjs + the elasticsearch.mjs CLI) against a real
 * Elasticsearch node: started in a fresh temp dir on a random free port (below
 * the ephemeral range, clear of the ports other suites use), checked over plain
 * HTTP, a document indexed and searched, the node SIGKILLed and restarted on the
 * same dir, the document found again. afterAll stops every node and removes the
 * dirs even when a test fails.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, existsSync, readFileSync } from 'fs';
import { createServer, Server } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import lib = require('../../scripts/elasticsearch/lib.cjs');

jest.setTimeout(240_000);

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'scripts', 'elasticsearch.mjs');
/** http ports 30700–30900, transport ports 100 higher: no other suite uses 30700–31000. */
const PORT_RANGE = { min: 30700, max: 30900 };

const dirs: string[] = [];

function newDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `mqlog-es-test-${tag}-`));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const dir of dirs) await lib.stopElasticsearch({ dir, rm: true, quiet: true, timeoutMs: 10_000 }).catch(() => undefined);
});

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** The process exists and is not a zombie (a killed orphan may wait a moment for init to reap it). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return process.platform !== 'linux';
  }
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a port held by another process is a clear error, before anything is started', async () => {
  const port = await lib.findFreePort(PORT_RANGE);
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    const dir = newDir('busy');
    await expect(lib.startElasticsearch({ dir, port, quiet: true })).rejects.toThrow(lib.ElasticsearchScriptError);
    await expect(lib.startElasticsearch({ dir, port, quiet: true })).rejects.toThrow(/http port \d+ is already in use/);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('a node answers over HTTP, is found again by start, and keeps an indexed document across SIGKILL + restart', async () => {
  const t0 = Date.now();
  const port = await lib.findFreePort(PORT_RANGE);
  expect(port + lib.TRANSPORT_PORT_OFFSET).toBeLessThan(32768);
  const dir = newDir('node');

  const node = await lib.startElasticsearch({ dir, port, quiet: true });
  const tStarted = Date.now();
  expect(node).toMatchObject({ url: `http://127.0.0.1:${port}`, port, transportPort: port + lib.TRANSPORT_PORT_OFFSET, dir, version: lib.DEFAULT_VERSION });
  expect(node.pid).toBeGreaterThan(0);

  const health = await http('GET', `${node.url}/_cluster/health`);
  expect(health.status).toBe(200);
  expect(health.json.cluster_name).toBe(node.clusterName);
  expect(['green', 'yellow']).toContain(health.json.status);
  expect(health.json.number_of_nodes).toBe(1);

  // Idempotent: the same dir gives the same running node, no second JVM.
  const again = await lib.startElasticsearch({ dir, quiet: true });
  expect(again.pid).toBe(node.pid);
  expect(again.url).toBe(node.url);
  await expect(lib.startElasticsearch({ dir, port: port + 1, quiet: true })).rejects.toThrow(/already holds a node with http port/);

  // Index and search.
  const index = `${node.url}/mqlog-events`;
  expect((await http('PUT', index, { settings: { number_of_shards: 1, number_of_replicas: 0 } })).status).toBe(200);
  const doc = { topic: 'sensors/kitchen/temp', payload: 'hello elasticsearch', qos: 1, ts: '2026-01-02T03:04:05Z' };
  const put = await http('PUT', `${index}/_doc/1?refresh=true`, doc);
  expect(put.status).toBe(201);
  expect(put.json.result).toBe('created');
  const search = async (): Promise<any> => {
    const r = await http('POST', `${index}/_search`, { query: { match: { payload: 'hello' } } });
    expect(r.status).toBe(200);
    return r.json;
  };
  const found = await search();
  expect(found.hits.total.value).toBe(1);
  expect(found.hits.hits[0]._id).toBe('1');
  expect(found.hits.hits[0]._source).toEqual(doc);

  // Crash: SIGKILL, nothing answers any more.
  const killed = await lib.killElasticsearch({ dir, quiet: true });
  expect(killed.pid).toBe(node.pid);
  expect(processRuns(node.pid!)).toBe(false);
  const down = await lib.elasticsearchStatus({ dir });
  expect(down).toMatchObject({ alive: false, answering: false, running: false, port });
  await expect(fetch(`${node.url}/_cluster/health`)).rejects.toThrow();

  // Restart on the same dir and ports: the acknowledged document survived.
  const tRestart = Date.now();
  const restarted = await lib.restartElasticsearch({ dir, quiet: true });
  const tRestarted = Date.now();
  expect(restarted.port).toBe(port);
  expect(restarted.clusterName).toBe(node.clusterName);
  expect(restarted.pid).not.toBe(node.pid);
  const got = await http('GET', `${index}/_doc/1`);
  expect(got.status).toBe(200);
  expect(got.json.found).toBe(true);
  expect(got.json._source).toEqual(doc);
  expect((await search()).hits.total.value).toBe(1);
  expect((await http('GET', `${node.url}/_cluster/health?wait_for_status=green&timeout=20s`)).json.status).toBe('green');

  // The CLI sees the same node and stops it (--rm removes the dir).
  const status = cli('status', '--dir', dir);
  expect(status.status).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ running: true, alive: true, pid: restarted.pid, port, url: node.url });
  const stop = cli('stop', '--dir', dir, '--rm', '--quiet');
  expect(stop.stderr).toBe('');
  expect(stop.status).toBe(0);
  expect(existsSync(dir)).toBe(false);
  expect(processRuns(restarted.pid!)).toBe(false);
  expect(await lib.clusterHealth(port)).toBeNull();

  // eslint-disable-next-line no-console
  console.log(
    `elasticsearch script: start ${((tStarted - t0) / 1000).toFixed(1)} s, restart after SIGKILL ${((tRestarted - tRestart) / 1000).toFixed(1)} s, ` +
      `total ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
});
