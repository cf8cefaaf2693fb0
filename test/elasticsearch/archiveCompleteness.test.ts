/**
 * The archive holds every message exactly once: N messages published across two
 * nodes on Kafka give exactly N documents in Elasticsearch, while the archiver
 * (its own process, `mqlog archiver`) is killed with SIGKILL and restarted, and
 * Elasticsearch itself is killed and restarted, both mid-stream. Its own
 * Elasticsearch node, so killing it disturbs no other suite.
 */
import { Client } from '@elastic/elasticsearch';
import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import mqtt, { MqttClient } from 'mqtt';
import { tmpdir } from 'os';
import { join } from 'path';
import { api } from '../helpers/api';
import { TestBroker } from '../helpers/broker';
import { ensureBuilt } from '../helpers/childBroker';
import { kafkaNodeConfig, startKafkaNode, uniquePrefix } from '../helpers/cluster';
import { elasticsearchLib } from '../helpers/elasticsearch';
import { kafkaBrokers } from '../helpers/kafka';
import { sleep } from '../helpers/rawClient';

jest.setTimeout(600_000);

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'mqlog-archive-'));
// Elasticsearch runs as its own user: its run dir must not sit under a mode-700 dir.
const esDir = mkdtempSync(join(tmpdir(), 'mqlog-archive-es-'));
const PHASE = 600;
const N = 5 * PHASE;

interface Archiver {
  proc: ChildProcess;
  apiPort: number;
  output: () => string;
}

async function startArchiver(configFile: string): Promise<Archiver> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'mqlog.js'), 'archiver', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d.toString()));
  proc.stderr!.on('data', (d) => (out += d.toString()));
  const apiPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`archiver did not start:\n${out}`)), 60_000);
    const check = () => {
      const line = out.split('\n').find((l) => l.includes('"mqlog archiver running"'));
      if (!line) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { api: number }).api);
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => reject(new Error(`archiver exited (${code}):\n${out}`)));
  });
  return { proc, apiPort, output: () => out };
}

async function kill(a: Archiver): Promise<void> {
  const gone = new Promise((r) => a.proc.once('exit', r));
  a.proc.kill('SIGKILL');
  await gone;
}

let nodes: TestBroker[] = [];
let archiver: Archiver | null = null;
let es: Client | null = null;
const clients: MqttClient[] = [];

afterAll(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => undefined);
  if (archiver && archiver.proc.exitCode === null) await kill(archiver);
  for (const n of nodes) {
    await n.stop().catch(() => undefined);
    n.cleanup();
  }
  await es?.close();
  await elasticsearchLib.stopElasticsearch({ dir: esDir, rm: true, quiet: true }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  rmSync(esDir, { recursive: true, force: true });
});

test('N messages across two nodes are N documents, through an archiver crash and an Elasticsearch crash', async () => {
  ensureBuilt();
  const port = await elasticsearchLib.findFreePort({ min: 31000, max: 31080 });
  const started = await elasticsearchLib.startElasticsearch({ dir: esDir, port, transportPort: port + 100, quiet: true });
  es = new Client({ node: started.url });
  const brokers = await kafkaBrokers();
  const prefix = uniquePrefix('archive');
  const indexPrefix = `t-arch-${Date.now().toString(36)}`;
  nodes = [await startKafkaNode(brokers, prefix, 'arch-a'), await startKafkaNode(brokers, prefix, 'arch-b')];
  const configFile = join(dir, 'archiver.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      ...kafkaNodeConfig(brokers, prefix, 'archiver-1'),
      dataDir: join(dir, 'archiver-data'),
      elasticsearch: { nodes: [started.url], indexPrefix, replicas: 0, requestTimeoutMs: 5000 },
      archive: { batchSize: 200 },
      api: { host: '127.0.0.1', port: 0 },
      logging: { level: 'info' },
    }),
  );
  archiver = await startArchiver(configFile);

  const pubs = await Promise.all(
    nodes.map(async (n, i) => {
      const c = await mqtt.connectAsync(n.url, { clientId: `arch-pub-${i}`, username: `user-${i}`, reconnectPeriod: 0 });
      clients.push(c);
      return c;
    }),
  );
  let seq = 0;
  // Each phase: PHASE messages, alternating nodes, every one acknowledged (so in the log).
  const phase = async () => {
    const batch: Array<Promise<unknown>> = [];
    for (let i = 0; i < PHASE; i++) {
      const n = seq++;
      batch.push(pubs[n % 2].publishAsync(`arch/${n % 7}/v`, JSON.stringify({ n }), { qos: 1 }));
      if (batch.length >= 50) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
  };

  await phase();
  // The archiver dies mid-stream (what it had not committed is indexed again on restart).
  const killing = sleep(50).then(() => kill(archiver!));
  await phase();
  await killing;
  await phase();
  archiver = await startArchiver(configFile);
  // Elasticsearch dies mid-stream: the archiver waits and retries.
  await phase();
  await elasticsearchLib.killElasticsearch({ dir: esDir, quiet: true });
  await phase();
  await sleep(1000);
  const down = await api<{ elasticsearchDown: boolean; lag: number }>(`http://127.0.0.1:${archiver.apiPort}`, 'GET', '/api/v1/archiver');
  expect(down.body.elasticsearchDown).toBe(true);
  await elasticsearchLib.restartElasticsearch({ dir: esDir, quiet: true });
  expect(seq).toBe(N);

  // Caught up: lag 0 (the metric), then exactly N message documents.
  const metricsUrl = `http://127.0.0.1:${archiver.apiPort}`;
  const deadline = Date.now() + 180_000;
  let lag = -1;
  for (;;) {
    const m = await api<string>(metricsUrl, 'GET', '/metrics');
    lag = Number(/^mqlog_archiver_lag_records (\d+)$/m.exec(m.body)?.[1] ?? -1);
    if (lag === 0) break;
    if (Date.now() > deadline) throw new Error(`archiver lag still ${lag}:\n${archiver.output().slice(-3000)}`);
    await sleep(500);
  }
  await es.indices.refresh({ index: `${indexPrefix}-*` });
  const count = await es.count({ index: `${indexPrefix}-messages-*` });
  expect(count.count).toBe(N);
  const seen = new Set<number>();
  const hits = await es.search<{ payload: string; client_id: string; username: string; log: { partition: number; offset: number } }>({
    index: `${indexPrefix}-messages-*`,
    size: N + 10,
    _source: ['payload', 'client_id', 'username', 'log'],
  });
  for (const h of hits.hits.hits) seen.add((JSON.parse(h._source!.payload) as { n: number }).n);
  expect(seen.size).toBe(N);
  expect(hits.hits.hits.every((h) => h._id === `${prefix}messages/${h._source!.log.partition}/${h._source!.log.offset}`)).toBe(true);
  expect(new Set(hits.hits.hits.map((h) => h._source!.username))).toEqual(new Set(['user-0', 'user-1']));

  // Session events are archived too: both publishers' connects.
  const connects = await es.search<{ client_id: string; node: string }>({ index: `${indexPrefix}-events-*`, query: { term: { kind: 'client.connected' } }, size: 100 });
  expect(new Set(connects.hits.hits.map((h) => h._source!.client_id))).toEqual(new Set(['arch-pub-0', 'arch-pub-1']));
  expect(new Set(connects.hits.hits.map((h) => h._source!.node))).toEqual(new Set(['arch-a', 'arch-b']));
  const metrics = await api<string>(metricsUrl, 'GET', '/metrics');
  expect(metrics.body).toMatch(/^mqlog_archiver_elasticsearch_up 1$/m);
});
