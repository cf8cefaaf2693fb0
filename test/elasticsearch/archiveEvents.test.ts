/**
 * What the archive holds besides messages, and how it is laid out, against a
 * real Elasticsearch: session and authentication events, index templates and
 * daily indices, retention, replays left out.
 */
import { Client } from '@elastic/elasticsearch';
import { randomBytes } from 'crypto';
import mqtt from 'mqtt';
import { deleteExpiredIndices } from '../../connectors/elasticsearch/ArchiveIndices';
import { api, apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { elasticsearchUrl } from '../helpers/elasticsearch';
import { sleep } from '../helpers/rawClient';

jest.setTimeout(180_000);

let broker: TestBroker;
let es: Client;
const indexPrefix = `t-events-${randomBytes(3).toString('hex')}`;

async function archived(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await api<{ lag: number; running: boolean }>(apiBase(broker.ports.api), 'GET', '/api/v1/archiver');
    if (r.body.running && r.body.lag === 0) break;
    if (Date.now() > deadline) throw new Error(`archiver did not catch up: ${JSON.stringify(r.body)}`);
    await sleep(200);
  }
  await es.indices.refresh({ index: `${indexPrefix}-*` });
}

beforeAll(async () => {
  const url = await elasticsearchUrl();
  es = new Client({ node: url });
  broker = await startBroker({
    elasticsearch: { nodes: [url], indexPrefix, replicas: 0, retentionDays: 30 },
    archive: { enabled: true },
    auth: { clientIds: { allow: [], deny: ['intruder'] } },
  });
});

afterAll(async () => {
  await broker?.stop();
  broker?.cleanup();
  await es?.close();
});

test('connects, subscriptions, disconnects and refused logins are archived as events', async () => {
  const c = await mqtt.connectAsync(broker.url, { clientId: 'ev-dev', username: 'erin', reconnectPeriod: 0 });
  await c.subscribeAsync('ev/#', { qos: 1 });
  await c.unsubscribeAsync('ev/#');
  await c.endAsync();
  await mqtt.connectAsync(broker.url, { clientId: 'intruder', reconnectPeriod: 0 }).then(
    () => {
      throw new Error('intruder got in');
    },
    () => undefined,
  );
  await sleep(300);
  await archived();
  const res = await es.search<Record<string, unknown>>({ index: `${indexPrefix}-events-*`, size: 100, sort: [{ timestamp: 'asc' }, { 'log.offset': 'asc' }] });
  const docs = res.hits.hits.map((h) => h._source!);
  const of = (client: string) => docs.filter((d) => d.client_id === client).map((d) => d.kind);
  expect(of('ev-dev')).toEqual(['access.decided', 'client.connected', 'client.subscribed', 'client.unsubscribed', 'client.disconnected']);
  const connected = docs.find((d) => d.kind === 'client.connected' && d.client_id === 'ev-dev')!;
  expect(connected).toMatchObject({ username: 'erin', clean_session: true, protocol_version: 4 });
  expect(connected.remote_address).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(docs.find((d) => d.kind === 'client.subscribed')).toMatchObject({ filters: ['ev/#'], granted: [1] });
  expect(docs.find((d) => d.kind === 'client.disconnected' && d.client_id === 'ev-dev')).toMatchObject({ reason: 'normal', will_published: false });
  const refused = docs.find((d) => d.client_id === 'intruder')!;
  expect(refused).toMatchObject({ kind: 'access.decided', action: 'connect', allowed: false, code: 5 });
  expect(JSON.stringify(docs)).not.toMatch(/password/i);

  // The API's per-client history comes from the archive here (history from Elasticsearch), in order.
  const h = await api<{ source: string; events: Array<{ type: string; reasonName?: string }> }>(apiBase(broker.ports.api), 'GET', '/api/v1/clients/ev-dev/events');
  expect(h.body.source).toBe('elasticsearch');
  expect(h.body.events.map((e) => e.type)).toEqual(['access.decided', 'client.connected', 'client.subscribed', 'client.unsubscribed', 'client.disconnected']);
  expect(h.body.events[4].reasonName).toBe('normal');
  const intruder = await api<{ events: Array<{ type: string; allowed: boolean }> }>(apiBase(broker.ports.api), 'GET', '/api/v1/clients/intruder/events');
  expect(intruder.body.events).toEqual([expect.objectContaining({ type: 'access.decided', allowed: false })]);
});

test('daily indices from index templates; a replay is not archived a second time', async () => {
  const pub = await mqtt.connectAsync(broker.url, { clientId: 'ev-pub', reconnectPeriod: 0 });
  const from = Date.now();
  await pub.publishAsync('ev/data', 'original', { qos: 1 });
  await pub.endAsync();
  let r = await api<{ id: string; state: string; replayed: number }>(apiBase(broker.ports.api), 'POST', '/api/v1/replay', { topic: 'ev/#', from, target: 'subscribers' });
  for (let i = 0; i < 100 && r.body.state === 'running'; i++) {
    await sleep(50);
    r = await api(apiBase(broker.ports.api), 'GET', `/api/v1/replay/${r.body.id}`);
  }
  expect(r.body).toMatchObject({ state: 'completed', replayed: 1 });
  await sleep(300);
  await archived();
  const today = new Date().toISOString().slice(0, 10).replace(/-/g, '.');
  const indices = Object.keys(await es.indices.get({ index: `${indexPrefix}-*` }));
  expect(indices.sort()).toEqual([`${indexPrefix}-events-${today}`, `${indexPrefix}-messages-${today}`]);
  const templates = await es.indices.getIndexTemplate({ name: `${indexPrefix}-*` });
  expect(templates.index_templates.map((t) => t.name).sort()).toEqual([`${indexPrefix}-events`, `${indexPrefix}-messages`]);
  const mapping = await es.indices.getMapping({ index: `${indexPrefix}-messages-${today}` });
  const props = mapping[`${indexPrefix}-messages-${today}`].mappings.properties!;
  expect(props.topic).toEqual({ type: 'keyword' });
  expect(props.topic_path).toEqual({ type: 'keyword' });
  expect(props.payload).toEqual({ type: 'text' });
  const docs = await es.search<{ payload: string; origin: string; topic_path: string[] }>({ index: `${indexPrefix}-messages-*`, query: { term: { topic: 'ev/data' } } });
  expect(docs.hits.hits.map((h) => h._source!)).toEqual([expect.objectContaining({ payload: 'original', origin: 'client', topic_path: ['ev', 'ev/data'] })]);
});

test('retention deletes whole days older than elasticsearch.retentionDays', async () => {
  const old = `${indexPrefix}-messages-2001.01.01`;
  const recent = `${indexPrefix}-events-${new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '.')}`;
  await es.indices.create({ index: old });
  await es.indices.create({ index: recent });
  const deleted = await deleteExpiredIndices(es, indexPrefix, 30);
  expect(deleted).toEqual([old]);
  expect(await es.indices.exists({ index: old })).toBe(false);
  expect(await es.indices.exists({ index: recent })).toBe(true);
  expect(await deleteExpiredIndices(es, indexPrefix, 0)).toEqual([]);
});

test('the archiver reports its lag and counts as Prometheus metrics', async () => {
  const r = await api<string>(apiBase(broker.ports.api), 'GET', '/metrics');
  expect(r.status).toBe(200);
  expect(r.body).toMatch(/^# TYPE mqlog_archiver_lag_records gauge$/m);
  expect(r.body).toMatch(/^mqlog_archiver_lag_records \d+$/m);
  expect(Number(/^mqlog_archiver_indexed_total (\d+)$/m.exec(r.body)![1])).toBeGreaterThan(0);
  expect(r.body).toMatch(/^mqlog_connections\{transport="tcp"\} \d+$/m);
});
