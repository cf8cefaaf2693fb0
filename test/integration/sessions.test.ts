import mqtt from 'mqtt';
import { IPublishPacket } from 'mqtt-packet';
import { brokerSuite } from '../helpers/suite';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';

const suite = brokerSuite({ mqtt: { maxQueuedMessages: 50, maxInflight: 5 } });
const client = suite.client;

async function raw(clientId: string, clean: boolean): Promise<RawClient> {
  const c = await RawClient.connect(suite.broker.ports.tcp!);
  const ack = await c.handshake(clientId, { clean });
  expect(ack.returnCode).toBe(0);
  return c;
}

async function disconnect(c: RawClient): Promise<void> {
  c.send({ cmd: 'disconnect' });
  await c.waitClosed();
}

const publish = (topic: string, payload: string, qos: 0 | 1 | 2, messageId?: number): IPublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(payload),
  qos,
  retain: false,
  dup: false,
  ...(qos > 0 ? { messageId } : {}),
});

describe('persistent sessions', () => {
  test('[MQTT-3.1.2-4, MQTT-3.1.2-5] subscriptions survive a reconnect and QoS 1/2 messages are queued while offline', async () => {
    const a = await raw('offline-a', false);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'off/+', qos: 2 }] });
    await a.nextCmd('suback');
    await disconnect(a);

    const pub = await client('offline-pub');
    await pub.publishAsync('off/0', 'qos 0', { qos: 0 });
    await pub.publishAsync('off/1', 'qos 1', { qos: 1 });
    await pub.publishAsync('off/2', 'qos 2', { qos: 2 });

    const back = await RawClient.connect(suite.broker.ports.tcp!);
    const ack = await back.handshake('offline-a', { clean: false });
    expect(ack.sessionPresent).toBe(true);
    const p1 = await back.nextCmd<IPublishPacket>('publish');
    const p2 = await back.nextCmd<IPublishPacket>('publish');
    expect([p1.payload.toString(), p1.qos]).toEqual(['qos 1', 1]);
    expect([p2.payload.toString(), p2.qos]).toEqual(['qos 2', 2]);
    back.send({ cmd: 'puback', messageId: p1.messageId });
    back.send({ cmd: 'pubrec', messageId: p2.messageId });
    await back.nextCmd('pubrel');
    back.send({ cmd: 'pubcomp', messageId: p2.messageId });
    // QoS 0 is not queued for offline sessions (Mosquitto's default): the next message is one published now,
    // and the subscription is still there: new messages flow without subscribing again.
    await pub.publishAsync('off/x', 'live', { qos: 1 });
    const live = await back.nextCmd<IPublishPacket>('publish');
    expect(live.payload.toString()).toBe('live');
    back.send({ cmd: 'puback', messageId: live.messageId });
    await disconnect(back);
  });

  test('[MQTT-4.4.0-1] unacknowledged QoS 1 and 2 messages are resent with DUP and the same packet ids on reconnect', async () => {
    const a = await raw('redeliver', false);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'redo/#', qos: 2 }] });
    await a.nextCmd('suback');
    const pub = await client('redeliver-pub');
    await pub.publishAsync('redo/1', 'one', { qos: 1 });
    await pub.publishAsync('redo/2', 'two', { qos: 2 });
    await pub.publishAsync('redo/3', 'three', { qos: 2 });
    const first = await a.nextCmd<IPublishPacket>('publish');
    const second = await a.nextCmd<IPublishPacket>('publish');
    const third = await a.nextCmd<IPublishPacket>('publish');
    // Acknowledge only the PUBREC of the third: it must come back as PUBREL, not as PUBLISH.
    a.send({ cmd: 'pubrec', messageId: third.messageId });
    await a.nextCmd('pubrel');
    a.destroy();
    await sleep(100);

    const b = await RawClient.connect(suite.broker.ports.tcp!);
    const ack = await b.handshake('redeliver', { clean: false });
    expect(ack.sessionPresent).toBe(true);
    const r1 = await b.nextCmd<IPublishPacket>('publish');
    const r2 = await b.nextCmd<IPublishPacket>('publish');
    const rel = await b.nextCmd('pubrel');
    expect([r1.messageId, r1.dup, r1.payload.toString(), r1.qos]).toEqual([first.messageId, true, 'one', 1]);
    expect([r2.messageId, r2.dup, r2.payload.toString(), r2.qos]).toEqual([second.messageId, true, 'two', 2]);
    expect(rel.messageId).toBe(third.messageId);
    b.send({ cmd: 'puback', messageId: r1.messageId });
    b.send({ cmd: 'pubrec', messageId: r2.messageId });
    await b.nextCmd('pubrel');
    b.send({ cmd: 'pubcomp', messageId: r2.messageId });
    b.send({ cmd: 'pubcomp', messageId: third.messageId });
    await disconnect(b);

    // Everything completed: a third connection gets nothing again.
    const c = await RawClient.connect(suite.broker.ports.tcp!);
    await c.handshake('redeliver', { clean: false });
    await pub.publishAsync('redo/sentinel', 'sentinel', { qos: 1 });
    const next = await c.nextCmd<IPublishPacket>('publish');
    expect([next.topic, next.dup]).toEqual(['redo/sentinel', false]);
    expect(c.packets.filter((p) => p.cmd === 'pubrel')).toEqual([]);
    c.send({ cmd: 'puback', messageId: next.messageId });
    await disconnect(c);
  });

  test('[MQTT-3.1.2-6] a clean session discards the previous session and its queue', async () => {
    const a = await raw('cleaner', false);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'clean/t', qos: 1 }] });
    await a.nextCmd('suback');
    await disconnect(a);
    const pub = await client('cleaner-pub');
    await pub.publishAsync('clean/t', 'queued', { qos: 1 });
    const b = await raw('cleaner', true);
    await sleep(200);
    expect(b.packets).toEqual([]);
    await disconnect(b);
    // And the subscription is gone too.
    const c = await raw('cleaner', false);
    await pub.publishAsync('clean/t', 'after', { qos: 1 });
    await sleep(200);
    expect(c.packets).toEqual([]);
    await disconnect(c);
  });

  test('the offline queue is the log: a backlog larger than mqtt.maxQueuedMessages is delivered whole, in order, none dropped', async () => {
    const a = await raw('bounded', false);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bound/t', qos: 1 }] });
    await a.nextCmd('suback');
    await disconnect(a);
    const droppedBefore = suite.broker.node.stats.publishDropped;
    const pub = await client('bounded-pub');
    for (let i = 0; i < 80; i++) await pub.publishAsync('bound/t', String(i), { qos: 1 });
    const b = await RawClient.connect(suite.broker.ports.tcp!);
    await b.handshake('bounded', { clean: false });
    const got: number[] = [];
    while (got.length < 80) {
      const p = await b.nextCmd<IPublishPacket>('publish');
      got.push(Number(p.payload.toString()));
      b.send({ cmd: 'puback', messageId: p.messageId });
    }
    // Read from the log in pages of at most the queue's bound (50 here), so memory stays bounded.
    expect(got).toEqual(Array.from({ length: 80 }, (_, i) => i));
    await pub.publishAsync('bound/t', 'sentinel', { qos: 1 });
    const last = await b.nextCmd<IPublishPacket>('publish');
    expect(last.payload.toString()).toBe('sentinel');
    expect(suite.broker.node.stats.publishDropped - droppedBefore).toBe(0);
    await disconnect(b);
  });

  test('the in-flight window holds back QoS 1 messages until acknowledged, without losing any', async () => {
    const a = await raw('window', true);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'win/t', qos: 1 }] });
    await a.nextCmd('suback');
    const pub = await client('window-pub');
    for (let i = 0; i < 12; i++) await pub.publishAsync('win/t', String(i), { qos: 1 });
    await sleep(200);
    const first = a.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect(first).toHaveLength(5); // maxInflight
    const got: number[] = [];
    while (got.length < 12) {
      const p = await a.nextCmd<IPublishPacket>('publish');
      got.push(Number(p.payload.toString()));
      a.send({ cmd: 'puback', messageId: p.messageId });
    }
    expect(got).toEqual(Array.from({ length: 12 }, (_, i) => i));
    await disconnect(a);
  });

  test('an online session whose queue overflows loses nothing: it reads the rest from the log, in order', async () => {
    const a = await raw('overflow', true);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'over/#', qos: 1 }] });
    await a.nextCmd('suback');
    const droppedBefore = suite.broker.node.stats.publishDropped;
    const pub = await client('overflow-pub');
    // 400 messages against a queue of 50 and a window of 5, while the subscriber does not acknowledge.
    await Promise.all(Array.from({ length: 400 }, (_, i) => pub.publishAsync(`over/${i % 3}`, String(i), { qos: i % 2 ? 1 : 0 })));
    const got: number[] = [];
    while (got.length < 400) {
      const p = await a.nextCmd<IPublishPacket>('publish', 10_000);
      got.push(Number(p.payload.toString()));
      if (p.qos === 1) a.send({ cmd: 'puback', messageId: p.messageId });
    }
    for (const t of [0, 1, 2]) {
      const seq = got.filter((i) => i % 3 === t);
      expect(seq).toEqual([...seq].sort((x, y) => x - y));
    }
    expect(new Set(got).size).toBe(400);
    expect(suite.broker.node.stats.publishDropped).toBe(droppedBefore);
    await disconnect(a);
  });

  test('a taken-over persistent session continues on the new connection with its subscriptions and in-flight messages', async () => {
    const a = await raw('moving', false);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'move/t', qos: 1 }] });
    await a.nextCmd('suback');
    const pub = await client('moving-pub');
    await pub.publishAsync('move/t', 'unacked', { qos: 1 });
    const p = await a.nextCmd<IPublishPacket>('publish');
    const b = await RawClient.connect(suite.broker.ports.tcp!);
    const ack = await b.handshake('moving', { clean: false });
    expect(ack.sessionPresent).toBe(true);
    expect(await a.waitClosed()).toBe(true);
    const again = await b.nextCmd<IPublishPacket>('publish');
    expect([again.messageId, again.dup, again.payload.toString()]).toEqual([p.messageId, true, 'unacked']);
    b.send({ cmd: 'puback', messageId: again.messageId });
    await pub.publishAsync('move/t', 'next', { qos: 1 });
    const next = await b.nextCmd<IPublishPacket>('publish');
    expect(next.payload.toString()).toBe('next');
    b.send({ cmd: 'puback', messageId: next.messageId });
    await disconnect(b);
  });

  test('Paho redelivery case: a paused persistent client gets both messages after reconnecting', async () => {
    const b = await raw('paho-redelivery', false);
    b.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'TopicA/#', qos: 2 }] });
    await b.nextCmd('suback');
    b.send(publish('TopicA/B', '', 1, 2));
    b.send(publish('TopicA/C', '', 2, 3));
    await b.nextCmd('puback');
    await b.nextCmd('pubrec');
    b.send({ cmd: 'pubrel', messageId: 3 });
    await b.nextCmd('pubcomp');
    await sleep(100);
    b.packets.length = 0; // "paused": never acknowledge what was delivered
    await disconnect(b);
    const again = await RawClient.connect(suite.broker.ports.tcp!);
    await again.handshake('paho-redelivery', { clean: false });
    const r1 = await again.nextCmd<IPublishPacket>('publish');
    const r2 = await again.nextCmd<IPublishPacket>('publish');
    expect([r1.topic, r2.topic]).toEqual(['TopicA/B', 'TopicA/C']);
    again.send({ cmd: 'puback', messageId: r1.messageId });
    again.send({ cmd: 'pubrec', messageId: r2.messageId });
    await again.nextCmd('pubrel');
    again.send({ cmd: 'pubcomp', messageId: r2.messageId });
    await disconnect(again);
  });

  test('mqtt.js persistent session: messages published while offline arrive after reconnect', async () => {
    const a = await client('mqttjs-persistent', { clean: false });
    await a.subscribeAsync('pers/#', { qos: 1 });
    await a.endAsync();
    suite.release(a);
    const pub = await client('mqttjs-persistent-pub');
    for (let i = 0; i < 10; i++) await pub.publishAsync(`pers/${i % 2}`, String(i), { qos: 1 });
    const got: string[] = [];
    const b = mqtt.connect(suite.broker.url, { clientId: 'mqttjs-persistent', clean: false, reconnectPeriod: 0 });
    b.on('message', (_t, payload) => got.push(payload.toString()));
    await waitFor(() => got.length === 10, 'queued messages');
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    await b.endAsync();
  });
});
