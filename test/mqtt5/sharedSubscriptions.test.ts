/**
 * Shared subscriptions while membership changes, through real sockets: the
 * member named for a message in its record gets it on every path (live, or a
 * page of the log when it is behind), and a member that is gone has its
 * messages handed to another member, so each QoS 1 message reaches exactly one
 * member of the group — none lost, none twice — while members join, leave,
 * fall behind, unsubscribe or go offline [MQTT-4.8.2-3]. QoS 2 messages already
 * sent stay with their member (MQTT 5 section 4.8.2).
 */
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import mqttPacket, { IPublishPacket } from 'mqtt-packet';
import { v5Connector } from '../helpers/v5Client';
import { startBroker, TestBroker } from '../helpers/broker';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';

jest.setTimeout(60_000);

let b: TestBroker;
const clients: MqttClient[] = [];
const raws: RawClient[] = [];

beforeAll(async () => {
  // Small session queues: a member that does not keep up falls behind into the log quickly.
  b = await startBroker({ mqtt: { maxQueuedMessages: 20, sessionExpiryMs: 3_600_000 } });
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const r of raws) r.destroy();
  await b.stop();
  b.cleanup();
});

const v5 = v5Connector(() => b.ports.tcp!, clients);

/** A v5 member from raw packets: it acknowledges only when told to. */
async function rawMember(clientId: string, filter: string, opts: { receiveMaximum?: number; persistent?: boolean; qos?: 1 | 2 } = {}): Promise<RawClient> {
  const r = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  raws.push(r);
  r.send({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: !opts.persistent, keepalive: 0, clientId,
    properties: { receiveMaximum: opts.receiveMaximum ?? 65535, ...(opts.persistent ? { sessionExpiryInterval: 300 } : {}) },
  } as never);
  await r.nextCmd('connack');
  r.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: opts.qos ?? 1 }], properties: {} } as never, { protocolVersion: 5 }));
  await r.nextCmd('suback');
  return r;
}

function publishesOf(r: RawClient): IPublishPacket[] {
  return r.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
}

/** Payloads of the messages a member took (acknowledged), for an exactly-once check across members. */
function expectExactlyOnce(takenByMembers: string[][], n: number): void {
  const all = takenByMembers.flat().map(Number).sort((x, y) => x - y);
  expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
}

/**
 * An mqtt.js member that counts a message only as it acknowledges it; once it
 * starts leaving it acknowledges nothing more (what it got then is not its own:
 * the broker hands it on), then disconnects with a DISCONNECT.
 */
async function countingMember(clientId: string, filter: string): Promise<{ client: MqttClient; taken: string[]; leave(): Promise<void> }> {
  const taken: string[] = [];
  let leaving = false;
  const client = await v5(clientId, {
    customHandleAcks: (_topic: string, message: Buffer, _packet: unknown, done: (err: Error | number | null, code?: number) => void) => {
      if (leaving) return; // never acknowledged: not taken
      taken.push(message.toString());
      done(null, 0);
    },
  } as IClientOptions);
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    taken,
    async leave() {
      leaving = true;
      await client.endAsync();
    },
  };
}

/** Starts acknowledging everything `r` got and gets (QoS 1), collecting the payloads; `stop` ends it. */
function acking(r: RawClient): { taken: string[]; stop(): void } {
  const taken: string[] = [];
  let acked = 0;
  const tick = () => {
    const ps = publishesOf(r);
    for (; acked < ps.length; acked++) {
      taken.push(ps[acked].payload.toString());
      r.send({ cmd: 'puback', messageId: ps[acked].messageId } as never);
    }
  };
  tick();
  const timer = setInterval(tick, 5);
  return { taken, stop: () => clearInterval(timer) };
}

test('a member behind in the log gets the messages named for it from the pages, at no loss and no duplicate [MQTT-4.8.2-3]', async () => {
  const topic = 'shl/t';
  const keeper = await countingMember('shl-keeper', `$share/g/${topic}`);
  // Window of 2 and a queue of 20: without acknowledging, it falls behind into the log at once.
  const slow = await rawMember('shl-slow', `$share/g/${topic}`, { receiveMaximum: 2 });
  const pub = await v5('shl-pub');
  const N = 400;
  for (let i = 0; i < N; i++) pub.publish(topic, String(i), { qos: 1 });
  await pub.publishAsync('shl/other', 'x', { qos: 1 });
  await waitFor(() => publishesOf(slow).length === 2, 'the slow member holding its window');
  const pagesBefore = b.node.stats.logPagesRead;
  // Now it reads: everything named for it comes, from the pages of the log.
  const slowAcks = acking(slow);
  await waitFor(() => keeper.taken.length + slowAcks.taken.length >= N, 'every message at one member', 20_000);
  expect(slowAcks.taken.length).toBeGreaterThan(100); // its share, most of it read back from the log
  expect(b.node.stats.logPagesRead).toBeGreaterThan(pagesBefore);
  // Sentinels through the group: once they are in, nothing more is coming.
  for (let i = N; i < N + 4; i++) await pub.publishAsync(topic, String(i), { qos: 1 });
  await waitFor(() => keeper.taken.length + slowAcks.taken.length >= N + 4, 'the sentinels');
  slowAcks.stop();
  expectExactlyOnce([keeper.taken, slowAcks.taken], N + 4);
});

test('members join and leave while QoS 1 messages flow: each reaches exactly one member [MQTT-4.8.2-3]', async () => {
  const topic = 'shc/t';
  const filter = `$share/churn/${topic}`;
  const stable = await countingMember('shc-stable', filter);
  const taken: string[][] = [stable.taken];
  const pub = await v5('shc-pub');
  const N = 3000;
  let published = 0;
  const publishing = (async () => {
    // Paced by a window of 64 un-acknowledged messages, as devices publish.
    const inflight = new Set<Promise<unknown>>();
    for (; published < N; published++) {
      const p = pub.publishAsync(topic, String(published), { qos: 1 });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= 64) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  })();
  // Churn: members come, take some, and leave; some leave by unsubscribing first.
  let round = 0;
  while (published < N) {
    const m = await countingMember(`shc-m${round % 4}`, filter);
    taken.push(m.taken);
    await sleep(20 + ((round * 37) % 60));
    if (round % 3 === 0) await m.client.unsubscribeAsync(filter);
    await m.leave();
    round++;
  }
  await publishing;
  await waitFor(() => taken.reduce((n, t) => n + t.length, 0) >= N, `every message at one member (${taken.reduce((n, t) => n + t.length, 0)} of ${N})`, 20_000);
  // A sentinel: nothing else arrives after it.
  await pub.publishAsync(topic, String(N), { qos: 1 });
  await waitFor(() => stable.taken.includes(String(N)), 'the sentinel');
  expect(round).toBeGreaterThan(3);
  expectExactlyOnce(taken, N + 1);
});

test('an offline persistent member does not keep the QoS 1 messages it did not acknowledge; QoS 2 ones sent stay with it', async () => {
  const pub = await v5('sho-pub');
  const other = await countingMember('sho-other', '$share/off/sho/+');
  // Only member at first: everything goes to it, and it acknowledges nothing.
  const away = await rawMember('sho-away', '$share/off/sho/+', { persistent: true, qos: 2 });
  await waitFor(() => b.node.sessions.state.get('sho-away')?.connected === true, 'the member folded');
  await other.client.unsubscribeAsync('$share/off/sho/+');
  for (let i = 0; i < 5; i++) await pub.publishAsync('sho/q1', `q1-${i}`, { qos: 1 });
  for (let i = 0; i < 3; i++) pub.publish('sho/q2', `q2-${i}`, { qos: 2 });
  await waitFor(() => publishesOf(away).length === 8, 'the member holding 8 messages');
  expect(other.taken).toEqual([]);
  await other.client.subscribeAsync('$share/off/sho/+', { qos: 1 });
  await waitFor(() => b.node.sessions.state.get('sho-other')?.subscriptions.has('$share/off/sho/+') === true, 'the other member folded');
  away.destroy(); // offline, session kept
  await waitFor(() => other.taken.length === 5, 'its QoS 1 messages at the other member');
  expect(other.taken.sort()).toEqual(['q1-0', 'q1-1', 'q1-2', 'q1-3', 'q1-4']);
  // Back: its QoS 2 messages are resent with DUP [MQTT-4.4.0-1]; the QoS 1 ones are not (another member has them).
  const back = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  raws.push(back);
  back.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 0, clientId: 'sho-away', properties: { sessionExpiryInterval: 300 } } as never);
  expect(await back.nextCmd('connack')).toMatchObject({ sessionPresent: true });
  await waitFor(() => publishesOf(back).length >= 3, 'its QoS 2 messages again');
  // A sentinel QoS 1 message named for one of the two: once it is at one of them, nothing else is coming.
  await pub.publishAsync('sho/s', 'sentinel', { qos: 1 });
  await waitFor(() => other.taken.includes('sentinel') || publishesOf(back).some((p) => p.payload.toString() === 'sentinel'), 'the sentinel');
  const again = publishesOf(back).filter((p) => p.payload.toString() !== 'sentinel');
  expect(again.map((p) => [p.payload.toString(), p.qos, p.dup]).sort()).toEqual([['q2-0', 2, true], ['q2-1', 2, true], ['q2-2', 2, true]]);
  expect(other.taken.filter((t) => t.startsWith('q2'))).toEqual([]);
});

test('a member that unsubscribes while behind in the log: what was named for it there goes to another member', async () => {
  const topic = 'shu/t';
  const filter = `$share/u/${topic}`;
  const keeper = await countingMember('shu-keeper', filter);
  const slow = await rawMember('shu-slow', filter, { receiveMaximum: 1 });
  const pub = await v5('shu-pub');
  const N = 200;
  for (let i = 0; i < N; i++) pub.publish(topic, String(i), { qos: 1 });
  await pub.publishAsync('shu/other', 'x', { qos: 1 });
  await waitFor(() => publishesOf(slow).length === 1, 'the slow member holding its window');
  // It leaves the group while far behind, then acknowledges what it holds.
  slow.send(mqttPacket.generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [filter], properties: {} } as never, { protocolVersion: 5 }));
  await slow.nextCmd('unsuback');
  const slowAcks = acking(slow);
  await waitFor(() => keeper.taken.length + slowAcks.taken.length >= N, 'every message at one member', 20_000);
  await pub.publishAsync(topic, 'sentinel', { qos: 1 });
  await waitFor(() => keeper.taken.includes('sentinel'), 'the sentinel at the member left');
  slowAcks.stop();
  expect(slowAcks.taken.length).toBeLessThanOrEqual(21); // what it held in flight and queued, not its share of the log
  expectExactlyOnce([keeper.taken.filter((t) => t !== 'sentinel'), slowAcks.taken], N);
});

test('a group whose members are all offline keeps QoS 1 messages for its persistent members until they resume (QoS 0 is not kept)', async () => {
  const filter = '$share/park/shp/t';
  const pub = await v5('shp-pub');
  const members = ['shp-a', 'shp-b'];
  for (const id of members) {
    const m = await v5(id, { clean: false, properties: { sessionExpiryInterval: 300 } });
    await m.subscribeAsync(filter, { qos: 1 });
    await m.endAsync();
  }
  await waitFor(() => members.every((id) => b.node.sessions.state.get(id)?.connected === false), 'both members offline');
  const N = 40;
  for (let i = 0; i < N; i++) await pub.publishAsync('shp/t', String(i), { qos: 1 });
  await pub.publishAsync('shp/t', 'qos0', { qos: 0 });
  // Each comes back and gets what was kept for it; together, every QoS 1 message once.
  const taken: string[][] = [];
  for (const id of members) {
    const got: string[] = [];
    taken.push(got);
    // The handler is on before the CONNACK: the kept messages follow it at once.
    const m = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId: id, protocolVersion: 5, reconnectPeriod: 0, clean: false, properties: { sessionExpiryInterval: 300 } });
    clients.push(m);
    m.on('message', (_t, payload) => got.push(payload.toString()));
    await new Promise((resolve) => m.once('connect', resolve));
  }
  await waitFor(() => taken.flat().length >= N, `every message at one member (${taken.flat().length} of ${N})`);
  expect(taken.every((t) => t.length > 0)).toBe(true); // spread over both, round robin
  // Sentinel: now that members are connected, a new message goes live to one of them, and nothing else comes.
  await pub.publishAsync('shp/t', 'sentinel', { qos: 1 });
  await waitFor(() => taken.flat().includes('sentinel'), 'the sentinel');
  expectExactlyOnce([taken.flat().filter((t) => t !== 'sentinel')], N);
});
