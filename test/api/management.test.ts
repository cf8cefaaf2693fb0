/**
 * The management API through real sockets: an MQTT client (mqtt.js) on one
 * side, fetch on the other. Publish over HTTP reaches MQTT subscribers and the
 * log; clients, sessions, subscriptions, retained messages, nodes, topics,
 * drops and the per-client history read what the broker did; kick and discard
 * act on real connections; every write is in the audit trail; bad input is a
 * 4xx with a message; openapi.json lists exactly the routes the server has.
 */
import mqtt, { MqttClient } from 'mqtt';
import { api, apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';

jest.setTimeout(60_000);

let b: TestBroker;
let base: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  b = await startBroker({ api: { port: 0 } });
  base = apiBase(b.ports.api);
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await b.stop();
  b.cleanup();
});

function connect(clientId: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId, reconnectPeriod: 0, ...opts });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

function nextMessage(c: MqttClient, topic: string): Promise<{ payload: string; retain: boolean; qos: number }> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer, packet: { retain: boolean; qos: number }) => {
      if (t !== topic) return;
      c.off('message', on);
      resolve({ payload: payload.toString(), retain: packet.retain, qos: packet.qos });
    };
    c.on('message', on);
  });
}

test('POST /api/v1/publish reaches an MQTT subscriber at the QoS asked, with the payload decoded from base64', async () => {
  const sub = await connect('api-sub-1');
  await sub.subscribeAsync('api/t/1', { qos: 1 });
  const got = nextMessage(sub, 'api/t/1');
  const r = await api(base, 'POST', '/api/v1/publish', { topic: 'api/t/1', payload: Buffer.from('héllo').toString('base64'), encoding: 'base64', qos: 1 });
  expect(r).toEqual({ status: 200, body: { published: 1 } });
  expect(await got).toEqual({ payload: 'héllo', retain: false, qos: 1 });
});

test('a batch publish delivers every message in order, and a retained one is listed, fetched and deleted through the log', async () => {
  const sub = await connect('api-sub-2');
  await sub.subscribeAsync('api/batch/#', { qos: 1 });
  const seen: string[] = [];
  const all = new Promise<void>((resolve) =>
    sub.on('message', (t, p) => {
      seen.push(`${t}=${p}`);
      if (seen.length === 3) resolve();
    }),
  );
  const r = await api(base, 'POST', '/api/v1/publish/batch', {
    messages: [
      { topic: 'api/batch/a', payload: '1', qos: 1 },
      { topic: 'api/batch/a', payload: '2', qos: 1 },
      { topic: 'api/batch/r', payload: 'kept', qos: 1, retain: true },
    ],
  });
  expect(r.status).toBe(200);
  await all;
  expect(seen).toEqual(['api/batch/a=1', 'api/batch/a=2', 'api/batch/r=kept']);

  const list = await api<{ items: Array<{ topic: string; payload: string }>; total: number }>(base, 'GET', '/api/v1/retained?search=api/batch');
  expect(list.body.items.map((i) => [i.topic, i.payload])).toEqual([['api/batch/r', 'kept']]);
  const one = await api(base, 'GET', `/api/v1/retained/${encodeURIComponent('api/batch/r')}`);
  expect(one.body).toMatchObject({ topic: 'api/batch/r', payload: 'kept', payloadEncoding: 'utf8', size: 4 });
  expect((await api(base, 'DELETE', `/api/v1/retained/${encodeURIComponent('api/batch/r')}`)).status).toBe(200);
  expect((await api(base, 'GET', `/api/v1/retained/${encodeURIComponent('api/batch/r')}`)).status).toBe(404);
  // A new subscriber gets no retained message: proven with a sentinel retained on a sibling topic.
  await api(base, 'POST', '/api/v1/publish', { topic: 'api/batch/sentinel', payload: 's', retain: true });
  const late = await connect('api-sub-2b');
  const first = nextMessage(late, 'api/batch/sentinel');
  const other: string[] = [];
  late.on('message', (t) => other.push(t));
  await late.subscribeAsync('api/batch/#');
  await first;
  expect(other).toEqual(['api/batch/sentinel']);
});

test('bad publish input is a 400 with a message: $ topics, wildcards, bad QoS, unknown fields, not base64, empty batch', async () => {
  const cases: unknown[] = [
    { topic: '$SYS/x', payload: 'a' },
    { topic: 'a/+', payload: 'a' },
    { topic: 'a', payload: 'a', qos: 3 },
    { topic: 'a', payload: 'a', colour: 'red' },
    { topic: 'a', payload: '%%%', encoding: 'base64' },
    { topic: '', payload: 'a' },
    'not an object',
  ];
  for (const body of cases) {
    const r = await api<{ error: string }>(base, 'POST', '/api/v1/publish', body);
    expect([r.status, typeof r.body.error]).toEqual([400, 'string']);
  }
  expect((await api(base, 'POST', '/api/v1/publish/batch', { messages: [] })).status).toBe(400);
  expect((await api(base, 'POST', '/api/v1/publish', '{not json')).status).toBe(400);
});

test('clients: listed with search and paging, details show subscriptions and protocol, a kick disconnects the MQTT client', async () => {
  const c = await connect('api-kick-me', { username: 'kicked-user', clean: false, keepalive: 42 });
  await c.subscribeAsync('api/kick/+', { qos: 1 });
  const list = await api<{ items: Array<{ clientId: string; connected: boolean; username: string }>; total: number }>(base, 'GET', '/api/v1/clients?search=kick-me');
  expect(list.body.items).toEqual([expect.objectContaining({ clientId: 'api-kick-me', connected: true, username: 'kicked-user' })]);
  const byUser = await api<{ total: number }>(base, 'GET', '/api/v1/clients?search=kicked-user&connected=true');
  expect(byUser.body.total).toBe(1);
  const paged = await api<{ items: unknown[]; limit: number }>(base, 'GET', '/api/v1/clients?limit=1&page=1');
  expect(paged.body.items).toHaveLength(1);

  const details = await api<Record<string, unknown>>(base, 'GET', '/api/v1/clients/api-kick-me');
  expect(details.body).toMatchObject({ clientId: 'api-kick-me', protocolVersion: 4, cleanSession: false, keepalive: 42, transport: 'tcp', subscriptionList: [{ filter: 'api/kick/+', qos: 1 }] });
  const subs = await api<{ items: Array<{ clientId: string; filter: string }> }>(base, 'GET', '/api/v1/subscriptions?search=api/kick');
  expect(subs.body.items).toEqual([{ clientId: 'api-kick-me', filter: 'api/kick/+', qos: 1 }]);

  const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
  expect((await api(base, 'POST', '/api/v1/clients/api-kick-me/kick')).status).toBe(200);
  await closed;
  expect((await api(base, 'POST', '/api/v1/clients/api-kick-me/kick')).status).toBe(404);

  // Its persistent session stays until discarded.
  const after = await api<{ connected: boolean }>(base, 'GET', '/api/v1/clients/api-kick-me');
  expect(after.body.connected).toBe(false);
  expect((await api(base, 'DELETE', '/api/v1/sessions/api-kick-me')).status).toBe(200);
  expect((await api(base, 'GET', '/api/v1/clients/api-kick-me')).status).toBe(404);
  // Discarded: the next connect finds no session [MQTT-3.2.2-3].
  const present = await new Promise<boolean>((resolve, reject) => {
    const again = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'api-kick-me', clean: false, reconnectPeriod: 0 });
    clients.push(again);
    again.once('connect', (connack) => resolve(connack.sessionPresent));
    again.once('error', reject);
  });
  expect(present).toBe(false);
});

test("a client's event history from the log: its login, connect, subscribe, unsubscribe, disconnect with its reason, in order", async () => {
  const c = await connect('api-history', { clean: false });
  await c.subscribeAsync('api/h/1');
  await c.unsubscribeAsync('api/h/1');
  await c.endAsync();
  // The disconnect is recorded once the session projection shows it.
  for (let i = 0; i < 100 && (await api<{ connected: boolean }>(base, 'GET', '/api/v1/clients/api-history')).body.connected; i++) await new Promise((r) => setTimeout(r, 20));
  const h = await api<{ events: Array<{ type: string; reasonName?: string }> }>(base, 'GET', '/api/v1/clients/api-history/events');
  // The access decision on its CONNECT comes first (the audit trail records allowed logins too).
  expect(h.body.events.map((e) => e.type)).toEqual(['access.decided', 'client.connected', 'client.subscribed', 'client.unsubscribed', 'client.disconnected']);
  expect(h.body.events[4].reasonName).toBe('normal');
});

test('nodes, overview, topics and drops describe this node; the stream sends overview events', async () => {
  const nodes = await api<{ nodes: Array<Record<string, unknown>> }>(base, 'GET', '/api/v1/nodes');
  expect(nodes.body.nodes).toEqual([expect.objectContaining({ nodeId: b.node.nodeId, self: true, live: true, version: expect.any(String), logEnd: expect.any(Array) })]);
  await api(base, 'POST', '/api/v1/publish/batch', { messages: Array.from({ length: 5 }, () => ({ topic: 'api/busy', payload: 'x' })) });
  let topics: Array<{ topic: string }> = [];
  for (let i = 0; i < 100 && !topics.some((t) => t.topic === 'api/busy'); i++) {
    topics = (await api<{ topics: Array<{ topic: string }> }>(base, 'GET', '/api/v1/topics?limit=1000')).body.topics;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(topics.some((t) => t.topic === 'api/busy')).toBe(true);
  const drops = await api<{ byReason: Record<string, number>; recent: unknown[] }>(base, 'GET', '/api/v1/drops');
  expect(Object.keys(drops.body.byReason).sort()).toEqual(['acl_denied', 'expired', 'log_congested', 'no_shared_member', 'queue_full', 'retention', 'too_large']);

  const res = await fetch(`${base}/api/v1/stream`, { headers: { authorization: `Basic ${Buffer.from('admin:public').toString('base64')}` } });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.getReader();
  const { value } = await reader.read();
  expect(Buffer.from(value!).toString()).toMatch(/^event: overview\ndata: \{.*"connections":\d+/);
  await reader.cancel();
});

test('every API write is in the audit trail with who did it', async () => {
  const before = (await api<{ actions: unknown[] }>(base, 'GET', '/api/v1/audit?limit=10000')).body.actions.length;
  await api(base, 'POST', '/api/v1/publish', { topic: 'api/audited', payload: 'x' });
  const trail = (await api<{ actions: Array<{ actor: string; action: string; target: string }> }>(base, 'GET', '/api/v1/audit?limit=10000')).body.actions;
  expect(trail.length).toBe(before + 1);
  expect(trail[trail.length - 1]).toMatchObject({ type: 'operator.action', actor: 'admin', action: 'publish', target: 'api/audited' });
});

test('admin users and API keys: an added admin logs in, a key works as a bearer token until revoked, passwords are never stored in clear', async () => {
  expect((await api(base, 'POST', '/api/v1/admins', { name: 'ops', password: 'short' })).status).toBe(400);
  expect((await api(base, 'POST', '/api/v1/admins', { name: 'ops', password: 'a-long-password' })).status).toBe(201);
  expect((await api(base, 'GET', '/api/v1/me', undefined, 'ops:a-long-password')).body).toEqual({ name: 'ops', kind: 'admin', mustChangePassword: false });
  expect((await api(base, 'GET', '/api/v1/me', undefined, 'ops:wrong-password')).status).toBe(401);
  const stored = require('fs').readFileSync(require('path').join(b.dataDir, 'admins.json'), 'utf8') as string;
  expect(stored).not.toContain('a-long-password');

  const key = await api<{ token: string }>(base, 'POST', '/api/v1/api-keys', { name: 'ci' });
  expect(key.status).toBe(201);
  const withKey = await fetch(`${base}/api/v1/overview`, { headers: { authorization: `Bearer ${key.body.token}` } });
  expect(withKey.status).toBe(200);
  expect((await api(base, 'DELETE', '/api/v1/api-keys/ci')).status).toBe(200);
  expect((await fetch(`${base}/api/v1/overview`, { headers: { authorization: `Bearer ${key.body.token}` } })).status).toBe(401);
  const me = await api<{ mustChangePassword: boolean }>(base, 'GET', '/api/v1/me');
  expect(me.body.mustChangePassword).toBe(true);
  const trail = (await api<{ actions: Array<{ action: string; target: string }> }>(base, 'GET', '/api/v1/audit?limit=10000')).body.actions.map((a) => `${a.action}:${a.target}`);
  expect(trail).toEqual(expect.arrayContaining(['admin.add:ops', 'apikey.create:ci', 'apikey.remove:ci']));
});

test('openapi.json describes exactly the routes the server answers, and each answers something other than 404 or 405', async () => {
  const spec = await api<{ paths: Record<string, Record<string, unknown>> }>(base, 'GET', '/api/v1/openapi.json', undefined, null);
  expect(spec.status).toBe(200);
  const described = Object.entries(spec.body.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
  expect(described.length).toBeGreaterThan(25);
  for (const route of described) {
    const [method, path] = route.split(' ');
    if (path === '/api/v1/stream') continue; // long-lived: checked above
    const concrete = path.replace(/\{[a-z]+\}/g, 'no-such-thing');
    const r = await api(base, method, concrete, method === 'GET' || method === 'DELETE' ? undefined : {});
    expect([route, r.status === 404 && typeof (r.body as { error?: string }).error === 'string' && (r.body as { error: string }).error.startsWith('no such endpoint') ? 'unknown' : 'known']).toEqual([route, 'known']);
    expect([route, r.status]).not.toEqual([route, 405]);
  }
  // A route the server does not describe does not exist.
  expect((await api(base, 'GET', '/api/v1/not-a-route')).status).toBe(404);
});

test('/metrics is prom-client exposition: process metrics, messages by QoS, connections by transport, append histograms, API requests; never a client id or topic as a label', async () => {
  const c = await connect('metrics-client-id-sentinel');
  await c.publishAsync('metrics/topic/sentinel', 'x', { qos: 1 });
  const r = await api<string>(base, 'GET', '/metrics');
  expect(r.status).toBe(200);
  const text = r.body;
  expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(text).toMatch(/^mqlog_messages_received_total\{qos="1"\} [1-9]/m);
  expect(text).toMatch(/^mqlog_connections\{transport="tcp"\} [1-9]/m);
  expect(text).toMatch(/^mqlog_log_append_seconds_bucket\{le="0\.001"\} \d+/m);
  expect(text).toMatch(/^mqlog_log_append_records_count [1-9]/m);
  expect(text).toMatch(/^mqlog_messages_dropped_total\{reason="queue_full"\} 0/m);
  expect(text).toMatch(/^mqlog_auth_results_total\{authenticator="anonymous",result="allowed"\} [1-9]/m);
  expect(text).toMatch(/^mqlog_api_requests_total\{route="\/api\/v1\/publish",method="POST",status="200"\} [1-9]/m);
  expect(text).toMatch(/^mqlog_tail_lag_records\{partition="0"\} \d+/m);
  expect(text).toMatch(/^mqlog_projection_rebuild_seconds \d/m);
  expect(text).not.toContain('sentinel');
});
