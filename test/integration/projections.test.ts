/**
 * Every projection rebuilt from the log, from offset 0 and from a snapshot plus
 * the tail, equals the live state of a node that has been busy.
 */
import mqtt from 'mqtt';
import { IPublishPacket } from 'mqtt-packet';
import { decodeEvents } from '../../src/events/codec';
import { isSessionEvent } from '../../src/events/types';
import { EventLog, LogRecord } from '../../src/log/EventLog';
import { SessionFolder } from '../../src/node/SessionFolder';
import { restoreSnapshots } from '../../src/node/Snapshots';
import { emptyRetained, foldRetained, RetainedState } from '../../projections/RetainedProjection';
import { emptySessions, foldSession, SessionsState } from '../../projections/SessionProjection';
import { startBroker, TestBroker } from '../helpers/broker';
import { connectBytes } from '../helpers/packets';
import { RawClient, sleep } from '../helpers/rawClient';

let broker: TestBroker;

beforeAll(async () => {
  broker = await startBroker({ log: { sessionPartitions: 3, messagePartitions: 2 } });
});

afterAll(async () => {
  await broker.stop();
  broker.cleanup();
});

async function readAll(log: EventLog, stream: string, partition: number, from = 0): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const end = await log.endOffset(stream, partition);
  let next = Math.max(from, await log.startOffset(stream, partition));
  while (next < end) {
    const recs = await log.read(stream, partition, next, { endOffset: end });
    if (!recs.length) break;
    out.push(...recs);
    next = recs[recs.length - 1].offset + 1;
  }
  return out;
}

function canonicalSessions(state: SessionsState): unknown {
  return [...state.values()]
    .map((s) => ({
      ...s,
      will: s.will ? { ...s.will, payload: s.will.payload.toString('base64') } : null,
      subscriptions: [...s.subscriptions].sort(([a], [b]) => a.localeCompare(b)),
      outbound: [...s.outbound.values()],
      inbound: [...s.inbound].sort((a, b) => a - b),
    }))
    .sort((a, b) => a.clientId.localeCompare(b.clientId));
}

/** Subscriptions as "client filter qos" lines: of the sessions connected to this node, from the projection or from the local routes. */
function localSubscriptions(sessions: SessionsState, routesOf: (clientId: string) => ReadonlyMap<string, { qos: number }> | null): string[] {
  return [...sessions.values()]
    .filter((s) => s.connected)
    .flatMap((s) => [...(routesOf(s.clientId) ?? s.subscriptions)].map(([f, sub]) => `${s.clientId} ${f} ${sub.qos}`))
    .sort();
}

function canonicalRetained(state: RetainedState): unknown {
  return [...state.topics]
    .map(([topic, e]) => [topic, e.partition, e.offset, e.message.payload.toString('base64'), e.message.qos])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

async function busyTraffic(port: number): Promise<void> {
  const url = `mqtt://127.0.0.1:${port}`;
  // Persistent subscribers, some left with open exchanges in both directions.
  for (let i = 0; i < 6; i++) {
    const c = await RawClient.connect(port);
    await c.handshake(`proj-${i}`, { clean: i % 3 === 0 });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `p/${i}/#`, qos: (i % 3) as 0 | 1 | 2 }, { topic: 'p/all', qos: 2 }] });
    await c.nextCmd('suback');
    if (i % 2 === 0) {
      c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['p/all'] });
      await c.nextCmd('unsuback');
    }
    // Inbound QoS 2 left waiting for PUBREL.
    c.send({ cmd: 'publish', topic: `p/${i}/in`, payload: Buffer.from('pending'), qos: 2, retain: false, dup: false, messageId: 40 + i });
    await c.nextCmd('pubrec');
    if (i % 2 === 1) c.destroy();
    else {
      c.send({ cmd: 'disconnect' });
      await c.waitClosed();
    }
  }
  const pub = await mqtt.connectAsync(url, { clientId: 'proj-pub', reconnectPeriod: 0 });
  for (let k = 0; k < 60; k++) await pub.publishAsync(k % 2 ? 'p/all' : `p/${k % 6}/x`, String(k), { qos: (k % 3) as 0 | 1 | 2, retain: k % 10 === 0 });
  await pub.publishAsync('p/0/x', '', { qos: 1, retain: true }); // clears one retained topic
  // Reconnect some, acknowledge part of what arrives.
  for (let i = 1; i < 6; i += 2) {
    const c = await RawClient.connect(port);
    await c.handshake(`proj-${i}`, { clean: false });
    await sleep(100);
    const pubs = c.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
    pubs.slice(0, Math.ceil(pubs.length / 2)).forEach((p) => {
      if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
      if (p.qos === 2) c.send({ cmd: 'pubrec', messageId: p.messageId });
    });
    c.send({ cmd: 'pubrel', messageId: 40 + i });
    await sleep(50);
    if (i === 3) {
      // A takeover of an online session.
      const t = await RawClient.connect(port);
      await t.handshake(`proj-${i}`, { clean: false });
      await c.waitClosed();
      t.destroy();
    } else c.destroy();
  }
  // A will, and a clean client that stays connected.
  const w = await RawClient.connect(port);
  w.send(connectBytes({ clientId: 'proj-will', flags: 0x04, willTopic: 'p/will', willPayload: Buffer.from('w') }));
  await w.nextCmd('connack');
  w.destroy();
  const stay = await RawClient.connect(port);
  await stay.handshake('proj-stays');
  await pub.endAsync();
  await sleep(300);
}

test('projections rebuilt from the log equal the live state', async () => {
  await busyTraffic(broker.ports.tcp!);
  const node = broker.node;
  const log = node.eventLog;
  // Persistent sessions back on this node, so the local routes hold their subscriptions.
  const back: RawClient[] = [];
  for (const i of [1, 2, 4, 5]) {
    const c = await RawClient.connect(broker.ports.tcp!);
    await c.handshake(`proj-${i}`, { clean: false });
    back.push(c);
  }

  const sessions = emptySessions();
  for (let p = 0; p < log.partitionCount(node.streams.sessions); p++) {
    for (const r of await readAll(log, node.streams.sessions, p)) {
      for (const e of decodeEvents(r.value!)) if (isSessionEvent(e)) foldSession(sessions, e);
    }
  }
  // The local routes (delivery's view) hold exactly the subscriptions of the sessions connected here.
  const fromProjection = localSubscriptions(sessions, () => null);
  expect(fromProjection.length).toBeGreaterThan(3);
  expect(localSubscriptions(sessions, (c) => node.routes.routesOf(c))).toEqual(fromProjection);
  expect(node.sessions.state.size).toBeGreaterThan(3);
  expect(canonicalSessions(sessions)).toEqual(canonicalSessions(node.sessions.state));
  // The fold really saw open exchanges and served positions, not just empty sessions.
  const all = [...sessions.values()];
  expect(all.some((s) => s.outbound.size > 0)).toBe(true);
  expect(all.some((s) => s.inbound.size > 0)).toBe(true);
  expect(all.some((s) => s.served.some((o) => o > 0))).toBe(true);

  const retained = emptyRetained();
  for (const r of await readAll(log, node.streams.retained, 0)) foldRetained(retained, r);
  expect(retained.size).toBeGreaterThan(0);
  expect(canonicalRetained(retained)).toEqual(canonicalRetained(node.retained));

  // Snapshot + tail gives the same state as folding from 0.
  await node.snapshotNow();
  const c = await RawClient.connect(broker.ports.tcp!);
  await c.handshake('proj-after-snapshot', { clean: false });
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'late/#', qos: 1 }] });
  await c.nextCmd('suback');
  const folder = new SessionFolder(node.streams.sessions, log.partitionCount(node.streams.sessions));
  const restored = await restoreSnapshots(log, node.streams, folder);
  expect(restored.length).toBeGreaterThan(0);
  for (let p = 0; p < folder.nextOffset.length; p++) folder.apply(p, await readAll(log, node.streams.sessions, p, folder.nextOffset[p]));
  expect(canonicalSessions(folder.state)).toEqual(canonicalSessions(node.sessions.state));
  c.destroy();
  for (const b of back) b.destroy();
});
