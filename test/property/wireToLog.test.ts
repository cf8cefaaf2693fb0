/**
 * What the wire accepts, the log can hold: for random valid and invalid packets
 * of every type, either the decoder (or the channel) refuses the packet with the
 * spec's reaction, closing the connection, or every event the channel produces
 * encodes and decodes back to the same value, through the same records the node
 * appends. The will QoS 3 CONNECT that once poisoned the log is one such case.
 */
import fc from 'fast-check';
import mqttPacket, { Packet } from 'mqtt-packet';
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import { Channel, ChannelContext } from '../../src/channel/Channel';
import { Effect } from '../../src/channel/effects';
import { defaultConfig } from '../../src/config';
import { DecodeError } from '../../src/events/binary';
import { decodeEvents, decodePublishedForDelivery, encodeEvents } from '../../src/events/codec';
import { BrokerEvent } from '../../src/events/types';
import { recordsFor } from '../../src/node/EventRouting';
import { streamLayout } from '../../src/node/streams';
import { PacketDecoder } from '../../src/protocol/PacketDecoder';
import { ProtocolViolation } from '../../src/protocol/ProtocolViolation';
import { frame } from '../helpers/packets';

const RUNS = Number(process.env.MQLOG_PROPERTY_RUNS ?? 1500);

/** Small limits, so random packets reach them. */
const settings = {
  ...defaultConfig().mqtt,
  maxPacketSize: 8192,
  maxPacketSizeBeforeConnect: 2048,
  maxTopicLength: 300,
  maxTopicLevels: 12,
  maxFiltersPerSubscribe: 6,
  maxSubscriptionsPerClient: 10,
  maxClientIdLength: 100,
  maxRetainedMessages: 5,
  maxRetainedBytes: 2000,
};

const streams = streamLayout('mqlog.');

interface Outcome {
  events: BrokerEvent[];
  closed: boolean;
  /** What the decoder or channel refused, if anything. */
  refusal: string | null;
}

/** Runs bytes through the decoder and a channel the way a connection does, answering auth and session opening at once. */
function runConnection(bytes: Buffer, chunk: number): Outcome {
  const subscribed = new Set<string>();
  let retained = 0;
  const ctx: ChannelContext = {
    nodeId: 'n1',
    settings,
    now: () => 1_800_000_000_000,
    position: () => [3],
    newClientId: () => 'auto-1',
    aclDenyAction: 'ignore',
    subscriptionCount: () => subscribed.size,
    isSubscribed: (_c, f) => subscribed.has(f),
    retainedRoom: () => (retained < settings.maxRetainedMessages ? true : 'mqtt.maxRetainedMessages'),
    queueWatch: null,
  };
  const ch = new Channel(ctx, 'n1/e/1', '127.0.0.1:5000');
  const out: Outcome = { events: [], closed: false, refusal: null };
  const run = (effects: Effect[]): void => {
    for (const e of effects) {
      switch (e.type) {
        case 'append':
          for (const ev of e.events) {
            out.events.push(ev);
            if (ev.type === 'message.published' && ev.retain) retained++;
          }
          if (e.then) run(e.then);
          break;
        case 'authenticate':
          run(ch.authenticated({ allowed: true, acl: ConnectionAcl.allowAll(), identity: { clientId: ch.clientId, username: e.request.username, ip: '127.0.0.1', groups: [], superuser: false } }));
          break;
        case 'open-session':
          run(ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null }));
          break;
        case 'route-add':
          for (const r of e.routes) subscribed.add(r.filter);
          break;
        case 'route-remove':
          for (const f of e.filters) subscribed.delete(f);
          break;
        case 'close':
          out.closed = true;
          out.refusal ??= e.detail;
          break;
        default:
          break;
      }
    }
  };
  const decoder = new PacketDecoder<null>(settings.maxPacketSizeBeforeConnect, (packet: Packet) => {
    run(ch.handle(packet));
    if (ch.state === 'connected') decoder.maxPacketSize = settings.maxPacketSize;
  });
  for (let at = 0; at < bytes.length && !out.closed; at += chunk) {
    try {
      decoder.push(bytes.subarray(at, at + chunk));
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolViolation); // the decoder refuses with a reason, never a crash
      out.refusal = (err as Error).message;
      run(ch.violation(err as ProtocolViolation));
      expect(out.closed).toBe(true); // the spec's reaction to a malformed packet: close [MQTT-4.8.0-1]
    }
  }
  return out;
}

/** Every event round-trips through the codec and through the records the node would append. */
function expectLogHolds(events: BrokerEvent[]): void {
  for (const event of events) {
    const [back] = decodeEvents(encodeEvents([event]));
    expect(back).toEqual(event);
  }
  if (events.length === 0) return;
  for (const record of recordsFor(events, streams)) {
    if (record.value === null) continue; // a tombstone clears a retained topic
    const decoded = decodeEvents(record.value);
    const local = record.local === undefined ? decoded : Array.isArray(record.local) ? record.local : [record.local];
    expect(decoded).toEqual(local);
    if (record.stream === streams.messages) {
      const published = decoded[0];
      if (published.type !== 'message.published') throw new Error('a message record holds no message');
      const forDelivery = decodePublishedForDelivery(record.value);
      expect({ qos: forDelivery.qos, retain: forDelivery.retain, target: forDelivery.target }).toEqual({ qos: published.qos, retain: published.retain, target: published.target });
      expect(forDelivery.payload.equals(published.payload)).toBe(true);
      expect(record.key!.toString('utf8')).toBe(published.topic);
    }
  }
}

// ---------------------------------------------------------------------------
// Arbitraries

const level = fc.oneof(
  fc.constantFrom('a', 'b', '+', '#', '', '$SYS', '$share', 'é', '\u0000', 'a+', 'b#', ' ', '\uFFFD', '日本'),
  fc.string({ maxLength: 4 }),
  fc.fullUnicodeString({ maxLength: 3 }),
);
const topic = fc.oneof(
  fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join('/')),
  fc.integer({ min: 1, max: 40 }).map((n) => `x${'/'.repeat(n)}`),
  fc.integer({ min: 280, max: 320 }).map((n) => 't'.repeat(n)),
);
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const qos = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>;
const packetId = fc.oneof(fc.constant(0), fc.constant(1), fc.constant(65535), fc.integer({ min: 1, max: 65535 }));

const connectPacket = fc.record({
  cmd: fc.constant('connect' as const),
  protocolId: fc.constantFrom('MQTT', 'MQIsdp'),
  protocolVersion: fc.constantFrom(3, 4, 4, 4, 5),
  clean: fc.boolean(),
  keepalive: fc.oneof(fc.constant(0), fc.constant(65535), fc.integer({ min: 0, max: 65535 })),
  clientId: fc.oneof(fc.string({ maxLength: 24 }), fc.fullUnicodeString({ maxLength: 8 }), fc.constant(''), fc.integer({ min: 90, max: 110 }).map((n) => 'c'.repeat(n))),
  will: fc.option(fc.record({ topic, payload: bytes(64), qos, retain: fc.boolean() }), { nil: undefined }),
  username: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
  password: fc.option(bytes(12), { nil: undefined }),
});

const publishPacket = fc.record({
  cmd: fc.constant('publish' as const),
  topic,
  payload: bytes(300),
  qos,
  retain: fc.boolean(),
  dup: fc.boolean(),
  messageId: packetId,
});

const subscribePacket = fc.record({
  cmd: fc.constant('subscribe' as const),
  messageId: packetId,
  subscriptions: fc.array(fc.record({ topic, qos }), { minLength: 1, maxLength: 9 }),
});

const unsubscribePacket = fc.record({
  cmd: fc.constant('unsubscribe' as const),
  messageId: packetId,
  unsubscriptions: fc.array(topic, { minLength: 1, maxLength: 8 }),
});

const ackPacket = fc.record({ cmd: fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const), messageId: packetId });
const emptyPacket = fc.record({ cmd: fc.constantFrom('pingreq' as const, 'disconnect' as const) });

/** A packet's bytes; packets mqtt-packet will not encode become raw frames of random bytes. */
function encode(p: Packet, junk: Buffer): Buffer {
  try {
    return mqttPacket.generate(p);
  } catch {
    return frame((p.cmd === 'publish' ? 3 : 8) << 4, junk);
  }
}

/** Hand-made frames mqtt-packet refuses to produce: will QoS 3, reserved flags, bad lengths. */
const rawFrame = fc.oneof(
  fc.record({ flags: fc.integer({ min: 0, max: 255 }), clientId: fc.string({ maxLength: 6 }), will: fc.string({ maxLength: 6 }) }).map(({ flags, clientId, will }) => {
    const str = (s: string) => {
      const b = Buffer.from(s);
      return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
    };
    const body = [str('MQTT'), Buffer.from([4, flags, 0, 10]), str(clientId)];
    if (flags & 0x04) body.push(str(will || 'w'), str('bye'));
    if (flags & 0x80) body.push(str('u'));
    if (flags & 0x40) body.push(str('p'));
    return frame(0x10, Buffer.concat(body));
  }),
  fc.record({ first: fc.integer({ min: 0, max: 255 }), body: bytes(40) }).map(({ first, body }) => frame(first, body)),
  bytes(60),
);

const anyPacket = fc.oneof(
  { weight: 4, arbitrary: publishPacket },
  { weight: 2, arbitrary: subscribePacket },
  { weight: 1, arbitrary: unsubscribePacket },
  { weight: 2, arbitrary: ackPacket },
  { weight: 1, arbitrary: emptyPacket },
  { weight: 1, arbitrary: connectPacket },
);

/** A connection's byte stream: a CONNECT (usually well-formed) and then packets, some hand-made. */
const session = fc.record({
  connect: fc.oneof({ weight: 5, arbitrary: connectPacket.map((p) => encode(p as Packet, Buffer.alloc(0))) }, { weight: 2, arbitrary: rawFrame }),
  rest: fc.array(fc.oneof({ weight: 6, arbitrary: anyPacket.map((p) => encode(p as Packet, Buffer.from('junk'))) }, { weight: 1, arbitrary: rawFrame }), { maxLength: 12 }),
  chunk: fc.oneof(fc.constant(1 << 20), fc.integer({ min: 1, max: 64 })),
});

/** Mutations of a valid stream: a flipped bit, a cut, inserted bytes, a lying length byte. */
const mutated = fc.record({ s: session, kind: fc.constantFrom('flip', 'cut', 'insert', 'length'), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), extra: bytes(8) }).map(({ s, kind, at, bit, extra }) => {
  const whole = Buffer.concat([s.connect, ...s.rest]);
  if (whole.length === 0) return { bytes: whole, chunk: s.chunk };
  const i = at % whole.length;
  let b: Buffer;
  if (kind === 'flip') {
    b = Buffer.from(whole);
    b[i] ^= 1 << bit;
  } else if (kind === 'cut') b = whole.subarray(0, i);
  else if (kind === 'insert') b = Buffer.concat([whole.subarray(0, i), extra, whole.subarray(i)]);
  else {
    b = Buffer.from(whole);
    b[Math.min(1, b.length - 1)] = extra[0] ?? 0xff;
  }
  return { bytes: b, chunk: s.chunk };
});

describe('what the wire accepts, the log can hold', () => {
  test('[MQTT-4.8.0-1] packets of every type: refused and closed, or every event round-trips through the codec and the records', () => {
    fc.assert(
      fc.property(session, (s) => {
        const outcome = runConnection(Buffer.concat([s.connect, ...s.rest]), s.chunk);
        expectLogHolds(outcome.events);
      }),
      { numRuns: RUNS },
    );
  });

  test('mutated packet streams (bit flips, truncations, insertions, length lies): the same', () => {
    fc.assert(
      fc.property(mutated, ({ bytes: b, chunk }) => {
        const outcome = runConnection(b, chunk);
        expectLogHolds(outcome.events);
      }),
      { numRuns: RUNS },
    );
  });

  test('[MQTT-3.1.2-14] a CONNECT with will QoS 3 is refused by the decoder and nothing reaches the log', () => {
    const str = (s: string) => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)]);
    const connect = frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x04 | 0x18 | 0x02, 0, 10]), str('c'), str('w'), str('x')]));
    const outcome = runConnection(connect, 1 << 20);
    expect(outcome.closed).toBe(true);
    expect(outcome.refusal).toMatch(/MQTT-3\.1\.2-14/);
    expect(outcome.events).toEqual([]);
  });

  test('a will whose topic is past the limits is refused at CONNECT, so the will can never be written', () => {
    const outcome = runConnection(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c', will: { topic: `x${'/'.repeat(20)}`, payload: Buffer.from('bye'), qos: 1, retain: true } }), 1 << 20);
    expect(outcome.closed).toBe(true);
    expect(outcome.refusal).toMatch(/maxTopicLevels/);
    expect(outcome.events).toEqual([]);
  });
});

describe('every record read back is untrusted', () => {
  test('arbitrary bytes decode to events or fail with a DecodeError, never another error', () => {
    fc.assert(
      fc.property(bytes(120), (b) => {
        try {
          decodeEvents(b);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('mutated valid records decode to events that encode back to the same bytes, or fail with a DecodeError', () => {
    fc.assert(
      fc.property(session, fc.nat(), fc.integer({ min: 0, max: 7 }), (s, at, bit) => {
        const { events } = runConnection(Buffer.concat([s.connect, ...s.rest]), s.chunk);
        fc.pre(events.length > 0);
        const value = encodeEvents(events.slice(0, 3));
        const b = Buffer.from(value);
        b[at % b.length] ^= 1 << bit;
        let decoded: BrokerEvent[];
        try {
          decoded = decodeEvents(b);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
          return;
        }
        // What decodes is a value the encoder writes; it reads back as itself.
        expect(decodeEvents(encodeEvents(decoded))).toEqual(decoded);
      }),
      { numRuns: RUNS },
    );
  });
});
