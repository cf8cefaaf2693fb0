/**
 * kill -9 of the node that QoS 1 and QoS 2 subscribers are on, while messages
 * flow: the clients reconnect to another node and get every message (nothing
 * acknowledged lost, QoS 2 never twice); the dead node's wills are published by
 * a survivor, once.
 */
import { rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import mqtt from 'mqtt';
import { IPublishPacket } from 'mqtt-packet';
import { tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker } from '../helpers/childBroker';
import { kafkaNodeConfig, uniquePrefix } from '../helpers/cluster';
import { kafkaBrokers } from '../helpers/kafka';
import { connectBytes } from '../helpers/packets';
import { drainPublishes, RawClient, sleep, waitFor } from '../helpers/rawClient';

jest.setTimeout(180_000);

let dir: string;
const children: ChildBroker[] = [];

beforeAll(() => {
  dir = tempDir('mqlog-nodefail-');
});

afterAll(async () => {
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

async function node(brokers: string[], prefix: string, id: string): Promise<ChildBroker> {
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify({ ...brokerConfig(join(dir, id)), ...kafkaNodeConfig(brokers, prefix, id) }));
  const child = await spawnBroker(['start', '--config', file], 60_000);
  children.push(child);
  return child;
}


test('kill -9 of a node mid-stream: subscribers move to another node and lose nothing; wills published once', async () => {
  const brokers = await kafkaBrokers();
  const prefix = uniquePrefix('nodefail');
  const a = await node(brokers, prefix, 'fail-a');
  const b = await node(brokers, prefix, 'fail-b');

  // On A: a QoS 1 and a QoS 2 persistent subscriber, acknowledging as they go, and a client with a will.
  const subs = new Map<string, { client: RawClient; got: IPublishPacket[] }>();
  for (const [id, topic, qos] of [
    ['nf-sub1', 'nf/q1', 1],
    ['nf-sub2', 'nf/q2', 2],
  ] as const) {
    const c = await RawClient.connect(a.port);
    await c.handshake(id, { clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
    await c.nextCmd('suback', 10_000);
    const entry = { client: c, got: [] as IPublishPacket[] };
    subs.set(id, entry);
    void (async () => {
      for (;;) {
        let p: IPublishPacket;
        try {
          p = await c.nextCmd<IPublishPacket>('publish', 60_000);
        } catch {
          return;
        }
        entry.got.push(p);
        // Acknowledge most, but leave some exchanges open when the node dies.
        if (entry.got.length % 7 === 0) continue;
        if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
        else c.send({ cmd: 'pubrec', messageId: p.messageId });
      }
    })();
    void (async () => {
      for (;;) {
        try {
          const rel = await c.nextCmd('pubrel', 60_000);
          c.send({ cmd: 'pubcomp', messageId: rel.messageId });
        } catch {
          return;
        }
      }
    })();
  }
  const willHolder = await RawClient.connect(a.port);
  willHolder.send(connectBytes({ clientId: 'nf-will', keepalive: 60, flags: 0x02 | 0x04 | 0x08, willTopic: 'nf/will', willPayload: Buffer.from('node died') }));
  await willHolder.nextCmd('connack', 10_000);
  const watcher = await RawClient.connect(b.port);
  await watcher.handshake('nf-watcher');
  watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'nf/will', qos: 1 }] });
  await watcher.nextCmd('suback', 10_000);

  // A publisher on B, QoS 1 and QoS 2 interleaved, recording what was acknowledged.
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId: 'nf-pub', reconnectPeriod: 0 });
  const acked = { q1: new Set<number>(), q2: new Set<number>() };
  let running = true;
  const flow = (async () => {
    for (let i = 0; running; i++) {
      const qos = i % 2 === 0 ? 1 : 2;
      await pub.publishAsync(qos === 1 ? 'nf/q1' : 'nf/q2', String(i), { qos });
      (qos === 1 ? acked.q1 : acked.q2).add(i);
      if (i % 10 === 9) await sleep(5);
    }
  })();
  // Counted, not timed: on a loaded machine a fixed sleep may see only a handful.
  await waitFor(() => acked.q1.size >= 25, 'publishing before the kill', 60_000);
  a.proc.kill('SIGKILL');
  await a.exited;
  const atKill = acked.q1.size;
  await waitFor(() => acked.q1.size >= atKill + 5, 'publishing while A is dead', 60_000);
  running = false;
  await flow;
  await pub.endAsync();
  expect(acked.q1.size).toBeGreaterThan(20);

  // Both subscribers reconnect to B.
  for (const [id, entry] of subs) {
    entry.client.destroy();
    const again = await RawClient.connect(b.port);
    expect((await again.handshake(id, { clean: false })).sessionPresent).toBe(true);
    const after = await drainPublishes(again, 3000);
    const all = [...entry.got, ...after];
    const values = (ps: IPublishPacket[]) => ps.map((p) => Number(p.payload.toString()));
    const want = id === 'nf-sub1' ? acked.q1 : acked.q2;
    const seen = new Set(values(all));
    for (const i of want) expect(seen.has(i)).toBe(true);
    if (id === 'nf-sub2') {
      // QoS 2: each message under one packet id only, and a resend only with DUP set.
      const ids = new Map<number, Set<number>>();
      for (const p of all) ids.set(Number(p.payload.toString()), new Set([...(ids.get(Number(p.payload.toString())) ?? []), p.messageId!]));
      for (const set of ids.values()) expect(set.size).toBe(1);
      const firstTime = new Set(values(entry.got));
      for (const p of after) if (firstTime.has(Number(p.payload.toString()))) expect(p.dup).toBe(true);
    }
    again.destroy();
  }

  // The will of the client that was on A: published by B once A's heartbeats stopped.
  const will = await watcher.nextCmd<IPublishPacket>('publish', 20_000);
  expect(will.payload.toString()).toBe('node died');
  await sleep(4000);
  expect(watcher.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  watcher.destroy();
  willHolder.destroy();
});
