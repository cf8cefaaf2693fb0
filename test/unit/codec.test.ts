import fc from 'fast-check';
import { BinaryReader, BinaryWriter, DecodeError } from '../../src/events/binary';
import { decodeEvent, decodeEvents, decodePublishedForDelivery, encodeEvent, encodeEvents, EVENT_FORMAT_VERSION } from '../../src/events/codec';
import { BrokerEvent, DisconnectReason, MessageOrigin, MessageSource, SUBACK_FAILURE } from '../../src/events/types';

const events: BrokerEvent[] = [
  {
    type: 'client.connected',
    clientId: 'c-ü',
    connectionId: 'n1/x/1',
    nodeId: 'n1',
    protocolVersion: 4,
    cleanSession: false,
    keepalive: 60,
    sessionExpiry: 0xffffffff,
    will: { topic: 'w/t', payload: Buffer.from([0, 1, 2]), qos: 2, retain: true },
    username: 'alice',
    remoteAddress: '127.0.0.1:5000',
    sessionPresent: true,
    position: [3, 0, 12345678901],
    timestamp: 1_790_000_000_000,
    foreignTakeover: false,
  },
  { type: 'client.connected', clientId: '', connectionId: 'c', nodeId: 'n', protocolVersion: 3, cleanSession: true, keepalive: 0, sessionExpiry: 0, will: null, username: null, remoteAddress: '', sessionPresent: false, position: [], timestamp: 0, foreignTakeover: true },
  { type: 'client.disconnected', clientId: 'c', connectionId: 'n1/x/1', nodeId: 'n1', reason: DisconnectReason.KeepaliveTimeout, willPublished: true, servedUpTo: [7], timestamp: 5 },
  { type: 'session.expired', clientId: 'c', connectionId: 'n1/x/1', nodeId: 'n2', timestamp: 6 },
  {
    type: 'client.subscribed',
    clientId: 'c',
    packetId: 65535,
    subscriptions: [
      { filter: 'a/+/#', requestedQos: 2, granted: 1 },
      { filter: 'nosub', requestedQos: 1, granted: SUBACK_FAILURE },
    ],
    position: [1, 2],
    timestamp: 9,
  },
  { type: 'client.unsubscribed', clientId: 'c', packetId: 2, filters: ['a', 'b/#'], timestamp: 10 },
  { type: 'message.published', topic: 't/1', payload: Buffer.alloc(70000, 7), qos: 1, retain: true, publisherId: 'p', packetId: 12, origin: MessageOrigin.Will, nodeId: 'n1', timestamp: 11, username: 'alice', remoteAddress: '10.0.0.1:5000', target: null },
  { type: 'message.published', topic: '$replay/r1/t', payload: Buffer.from('x'), qos: 0, retain: false, publisherId: 'p', packetId: 0, origin: MessageOrigin.Replay, nodeId: 'n1', timestamp: 11, username: null, remoteAddress: '', target: 'only-me' },
  { type: 'message.delivered', clientId: 'c', packetId: 3, qos: 2, ref: { source: MessageSource.Retained, partition: 0, offset: 99 }, timestamp: 12 },
  { type: 'message.acknowledged', clientId: 'c', packetId: 3, kind: 'pubrec', direction: 'out', timestamp: 13 },
  { type: 'message.acknowledged', clientId: 'c', packetId: 4, kind: 'pubcomp', direction: 'in', timestamp: 14 },
  { type: 'client.disconnected', clientId: 'c', connectionId: 'n2/x/9', nodeId: 'n1', reason: DisconnectReason.NodeFailure, willPublished: false, servedUpTo: [], timestamp: 15 },
  { type: 'node.heartbeat', nodeId: 'n1', startedAt: 1_790_000_000_000, timestamp: 1_790_000_002_000, version: '0.1.0', health: 'healthy' },
  { type: 'node.heartbeat', nodeId: 'n2', startedAt: 1, timestamp: 2, version: null, health: null },
  { type: 'node.heartbeat', nodeId: 'n3', startedAt: 1, timestamp: 2, version: '0.1.0', health: 'healthy', advertisedAddress: 'mqtt-3.example:18883' },
  { type: 'message.dropped', clientId: 'c', count: 17, reason: 'queue_full', detail: 'queue full', nodeId: 'n1', timestamp: 18 },
  { type: 'message.dropped', clientId: 'c', count: 1, reason: 'too_large', detail: '', nodeId: 'n1', timestamp: 19 },
  { type: 'operator.action', actor: 'key:ci', ip: '127.0.0.1', action: 'client.kick', target: 'c', detail: 'forwarded to n2', nodeId: 'n1', timestamp: 20 },
  { type: 'access.decided', clientId: 'c', username: 'alice', ip: '10.0.0.1', action: 'connect', topic: null, allowed: false, code: 4, source: 'ldap', reason: 'wrong password', nodeId: 'n1', timestamp: 16 },
  { type: 'access.decided', clientId: 'c', username: null, ip: '::1', action: 'publish', topic: 'secret/x', allowed: false, code: 0, source: 'acl', reason: 'rule', nodeId: 'n1', timestamp: 17 },
];

describe('binary primitives', () => {
  test('every safe non-negative integer round-trips as a varint, in ceil(bits/7) bytes', () => {
    const w = new BinaryWriter(16);
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.integer({ min: 2 ** 31 - 2, max: 2 ** 33 }), fc.constantFrom(0, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1)), (n) => {
        const bytes = w.reset().varuint(n).finish();
        expect(bytes.length).toBe(Math.max(1, Math.ceil(n.toString(2).length / 7)));
        const r = new BinaryReader(bytes);
        expect(r.varuint()).toBe(n);
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 5000 },
    );
  });

  test('a negative, fractional or unsafe integer is refused by the writer', () => {
    for (const bad of [-1, 0.5, 2 ** 53, Infinity, NaN]) expect(() => new BinaryWriter().varuint(bad)).toThrow(RangeError);
  });
});

describe('event codec', () => {
  test.each(events.map((e) => [e.type, e] as const))('%s round-trips', (_t, event) => {
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  test('an unknown format version is a clear error', () => {
    const buf = encodeEvent(events[2]);
    buf[0] = EVENT_FORMAT_VERSION + 1;
    expect(() => decodeEvent(buf)).toThrow(/unsupported event format version/);
  });

  test('a version 1 message.published (before the audit fields) is still readable', () => {
    // Version 1 layout: topic, qos|retain, publisher, packet id, origin, node, timestamp, payload.
    const v1 = Buffer.from([1, 5, 3, 0x61, 0x2f, 0x62, 0x01, 1, 0x70, 7, 0, 2, 0x6e, 0x31, 42, 2, 0x68, 0x69]);
    expect(decodeEvent(v1)).toEqual({
      type: 'message.published', topic: 'a/b', qos: 1, retain: false, publisherId: 'p', packetId: 7, origin: MessageOrigin.Client,
      nodeId: 'n1', timestamp: 42, payload: Buffer.from('hi'), username: null, remoteAddress: '', target: null,
    });
    expect(decodePublishedForDelivery(v1)).toMatchObject({ qos: 1, retain: false, timestamp: 42, target: null });
    expect(decodePublishedForDelivery(v1).payload.toString()).toBe('hi');
  });

  test('a version 5 node.heartbeat (before the advertised address) is still readable, without one', () => {
    const beat: BrokerEvent = { type: 'node.heartbeat', nodeId: 'n1', startedAt: 5, timestamp: 6, version: '0.1.0', health: 'healthy' };
    const v6 = encodeEvent(beat);
    expect(v6[v6.length - 1]).toBe(0); // no advertised address
    // Version 5 layout: the same fields without the advertised address.
    const v5 = Buffer.concat([Buffer.from([5]), v6.subarray(1, v6.length - 1)]);
    expect(decodeEvent(v5)).toEqual(beat);
    // The version decides the layout: a version 5 record holding the newer field has trailing bytes.
    const withAddress = encodeEvent({ ...beat, advertisedAddress: 'h:1' });
    expect(() => decodeEvent(Buffer.concat([Buffer.from([5]), withAddress.subarray(1)]))).toThrow(/trailing/);
  });

  test('the delivery decoder reads the target of a version 2 record', () => {
    const replay = events.find((e) => e.type === 'message.published' && e.target !== null)!;
    expect(decodePublishedForDelivery(encodeEvent(replay)).target).toBe('only-me');
  });

  test('an unknown event tag is a clear error', () => {
    const buf = encodeEvent(events[2]);
    buf[1] = 200;
    expect(() => decodeEvent(buf)).toThrow(/unknown event tag 200/);
  });

  test('every truncation of every event is an error, never a partial event', () => {
    for (const e of events) {
      const buf = encodeEvent(e);
      // Every cut in the header and fields; inside a large payload, a sample of cuts.
      const step = buf.length > 1000 ? 997 : 1;
      for (let len = 0; len < buf.length; len += len < 200 ? 1 : step) expect(() => decodeEvent(buf.subarray(0, len))).toThrow(DecodeError);
    }
  });

  test('the delivery decoder reads the same qos, retain, timestamp and payload as the full decoder', () => {
    for (const e of events) {
      const buf = encodeEvent(e);
      if (e.type !== 'message.published') {
        expect(() => decodePublishedForDelivery(buf)).toThrow(DecodeError);
        continue;
      }
      const d = decodePublishedForDelivery(buf);
      expect(d.qos).toBe(e.qos);
      expect(d.retain).toBe(e.retain);
      expect(d.timestamp).toBe(e.timestamp);
      expect(d.payload.equals(e.payload)).toBe(true);
      for (let len = 0; len < Math.min(buf.length, 200); len++) expect(() => decodePublishedForDelivery(buf.subarray(0, len))).toThrow(DecodeError);
    }
  });

  test('trailing bytes are an error', () => {
    const buf = Buffer.concat([encodeEvent(events[4]), Buffer.from([0])]);
    expect(() => decodeEvent(buf)).toThrow(/trailing/);
  });

  describe('event batches (one record, several events of one key)', () => {
    const session = events.filter((e) => e.type.startsWith('message.d') || e.type.startsWith('message.a') || e.type.startsWith('client.'));

    test('a batch round-trips every event, in order', () => {
      expect(decodeEvents(encodeEvents(session))).toEqual(session);
    });

    test('a batch of one is the single-event encoding, readable by both decoders', () => {
      const one = encodeEvents([events[2]]);
      expect(one.equals(encodeEvent(events[2]))).toBe(true);
      expect(decodeEvent(one)).toEqual(events[2]);
      expect(decodeEvents(one)).toEqual([events[2]]);
    });

    test('the single-event decoder refuses a batch instead of reading only its first event', () => {
      expect(() => decodeEvent(encodeEvents(session))).toThrow(/event batch where one event was expected/);
    });

    test('every truncation of a batch is an error, and so are trailing bytes', () => {
      const buf = encodeEvents(session.slice(0, 4));
      for (let len = 0; len < buf.length; len++) expect(() => decodeEvents(buf.subarray(0, len))).toThrow(DecodeError);
      expect(() => decodeEvents(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing/);
    });

    test('an empty batch cannot be encoded and a batch size below 2 or beyond the record is refused', () => {
      expect(() => encodeEvents([])).toThrow(/empty/);
      const buf = encodeEvents(session.slice(0, 2));
      buf[2] = 1; // the count follows version and batch tag
      expect(() => decodeEvents(buf)).toThrow(/invalid event batch size 1/);
      buf[2] = 100;
      expect(() => decodeEvents(buf)).toThrow(/invalid event batch size 100/);
    });
  });
});
