/** The channel state machine without any I/O: packets and ticks in, effects out. */
import { IPublishPacket, Packet } from 'mqtt-packet';
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import { Channel, ChannelContext } from '../../src/channel/Channel';
import { channelContext } from '../helpers/channelContext';
import { Effect } from '../../src/channel/effects';
import { defaultConfig } from '../../src/config';
import { DisconnectReason, MessageSource } from '../../src/events/types';

let now = 1_000_000;
const ctx: ChannelContext = channelContext({ settings: { ...defaultConfig().mqtt, maxInflight: 2 }, now: () => now, position: () => [10] });

const forbidSubscribing = (filter: string) => new ConnectionAcl([{ allow: false, publish: false, subscribe: true, filter }], { defaultAllow: true, sysReadableByAll: true }, false);

function connected(clientId = 'c1', extra: Record<string, unknown> = {}): Channel {
  const ch = new Channel(ctx, `n1/${clientId}`, '127.0.0.1:1');
  const e1 = ch.handle({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 10, clientId, ...extra } as Packet);
  expect(e1.map((e) => e.type)).toEqual(['authenticate']);
  expect(ch.authenticated({ allowed: true, acl: ConnectionAcl.allowAll(), identity: { clientId, username: null, ip: '127.0.0.1', groups: [], superuser: false } }).map((e) => e.type)).toEqual(['open-session']);
  const e3 = ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null });
  expect(e3[0]).toEqual({ type: 'connack', refusal: null, sessionPresent: false });
  return ch;
}

const types = (effects: Effect[]) => effects.map((e) => (e.type === 'ack' ? `send:${e.kind}` : ['publish', 'connack', 'suback', 'unsuback', 'pingresp'].includes(e.type) ? `send:${e.type}` : e.type));

describe('Channel', () => {
  test('[MQTT-3.1.0-1] anything before CONNECT closes without events', () => {
    const ch = new Channel(ctx, 'x', 'r');
    expect(types(ch.handle({ cmd: 'pingreq' }))).toEqual(['close']);
    expect(ch.state).toBe('closed');
  });

  test('a refused authentication sends its CONNACK code and closes', () => {
    const ch = new Channel(ctx, 'x', 'r');
    ch.handle({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c' } as Packet);
    const effects = ch.authenticated({ allowed: false, refusal: 'bad-credentials' });
    expect(effects[0]).toEqual({ type: 'connack', refusal: 'bad-credentials', sessionPresent: false });
    expect(types(effects)).toEqual(['send:connack', 'close']);
  });

  test('[MQTT-3.1.3-6] an empty client id with clean session gets an assigned id', () => {
    const ch = connected('');
    expect(ch.clientId).toBe('auto-1');
  });

  test('QoS 1 PUBLISH: appended, then PUBACK once durable', () => {
    const ch = connected();
    const [append] = ch.handle({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: 5 });
    expect(append.type).toBe('append');
    if (append.type !== 'append') throw new Error();
    expect(append.events[0]).toMatchObject({ type: 'message.published', topic: 'a', qos: 1, publisherId: 'c1', packetId: 5, timestamp: now });
    expect(append.then).toEqual([{ type: 'ack', kind: 'puback', packetId: 5 }]);
  });

  test('QoS 2 PUBLISH is recorded with its PUBREC; a resend is acknowledged but not published again', () => {
    const ch = connected();
    const p: IPublishPacket = { cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, messageId: 9 };
    const [first] = ch.handle(p);
    if (first.type !== 'append') throw new Error();
    expect(first.events.map((e) => e.type)).toEqual(['message.published', 'message.acknowledged']);
    const [again] = ch.handle({ ...p, dup: true });
    if (again.type !== 'append') throw new Error();
    expect(again.events).toEqual([]);
    expect(again.then).toEqual([{ type: 'ack', kind: 'pubrec', packetId: 9 }]);
  });

  test('SUBSCRIBE routes at once, SUBACK after the log, retained after SUBACK, 0x80 for refused filters', () => {
    const ch = connected();
    ch.rulesReloaded(forbidSubscribing('forbidden'));
    const effects = ch.handle({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#', qos: 2 }, { topic: 'forbidden', qos: 1 }] });
    expect(types(effects)).toEqual(['route-add', 'append']);
    const append = effects[1];
    if (append.type !== 'append') throw new Error();
    expect(append.events.map((e) => e.type)).toEqual(['access.decided', 'client.subscribed']);
    expect(append.events[0]).toMatchObject({ action: 'subscribe', topic: 'forbidden', allowed: false });
    expect(append.then![0]).toEqual({ type: 'suback', packetId: 3, granted: [2, 0x80] });
    expect(append.then![1]).toEqual({ type: 'send-retained', subscriptions: [{ filter: 'a/#', qos: 2 }] });
  });

  test('the in-flight window holds QoS 1 deliveries until PUBACK; QoS 2 is sent only once recorded', () => {
    const ch = connected();
    const d = (offset: number, qos: 0 | 1 | 2) => ({ topic: 't', payload: Buffer.from(String(offset)), qos, retain: false, ref: { source: MessageSource.Messages, partition: 0, offset } });
    expect(types(ch.deliver(d(1, 1)))).toEqual(['send:publish', 'append']); // QoS 1: recorded alongside, bytes first
    expect(types(ch.deliver(d(2, 2)))).toEqual(['append']); // the PUBLISH waits in `then`
    expect(types(ch.deliver(d(3, 1)))).toEqual([]); // window of 2 is full
    expect(types(ch.deliver(d(4, 0)))).toEqual([]); // FIFO: QoS 0 waits behind it
    const afterAck = ch.handle({ cmd: 'puback', messageId: 1 });
    expect(types(afterAck)).toEqual(['append', 'send:publish', 'append', 'send:publish']);
  });

  test('[MQTT-3.1.2-24] keepalive expiry publishes the will and records the disconnect', () => {
    const ch = connected('k', { will: { topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: false } });
    expect(ch.tick(now + 15_000)).toEqual([]);
    const effects = ch.tick(now + 15_001);
    expect(types(effects)).toEqual(['append', 'shared-release', 'close']);
    const append = effects[0];
    if (append.type !== 'append') throw new Error();
    expect(append.events.map((e) => e.type)).toEqual(['message.published', 'client.disconnected']);
    expect(append.events[1]).toMatchObject({ reason: DisconnectReason.KeepaliveTimeout, willPublished: true, servedUpTo: [10] });
  });

  test('[MQTT-3.14.4-3] DISCONNECT discards the will', () => {
    const ch = connected('d', { will: { topic: 'w', payload: Buffer.from('bye'), qos: 0, retain: false } });
    const [append] = ch.handle({ cmd: 'disconnect' });
    if (append.type !== 'append') throw new Error();
    expect(append.events.map((e) => e.type)).toEqual(['client.disconnected']);
    expect(ch.connectionLost()).toEqual([]);
  });

  test('the served position at disconnect is pulled back to the first undelivered message', () => {
    const ch = connected();
    const d = (offset: number) => ({ topic: 't', payload: Buffer.alloc(0), qos: 1 as const, retain: false, ref: { source: MessageSource.Messages, partition: 0, offset } });
    ch.deliver(d(3));
    ch.deliver(d(4));
    ch.deliver(d(7)); // queued behind the full window
    const [append] = ch.connectionLost();
    if (append.type !== 'append') throw new Error();
    expect(append.events.at(-1)).toMatchObject({ type: 'client.disconnected', servedUpTo: [7] });
  });
});
