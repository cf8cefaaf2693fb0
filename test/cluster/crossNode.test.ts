/**
 * Three mqlog nodes over one real Kafka: messages, retained messages and
 * sessions cross nodes; a node that joins late builds the same projections.
 */
import mqtt, { MqttClient } from 'mqtt';
import { IPublishPacket } from 'mqtt-packet';
import { TestBroker } from '../helpers/broker';
import { startKafkaNode, uniquePrefix } from '../helpers/cluster';
import { kafkaBrokers } from '../helpers/kafka';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';
import { collect } from '../helpers/suite';

jest.setTimeout(120_000);

let brokers: string[];
let prefix: string;
const nodes: TestBroker[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  brokers = await kafkaBrokers();
  prefix = uniquePrefix('cross');
  for (const id of ['node-a', 'node-b', 'node-c']) nodes.push(await startKafkaNode(brokers, prefix, id));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

afterAll(async () => {
  for (const n of nodes) {
    await n.stop();
    n.cleanup();
  }
});

async function client(node: TestBroker, clientId: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(node.url, { clientId, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

test.each([0, 1, 2] as const)('QoS %i: a message published on node A reaches subscribers on B and C, in order', async (qos) => {
  const [a, b, c] = nodes;
  const subB = await client(b, `x-sub-b-${qos}`);
  const subC = await client(c, `x-sub-c-${qos}`);
  const gotB = collect(subB);
  const gotC = collect(subC);
  await subB.subscribeAsync(`cross/${qos}/#`, { qos });
  await subC.subscribeAsync(`cross/${qos}/+`, { qos });
  await sleep(300);
  const pub = await client(a, `x-pub-${qos}`);
  for (let i = 0; i < 50; i++) await pub.publishAsync(`cross/${qos}/t`, String(i), { qos });
  await waitFor(() => gotB.length === 50 && gotC.length === 50, 'deliveries on B and C', 20_000);
  const expected = Array.from({ length: 50 }, (_, i) => String(i));
  expect(gotB.map((g) => g.payload)).toEqual(expected);
  expect(gotC.map((g) => g.payload)).toEqual(expected);
  expect(gotB.every((g) => g.qos === qos)).toBe(true);
});

test('a retained message set on A is served to a new subscriber on B', async () => {
  const [a, b] = nodes;
  const pub = await client(a, 'x-ret-pub');
  await pub.publishAsync('cross/retained', 'kept', { qos: 1, retain: true });
  await sleep(500);
  const sub = await client(b, 'x-ret-sub');
  const got = collect(sub);
  await sub.subscribeAsync('cross/retained', { qos: 1 });
  await waitFor(() => got.length === 1, 'retained on B', 10_000);
  expect(got[0]).toMatchObject({ payload: 'kept', retain: true });
});

test('session takeover across nodes: the old connection on A closes; subscriptions and unacknowledged messages continue on B', async () => {
  const [a, b, c] = nodes;
  const onA = await RawClient.connect(a.ports.tcp!);
  await onA.handshake('x-mover', { clean: false });
  onA.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cross/move/#', qos: 2 }] });
  await onA.nextCmd('suback');
  const pub = await client(c, 'x-move-pub');
  await pub.publishAsync('cross/move/1', 'one', { qos: 1 });
  await pub.publishAsync('cross/move/2', 'two', { qos: 2 });
  const p1 = await onA.nextCmd<IPublishPacket>('publish', 10_000);
  const p2 = await onA.nextCmd<IPublishPacket>('publish', 10_000);
  // Not acknowledged: the client moves to B while A still holds it.
  const onB = await RawClient.connect(b.ports.tcp!);
  const ack = await onB.handshake('x-mover', { clean: false });
  expect(ack.sessionPresent).toBe(true);
  expect(await onA.waitClosed(10_000)).toBe(true);
  const r1 = await onB.nextCmd<IPublishPacket>('publish', 10_000);
  const r2 = await onB.nextCmd<IPublishPacket>('publish', 10_000);
  expect([r1.messageId, r1.dup, r1.payload.toString()]).toEqual([p1.messageId, true, 'one']);
  expect([r2.messageId, r2.dup, r2.payload.toString()]).toEqual([p2.messageId, true, 'two']);
  onB.send({ cmd: 'puback', messageId: r1.messageId });
  onB.send({ cmd: 'pubrec', messageId: r2.messageId });
  await onB.nextCmd('pubrel', 10_000);
  onB.send({ cmd: 'pubcomp', messageId: r2.messageId });
  // The subscription moved with the session.
  await pub.publishAsync('cross/move/3', 'three', { qos: 1 });
  const r3 = await onB.nextCmd<IPublishPacket>('publish', 10_000);
  expect(r3.payload.toString()).toBe('three');
  onB.send({ cmd: 'puback', messageId: r3.messageId });
  onB.send({ cmd: 'disconnect' });
  await onB.waitClosed();
});

test('a persistent session that went offline on A gets its queued messages when it reconnects on C', async () => {
  const [a, b, c] = nodes;
  const first = await RawClient.connect(a.ports.tcp!);
  await first.handshake('x-offline', { clean: false });
  first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cross/offline', qos: 1 }] });
  await first.nextCmd('suback');
  first.send({ cmd: 'disconnect' });
  await first.waitClosed();
  const pub = await client(b, 'x-offline-pub');
  for (let i = 0; i < 20; i++) await pub.publishAsync('cross/offline', String(i), { qos: 1 });
  await sleep(500);
  const again = await RawClient.connect(c.ports.tcp!);
  expect((await again.handshake('x-offline', { clean: false })).sessionPresent).toBe(true);
  const got: string[] = [];
  while (got.length < 20) {
    const p = await again.nextCmd<IPublishPacket>('publish', 10_000);
    got.push(p.payload.toString());
    again.send({ cmd: 'puback', messageId: p.messageId });
  }
  expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  again.destroy();
});

test('fan-out: every node reads every message (read amplification = nodes x ingress) but decodes only what its clients want', async () => {
  // A cluster of its own without $SYS: every record its nodes read is one of this test's messages.
  const quiet = uniquePrefix('amp');
  const [a, b, idle] = await Promise.all(['amp-a', 'amp-b', 'amp-idle'].map((id) => startKafkaNode(brokers, quiet, id, { sys: { enabled: false } })));
  try {
    const sub = await client(b, 'x-amp-sub');
    const got = collect(sub);
    await sub.subscribeAsync('amp/wanted', { qos: 1 });
    await sleep(300);
    const before = { idle: { ...idle.node.stats }, b: { ...b.node.stats } };
    const pub = await client(a, 'x-amp-pub');
    for (let i = 0; i < 30; i++) await pub.publishAsync(i % 3 === 0 ? 'amp/wanted' : 'amp/other', String(i), { qos: 1 });
    await waitFor(() => got.length === 10, 'wanted messages', 10_000);
    await waitFor(() => idle.node.stats.messagesScanned - before.idle.messagesScanned >= 30, 'idle node to read them all', 10_000);
    await waitFor(() => b.node.stats.messagesScanned - before.b.messagesScanned >= 30, 'node B to read them all', 10_000);
    expect(idle.node.stats.messagesScanned - before.idle.messagesScanned).toBe(30);
    expect(idle.node.stats.messagesRouted - before.idle.messagesRouted).toBe(0);
    expect(b.node.stats.messagesScanned - before.b.messagesScanned).toBe(30);
    expect(b.node.stats.messagesRouted - before.b.messagesRouted).toBe(10);
  } finally {
    for (const n of [a, b, idle]) {
      await n.stop();
      n.cleanup();
    }
  }
});

test('a node that joins late builds the same projections as the others', async () => {
  const late = await startKafkaNode(brokers, prefix, 'node-late');
  try {
    await waitFor(() => {
      const want = JSON.stringify(summary(nodes[0]));
      return JSON.stringify(summary(late)) === want && JSON.stringify(summary(nodes[1])) === want;
    }, 'projections to converge', 20_000);
    expect(summary(late).sessions.length).toBeGreaterThan(0);
    expect(summary(late).retained).toContain('cross/retained');
  } finally {
    await late.stop();
    late.cleanup();
  }
});

function summary(n: TestBroker): { sessions: string[]; retained: string[] } {
  return {
    sessions: [...n.node.sessions.state.values()]
      .map((s) => `${s.clientId}:${s.connected}:${[...s.subscriptions.keys()].sort().join(',')}:${s.outbound.size}:${s.served.join('/')}`)
      .sort(),
    retained: [...n.node.retained.keys()].sort(),
  };
}

test('the API of one node kicks a client connected to another (through the audit stream) and lists every node', async () => {
  const [a, b] = nodes;
  const { api, apiBase } = await import('../helpers/api');
  const victim = await client(b, 'x-kick-remote');
  const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
  // Node A learns of the connection from the session stream.
  for (let i = 0; i < 400 && (await api<{ connected?: boolean }>(apiBase(a.ports.api), 'GET', '/api/v1/clients/x-kick-remote')).body.connected !== true; i++) await sleep(50);
  const r = await api<{ forwarded: boolean }>(apiBase(a.ports.api), 'POST', '/api/v1/clients/x-kick-remote/kick');
  expect([r.status, r.body.forwarded]).toEqual([202, true]);
  await closed;
  const listed = await api<{ nodes: Array<{ nodeId: string; live: boolean; version: string | null; health: { state: string } | null }> }>(apiBase(a.ports.api), 'GET', '/api/v1/nodes');
  // Another node's version and health come with its heartbeat.
  const other = listed.body.nodes.find((n) => n.nodeId === 'node-b')!;
  expect([typeof other.version, other.health?.state]).toEqual(['string', 'healthy']);
  // Earlier tests' extra nodes may still count as live until their heartbeats time out.
  expect(listed.body.nodes.filter((n) => n.live).map((n) => n.nodeId)).toEqual(expect.arrayContaining(['node-a', 'node-b', 'node-c']));
});

test('$SYS: every node publishes under $SYS/brokers/<node>/, every node sees them all, and $SYS/broker/ holds the coordinator\'s cluster totals', async () => {
  const [a, b, c] = nodes;
  // The first interval (sys.intervalMs, 10 s) passes for every node.
  for (let i = 0; i < 300 && !['node-a', 'node-b', 'node-c'].every((n) => c.node.retained.get(`$SYS/brokers/${n}/clients/connected`)); i++) await sleep(50);
  for (const n of ['node-a', 'node-b', 'node-c']) expect(c.node.retained.get(`$SYS/brokers/${n}/version`)?.message.payload.toString()).toMatch(/^mqlog version /);
  for (let i = 0; i < 300 && !a.node.retained.get('$SYS/broker/clients/connected'); i++) await sleep(50);
  const total = b.node.retained.get('$SYS/broker/clients/connected')!;
  expect(total.message.nodeId).toBe('node-a'); // the coordinator (lowest live node id) writes $SYS/broker/
  expect(Number(total.message.payload.toString())).toBeGreaterThanOrEqual(0);
}, 60_000);

describe('MQTT 5 across nodes', () => {
  const v5 = async (node: TestBroker, clientId: string, opts: mqtt.IClientOptions = {}) => client(node, clientId, { protocolVersion: 5, ...opts });

  test('a v5 session expires across nodes: kept while within its interval (resumed on another node), gone after it', async () => {
    const [a, b] = nodes;
    const c = await v5(a, 'x5-expiry', { clean: false, properties: { sessionExpiryInterval: 2 } });
    await c.subscribeAsync('x5/exp');
    await c.endAsync();
    // Resumed on B within the interval: the session and its subscription are there.
    const back = await mqtt.connectAsync(b.url, { clientId: 'x5-expiry', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 2 } });
    expect(back.connected).toBe(true);
    await back.endAsync();
    // Then gone everywhere once 2 s pass (the coordinator's session.expired).
    await waitFor(() => nodes.every((n) => !n.node.sessions.state.has('x5-expiry')), 'the expiry on every node', 20_000);
  });

  test('a delayed will of a client on node B is published by the coordinator when due, and reaches node C', async () => {
    const [, b, c] = nodes;
    const watch = await v5(c, 'x5-will-watch');
    const got = collect(watch);
    await watch.subscribeAsync('x5/will', { qos: 1 });
    const dying = await v5(b, 'x5-will', { clean: false, properties: { sessionExpiryInterval: 60 }, will: { topic: 'x5/will', payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 1 } } });
    dying.stream.destroy();
    await waitFor(() => got.length === 1, 'the delayed will on node C', 20_000);
    expect(got[0].payload).toBe('late');
  });

  test('shared subscription over two nodes: with members on A and B, each QoS 1 message reaches exactly one member', async () => {
    const [a, b, c] = nodes;
    const m1 = await v5(a, 'x5-share-a');
    const m2 = await v5(b, 'x5-share-b');
    const g1 = collect(m1);
    const g2 = collect(m2);
    await m1.subscribeAsync('$share/xg/x5/share', { qos: 1 });
    await m2.subscribeAsync('$share/xg/x5/share', { qos: 1 });
    // Membership is folded everywhere before the messages (the rule's assumption: no join or leave in between).
    await waitFor(() => nodes.every((n) => ['x5-share-a', 'x5-share-b'].every((id) => n.node.sessions.state.get(id)?.subscriptions.has('$share/xg/x5/share'))), 'membership on every node', 20_000);
    const pub = await v5(c, 'x5-share-pub');
    const N = 200;
    for (let i = 0; i < N; i++) await pub.publishAsync('x5/share', String(i), { qos: 1 });
    await waitFor(() => g1.length + g2.length >= N, 'every message', 20_000);
    // Sentinels: once they are in, nothing more is coming.
    for (let i = N; i < N + 4; i++) await pub.publishAsync('x5/share', String(i), { qos: 1 });
    await waitFor(() => g1.length + g2.length >= N + 4, 'the sentinels', 20_000);
    const all = [...g1, ...g2].map((g) => Number(g.payload)).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: N + 4 }, (_, i) => i));
    expect(g1.length > 0 && g2.length > 0).toBe(true);
  });

  test('shared subscription over two nodes while members join and leave on both: each QoS 1 message reaches exactly one member [MQTT-4.8.2-3]', async () => {
    const [a, b, c] = nodes;
    const filter = '$share/xchurn/x5/churn';
    /** Counts a message only as it acknowledges it; once leaving, acknowledges nothing (the broker hands that on). */
    const member = async (node: TestBroker, clientId: string) => {
      const taken: string[] = [];
      let leaving = false;
      const m = await v5(node, clientId, {
        customHandleAcks: (_t: string, message: Buffer, _p: unknown, done: (err: Error | null, code?: number) => void) => {
          if (leaving) return;
          taken.push(message.toString());
          done(null, 0);
        },
      } as mqtt.IClientOptions);
      await m.subscribeAsync(filter, { qos: 1 });
      return { m, taken, leave: async () => ((leaving = true), await m.endAsync()) };
    };
    const stable = await member(a, 'x5-churn-stable');
    const taken: string[][] = [stable.taken];
    await waitFor(() => nodes.every((n) => n.node.sessions.state.get('x5-churn-stable')?.subscriptions.has(filter)), 'the stable member on every node', 20_000);
    const pub = await v5(c, 'x5-churn-pub');
    const N = 1500;
    let published = 0;
    const publishing = (async () => {
      const inflight = new Set<Promise<unknown>>();
      for (; published < N; published++) {
        const p = pub.publishAsync('x5/churn', String(published), { qos: 1 });
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        if (inflight.size >= 32) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    })();
    let round = 0;
    while (published < N) {
      // Members come and go on A and B, two at a time; some unsubscribe before they leave.
      const joined = await Promise.all([member(round % 2 ? a : b, `x5-churn-${round % 3}-x`), member(round % 2 ? b : a, `x5-churn-${round % 3}-y`)]);
      for (const j of joined) taken.push(j.taken);
      await sleep(50 + ((round * 53) % 150));
      if (round % 3 === 1) await joined[0].m.unsubscribeAsync(filter);
      await Promise.all(joined.map((j) => j.leave()));
      round++;
    }
    await publishing;
    const count = () => taken.reduce((n, t) => n + t.length, 0);
    await waitFor(() => count() >= N, `every message at one member (${count()} of ${N})`, 30_000);
    await pub.publishAsync('x5/churn', String(N), { qos: 1 });
    await waitFor(() => stable.taken.includes(String(N)), 'the sentinel', 20_000);
    expect(round).toBeGreaterThan(2);
    expect(taken.slice(1).some((t) => t.length > 0)).toBe(true);
    const all = taken.flat().map(Number).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: N + 1 }, (_, i) => i));
  });
});
