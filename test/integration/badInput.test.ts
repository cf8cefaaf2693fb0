/**
 * Bad input closes only the offending connection, per the spec, and never
 * disturbs other clients: a steady QoS 1 stream between two healthy clients runs
 * through every case and must arrive complete and in order.
 */
import mqtt, { MqttClient } from 'mqtt';
import { startBroker, TestBroker } from '../helpers/broker';
import { connectBytes, frame, publishBytes, subscribeBytes } from '../helpers/packets';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';
import { IPublishPacket } from 'mqtt-packet';

let broker: TestBroker;
let healthySub: MqttClient;
let healthyPub: MqttClient;
const received: number[] = [];
let sent = 0;
let pumping = true;
let pump: Promise<void>;

beforeAll(async () => {
  broker = await startBroker({ mqtt: { maxPacketSize: 4096 } });
  healthySub = await mqtt.connectAsync(broker.url, { clientId: 'healthy-sub', reconnectPeriod: 0 });
  healthyPub = await mqtt.connectAsync(broker.url, { clientId: 'healthy-pub', reconnectPeriod: 0 });
  healthySub.on('message', (_t, p) => received.push(Number(p.toString())));
  await healthySub.subscribeAsync('healthy/stream', { qos: 1 });
  pump = (async () => {
    while (pumping) {
      await healthyPub.publishAsync('healthy/stream', String(sent++), { qos: 1 });
      await sleep(2);
    }
  })();
});

afterAll(async () => {
  pumping = false;
  await pump;
  await waitFor(() => received.length === sent, 'the healthy stream to drain');
  await healthySub.endAsync();
  await healthyPub.endAsync();
  await broker.stop();
  broker.cleanup();
});

async function connected(clientId: string): Promise<RawClient> {
  const c = await RawClient.connect(broker.ports.tcp!);
  await c.handshake(clientId);
  return c;
}

async function expectClosed(c: RawClient): Promise<void> {
  expect(await c.waitClosed(3000)).toBe(true);
}

describe('bad input', () => {
  test('a remaining length of more than 4 bytes is malformed [MQTT-2.2.3]', async () => {
    const c = await connected('bad-length');
    c.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await expectClosed(c);
  });

  test('a packet larger than mqtt.maxPacketSize closes the connection before its body is read', async () => {
    const c = await connected('too-big');
    // Only the header is sent: the broker refuses on the declared size.
    c.send(Buffer.from([0x30, 0x80, 0x80, 0x04]));
    await expectClosed(c);
  });

  test('[MQTT-1.5.3-1] a topic that is not valid UTF-8 closes the connection', async () => {
    const c = await connected('bad-utf8');
    c.send(publishBytes(Buffer.from([0x61, 0x2f, 0xc3, 0x28]), 'x', 1, 1));
    await expectClosed(c);
    expect(c.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
  });

  test('[MQTT-1.5.3-1] a topic filter that is not valid UTF-8 closes the connection', async () => {
    const c = await connected('bad-utf8-filter');
    c.send(subscribeBytes(1, [[Buffer.from([0xed, 0xa0, 0x80]), 0]]));
    await expectClosed(c);
  });

  test('[MQTT-1.5.3-2] U+0000 in a topic closes the connection', async () => {
    const c = await connected('nul-topic');
    c.send(publishBytes('a\u0000b', 'x', 0));
    await expectClosed(c);
  });

  test('[MQTT-3.3.2-2] a wildcard in a PUBLISH topic closes the connection', async () => {
    for (const topic of ['a/+', 'a/#', '#']) {
      const c = await connected(`wild-pub-${topic.length}`);
      c.send(publishBytes(topic, 'x', 1, 1));
      await expectClosed(c);
    }
  });

  test('[MQTT-4.7.3-1] an empty PUBLISH topic closes the connection', async () => {
    const c = await connected('empty-topic');
    c.send(publishBytes('', 'x', 0));
    await expectClosed(c);
  });

  test('[MQTT-3.3.1-4] PUBLISH with both QoS bits set closes the connection', async () => {
    const c = await connected('qos3');
    c.send(frame(0x36, Buffer.from([0, 1, 0x61, 0, 1])));
    await expectClosed(c);
  });

  test('[MQTT-2.3.1-1] a QoS 1 PUBLISH with packet id 0 closes the connection', async () => {
    const c = await connected('id0');
    c.send(publishBytes('a', 'x', 1, 0));
    await expectClosed(c);
  });

  test('[MQTT-3.8.1-1] SUBSCRIBE with wrong header flags closes the connection', async () => {
    const c = await connected('sub-flags');
    c.send(subscribeBytes(1, [['a', 0]], 0x00));
    await expectClosed(c);
  });

  test('[MQTT-3.8.3-3] SUBSCRIBE without filters closes the connection', async () => {
    const c = await connected('sub-empty');
    c.send(frame(0x82, Buffer.from([0, 1])));
    await expectClosed(c);
  });

  test('[MQTT-3.8.3-4] a subscription QoS of 3 closes the connection', async () => {
    const c = await connected('sub-qos3');
    c.send(subscribeBytes(1, [['a', 3]]));
    await expectClosed(c);
  });

  test('[MQTT-4.7.1-2] an invalid topic filter closes the connection (as Mosquitto)', async () => {
    const c = await connected('bad-filter');
    c.send(subscribeBytes(1, [['a/#/b', 0]]));
    await expectClosed(c);
  });

  test('[MQTT-2.2.2-2] PUBREL with wrong header flags closes the connection', async () => {
    const c = await connected('pubrel-flags');
    c.send(frame(0x60, Buffer.from([0, 1])));
    await expectClosed(c);
  });

  test('a PUBACK with extra bytes is malformed', async () => {
    const c = await connected('long-puback');
    c.send(frame(0x40, Buffer.from([0, 1, 0])));
    await expectClosed(c);
  });

  test('[MQTT-2.2.1] packets only a server sends (CONNACK, SUBACK, PINGRESP) and reserved types close the connection', async () => {
    for (const bytes of [
      Buffer.from([0x20, 0x02, 0x00, 0x00]),
      Buffer.from([0x90, 0x03, 0x00, 0x01, 0x00]),
      Buffer.from([0xd0, 0x00]),
      Buffer.from([0x00, 0x00]),
      Buffer.from([0xf0, 0x00]),
    ]) {
      const c = await connected(`server-only-${bytes[0]}`);
      c.send(bytes);
      await expectClosed(c);
    }
  });

  test('random garbage never crashes the broker', async () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 60; i++) {
      const c = await RawClient.connect(broker.ports.tcp!);
      if (i % 2) c.send(connectBytes({ clientId: `fuzz-${i}` }));
      const junk = Buffer.alloc(1 + Math.floor(rand() * 300));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rand() * 256);
      c.send(junk);
      await sleep(5);
      c.destroy();
    }
    const probe = await connected('after-fuzz');
    probe.send({ cmd: 'pingreq' });
    await probe.nextCmd('pingresp');
    probe.destroy();
  });

  test('a client that disappears mid-packet does not disturb anyone', async () => {
    const c = await connected('half-packet');
    c.send(publishBytes('healthy/stream', 'partial', 1, 5).subarray(0, 6));
    await sleep(20);
    c.destroy();
    await sleep(50);
    expect(broker.node.connectionCount).toBeGreaterThanOrEqual(2);
  });

  test('the healthy clients kept flowing through all of it', async () => {
    await waitFor(() => received.length >= 20, 'healthy traffic');
    const snapshot = received.slice();
    expect(snapshot).toEqual(Array.from({ length: snapshot.length }, (_, i) => i));
  });
});

describe('a client that stops reading', () => {
  test('nothing is lost and nothing piles up in the broker: once it reads again it gets every message, in order, from the log', async () => {
    const slow = await RawClient.connect(broker.ports.tcp!);
    await slow.handshake('slow-reader');
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] });
    await slow.nextCmd('suback');
    slow.socket.pause();
    const flooder = await mqtt.connectAsync(broker.url, { clientId: 'flooder', reconnectPeriod: 0 });
    const total = 6000;
    const chunk = Buffer.alloc(3000, 1); // 18 MB in all, twice the socket buffer bound
    for (let i = 0; i < total; i++) {
      chunk.writeUInt32BE(i, 0);
      flooder.publish('flood/x', Buffer.from(chunk), { qos: 0 });
      if (i % 500 === 0) await sleep(5);
    }
    await flooder.publishAsync('flood/x', 'last', { qos: 1 });
    await sleep(500);
    const droppedBefore = broker.node.stats.publishDropped;
    slow.socket.resume();
    await waitFor(() => slow.packets.filter((p) => p.cmd === 'publish').length >= total + 1, 'every message to the slow reader', 30_000);
    const got = slow.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect(got.slice(0, total).map((p) => (p.payload as Buffer).readUInt32BE(0))).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(got[total].payload.toString()).toBe('last');
    expect(broker.node.stats.publishDropped).toBe(droppedBefore);
    await flooder.endAsync();
    slow.destroy();
  });
});
