import { IPublishPacket } from 'mqtt-packet';
import { brokerSuite, collect } from '../helpers/suite';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';

const suite = brokerSuite();
const client = suite.client;

describe('publish and subscribe', () => {
  test.each([0, 1, 2] as const)('QoS %i end to end, both directions at that QoS', async (qos) => {
    const sub = await client(`sub-q${qos}`);
    const got = collect(sub);
    const granted = await sub.subscribeAsync(`q/${qos}`, { qos });
    expect(granted[0].qos).toBe(qos);
    const pub = await client(`pub-q${qos}`);
    for (let i = 0; i < 20; i++) await pub.publishAsync(`q/${qos}`, `m${i}`, { qos });
    await waitFor(() => got.length === 20, 'all messages');
    expect(got.map((g) => g.payload)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(got.every((g) => g.qos === qos && !g.retain)).toBe(true);
  });

  test('[MQTT-3.8.4-6] delivery QoS is the lower of the publish QoS and the granted QoS', async () => {
    const sub = await client('downgrade');
    const got = collect(sub);
    await sub.subscribeAsync('dg/q1', { qos: 1 });
    await sub.subscribeAsync('dg/q0', { qos: 0 });
    const pub = await client('downgrade-pub');
    await pub.publishAsync('dg/q1', 'two', { qos: 2 });
    await pub.publishAsync('dg/q0', 'two', { qos: 2 });
    await pub.publishAsync('dg/q1', 'zero', { qos: 0 });
    await waitFor(() => got.length === 3, 'three messages');
    const byKey = Object.fromEntries(got.map((g) => [`${g.topic}:${g.payload}`, g.qos]));
    expect(byKey).toEqual({ 'dg/q1:two': 1, 'dg/q0:two': 0, 'dg/q1:zero': 0 });
  });

  test('[MQTT-4.7.1-2, MQTT-4.7.1-3] wildcard subscriptions match as the spec says', async () => {
    const sub = await client('wild');
    const got = collect(sub);
    await sub.subscribeAsync(['w/+/c', 'w/a/#', '+/x'], { qos: 1 });
    const pub = await client('wild-pub');
    for (const t of ['w/b/c', 'w/a', 'w/a/b/c', 'w/b/d', 'y/x', 'w/b/c/d', 'x']) await pub.publishAsync(t, t, { qos: 1 });
    await pub.publishAsync('done', 'd', { qos: 1 });
    await sub.subscribeAsync('done', { qos: 1 });
    await pub.publishAsync('done', 'd', { qos: 1 });
    await waitFor(() => got.some((g) => g.topic === 'done'), 'sentinel');
    expect(got.filter((g) => g.topic !== 'done').map((g) => g.topic).sort()).toEqual(['w/a', 'w/a/b/c', 'w/b/c', 'y/x'].sort());
  });

  test('[MQTT-4.7.2-1] filters starting with a wildcard do not match $ topics', async () => {
    const sub = await client('dollar');
    const got = collect(sub);
    await sub.subscribeAsync(['#', '+/B'], { qos: 1 });
    const sys = await client('dollar-sys');
    const sysGot = collect(sys);
    await sys.subscribeAsync('$TopicA/#', { qos: 1 });
    const pub = await client('dollar-pub');
    await pub.publishAsync('$TopicA/B', 'hidden', { qos: 1 });
    await pub.publishAsync('TopicA/B', 'visible', { qos: 1 });
    await waitFor(() => sysGot.length === 1, '$ subscriber');
    await waitFor(() => got.some((g) => g.payload === 'visible'), 'visible');
    await sleep(100);
    expect(got.map((g) => g.topic)).not.toContain('$TopicA/B');
    expect(sysGot[0].topic).toBe('$TopicA/B');
  });

  test('overlapping subscriptions deliver one copy at the highest granted QoS', async () => {
    const sub = await client('overlap');
    const got = collect(sub);
    await sub.subscribeAsync({ 'TopicA/#': { qos: 2 }, 'TopicA/+': { qos: 1 }, '#': { qos: 0 } });
    const pub = await client('overlap-pub');
    await pub.publishAsync('TopicA/C', 'overlapping topic filters', { qos: 2 });
    await waitFor(() => got.length >= 1, 'delivery');
    await sleep(200);
    expect(got).toHaveLength(1);
    expect(got[0].qos).toBe(2);
  });

  test('[MQTT-4.6.0-5] messages on one topic arrive in publish order, interleaved publishers kept apart', async () => {
    const sub = await client('order');
    const got = collect(sub);
    await sub.subscribeAsync('ord/#', { qos: 1 });
    const a = await client('order-a');
    const b = await client('order-b');
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 200; i++) {
      sends.push(a.publishAsync('ord/a', String(i), { qos: 1 }));
      sends.push(b.publishAsync('ord/b', String(i), { qos: i % 2 ? 1 : 0 }));
    }
    await Promise.all(sends);
    await waitFor(() => got.length === 400, '400 messages');
    const seq = (t: string) => got.filter((g) => g.topic === t).map((g) => Number(g.payload));
    expect(seq('ord/a')).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const bq1 = got.filter((g) => g.topic === 'ord/b' && g.qos === 1).map((g) => Number(g.payload));
    expect(bq1).toEqual(Array.from({ length: 100 }, (_, i) => 2 * i + 1));
  });

  test('unsubscribe stops delivery; UNSUBACK comes even for an unknown filter [MQTT-3.10.4-4, MQTT-3.10.4-5]', async () => {
    const sub = await client('unsub');
    const got = collect(sub);
    await sub.subscribeAsync('un/a', { qos: 1 });
    await sub.subscribeAsync('un/sentinel', { qos: 1 });
    await sub.unsubscribeAsync('un/a');
    await sub.unsubscribeAsync('never/subscribed');
    const pub = await client('unsub-pub');
    await pub.publishAsync('un/a', 'x', { qos: 1 });
    await pub.publishAsync('un/sentinel', 'after', { qos: 1 });
    await waitFor(() => got.length > 0, 'the sentinel');
    expect(got.map((g) => g.topic)).toEqual(['un/sentinel']);
  });

  test('[MQTT-3.8.4-3] re-subscribing replaces the QoS of the existing subscription', async () => {
    const sub = await client('resub');
    const got = collect(sub);
    await sub.subscribeAsync('rs/t', { qos: 2 });
    await sub.subscribeAsync('rs/t', { qos: 0 });
    const pub = await client('resub-pub');
    await pub.publishAsync('rs/t', 'x', { qos: 2 });
    await waitFor(() => got.length === 1, 'delivery');
    await sleep(100);
    expect(got).toHaveLength(1);
    expect(got[0].qos).toBe(0);
  });

  test('[MQTT-4.3.3-2] a resent QoS 2 PUBLISH before PUBREL is not delivered twice', async () => {
    const sub = await client('q2dedup-sub');
    const got = collect(sub);
    await sub.subscribeAsync('dedup/t', { qos: 2 });
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    await raw.handshake('q2dedup-raw');
    const publish: IPublishPacket = { cmd: 'publish', topic: 'dedup/t', payload: Buffer.from('once'), qos: 2, retain: false, dup: false, messageId: 7 };
    raw.send(publish);
    await raw.nextCmd('pubrec');
    raw.send({ ...publish, dup: true });
    await raw.nextCmd('pubrec');
    raw.send({ cmd: 'pubrel', messageId: 7 });
    await raw.nextCmd('pubcomp');
    // After PUBCOMP the id is free again: a new message with id 7 is a new message.
    raw.send({ ...publish, payload: Buffer.from('twice') });
    await raw.nextCmd('pubrec');
    raw.send({ cmd: 'pubrel', messageId: 7 });
    await raw.nextCmd('pubcomp');
    await waitFor(() => got.length === 2, 'two messages');
    await sleep(100);
    expect(got.map((g) => g.payload)).toEqual(['once', 'twice']);
    raw.destroy();
  });

  test('a PUBREL for an unknown packet id still gets PUBCOMP', async () => {
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    await raw.handshake('stray-pubrel');
    raw.send({ cmd: 'pubrel', messageId: 99 });
    const comp = await raw.nextCmd('pubcomp');
    expect(comp.messageId).toBe(99);
    raw.destroy();
  });

  test('[MQTT-4.6.0-2] PUBACKs are sent in the order the PUBLISH packets arrived', async () => {
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    await raw.handshake('ack-order');
    for (let id = 1; id <= 50; id++) {
      raw.send({ cmd: 'publish', topic: `ao/${id % 3}`, payload: Buffer.from(String(id)), qos: 1, retain: false, dup: false, messageId: id });
    }
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) ids.push((await raw.nextCmd('puback')).messageId!);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    raw.destroy();
  });

  test('outbound QoS 2 follows PUBLISH, PUBREC, PUBREL, PUBCOMP with the broker packet id', async () => {
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    await raw.handshake('q2-out');
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2out/t', qos: 2 }] });
    await raw.nextCmd('suback');
    const pub = await client('q2-out-pub');
    await pub.publishAsync('q2out/t', 'x', { qos: 2 });
    const p = await raw.nextCmd<IPublishPacket>('publish');
    expect(p.qos).toBe(2);
    expect(p.dup).toBe(false);
    raw.send({ cmd: 'pubrec', messageId: p.messageId });
    const rel = await raw.nextCmd('pubrel');
    expect(rel.messageId).toBe(p.messageId);
    raw.send({ cmd: 'pubcomp', messageId: p.messageId });
    raw.destroy();
  });
});
