/** The hand-written PUBLISH decoder and encoder agree with mqtt-packet, byte for byte. */
import mqttPacket, { IPublishPacket, Packet } from 'mqtt-packet';
import { PacketDecoder } from '../../src/protocol/PacketDecoder';
import { ProtocolViolation } from '../../src/protocol/ProtocolViolation';
import { encodePublish } from '../../src/protocol/PublishEncoder';
import { encodeMqtt3 } from '../../src/protocol/Mqtt3Encoder';
import type { ClientEffect } from '../../src/channel/effects';

const cases: Array<Omit<IPublishPacket, 'cmd'>> = [
  { topic: 'a', payload: Buffer.from('x'), qos: 0, dup: false, retain: false },
  { topic: 'a/b/ü/€', payload: Buffer.alloc(0), qos: 1, dup: false, retain: true, messageId: 1 },
  { topic: 't', payload: Buffer.alloc(200, 7), qos: 2, dup: true, retain: false, messageId: 65535 },
  { topic: 'x'.repeat(300), payload: Buffer.alloc(70_000, 3), qos: 1, dup: false, retain: false, messageId: 42 },
  { topic: 'big', payload: Buffer.alloc(2_100_000, 9), qos: 0, dup: false, retain: true },
];

function decodeAll(bytes: Buffer): Packet[] {
  const out: Packet[] = [];
  const d = new PacketDecoder(10_000_000, (p) => out.push(p));
  d.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c' }));
  d.push(bytes);
  return out.slice(1);
}

test.each(cases.map((c, i) => [i, c] as const))('case %i: encodePublish equals mqtt-packet and decodes back', (_i, c) => {
  const reference = mqttPacket.generate({ cmd: 'publish', ...c });
  const ours = encodePublish({ topic: c.topic, payload: c.payload as Buffer, retain: c.retain }, c.qos, c.messageId ?? 0, c.dup);
  expect(ours.equals(reference)).toBe(true);
  const [decoded] = decodeAll(reference) as IPublishPacket[];
  // Payloads compared with equals(): jest's deep equality walks large buffers byte by byte.
  expect((decoded.payload as Buffer).equals(c.payload as Buffer)).toBe(true);
  expect({ ...decoded, payload: null }).toEqual({ cmd: 'publish', ...c, payload: null });
});

test('a second subscriber at QoS 1 gets its own packet id; the shared template is untouched', () => {
  const d = { topic: 't', payload: Buffer.from('p'), retain: false };
  const a = encodePublish(d, 1, 7, false);
  const b = encodePublish(d, 1, 8, true);
  expect(a.readUInt16BE(a.length - 3)).toBe(7);
  expect(b.readUInt16BE(b.length - 3)).toBe(8);
  expect(b[0] & 0x08).toBe(0x08);
  expect(a[0] & 0x08).toBe(0);
  expect(encodePublish(d, 0, 0, false)).toBe(encodePublish(d, 0, 0, false));
});

test('the first QoS 1 subscriber owns the template bytes; later ones never inherit its DUP flag or packet id', () => {
  const d = { topic: 't', payload: Buffer.from('p'), retain: true };
  const first = encodePublish(d, 1, 3, true); // a redelivery happens to encode it first
  const second = encodePublish(d, 1, 4, false);
  const third = encodePublish(d, 1, 5, false);
  expect([first[0], second[0], third[0]]).toEqual([0x3b, 0x33, 0x33]);
  expect([first, second, third].map((b) => b.readUInt16BE(b.length - 3))).toEqual([3, 4, 5]);
  expect(second).not.toBe(first);
  expect(mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('p'), qos: 1, dup: false, retain: true, messageId: 4 }).equals(second)).toBe(true);
});

test.each([
  ['[MQTT-3.3.1-4] both QoS bits', Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])],
  ['[MQTT-3.3.1-2] DUP on QoS 0', Buffer.from([0x38, 0x03, 0x00, 0x01, 0x61])],
  ['topic longer than the packet', Buffer.from([0x30, 0x03, 0x00, 0x05, 0x61])],
  ['no room for the packet id', Buffer.from([0x32, 0x03, 0x00, 0x01, 0x61])],
  ['[MQTT-1.5.3-1] invalid UTF-8 topic', Buffer.from([0x30, 0x04, 0x00, 0x02, 0xc3, 0x28])],
])('malformed PUBLISH: %s', (_what, bytes) => {
  expect(() => decodeAll(bytes)).toThrow(ProtocolViolation);
});

test('the decoder yields when asked and continues with what it kept', () => {
  const got: number[] = [];
  const d = new PacketDecoder(10_000, (p) => {
    if (p.cmd === 'publish') got.push((p.payload as Buffer)[0]);
  });
  d.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c' }));
  const bytes = Buffer.concat(Array.from({ length: 10 }, (_, i) => encodePublish({ topic: 't', payload: Buffer.from([i]), retain: false }, 0, 0, false)));
  let budget = 3;
  d.shouldYield = () => --budget <= 0;
  expect(d.push(bytes.subarray(0, bytes.length - 2))).toBe(false); // yielded after 3, more complete packets kept
  expect(got).toEqual([0, 1, 2]);
  expect(d.hasPending).toBe(true);
  budget = 100;
  expect(d.push(Buffer.alloc(0))).toBe(true); // the last packet is still incomplete: nothing more to decode
  expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  expect(d.hasPending).toBe(false);
  d.push(bytes.subarray(bytes.length - 2));
  expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test.each<[ClientEffect, Packet]>([
  [{ type: 'ack', kind: 'puback', packetId: 7 }, { cmd: 'puback', messageId: 7 }],
  [{ type: 'ack', kind: 'pubrec', packetId: 65535 }, { cmd: 'pubrec', messageId: 65535 }],
  [{ type: 'ack', kind: 'pubrel', packetId: 1 }, { cmd: 'pubrel', messageId: 1 }],
  [{ type: 'ack', kind: 'pubcomp', packetId: 300 }, { cmd: 'pubcomp', messageId: 300 }],
  [{ type: 'unsuback', packetId: 9 }, { cmd: 'unsuback', messageId: 9, granted: [] }],
  [{ type: 'pingresp' }, { cmd: 'pingresp' }],
  [{ type: 'connack', refusal: null, sessionPresent: true }, { cmd: 'connack', returnCode: 0, sessionPresent: true }],
  [{ type: 'connack', refusal: 'not-authorized', sessionPresent: false }, { cmd: 'connack', returnCode: 5, sessionPresent: false }],
  [{ type: 'connack', refusal: 'bad-credentials', sessionPresent: true }, { cmd: 'connack', returnCode: 4, sessionPresent: false }],
  [{ type: 'connack', refusal: 'unsupported-protocol', sessionPresent: false }, { cmd: 'connack', returnCode: 1, sessionPresent: false }],
  [{ type: 'suback', packetId: 4, granted: [0, 1, 2, 128] }, { cmd: 'suback', messageId: 4, granted: [0, 1, 2, 128] }],
  [{ type: 'suback', packetId: 5, granted: new Array(300).fill(1) }, { cmd: 'suback', messageId: 5, granted: new Array(300).fill(1) }],
])('%j is encoded as mqtt-packet encodes %j', (effect, packet) => {
  expect(encodeMqtt3(effect).equals(mqttPacket.generate(packet))).toBe(true);
});

test('a malformed packet on one connection does not disturb the next connection (the parser is shared)', () => {
  const bad = new PacketDecoder(10_000, () => undefined);
  expect(() => bad.push(Buffer.from([0x10, 0x0c, 0, 4, 77, 81, 84, 84, 6, 2, 0, 0, 0, 0]))).toThrow(ProtocolViolation);
  const got: string[] = [];
  const good = new PacketDecoder(10_000, (p) => got.push(p.cmd));
  good.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: '' }));
  good.push(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1 }] }));
  expect(got).toEqual(['connect', 'subscribe']);
});

test.each<Packet>([
  { cmd: 'puback', messageId: 7 },
  { cmd: 'pubrec', messageId: 65535 },
  { cmd: 'pubrel', messageId: 1 },
  { cmd: 'pubcomp', messageId: 300 },
])('client ack %j decodes as mqtt-packet decodes it', (packet) => {
  const [decoded] = decodeAll(mqttPacket.generate(packet));
  expect(decoded).toMatchObject(packet);
});

test.each([
  ['PUBREL with flags 0000 [MQTT-3.6.1-1]', [0x60, 0x02, 0, 1]],
  ['PUBACK with flags 0010 [MQTT-2.2.2-2]', [0x42, 0x02, 0, 1]],
  ['PUBCOMP with a remaining length of 3', [0x70, 0x03, 0, 1, 0]],
  ['PUBREC with no packet identifier', [0x50, 0x00]],
])('a malformed client ack is refused: %s', (_name, bytes) => {
  expect(() => decodeAll(Buffer.from(bytes))).toThrow(ProtocolViolation);
});
