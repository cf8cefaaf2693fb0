import { IPublishPacket } from 'mqtt-packet';
import { brokerSuite, collect, Received } from '../helpers/suite';
import { connectBytes } from '../helpers/packets';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';

const suite = brokerSuite();
const client = suite.client;

describe('retained messages', () => {
  test('[MQTT-3.3.1-5, MQTT-3.3.1-6, MQTT-3.3.1-8] a retained message is sent to new subscribers with the retain flag', async () => {
    const pub = await client('ret-pub');
    await pub.publishAsync('ret/a', 'qos 0', { qos: 0, retain: true });
    await pub.publishAsync('ret/b', 'qos 1', { qos: 1, retain: true });
    await pub.publishAsync('ret/c', 'qos 2', { qos: 2, retain: true });
    await sleep(50);
    const sub = await client('ret-sub');
    const got = collect(sub);
    await sub.subscribeAsync('ret/+', { qos: 2 });
    await waitFor(() => got.length === 3, 'three retained');
    expect(got.sort((x, y) => x.topic.localeCompare(y.topic))).toEqual([
      { topic: 'ret/a', payload: 'qos 0', qos: 0, retain: true },
      { topic: 'ret/b', payload: 'qos 1', qos: 1, retain: true },
      { topic: 'ret/c', payload: 'qos 2', qos: 2, retain: true },
    ]);
  });

  test('[MQTT-3.3.1-9] a retained publish reaches existing subscribers with the retain flag cleared', async () => {
    const sub = await client('ret-live-sub');
    const got = collect(sub);
    await sub.subscribeAsync('retlive/t', { qos: 1 });
    const pub = await client('ret-live-pub');
    await pub.publishAsync('retlive/t', 'v', { qos: 1, retain: true });
    await waitFor(() => got.length === 1, 'live delivery');
    expect(got[0].retain).toBe(false);
  });

  test('[MQTT-3.3.1-7] a new retained message replaces the old one', async () => {
    const pub = await client('ret-replace');
    await pub.publishAsync('retrep/t', 'old', { qos: 1, retain: true });
    await pub.publishAsync('retrep/t', 'new', { qos: 1, retain: true });
    const sub = await client('ret-replace-sub');
    const got = collect(sub);
    await sub.subscribeAsync('retrep/t', { qos: 1 });
    await waitFor(() => got.length === 1, 'retained');
    await sleep(100);
    expect(got.map((g) => g.payload)).toEqual(['new']);
  });

  test('[MQTT-3.3.1-10, MQTT-3.3.1-11] an empty retained payload clears the topic and is still delivered live', async () => {
    const pub = await client('ret-clear');
    await pub.publishAsync('retclr/t', 'something', { qos: 1, retain: true });
    const live = await client('ret-clear-live');
    const liveGot = collect(live);
    await live.subscribeAsync('retclr/t', { qos: 1 });
    await waitFor(() => liveGot.length === 1, 'retained to live subscriber');
    await pub.publishAsync('retclr/t', '', { qos: 1, retain: true });
    await waitFor(() => liveGot.length === 2, 'empty message delivered live');
    expect(liveGot[1]).toEqual({ topic: 'retclr/t', payload: '', qos: 1, retain: false });
    const late = await client('ret-clear-late');
    const lateGot = collect(late);
    await late.subscribeAsync('retclr/#', { qos: 1 });
    // Retained messages come right after the SUBACK: a message published after it is the first one if there were none.
    await pub.publishAsync('retclr/sentinel', 'live', { qos: 1 });
    await waitFor(() => lateGot.length > 0, 'the sentinel');
    expect(lateGot.map((g) => g.topic)).toEqual(['retclr/sentinel']);
  });

  test('a retained message at QoS 2 is sent at the subscription QoS when lower', async () => {
    const pub = await client('ret-qos');
    await pub.publishAsync('retqos/t', 'x', { qos: 2, retain: true });
    const sub = await client('ret-qos-sub');
    const got = collect(sub);
    await sub.subscribeAsync('retqos/t', { qos: 1 });
    await waitFor(() => got.length === 1, 'retained');
    expect(got[0].qos).toBe(1);
    expect(got[0].retain).toBe(true);
  });
});

describe('will messages', () => {
  async function watcher(topic: string, id: string): Promise<Received[]> {
    const w = await client(id);
    const got = collect(w);
    await w.subscribeAsync(topic, { qos: 2 });
    return got;
  }

  test('[MQTT-3.1.2-8] the will is published when the connection drops without DISCONNECT', async () => {
    const got = await watcher('will/drop', 'will-watch-1');
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    raw.send(connectBytes({ clientId: 'will-dropper', flags: 0x02 | 0x04 | (1 << 3), willTopic: 'will/drop', willPayload: Buffer.from('gone') }));
    await raw.nextCmd('connack');
    raw.destroy();
    await waitFor(() => got.length === 1, 'will');
    expect(got[0]).toEqual({ topic: 'will/drop', payload: 'gone', qos: 1, retain: false });
  });

  test('[MQTT-3.14.4-3] no will after DISCONNECT', async () => {
    const got = await watcher('will/clean', 'will-watch-2');
    const c = await client('will-clean', { will: { topic: 'will/clean', payload: Buffer.from('x'), qos: 1, retain: false } });
    await c.endAsync();
    await waitFor(() => suite.broker.node.sessions.state.get('will-clean') === undefined, 'the disconnect to be recorded');
    const s = await client('will-clean-sentinel');
    await s.publishAsync('will/clean', 'sentinel', { qos: 1 });
    await waitFor(() => got.length > 0, 'the sentinel');
    expect(got.map((g) => g.payload)).toEqual(['sentinel']);
  });

  test('[MQTT-3.1.2-17] a will with retain set is kept as the retained message', async () => {
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    raw.send(connectBytes({ clientId: 'will-retain', flags: 0x02 | 0x04 | 0x20, willTopic: 'will/retained', willPayload: Buffer.from('last words') }));
    await raw.nextCmd('connack');
    raw.destroy();
    await sleep(200);
    const sub = await client('will-retain-sub');
    const got = collect(sub);
    await sub.subscribeAsync('will/retained', { qos: 1 });
    await waitFor(() => got.length === 1, 'retained will');
    expect(got[0]).toEqual({ topic: 'will/retained', payload: 'last words', qos: 0, retain: true });
  });

  test('[MQTT-3.1.2-24] keepalive: silence for 1.5 x keepalive closes the connection and publishes the will', async () => {
    const got = await watcher('will/keepalive', 'will-watch-3');
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    const t0 = Date.now();
    raw.send(connectBytes({ clientId: 'silent', keepalive: 1, flags: 0x02 | 0x04, willTopic: 'will/keepalive', willPayload: Buffer.from('keepalive expiry') }));
    await raw.nextCmd('connack');
    expect(await raw.waitClosed(5000)).toBe(true);
    const elapsed = Date.now() - t0;
    // 1.5 s at the earliest; the broker checks once a second.
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    await waitFor(() => got.length === 1, 'will after keepalive');
    expect(got[0].payload).toBe('keepalive expiry');
  });

  test('keepalive: PINGREQ within the period keeps the connection open', async () => {
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    raw.send(connectBytes({ clientId: 'pinging', keepalive: 1 }));
    await raw.nextCmd('connack');
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      raw.send({ cmd: 'pingreq' });
      await raw.nextCmd('pingresp');
    }
    expect(raw.closed).toBe(false);
    raw.destroy();
  });

  test('keepalive 0 disables the timeout', async () => {
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    raw.send(connectBytes({ clientId: 'no-keepalive', keepalive: 0 }));
    await raw.nextCmd('connack');
    await sleep(2500);
    expect(raw.closed).toBe(false);
    raw.send({ cmd: 'pingreq' });
    await raw.nextCmd('pingresp');
    raw.destroy();
  });

  test('no will on session takeover (as Mosquitto)', async () => {
    const got = await watcher('will/takeover', 'will-watch-4');
    const first = await RawClient.connect(suite.broker.ports.tcp!);
    first.send(connectBytes({ clientId: 'taken', flags: 0x02 | 0x04, willTopic: 'will/takeover', willPayload: Buffer.from('x') }));
    await first.nextCmd('connack');
    const second = await RawClient.connect(suite.broker.ports.tcp!);
    await second.handshake('taken');
    expect(await first.waitClosed()).toBe(true);
    second.send({ cmd: 'publish', topic: 'will/takeover', payload: Buffer.from('sentinel'), qos: 1, retain: false, dup: false, messageId: 1 });
    await second.nextCmd('puback');
    await waitFor(() => got.length > 0, 'the sentinel');
    expect(got.map((g) => g.payload)).toEqual(['sentinel']);
    second.destroy();
  });

  test('the will is published when the server closes the connection for a protocol violation', async () => {
    const got = await watcher('will/violation', 'will-watch-5');
    const raw = await RawClient.connect(suite.broker.ports.tcp!);
    raw.send(connectBytes({ clientId: 'violator', flags: 0x02 | 0x04, willTopic: 'will/violation', willPayload: Buffer.from('bye') }));
    await raw.nextCmd('connack');
    const bad: IPublishPacket = { cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false };
    raw.send(bad);
    expect(await raw.waitClosed()).toBe(true);
    await waitFor(() => got.length === 1, 'will after violation');
  });
});
