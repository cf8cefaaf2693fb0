import mqtt from 'mqtt';
import { IConnackPacket } from 'mqtt-packet';
import { startBroker, TestBroker } from '../helpers/broker';
import { connectBytes } from '../helpers/packets';
import { RawClient, sleep } from '../helpers/rawClient';

let broker: TestBroker;
let port: number;

beforeAll(async () => {
  broker = await startBroker({ mqtt: { connectTimeoutMs: 1000 } });
  port = broker.ports.tcp!;
});

afterAll(async () => {
  await broker.stop();
  broker.cleanup();
});

async function raw(): Promise<RawClient> {
  return RawClient.connect(port);
}

describe('CONNECT', () => {
  test('[MQTT-3.2.2-4] an MQTT 3.1.1 CONNECT is accepted with return code 0', async () => {
    const c = await raw();
    const ack = await c.handshake('accept-1');
    expect(ack.returnCode).toBe(0);
    expect(ack.sessionPresent).toBe(false);
    c.destroy();
  });

  test('an MQTT 3.1 (MQIsdp, level 3) CONNECT is accepted', async () => {
    const c = await raw();
    c.send(connectBytes({ name: 'MQIsdp', level: 3, clientId: 'v31-client' }));
    const ack = await c.nextCmd<IConnackPacket>('connack');
    expect(ack.returnCode).toBe(0);
    c.destroy();
  });

  test('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and the connection closes', async () => {
    for (const [name, level] of [
      ['MQTT', 6],
      ['MQTT', 3],
      ['MQIsdp', 4],
    ] as const) {
      const c = await raw();
      c.send(connectBytes({ name, level, clientId: `bad-level-${level}` }));
      const ack = await c.nextCmd<IConnackPacket>('connack');
      expect(ack.returnCode).toBe(1);
      expect(await c.waitClosed()).toBe(true);
    }
  });

  test('[MQTT-3.1.2-2] MQTT 5 is accepted: a v5 CONNACK with reason code 0 and properties', async () => {
    const c = await RawClient.connect(broker.ports.tcp!, '127.0.0.1', 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'v5-client', properties: {} } as never);
    const ack = await c.nextCmd<IConnackPacket>('connack');
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.topicAliasMaximum).toBe(16);
    c.destroy();
  });

  test('[MQTT-3.1.2-1] a wrong protocol name closes the connection without CONNACK', async () => {
    const c = await raw();
    c.send(connectBytes({ name: 'hj', level: 4 }));
    expect(await c.waitClosed()).toBe(true);
    expect(c.packets).toEqual([]);
  });

  test('[MQTT-3.1.2-3] a set reserved connect flag closes the connection', async () => {
    const c = await raw();
    c.send(connectBytes({ flags: 0x03 }));
    expect(await c.waitClosed()).toBe(true);
    expect(c.packets.filter((p) => p.cmd === 'connack')).toEqual([]);
  });

  test('[MQTT-3.1.3-8] a zero-length client id without clean session gets CONNACK 0x02', async () => {
    const c = await raw();
    c.send(connectBytes({ clientId: '', flags: 0x00 }));
    const ack = await c.nextCmd<IConnackPacket>('connack');
    expect(ack.returnCode).toBe(2);
    expect(await c.waitClosed()).toBe(true);
  });

  test('[MQTT-3.1.3-6] a zero-length client id with clean session is accepted with an assigned id', async () => {
    const a = await mqtt.connectAsync(broker.url, { clientId: '', clean: true });
    const b = await mqtt.connectAsync(broker.url, { clientId: '', clean: true });
    // Two such clients must not take each other over: both stay connected and work.
    const got: string[] = [];
    b.on('message', (t) => got.push(t));
    await b.subscribeAsync('zero/len', { qos: 1 });
    await a.publishAsync('zero/len', 'x', { qos: 1 });
    await waitUntil(() => got.length === 1);
    expect(a.connected && b.connected).toBe(true);
    await a.endAsync();
    await b.endAsync();
  });

  test('MQTT 3.1 needs a client id of 1 to 23 characters (CONNACK 0x02 otherwise)', async () => {
    for (const clientId of ['', 'x'.repeat(24)]) {
      const c = await raw();
      c.send(connectBytes({ name: 'MQIsdp', level: 3, clientId }));
      const ack = await c.nextCmd<IConnackPacket>('connack');
      expect(ack.returnCode).toBe(2);
      expect(await c.waitClosed()).toBe(true);
    }
  });

  test('MQTT 3.1.1 accepts client ids longer than 23 characters', async () => {
    const c = await raw();
    const ack = await c.handshake('a-rather-long-client-identifier-of-many-characters');
    expect(ack.returnCode).toBe(0);
    c.destroy();
  });

  test('[MQTT-3.1.2-22] a password without a user name closes the connection', async () => {
    const c = await raw();
    c.send(connectBytes({ flags: 0x42, password: Buffer.from('secret') }));
    expect(await c.waitClosed()).toBe(true);
    expect(c.packets).toEqual([]);
  });

  test('[MQTT-3.1.2-11..14] will flags must agree: will QoS without the will flag closes', async () => {
    const c = await raw();
    c.send(connectBytes({ flags: 0x0a }));
    expect(await c.waitClosed()).toBe(true);
  });

  test('a will topic with a wildcard closes the connection', async () => {
    const c = await raw();
    c.send(connectBytes({ flags: 0x06, willTopic: 'a/#', willPayload: Buffer.from('x') }));
    expect(await c.waitClosed()).toBe(true);
  });

  test('CONNECT with trailing bytes is malformed and closes the connection', async () => {
    const c = await raw();
    c.send(connectBytes({ trailing: Buffer.from([1, 2, 3]) }));
    expect(await c.waitClosed()).toBe(true);
  });

  test('[MQTT-3.1.0-1] a packet before CONNECT closes the connection', async () => {
    const c = await raw();
    c.send({ cmd: 'pingreq' });
    expect(await c.waitClosed()).toBe(true);
    expect(c.packets).toEqual([]);
  });

  test('[MQTT-3.1.0-2] a second CONNECT closes the connection', async () => {
    const c = await raw();
    await c.handshake('second-connect');
    c.send(connectBytes({ clientId: 'second-connect' }));
    expect(await c.waitClosed()).toBe(true);
  });

  test('a client that sends no CONNECT is closed after mqtt.connectTimeoutMs', async () => {
    const c = await raw();
    expect(await c.waitClosed(4000)).toBe(true);
  });

  test('packets pipelined right behind CONNECT are handled after the CONNACK', async () => {
    const c = await raw();
    c.send(Buffer.concat([connectBytes({ clientId: 'pipeliner' }), Buffer.from([0xc0, 0x00])]));
    const ack = await c.nextCmd<IConnackPacket>('connack');
    expect(ack.returnCode).toBe(0);
    await c.nextCmd('pingresp');
    expect(c.packets.length).toBe(0);
    c.destroy();
  });

  test('[MQTT-3.2.2-1..3] session present is 0 for clean sessions and 1 when a persistent session resumes', async () => {
    const c1 = await raw();
    expect((await c1.handshake('present', { clean: false })).sessionPresent).toBe(false);
    c1.send({ cmd: 'disconnect' });
    await c1.waitClosed();
    const c2 = await raw();
    expect((await c2.handshake('present', { clean: false })).sessionPresent).toBe(true);
    c2.send({ cmd: 'disconnect' });
    await c2.waitClosed();
    const c3 = await raw();
    // [MQTT-3.2.2-1] clean session: session present is 0, and the old session is discarded.
    expect((await c3.handshake('present', { clean: true })).sessionPresent).toBe(false);
    c3.send({ cmd: 'disconnect' });
    await c3.waitClosed();
    const c4 = await raw();
    expect((await c4.handshake('present', { clean: false })).sessionPresent).toBe(false);
    c4.destroy();
  });

  test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', async () => {
    const c = await raw();
    await c.handshake('pinger');
    c.send({ cmd: 'pingreq' });
    await c.nextCmd('pingresp');
    c.destroy();
  });

  test('[MQTT-3.1.4-2] a second connection with the same client id takes over the first', async () => {
    const first = await raw();
    await first.handshake('takeover-me');
    const second = await raw();
    const ack = await second.handshake('takeover-me');
    expect(ack.returnCode).toBe(0);
    expect(await first.waitClosed()).toBe(true);
    await sleep(50);
    expect(second.closed).toBe(false);
    second.destroy();
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}
