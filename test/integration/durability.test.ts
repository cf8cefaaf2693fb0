/**
 * kill -9 and restart on the same data directory: persistent sessions, their
 * subscriptions, retained messages and every unacknowledged QoS 1/2 message come
 * back; nothing acknowledged to a publisher is lost; QoS 2 is never duplicated.
 */
import { rmSync } from 'fs';
import mqtt from 'mqtt';
import mqttPacket, { IPublishPacket } from 'mqtt-packet';
import { tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker, writeConfig } from '../helpers/childBroker';
import { drainPublishes, RawClient, sleep, waitFor } from '../helpers/rawClient';

jest.setTimeout(120_000);

let dir: string;
let configFile: string;
let broker: ChildBroker | null = null;

beforeEach(() => {
  dir = tempDir('mqlog-durability-');
  configFile = writeConfig(dir, brokerConfig(`${dir}/data`));
});

afterEach(async () => {
  if (broker && broker.proc.exitCode === null && broker.proc.signalCode === null) {
    broker.proc.kill('SIGKILL');
    await broker.exited;
  }
  broker = null;
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<ChildBroker> {
  broker = await spawnBroker(['start', '--config', configFile]);
  return broker;
}

async function kill9(b: ChildBroker): Promise<void> {
  b.proc.kill('SIGKILL');
  await b.exited;
}


test('kill -9 mid-stream loses nothing acknowledged and duplicates no QoS 2 message', async () => {
  let b = await start();

  // An offline persistent subscriber...
  const offline = await RawClient.connect(b.port);
  await offline.handshake('dur-offline', { clean: false });
  offline.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dur/q1', qos: 1 }, { topic: 'dur/q2', qos: 2 }] });
  await offline.nextCmd('suback');
  offline.send({ cmd: 'disconnect' });
  await offline.waitClosed();
  // ...and an online one that never acknowledges (its window fills, the rest queues).
  const stuck = await RawClient.connect(b.port);
  await stuck.handshake('dur-stuck', { clean: false });
  stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dur/#', qos: 2 }] });
  await stuck.nextCmd('suback');

  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId: 'dur-pub', reconnectPeriod: 0 });
  pub.on('error', () => undefined);
  await pub.publishAsync('dur/retained', 'kept', { qos: 1, retain: true });
  const acked = { q1: new Set<number>(), q2: new Set<number>() };
  let n = 0;
  let running = true;
  const flow = (async () => {
    while (running) {
      const i = n++;
      const qos = i % 2 === 0 ? 1 : 2;
      pub
        .publishAsync(qos === 1 ? 'dur/q1' : 'dur/q2', String(i), { qos })
        .then(() => (qos === 1 ? acked.q1 : acked.q2).add(i))
        .catch(() => undefined);
      if (i % 20 === 19) await sleep(1);
    }
  })();
  // Kill mid-stream, once there is real traffic (a fixed delay is too short on a loaded machine).
  const deadline = Date.now() + 20_000;
  while (acked.q1.size + acked.q2.size < 200 && Date.now() < deadline) await sleep(20);
  await kill9(b);
  running = false;
  await flow;
  pub.end(true);
  stuck.destroy();
  const stuckBefore = stuck.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
  expect(acked.q1.size + acked.q2.size).toBeGreaterThan(50);

  b = await start();

  // Retained message survived.
  const r = await RawClient.connect(b.port);
  await r.handshake('dur-retained-check');
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dur/retained', qos: 1 }] });
  const retained = await r.nextCmd<IPublishPacket>('publish');
  expect([retained.payload.toString(), retained.retain]).toEqual(['kept', true]);
  r.destroy();

  // The offline subscriber gets every acknowledged message, QoS 2 exactly once.
  const back = await RawClient.connect(b.port);
  const ack = await back.handshake('dur-offline', { clean: false });
  expect(ack.sessionPresent).toBe(true);
  const got = await drainPublishes(back, 2000);
  const q1 = got.filter((p) => p.topic === 'dur/q1').map((p) => Number(p.payload.toString()));
  const q2 = got.filter((p) => p.topic === 'dur/q2').map((p) => Number(p.payload.toString()));
  for (const i of acked.q1) expect(q1).toContain(i);
  for (const i of acked.q2) expect(q2).toContain(i);
  expect(new Set(q2).size).toBe(q2.length);
  // Per-topic order holds.
  expect(q1).toEqual([...q1].sort((x, y) => x - y));
  expect(q2).toEqual([...q2].sort((x, y) => x - y));

  // The stuck subscriber gets its in-flight messages again, same packet ids with DUP, then the rest.
  const stuckBack = await RawClient.connect(b.port);
  expect((await stuckBack.handshake('dur-stuck', { clean: false })).sessionPresent).toBe(true);
  const again = await drainPublishes(stuckBack, 2000);
  const resent = again.filter((p) => p.dup);
  expect(resent.length).toBeGreaterThan(0);
  const before = new Map(stuckBefore.map((p) => [p.messageId, p.payload.toString()]));
  for (const p of resent) expect(before.get(p.messageId)).toBe(p.payload.toString());
  const all = [...new Set([...stuckBefore, ...again].map((p) => `${p.topic}=${p.payload.toString()}`))];
  for (const i of acked.q1) expect(all).toContain(`dur/q1=${i}`);
  for (const i of acked.q2) expect(all).toContain(`dur/q2=${i}`);
  // A QoS 2 message is never sent twice under different packet ids.
  const q2Ids = new Map<string, Set<number>>();
  for (const p of [...stuckBefore, ...again].filter((x) => x.qos === 2)) {
    const k = p.payload.toString();
    q2Ids.set(k, new Set([...(q2Ids.get(k) ?? []), p.messageId!]));
  }
  for (const ids of q2Ids.values()) expect(ids.size).toBe(1);
  stuckBack.destroy();
});

test('[MQTT-4.4.0-1] acknowledgements coalesced into one log record survive kill -9: exactly the unacknowledged messages come back, same packet ids, with DUP', async () => {
  let b = await start();
  const sub = await RawClient.connect(b.port);
  await sub.handshake('batch-sub', { clean: false });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'batch/q1', qos: 1 }, { topic: 'batch/q2', qos: 2 }] });
  await sub.nextCmd('suback');
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId: 'batch-pub', reconnectPeriod: 0 });
  pub.on('error', () => undefined);
  await Promise.all([
    ...Array.from({ length: 12 }, (_, i) => pub.publishAsync('batch/q1', `q1-${i}`, { qos: 1 })),
    ...Array.from({ length: 8 }, (_, i) => pub.publishAsync('batch/q2', `q2-${i}`, { qos: 2 })),
  ]);
  pub.end(true);
  await waitFor(() => sub.packets.filter((p) => p.cmd === 'publish').length === 20, 'all 20 deliveries');
  const first = sub.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
  const q1 = first.filter((p) => p.qos === 1);
  const q2 = first.filter((p) => p.qos === 2);
  // PUBREC for every QoS 2 message, then the PUBRELs come back.
  sub.socket.write(Buffer.concat(q2.map((p) => mqttPacket.generate({ cmd: 'pubrec', messageId: p.messageId }))));
  for (let i = 0; i < q2.length; i++) await sub.nextCmd('pubrel');
  // One TCP write: PUBACK for half the QoS 1 messages, PUBCOMP for half the QoS 2 ones, and a
  // SUBSCRIBE whose SUBACK only leaves once everything before it on this connection is in the log.
  const ackedQ1 = q1.slice(0, 6);
  const completedQ2 = q2.slice(0, 4);
  sub.socket.write(
    Buffer.concat([
      ...ackedQ1.map((p) => mqttPacket.generate({ cmd: 'puback', messageId: p.messageId })),
      ...completedQ2.map((p) => mqttPacket.generate({ cmd: 'pubcomp', messageId: p.messageId })),
      mqttPacket.generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'batch/other', qos: 0 }] }),
    ]),
  );
  await sub.nextCmd('suback');
  await kill9(b);
  sub.destroy();

  b = await start();
  const back = await RawClient.connect(b.port);
  expect((await back.handshake('batch-sub', { clean: false })).sessionPresent).toBe(true);
  const resent = await drainPublishes(back, 1000);
  const key = (p: IPublishPacket) => `${p.messageId}=${p.payload.toString()}`;
  expect(resent.map(key).sort()).toEqual(q1.slice(6).map(key).sort());
  expect(resent.every((p) => p.dup && p.qos === 1)).toBe(true);
  // The QoS 2 messages past PUBREC and not completed: their PUBREL again, the completed ones nothing.
  const pubrels = back.packets.filter((p) => p.cmd === 'pubrel').map((p) => (p as mqttPacket.IPubrelPacket).messageId).sort((x, y) => x! - y!);
  expect(pubrels).toEqual(q2.slice(4).map((p) => p.messageId).sort((x, y) => x! - y!));
  back.destroy();
});

test('SIGTERM shuts down cleanly: exit 0, and the restart replays no session events thanks to the final snapshot', async () => {
  let b = await start();
  const c = await RawClient.connect(b.port);
  await c.handshake('term-client', { clean: false });
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'term/#', qos: 1 }] });
  await c.nextCmd('suback');
  for (let i = 1; i <= 30; i++) {
    c.send({ cmd: 'publish', topic: 'term/x', payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, messageId: i });
  }
  for (let i = 1; i <= 30; i++) {
    await c.nextCmd('puback');
    const p = await c.nextCmd<IPublishPacket>('publish');
    c.send({ cmd: 'puback', messageId: p.messageId });
  }
  await sleep(100);
  b.proc.kill('SIGTERM');
  expect(await b.exited).toBe(0);
  expect(await c.waitClosed()).toBe(true);
  expect(b.output()).toContain('mqlog node stopped');

  b = await start();
  const line = b.output().split('\n').find((l) => l.includes('projections rebuilt from the log'))!;
  const info = JSON.parse(line) as { replayedSessionEvents: number; sessions: number; snapshots: number };
  expect(info.snapshots).toBe(1);
  expect(info.replayedSessionEvents).toBe(0);
  expect(info.sessions).toBe(1);
  const again = await RawClient.connect(b.port);
  expect((await again.handshake('term-client', { clean: false })).sessionPresent).toBe(true);
  // Its subscription came back from the snapshot.
  const pub = await RawClient.connect(b.port);
  await pub.handshake('term-pub');
  pub.send({ cmd: 'publish', topic: 'term/y', payload: Buffer.from('after restart'), qos: 1, retain: false, dup: false, messageId: 1 });
  const p = await again.nextCmd<IPublishPacket>('publish');
  expect(p.payload.toString()).toBe('after restart');
  again.destroy();
  pub.destroy();
});

test('a restart after kill -9 replays only the session events since the last snapshot', async () => {
  configFile = writeConfig(dir, brokerConfig(`${dir}/data`, { snapshots: { everyEvents: 50, intervalMs: 600_000 } }));
  let b = await start();
  const c = await RawClient.connect(b.port);
  await c.handshake('snap-client', { clean: false });
  for (let i = 1; i <= 120; i++) {
    c.send({ cmd: 'subscribe', messageId: i, subscriptions: [{ topic: `snap/${i}`, qos: 1 }] });
    await c.nextCmd('suback');
  }
  await sleep(6000); // the snapshot check runs every 5 s
  await kill9(b);
  b = await start();
  const line = b.output().split('\n').find((l) => l.includes('projections rebuilt from the log'))!;
  const info = JSON.parse(line) as { replayedSessionEvents: number; snapshots: number };
  expect(info.snapshots).toBe(1);
  expect(info.replayedSessionEvents).toBeLessThan(50);
  const again = await RawClient.connect(b.port);
  expect((await again.handshake('snap-client', { clean: false })).sessionPresent).toBe(true);
  const pub = await RawClient.connect(b.port);
  await pub.handshake('snap-pub');
  pub.send({ cmd: 'publish', topic: 'snap/120', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: 1 });
  await again.nextCmd('publish');
  again.destroy();
  pub.destroy();
});
