/**
 * MQTT 5 through real sockets with mqtt.js in v5 mode (raw packets for the
 * malformed cases): CONNACK properties, message properties end to end,
 * subscription options and identifiers, topic aliases, reason codes both ways,
 * message expiry, the client's maximum packet size, server DISCONNECT reasons,
 * and 3.1.1 and 5 clients on one topic. Absence is proven with a sentinel.
 */
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { IConnackPacket, IDisconnectPacket, IPubackPacket, IPublishPacket } from 'mqtt-packet';
import { join } from 'path';
import type { AppendRecord } from '../../src/log/EventLog';
import { FileEventLog } from '../../src/log/file/FileEventLog';
import { v5Connector } from '../helpers/v5Client';
import { startBroker, tempDir, TestBroker } from '../helpers/broker';
import { publishBytes } from '../helpers/packets';
import { RawClient, waitFor } from '../helpers/rawClient';

jest.setTimeout(30_000);

let b: TestBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  b = await startBroker({ mqtt: { sessionExpiryMs: 3_600_000 } });
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await b.stop();
  b.cleanup();
});

const v5 = v5Connector(() => b.ports.tcp!, clients);

type Got = { topic: string; payload: string; packet: IPublishPacket };
function collect(c: MqttClient): Got[] {
  const got: Got[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
  return got;
}
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

test('CONNACK says what the server offers; an empty client id gets one assigned [MQTT-3.2.2-16]', async () => {
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId: '', protocolVersion: 5, reconnectPeriod: 0, clean: true, properties: { sessionExpiryInterval: 999_999 } });
    clients.push(c);
    c.once('connect', resolve);
    c.once('error', reject);
  });
  const props = connack.properties!;
  expect(props.assignedClientIdentifier).toMatch(/^auto-/);
  expect(props).toMatchObject({ topicAliasMaximum: 16, receiveMaximum: 128, maximumPacketSize: 1048576, retainAvailable: true, wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: true, sharedSubscriptionAvailable: true });
  // The session expiry asked for is more than mqtt.sessionExpiryMs allows: the granted one is said.
  expect(props.sessionExpiryInterval).toBe(3600);
});

test('message properties pass end to end: user properties in order, content type, response topic, correlation data, payload format, remaining expiry', async () => {
  const sub = await v5('v5-props-sub');
  const got = collect(sub);
  await sub.subscribeAsync('v5/props/#', { qos: 1 });
  const pub = await v5('v5-props-pub');
  await pub.publishAsync('v5/props/a', 'body', {
    qos: 1,
    properties: { userProperties: { z: '1', a: ['2', '3'] }, contentType: 'text/plain', responseTopic: 'v5/reply', correlationData: Buffer.from('cid-1'), payloadFormatIndicator: true, messageExpiryInterval: 60 },
  });
  await until(() => got.length === 1);
  const p = got[0].packet.properties!;
  expect(p).toMatchObject({ contentType: 'text/plain', responseTopic: 'v5/reply', payloadFormatIndicator: true, userProperties: { z: '1', a: ['2', '3'] } });
  expect(Buffer.from(p.correlationData!).toString()).toBe('cid-1');
  expect(p.messageExpiryInterval).toBeGreaterThanOrEqual(59);
  expect(p.messageExpiryInterval).toBeLessThanOrEqual(60);
  // The log keeps them too: the session of a 3.1.1 subscriber gets the message without them.
  const v3 = await mqtt.connectAsync({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'v3-props', reconnectPeriod: 0 });
  clients.push(v3);
  const got3 = collect(v3);
  await v3.subscribeAsync('v5/props/#', { qos: 1 });
  await pub.publishAsync('v5/props/b', 'to both', { qos: 1, properties: { userProperties: { k: 'v' } } });
  await until(() => got3.length === 1 && got.length === 2);
  expect(got3[0].payload).toBe('to both');
  expect(got[1].packet.properties?.userProperties).toEqual({ k: 'v' });
});

test('a payload that says it is UTF-8 and is not: PUBACK 0x99 Payload format invalid [MQTT-3.3.2-4]', async () => {
  const pub = await v5('v5-pfi');
  const err = await pub.publishAsync('v5/pfi', Buffer.from([0xff, 0xfe]), { qos: 1, properties: { payloadFormatIndicator: true } }).then(
    () => null,
    (e: { code?: number }) => e,
  );
  expect(err?.code).toBe(0x99);
});

test('No Local: a client does not get its own messages back on that subscription [MQTT-3.8.3-3]', async () => {
  const c = await v5('v5-nl');
  const got = collect(c);
  await c.subscribeAsync('v5/nl', { qos: 1, nl: true });
  await c.subscribeAsync('v5/nl-sentinel', { qos: 1 });
  await c.publishAsync('v5/nl', 'own', { qos: 1 });
  await c.publishAsync('v5/nl-sentinel', 'end', { qos: 1 });
  await until(() => got.some((g) => g.topic === 'v5/nl-sentinel'));
  expect(got.map((g) => g.topic)).toEqual(['v5/nl-sentinel']);
  const other = await v5('v5-nl-other');
  await other.publishAsync('v5/nl', 'from another', { qos: 1 });
  await until(() => got.some((g) => g.payload === 'from another'));
});

test('Retain As Published keeps the retain flag of live messages; without it the flag is cleared [MQTT-3.3.1-12]', async () => {
  const rap = await v5('v5-rap');
  const plain = await v5('v5-norap');
  const gotRap = collect(rap);
  const gotPlain = collect(plain);
  await rap.subscribeAsync('v5/rap', { qos: 1, rap: true });
  await plain.subscribeAsync('v5/rap', { qos: 1 });
  const pub = await v5('v5-rap-pub');
  await pub.publishAsync('v5/rap', 'kept', { qos: 1, retain: true });
  await until(() => gotRap.length === 1 && gotPlain.length === 1);
  expect([gotRap[0].packet.retain, gotPlain[0].packet.retain]).toEqual([true, false]);
});

test('Retain Handling: 2 sends no retained messages, 1 only for a new subscription [MQTT-3.3.1-10, MQTT-3.3.1-11]', async () => {
  const pub = await v5('v5-rh-pub');
  await pub.publishAsync('v5/rh/a', 'retained', { qos: 1, retain: true });
  await pub.publishAsync('v5/rh-sentinel', 'sentinel', { qos: 1, retain: true });
  const c = await v5('v5-rh');
  const got = collect(c);
  await c.subscribeAsync('v5/rh/#', { qos: 1, rh: 2 });
  await c.subscribeAsync('v5/rh-sentinel', { qos: 1 });
  await until(() => got.length === 1);
  expect(got.map((g) => g.topic)).toEqual(['v5/rh-sentinel']);
  await c.unsubscribeAsync('v5/rh/#');
  await c.subscribeAsync('v5/rh/#', { qos: 1, rh: 1 }); // new again: retained sent
  await until(() => got.length === 2);
  await c.subscribeAsync('v5/rh/#', { qos: 1, rh: 1 }); // existing: none
  await c.unsubscribeAsync('v5/rh-sentinel');
  await c.subscribeAsync('v5/rh-sentinel', { qos: 1 });
  await until(() => got.length === 3);
  expect(got.map((g) => g.topic)).toEqual(['v5/rh-sentinel', 'v5/rh/a', 'v5/rh-sentinel']);
});

test('subscription identifiers come with the messages they matched, several for overlapping subscriptions [MQTT-3.3.4-3]', async () => {
  const c = await v5('v5-subid');
  const got = collect(c);
  await c.subscribeAsync('v5/id/#', { qos: 1, properties: { subscriptionIdentifier: 11 } });
  await c.subscribeAsync('v5/id/+', { qos: 0, properties: { subscriptionIdentifier: 22 } });
  const pub = await v5('v5-subid-pub');
  await pub.publishAsync('v5/id/x', 'm', { qos: 1 });
  await until(() => got.length === 1);
  const ids = got[0].packet.properties?.subscriptionIdentifier;
  expect((Array.isArray(ids) ? ids : [ids]).sort()).toEqual([11, 22]);
  expect(got[0].packet.qos).toBe(1); // one copy, at the highest QoS [MQTT-3.3.4-2]
});

test('UNSUBACK says which filters had no subscription (0x11) [MQTT-3.11.3-1]', async () => {
  const c = await v5('v5-unsub');
  await c.subscribeAsync('v5/unsub/a');
  const raw: Array<{ granted?: number[] }> = [];
  c.on('packetreceive', (p) => p.cmd === 'unsuback' && raw.push(p as { granted?: number[] }));
  await c.unsubscribeAsync(['v5/unsub/a', 'v5/unsub/none']);
  await until(() => raw.length === 1);
  expect(raw[0].granted).toEqual([0x00, 0x11]);
});

test('topic aliases set and used by the client reach subscribers under the real topic [MQTT-3.3.2-12]', async () => {
  const sub = await v5('v5-alias-sub');
  const got = collect(sub);
  await sub.subscribeAsync('v5/alias/#', { qos: 1 });
  const pub = await v5('v5-alias-pub');
  await pub.publishAsync('v5/alias/long/topic', 'first', { qos: 1, properties: { topicAlias: 5 } });
  await pub.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 5 } });
  await until(() => got.length === 2);
  expect(got.map((g) => `${g.topic}=${g.payload}`)).toEqual(['v5/alias/long/topic=first', 'v5/alias/long/topic=second']);
});

test('an expired message is not delivered to a session that comes back after its expiry [MQTT-3.3.2-5]', async () => {
  const c = await v5('v5-expiry', { clean: false, properties: { sessionExpiryInterval: 300 } });
  await c.subscribeAsync('v5/exp/#', { qos: 1 });
  await c.endAsync();
  const pub = await v5('v5-expiry-pub');
  await pub.publishAsync('v5/exp/short', 'gone', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('v5/exp/sentinel', 'kept', { qos: 1 });
  await new Promise((r) => setTimeout(r, 1200));
  // Listening before the CONNACK: the backlog may follow it at once.
  const back = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'v5-expiry', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } });
  clients.push(back);
  const got = collect(back);
  await until(() => got.some((g) => g.topic === 'v5/exp/sentinel'));
  expect(got.map((g) => g.topic)).toEqual(['v5/exp/sentinel']);
  expect(b.node.stats.dropsByReason.expired).toBeGreaterThanOrEqual(1);
});

test("a message larger than the client's maximum packet size is not sent to it, and counted [MQTT-3.1.2-25]", async () => {
  const c = await v5('v5-maxsize', { properties: { maximumPacketSize: 200 } });
  const got = collect(c);
  await c.subscribeAsync('v5/size/#', { qos: 1 });
  const pub = await v5('v5-maxsize-pub');
  const before = b.node.stats.dropsByReason.too_large;
  await pub.publishAsync('v5/size/big', Buffer.alloc(500, 1), { qos: 1 });
  await pub.publishAsync('v5/size/small', 'ok', { qos: 1 });
  await until(() => got.length === 1);
  expect(got.map((g) => g.topic)).toEqual(['v5/size/small']);
  expect(b.node.stats.dropsByReason.too_large).toBe(before + 1);
});

test('DISCONNECT 0x04 publishes the will; a normal DISCONNECT does not [MQTT-3.14.2.1]', async () => {
  const watch = await v5('v5-will-watch');
  const got = collect(watch);
  await watch.subscribeAsync('v5/will/#', { qos: 1 });
  const quiet = await v5('v5-will-quiet', { will: { topic: 'v5/will/quiet', payload: Buffer.from('no'), qos: 1, retain: false } });
  await quiet.endAsync(false, { reasonCode: 0 });
  const loud = await v5('v5-will-loud', { will: { topic: 'v5/will/loud', payload: Buffer.from('yes'), qos: 1, retain: false, properties: { userProperties: { why: 'asked' } } } });
  await loud.endAsync(false, { reasonCode: 0x04 });
  await until(() => got.length >= 1);
  await watch.publishAsync('v5/will/sentinel', 'end', { qos: 1 });
  await until(() => got.some((g) => g.topic === 'v5/will/sentinel'));
  expect(got.map((g) => g.topic)).toEqual(['v5/will/loud', 'v5/will/sentinel']);
  expect(got[0].packet.properties?.userProperties).toEqual({ why: 'asked' });
});

test('the server says why it ends a connection: takeover 0x8E, kick 0x98 [MQTT-3.14.2-1]', async () => {
  const first = await v5('v5-takeover');
  const reason = new Promise<number | undefined>((resolve) => first.once('disconnect', (p) => resolve(p.reasonCode)));
  await v5('v5-takeover');
  expect(await reason).toBe(0x8e);
  const kicked = await v5('v5-kicked');
  const why = new Promise<number | undefined>((resolve) => kicked.once('disconnect', (p) => resolve(p.reasonCode)));
  await b.node.management.kick('v5-kicked', { name: 'test', kind: 'admin' }, '127.0.0.1');
  expect(await why).toBe(0x98);
});

/** A raw v5 CONNECT, then `packet`; resolves with the DISCONNECT reason code the broker sends (or null if it only closed). */
async function rawAfterConnect(clientId: string, packet: Buffer): Promise<number | null> {
  const c = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId, properties: {} } as never);
  const connack = await c.nextCmd<IConnackPacket>('connack');
  expect(connack.reasonCode).toBe(0);
  c.send(packet);
  const d = await c.next<IDisconnectPacket>((p) => p.cmd === 'disconnect', 3000).catch(() => null);
  await c.waitClosed();
  return d ? (d.reasonCode ?? 0) : null;
}

/** PUBLISH QoS 0 on topic "t" with a raw property block. */
function publishWithProperties(props: number[]): Buffer {
  const body = Buffer.from([0x00, 0x01, 0x74, props.length, ...props, 0x78]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

test.each([
  ['an unknown property identifier is Malformed (0x81)', [0x7f, 0x00], 0x81],
  ['a property not allowed in PUBLISH (Session Expiry Interval) is Malformed (0x81)', [0x11, 0, 0, 0, 1], 0x81],
  ['a property given twice is a Protocol Error (0x82)', [0x01, 0x00, 0x01, 0x00], 0x82],
  ['a payload format indicator of 2 is a Protocol Error (0x82)', [0x01, 0x02], 0x82],
  ['bad UTF-8 in a property is Malformed (0x81) [MQTT-1.5.4-1]', [0x03, 0x00, 0x02, 0xc3, 0x28], 0x81],
  ['topic alias 0 is Topic Alias invalid (0x94) [MQTT-3.3.2-8]', [0x23, 0x00, 0x00], 0x94],
  ['a subscription identifier from a client is a Protocol Error (0x82) [MQTT-3.3.4-6]', [0x0b, 0x01], 0x82],
])('malformed v5 PUBLISH: %s, and the broker serves on', async (_name, props, code) => {
  expect(await rawAfterConnect(`v5-bad-${code}-${props[0]}`, publishWithProperties(props))).toBe(code);
  // Nothing lost for other clients: a fresh client still gets its messages.
  const c = await v5(`v5-after-bad-${props[0]}-${code}`);
  const got = collect(c);
  await c.subscribeAsync('v5/alive', { qos: 1 });
  await c.publishAsync('v5/alive', 'yes', { qos: 1 });
  await until(() => got.length === 1);
});

test('an unknown topic alias (empty topic, alias never set) is a Protocol Error (0x82) [MQTT-3.3.2-8]', async () => {
  const body = Buffer.from([0x00, 0x00, 3, 0x23, 0x00, 0x09, 0x78]);
  expect(await rawAfterConnect('v5-bad-alias', Buffer.concat([Buffer.from([0x30, body.length]), body]))).toBe(0x82);
});

test('without a users file no enhanced authentication is offered: a CONNECT with SCRAM-SHA-256 is refused with 0x8C [MQTT-4.12.0-1]', async () => {
  const c = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'v5-auth', properties: { authenticationMethod: 'SCRAM-SHA-256' } } as never);
  const connack = await c.nextCmd<IConnackPacket>('connack');
  expect(connack.reasonCode).toBe(0x8c);
  expect(await c.waitClosed()).toBe(true);
});

test('Response Information in CONNACK only to a client that asks for it (Request Response Information 1), from the mqtt.responseInformation template [MQTT-3.1.2-28]', async () => {
  const node = await startBroker({ mqtt: { responseInformation: 'replies/%c/' } });
  const connackOf = async (port: number, clientId: string, properties: Record<string, unknown>) => {
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId, protocolVersion: 5, reconnectPeriod: 0, properties });
    const props = (c as unknown as { connackPacket?: IConnackPacket }).connackPacket?.properties;
    c.end(true);
    return props;
  };
  try {
    expect((await connackOf(node.ports.tcp!, 'ri-asks', { requestResponseInformation: true }))?.responseInformation).toBe('replies/ri-asks/');
    expect((await connackOf(node.ports.tcp!, 'ri-silent', {}))?.responseInformation).toBeUndefined();
    // The default (empty) sends none, even when asked, as EMQX.
    expect((await connackOf(b.ports.tcp!, 'ri-default', { requestResponseInformation: true }))?.responseInformation).toBeUndefined();
  } finally {
    await node.stop();
    node.cleanup();
  }
});

/** Connects and resolves with the CONNACK's session present flag. */
function sessionPresent(clientId: string, opts: IClientOptions, port = b.ports.tcp): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, clientId, protocolVersion: 5, reconnectPeriod: 0, ...opts });
    clients.push(c);
    c.once('connect', (connack) => {
      resolve(connack.sessionPresent);
      c.end(false);
    });
    c.once('error', reject);
  });
}
const settled = () => new Promise((r) => setTimeout(r, 100));

test('session expiry: 0 ends the session with the connection even without Clean Start; > 0 keeps it even with Clean Start [MQTT-3.1.2-23]', async () => {
  expect(await sessionPresent('v5-exp0', { clean: false, properties: { sessionExpiryInterval: 0 } })).toBe(false);
  await settled();
  expect(await sessionPresent('v5-exp0', { clean: false, properties: { sessionExpiryInterval: 0 } })).toBe(false);
  expect(await sessionPresent('v5-exp60', { clean: true, properties: { sessionExpiryInterval: 60 } })).toBe(false);
  await settled();
  expect(await sessionPresent('v5-exp60', { clean: false, properties: { sessionExpiryInterval: 60 } })).toBe(true);
});

test('a DISCONNECT may shorten the session expiry to 0: the session ends [MQTT-3.14.2-2]', async () => {
  const c = await v5('v5-disc-exp', { clean: false, properties: { sessionExpiryInterval: 300 } });
  await c.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await settled();
  expect(await sessionPresent('v5-disc-exp', { clean: false, properties: { sessionExpiryInterval: 300 } })).toBe(false);
});

test('a session expires when its interval passes while disconnected (an event in the log), and across a restart', async () => {
  const node = await startBroker({ cluster: { heartbeatIntervalMs: 100 } });
  try {
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port: node.ports.tcp, clientId: 'v5-expires', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 1 } });
    await c.subscribeAsync('v5/expires');
    const keep = await mqtt.connectAsync({ host: '127.0.0.1', port: node.ports.tcp, clientId: 'v5-kept', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } });
    await c.endAsync();
    await keep.endAsync();
    for (let i = 0; i < 300 && node.node.sessions.state.has('v5-expires'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(node.node.sessions.state.has('v5-expires')).toBe(false);
    expect(node.node.sessions.state.has('v5-kept')).toBe(true);
  } finally {
    await node.stop();
  }
  // The same log, started again: the expiry and the kept session are both still so.
  const again = await startBroker({}, { dataDir: node.dataDir });
  try {
    expect(again.node.sessions.state.has('v5-expires')).toBe(false);
    expect(again.node.sessions.state.get('v5-kept')?.sessionExpiry).toBe(3600);
    expect(await sessionPresent('v5-kept', { clean: false, properties: { sessionExpiryInterval: 3600 } }, again.ports.tcp)).toBe(true);
  } finally {
    await again.stop();
    again.cleanup();
  }
});

test('3.1.1 and 5 clients on one topic, both ways', async () => {
  const v3 = await mqtt.connectAsync({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'mix-v3', reconnectPeriod: 0 });
  clients.push(v3);
  const five = await v5('mix-v5');
  const got3 = collect(v3);
  const got5 = collect(five);
  await v3.subscribeAsync('mix/t', { qos: 2 });
  await five.subscribeAsync('mix/t', { qos: 2 });
  await v3.publishAsync('mix/t', 'from 3', { qos: 2 });
  await five.publishAsync('mix/t', 'from 5', { qos: 2, properties: { userProperties: { v: '5' } } });
  await until(() => got3.length === 2 && got5.length === 2);
  expect(got3.map((g) => g.payload)).toEqual(['from 3', 'from 5']);
  expect(got5.map((g) => g.payload)).toEqual(['from 3', 'from 5']);
  expect(got5[1].packet.properties?.userProperties).toEqual({ v: '5' });
});

test('message properties are kept in the log and shown by history (GET /api/v1/messages)', async () => {
  const { api, apiBase } = await import('../helpers/api');
  const pub = await v5('v5-history-pub');
  await pub.publishAsync('v5/history/x', 'kept', { qos: 1, properties: { userProperties: { first: 'a', second: 'b' }, contentType: 'application/json', correlationData: Buffer.from('c1') } });
  const r = await api<{ messages: Array<{ topic: string; properties?: Record<string, unknown> }> }>(apiBase(b.ports.api), 'GET', `/api/v1/messages?topic=${encodeURIComponent('v5/history/#')}`);
  expect(r.body.messages).toEqual([
    expect.objectContaining({ topic: 'v5/history/x', properties: { contentType: 'application/json', correlationData: Buffer.from('c1').toString('base64'), userProperties: [['first', 'a'], ['second', 'b']] } }),
  ]);
});

test('Will Delay Interval: a reconnect in time cancels the will; otherwise it is published when due, also after a restart [MQTT-3.1.3-9]', async () => {
  const node = await startBroker({ cluster: { heartbeatIntervalMs: 100 } });
  const port = node.ports.tcp;
  const watch = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: 'wd-watch', protocolVersion: 5, reconnectPeriod: 0 });
  const got: string[] = [];
  watch.on('message', (t) => got.push(t));
  await watch.subscribeAsync('wd/#', { qos: 1 });
  const willOf = (topic: string) => ({ topic, payload: Buffer.from('w'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } });
  // The network drops: no DISCONNECT, so the will applies.
  const dropConnection = (c: MqttClient) => c.stream.destroy();
  try {
    // Cancelled: the client comes back within the delay.
    const a = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: 'wd-back', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 }, will: willOf('wd/cancelled') });
    dropConnection(a);
    await new Promise((r) => setTimeout(r, 200));
    const a2 = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: 'wd-back', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 } });
    // Published when due: this one does not come back.
    const b2 = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: 'wd-gone', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 }, will: willOf('wd/due') });
    dropConnection(b2);
    expect(got).toEqual([]); // not at once
    await until(() => got.includes('wd/due'), 'the delayed will');
    await watch.publishAsync('wd/sentinel', 's', { qos: 1 });
    await until(() => got.includes('wd/sentinel'));
    expect(got).toEqual(['wd/due', 'wd/sentinel']);
    a2.end(true);
  } finally {
    watch.end(true);
    await node.stop();
  }
  // Across a restart: a will due while the node was down is published after it starts again.
  const again = await startBroker({ cluster: { heartbeatIntervalMs: 100 } }, { dataDir: node.dataDir });
  try {
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port: again.ports.tcp, clientId: 'wd-restart', protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 }, will: willOf('wd/after-restart') });
    dropConnection(c);
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await again.stop();
  }
  const third = await startBroker({ cluster: { heartbeatIntervalMs: 100 } }, { dataDir: node.dataDir });
  try {
    const w = await mqtt.connectAsync({ host: '127.0.0.1', port: third.ports.tcp, clientId: 'wd-watch-2', protocolVersion: 5, reconnectPeriod: 0 });
    const seen: string[] = [];
    w.on('message', (t) => seen.push(t));
    await w.subscribeAsync('wd/after-restart', { qos: 1 });
    await until(() => seen.length === 1, 'the will after the restart');
    w.end(true);
  } finally {
    await third.stop();
    third.cleanup();
  }
});

test('a client with more QoS 2 exchanges open than the announced Receive Maximum is disconnected with 0x93 [MQTT-3.3.4-7]', async () => {
  const node = await startBroker({ mqtt: { receiveMaximum: 3 } });
  try {
    const c = await RawClient.connect(node.ports.tcp!, '127.0.0.1', 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'v5-rm', properties: {} } as never);
    const connack = await c.nextCmd<IConnackPacket>('connack');
    expect(connack.properties?.receiveMaximum).toBe(3);
    // Three open exchanges are allowed (no PUBREL sent); the fourth is one too many.
    // QoS 2 PUBLISH to "v5/rm", packet id `id`, no properties, payload "x".
    const publish = (id: number) => Buffer.from([0x34, 11, 0x00, 0x05, ...Buffer.from('v5/rm'), id >> 8, id & 0xff, 0x00, 0x78]);
    for (let id = 1; id <= 4; id++) c.send(publish(id));
    const d = await c.next<IDisconnectPacket>((p) => p.cmd === 'disconnect');
    expect(d.reasonCode).toBe(0x93);
    // The PUBRECs of the first three may or may not have left before the close; never one for the fourth.
    expect(c.packets.filter((p) => p.cmd === 'pubrec').length).toBeLessThanOrEqual(3);
  } finally {
    await node.stop();
    node.cleanup();
  }
});

/** A file log whose appends from connections (submit) can be held back: PUBACKs wait while it holds. */
class HeldLog extends FileEventLog {
  private held: Array<() => void> | null = null;

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const run of held) run();
  }

  override submit(records: readonly AppendRecord[], done: (err: Error | null) => void): void {
    if (this.held) this.held.push(() => super.submit(records, done));
    else super.submit(records, done);
  }
}

test('QoS 1 PUBLISHes awaiting their PUBACK count against the announced Receive Maximum too: one more is not read until a PUBACK leaves (flow control, not a disconnect); 3.1.1 clients are not counted [MQTT-3.3.4-7]', async () => {
  const dataDir = tempDir();
  const log = new HeldLog({ dir: join(dataDir, 'log') });
  const node = await startBroker({ mqtt: { receiveMaximum: 3 } }, { dataDir, log });
  // QoS 1 PUBLISH to "v5/rm1", packet id `id`, no properties, payload "x".
  const publish5 = (id: number) => Buffer.from([0x32, 12, 0x00, 0x06, ...Buffer.from('v5/rm1'), id >> 8, id & 0xff, 0x00, 0x78]);
  const pingreq = Buffer.from([0xc0, 0x00]);
  try {
    const c = await RawClient.connect(node.ports.tcp!, '127.0.0.1', 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'v5-rm1', properties: {} } as never);
    expect((await c.nextCmd<IConnackPacket>('connack')).properties?.receiveMaximum).toBe(3);
    // While the log holds them, no PUBLISH can be acknowledged: three are allowed (read and taken in).
    const received = () => node.node.stats.messagesReceived;
    const start = received();
    log.hold();
    for (let id = 1; id <= 3; id++) c.send(publish5(id));
    await waitFor(() => received() === start + 3, 'three read');
    expect(c.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    log.release();
    for (let id = 1; id <= 3; id++) expect((await c.nextCmd<IPubackPacket>('puback')).messageId).toBe(id);
    // Acknowledged, they make room again: three more, and a fourth beyond the maximum in the same write.
    const base = received();
    log.hold();
    c.send(Buffer.concat([4, 5, 6, 7].map(publish5)));
    await waitFor(() => received() === base + 3, 'the three the window holds');
    // A sentinel from another client is read after them: the fourth was not (it waits in the socket).
    const other = await RawClient.connect(node.ports.tcp!);
    expect((await other.handshake('v3-rm-sentinel')).returnCode).toBe(0);
    other.send(publishBytes('v3/rm1', 'sentinel', 1, 1));
    await waitFor(() => received() === base + 4, 'the sentinel');
    expect(received()).toBe(base + 4);
    expect(c.packets.filter((p) => p.cmd === 'disconnect')).toEqual([]);
    log.release();
    // The window drains and the fourth is read: all four acknowledged in order, the connection open.
    for (let id = 4; id <= 7; id++) expect((await c.nextCmd<IPubackPacket>('puback')).messageId).toBe(id);
    c.send(pingreq);
    await c.nextCmd('pingresp');
    expect(c.closed).toBe(false);
    other.destroy();
    c.destroy();

    // A 3.1.1 client has no receive maximum: five at once while the log holds, all acknowledged.
    const old = await RawClient.connect(node.ports.tcp!);
    expect((await old.handshake('v3-rm1')).returnCode).toBe(0);
    log.hold();
    for (let id = 1; id <= 5; id++) old.send(publishBytes('v3/rm1', 'x', 1, id));
    old.send(pingreq);
    await old.nextCmd('pingresp');
    log.release();
    for (let id = 1; id <= 5; id++) expect((await old.nextCmd<IPubackPacket>('puback')).messageId).toBe(id);
    old.destroy();
  } finally {
    log.release();
    await node.stop();
    node.cleanup();
  }
});

test('server-to-client topic aliases when the client allows them: the topic once, then the alias alone [MQTT-3.3.2-7]', async () => {
  const c = await v5('v5-out-alias', { properties: { topicAliasMaximum: 1 } });
  const raw: IPublishPacket[] = [];
  c.on('packetreceive', (p) => p.cmd === 'publish' && raw.push(p as IPublishPacket));
  const got = collect(c);
  await c.subscribeAsync('v5/oa/#', { qos: 1 });
  const pub = await v5('v5-out-alias-pub');
  for (const t of ['v5/oa/one', 'v5/oa/one', 'v5/oa/two']) await pub.publishAsync(t, 'x', { qos: 1 });
  await until(() => got.length === 3);
  // mqtt.js resolves the alias for its listeners; on the wire the second has no topic.
  expect(got.map((g) => g.topic)).toEqual(['v5/oa/one', 'v5/oa/one', 'v5/oa/two']);
  expect(raw.map((p) => p.properties?.topicAlias)).toEqual([1, 1, undefined]); // one alias allowed: the second topic goes without
});

test('mqtt.maxKeepalive lowers a longer keep alive and the CONNACK says so (Server Keep Alive) [MQTT-3.2.2-21]', async () => {
  const node = await startBroker({ mqtt: { maxKeepalive: 60 } });
  try {
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      const c = mqtt.connect({ host: '127.0.0.1', port: node.ports.tcp, clientId: 'v5-ka', protocolVersion: 5, keepalive: 120, reconnectPeriod: 0 });
      c.once('connect', (p) => {
        resolve(p);
        c.end(true);
      });
      c.once('error', reject);
    });
    expect(connack.properties?.serverKeepAlive).toBe(60);
  } finally {
    await node.stop();
    node.cleanup();
  }
});

test('shared subscriptions: each message goes to exactly one member of a group, for 5 and 3.1.1 members; other groups and plain subscribers get their own copy', async () => {
  const a = await v5('share-a');
  const c = await v5('share-c');
  const old = await mqtt.connectAsync({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'share-v3', reconnectPeriod: 0 });
  clients.push(old);
  const other = await v5('share-other-group');
  const plain = await v5('share-plain');
  const got = { a: collect(a), c: collect(c), old: collect(old), other: collect(other), plain: collect(plain) };
  await a.subscribeAsync('$share/g1/sh/+', { qos: 1 });
  await c.subscribeAsync('$share/g1/sh/+', { qos: 1 });
  await old.subscribeAsync('$share/g1/sh/+', { qos: 1 });
  await other.subscribeAsync('$share/g2/sh/#', { qos: 1 });
  await plain.subscribeAsync('sh/+', { qos: 1 });
  const pub = await v5('share-pub');
  const N = 60;
  for (let i = 0; i < N; i++) await pub.publishAsync('sh/t', String(i), { qos: 1 });
  await until(() => got.other.length === N && got.plain.length === N && got.a.length + got.c.length + got.old.length === N, 'every copy');
  const group = [...got.a, ...got.c, ...got.old].map((g) => Number(g.payload)).sort((x, y) => x - y);
  expect(group).toEqual(Array.from({ length: N }, (_, i) => i)); // each exactly once
  expect([got.a.length, got.c.length, got.old.length].every((n) => n > 0)).toBe(true); // spread over the members
});

test('shared subscriptions: an offline member takes nothing, no retained messages are sent, No Local is a Protocol Error [MQTT-3.8.3-4]', async () => {
  const pub = await v5('share2-pub');
  await pub.publishAsync('sh2/r', 'retained', { qos: 1, retain: true });
  const live = await v5('share2-live');
  const gotLive = collect(live);
  await live.subscribeAsync('$share/g/sh2/+', { qos: 1 });
  await live.subscribeAsync('sh2-sentinel', { qos: 1 });
  const away = await v5('share2-away', { clean: false, properties: { sessionExpiryInterval: 300 } });
  await away.subscribeAsync('$share/g/sh2/+', { qos: 1 });
  await away.endAsync();
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 20; i++) await pub.publishAsync('sh2/t', String(i), { qos: 1 });
  await pub.publishAsync('sh2-sentinel', 'end', { qos: 1 });
  await until(() => gotLive.some((g) => g.topic === 'sh2-sentinel'));
  expect(gotLive.filter((g) => g.topic === 'sh2/t')).toHaveLength(20); // the offline member absorbed none
  expect(gotLive.some((g) => g.topic === 'sh2/r')).toBe(false); // no retained message for a shared subscription

  const raw = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'share2-nl', properties: {} } as never);
  await raw.nextCmd('connack');
  const filter = Buffer.from('$share/g/x');
  const body = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, filter.length]), filter, Buffer.from([0x05])]); // QoS 1 + No Local
  raw.send(Buffer.concat([Buffer.from([0x82, body.length]), body]));
  const d = await raw.next<IDisconnectPacket>((p) => p.cmd === 'disconnect');
  expect(d.reasonCode).toBe(0x82);
});

test('topic aliases are bounded by mqtt.maxTopicAlias (memory): an alias above it is 0x94 [MQTT-3.3.2-9]', async () => {
  const body = Buffer.from([0x00, 0x03, 0x61, 0x2f, 0x62, 3, 0x23, 0x00, 17, 0x78]); // alias 17 > 16
  expect(await rawAfterConnect('v5-alias-max', Buffer.concat([Buffer.from([0x30, body.length]), body]))).toBe(0x94);
});

test('a subscription with `since` gets the matching messages from the log in order since then, then live ones with no gap or duplicate at the handover, under load', async () => {
  const pub = await v5('since-pub');
  for (let i = 0; i < 300; i++) await pub.publishAsync('since/t', String(i), { qos: 1 });
  await pub.publishAsync('since/other', 'not matched', { qos: 1 });
  const c = await v5('since-sub');
  const got = collect(c);
  // Live publishing goes on while the feed reads the past.
  let next = 300;
  const live = (async () => {
    for (; next < 600; next++) await pub.publishAsync('since/t', String(next), { qos: 1 });
  })();
  await c.subscribeAsync('since/t', { qos: 1, properties: { userProperties: { since: '1h' } } });
  await live;
  await until(() => got.length >= 600, 'every message');
  await pub.publishAsync('since/t', 'sentinel', { qos: 1 });
  await until(() => got.some((g) => g.payload === 'sentinel'));
  expect(got.map((g) => g.payload)).toEqual([...Array.from({ length: 600 }, (_, i) => String(i)), 'sentinel']);
});

test('a bad `since` value is a Protocol Error (0x82)', async () => {
  const bad = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  bad.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'since-bad', properties: {} } as never);
  await bad.nextCmd('connack');
  const filter = Buffer.from('since/x');
  const prop = Buffer.concat([Buffer.from([0x26, 0x00, 0x05]), Buffer.from('since'), Buffer.from([0x00, 0x04]), Buffer.from('soon')]);
  const body = Buffer.concat([Buffer.from([0x00, 0x01, prop.length]), prop, Buffer.from([0x00, filter.length]), filter, Buffer.from([0x01])]);
  bad.send(Buffer.concat([Buffer.from([0x82, body.length]), body]));
  const d = await bad.next<IDisconnectPacket>((p) => p.cmd === 'disconnect');
  expect(d.reasonCode).toBe(0x82);
});

test('a `since` reaching before 1970 (999999999d) means from the start of the log: the broker serves on (it once failed the node at append)', async () => {
  const pub = await v5('since-far-pub');
  await pub.publishAsync('since/far', 'old', { qos: 1 });
  const c = await v5('since-far-sub');
  const got = collect(c);
  await c.subscribeAsync('since/far', { qos: 1, properties: { userProperties: { since: '999999999d' } } });
  await until(() => got.length === 1, 'the old message');
  await pub.publishAsync('since/far', 'sentinel', { qos: 1 });
  await until(() => got.length === 2, 'the sentinel');
  expect(got.map((g) => g.payload)).toEqual(['old', 'sentinel']);
  expect(b.node.failed).toBe(false);
});

test('`since` applies the access rules to every message it reads from the log', async () => {
  const node = await startBroker({ acl: { rules: [{ permission: 'deny', action: 'subscribe', topic: 'sacl/secret/#' }] } });
  try {
    const pub = await mqtt.connectAsync({ host: '127.0.0.1', port: node.ports.tcp, clientId: 'sacl-pub', protocolVersion: 5, reconnectPeriod: 0 });
    await pub.publishAsync('sacl/open/a', '1', { qos: 1 });
    await pub.publishAsync('sacl/secret/b', '2', { qos: 1 });
    await pub.publishAsync('sacl/open/c', '3', { qos: 1 });
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port: node.ports.tcp, clientId: 'sacl-sub', protocolVersion: 5, reconnectPeriod: 0 });
    const got = collect(c);
    await c.subscribeAsync('sacl/#', { qos: 1, properties: { userProperties: { since: '1h' } } });
    await pub.publishAsync('sacl/open/sentinel', 'end', { qos: 1 });
    await until(() => got.some((g) => g.topic === 'sacl/open/sentinel'));
    expect(got.map((g) => g.topic)).toEqual(['sacl/open/a', 'sacl/open/c', 'sacl/open/sentinel']);
    pub.end(true);
    c.end(true);
  } finally {
    await node.stop();
    node.cleanup();
  }
});

test('many `since` subscriptions at once: at most 16 feeds read the log at a time, and every one completes in order', async () => {
  const pub = await v5('since-many-pub');
  for (let i = 0; i < 20; i++) await pub.publishAsync(`sm/${i}`, `old-${i}`, { qos: 1 });
  const c = await v5('since-many');
  const got = collect(c);
  await c.subscribeAsync(Array.from({ length: 20 }, (_, i) => `sm/${i}`), { qos: 1, properties: { userProperties: { since: '1h' } } });
  for (let i = 0; i < 20; i++) await pub.publishAsync(`sm/${i}`, `new-${i}`, { qos: 1 });
  await until(() => got.length === 40, 'old and new on every filter');
  for (let i = 0; i < 20; i++) expect(got.filter((g) => g.topic === `sm/${i}`).map((g) => g.payload)).toEqual([`old-${i}`, `new-${i}`]);
});

test('MQTT 5 properties of retained messages count against mqtt.maxRetainedBytes (a client cannot hide megabytes in user properties)', async () => {
  const node = await startBroker({ mqtt: { maxRetainedBytes: 2000 } });
  try {
    const pub = await mqtt.connectAsync({ host: '127.0.0.1', port: node.ports.tcp, clientId: 'rb-pub', protocolVersion: 5, reconnectPeriod: 0 });
    await pub.publishAsync('rb/small', 'x', { qos: 1, retain: true, properties: { userProperties: { k: 'v' } } });
    await pub.publishAsync('rb/big', 'x', { qos: 1, retain: true, properties: { userProperties: { k: 'v'.repeat(5000) } } });
    await pub.publishAsync('rb/sentinel', 'x', { qos: 1 });
    for (let i = 0; i < 100 && !node.node.retained.get('rb/small'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(node.node.retained.get('rb/small')).toBeDefined();
    expect(node.node.retained.get('rb/big')).toBeUndefined(); // delivered, not retained
    expect(node.node.retained.bytes).toBeLessThanOrEqual(2000);
    pub.end(true);
  } finally {
    await node.stop();
    node.cleanup();
  }
});

test('shared subscriptions: QoS 1 messages a vanished member did not acknowledge go to another member (no acknowledged message lost)', async () => {
  const keeper = await v5('ho-keeper');
  const kept = collect(keeper);
  await keeper.subscribeAsync('$share/ho/ho/t', { qos: 1 });
  // A member that takes messages and never acknowledges them, then drops off the network.
  const silent = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
  silent.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'ho-silent', properties: {} } as never);
  await silent.nextCmd('connack');
  const filter = Buffer.from('$share/ho/ho/t');
  const body = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, filter.length]), filter, Buffer.from([0x01])]);
  silent.send(Buffer.concat([Buffer.from([0x82, body.length]), body]));
  await silent.nextCmd('suback');
  const pub = await v5('ho-pub');
  const N = 40;
  for (let i = 0; i < N; i++) await pub.publishAsync('ho/t', String(i), { qos: 1 });
  await until(() => kept.length + silent.packets.filter((p) => p.cmd === 'publish').length === N, 'every message at one member');
  const takenBySilent = silent.packets.filter((p) => p.cmd === 'publish').length;
  expect(takenBySilent).toBeGreaterThan(0);
  silent.destroy();
  await until(() => kept.length === N, 'the silent member\'s messages at the keeper');
  expect(kept.map((g) => Number(g.payload)).sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
});
