/**
 * The direct CONNECT and SUBSCRIBE decoders (MQTT 3.1/3.1.1) against mqtt-packet's
 * encoder, and the malformed packets they must refuse.
 */
import mqttPacket, { IConnectPacket, ISubscribePacket, Packet } from 'mqtt-packet';
import { PacketDecoder } from '../../src/protocol/PacketDecoder';
import { ProtocolViolation } from '../../src/protocol/ProtocolViolation';

function decode(...frames: Buffer[]): Packet[] {
  const out: Packet[] = [];
  const d = new PacketDecoder(1_000_000, (p) => out.push(p));
  for (const f of frames) d.push(f);
  return out;
}

const base: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'dev-ü' };
const connects: Array<[string, IConnectPacket]> = [
  ['plain 3.1.1', base],
  ['3.1 (MQIsdp) persistent', { ...base, protocolId: 'MQIsdp', protocolVersion: 3, clean: false, keepalive: 65535 }],
  ['empty client id', { ...base, clientId: '' }],
  ['will, user name and password', { ...base, will: { topic: 'w/t', payload: Buffer.from([0, 1, 2]), qos: 2, retain: true }, username: 'alice', password: Buffer.from('s3cret') }],
  ['user name only, QoS 1 will without retain', { ...base, will: { topic: 'w', payload: Buffer.alloc(0), qos: 1, retain: false }, username: '' }],
];

describe('direct CONNECT decoding', () => {
  test.each(connects)('%s decodes to what was encoded', (_name, packet) => {
    const [got] = decode(mqttPacket.generate(packet)) as IConnectPacket[];
    expect(got).toMatchObject({ cmd: 'connect', protocolId: packet.protocolId, protocolVersion: packet.protocolVersion, clean: packet.clean, keepalive: packet.keepalive, clientId: packet.clientId });
    expect(got.username).toBe(packet.username);
    expect(got.password?.toString('hex')).toBe(packet.password?.toString('hex'));
    if (packet.will) {
      expect({ ...got.will, payload: null }).toEqual({ ...packet.will, payload: null });
      expect((got.will!.payload as Buffer).equals(packet.will.payload as Buffer)).toBe(true);
    } else {
      expect(got.will).toBeUndefined();
    }
  });

  test('the will payload and password are copies, not views of the received bytes', () => {
    const frame = mqttPacket.generate(connects[3][1]);
    const [got] = decode(frame) as IConnectPacket[];
    frame.fill(0);
    expect((got.will!.payload as Buffer).equals(Buffer.from([0, 1, 2]))).toBe(true);
    expect(got.password!.toString()).toBe('s3cret');
  });

  const malformed = (mutate: (b: Buffer) => Buffer) => () => mutate(Buffer.from(mqttPacket.generate(base)));
  // Offsets in `base`: [0] type, [1] length, [2..7] "\0\4MQTT", [8] level, [9] flags, [10..11] keepalive.
  test.each([
    ['[MQTT-3.1.2-3] reserved connect flag', malformed((b) => ((b[9] |= 0x01), b)), /bit 0 must be 0/],
    ['[MQTT-3.1.2-15] will retain without a will', malformed((b) => ((b[9] |= 0x20), b)), /Will Retain/],
    ['[MQTT-3.1.2-13] will QoS without a will', malformed((b) => ((b[9] |= 0x08), b)), /Will QoS/],
    ['[MQTT-3.1.2-22] password without user name', malformed((b) => ((b[9] |= 0x40), b)), /password flag set without user name flag/],
    ['[MQTT-2.2.2-2] reserved fixed-header flags', malformed((b) => ((b[0] |= 0x02), b)), /reserved flags/],
    ['unknown protocol name', malformed((b) => ((b[4] = 0x58), b)), /Invalid protocolId/],
    ['trailing bytes', malformed((b) => Buffer.concat([Buffer.from([b[0], b[1] + 1]), b.subarray(2), Buffer.from([7])])), /trailing/],
    ['user name flag without a user name', malformed((b) => ((b[9] |= 0x80), b)), /too short for user name/],
    ['[MQTT-1.5.3-1] client id that is not UTF-8', () => Buffer.from(mqttPacket.generate({ ...base, clientId: 'ab' })).fill(0xff, 14, 16), /client id is not valid UTF-8/],
  ])('%s is refused', (_name, frame, message) => {
    expect(() => decode(frame())).toThrow(message);
    let err: unknown;
    try {
      decode(frame());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolViolation);
    expect((err as ProtocolViolation).refusal).toBeUndefined();
  });

  test('[MQTT-3.1.2-2] an unsupported protocol level is answered with CONNACK 0x01', () => {
    const b = Buffer.from(mqttPacket.generate(base));
    b[8] = 6;
    let err: unknown;
    try {
      decode(b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolViolation);
    expect((err as ProtocolViolation).refusal).toBe('unsupported-protocol');
  });

  test('MQTT 5 CONNECT is still decoded (by mqtt-packet), so the channel can refuse it with its CONNACK', () => {
    const [got] = decode(mqttPacket.generate({ ...base, protocolVersion: 5 }, { protocolVersion: 5 })) as IConnectPacket[];
    expect(got.protocolVersion).toBe(5);
  });
});

describe('direct SUBSCRIBE decoding', () => {
  const connect = mqttPacket.generate(base);

  test('filters and requested QoS in order', () => {
    const sub: ISubscribePacket = { cmd: 'subscribe', messageId: 513, subscriptions: [{ topic: 'a/+/ü', qos: 0 }, { topic: '#', qos: 2 }, { topic: 'x', qos: 1 }] };
    const [, got] = decode(connect, mqttPacket.generate(sub)) as [IConnectPacket, ISubscribePacket];
    expect(got).toEqual(sub);
  });

  const frame = (bytes: number[]) => Buffer.from([0x82, bytes.length, ...bytes]);
  test.each([
    ['[MQTT-3.8.1-1] wrong fixed-header flags', Buffer.from([0x80, 6, 0, 1, 0, 1, 0x61, 0]), /must be 0x2/],
    ['[MQTT-3.8.3-3] no filters', frame([0, 1]), /without topic filters/],
    ['[MQTT-3-8.3-4] requested QoS 3', frame([0, 1, 0, 1, 0x61, 3]), /QoS, must be <= 2/],
    ['[MQTT-3-8.3-4] reserved option bits', frame([0, 1, 0, 1, 0x61, 0x05]), /bits 7-2 must be 0/],
    ['a filter without its QoS byte', frame([0, 1, 0, 1, 0x61]), /Malformed Subscribe Payload/],
    ['a filter longer than the packet', frame([0, 1, 0, 9, 0x61, 1]), /too short for topic filter/],
    ['[MQTT-1.5.3-1] a filter that is not UTF-8', frame([0, 1, 0, 2, 0xc3, 0x28, 1]), /not valid UTF-8/],
  ])('%s is refused', (_name, bytes, message) => {
    expect(() => decode(connect, bytes)).toThrow(message);
  });
});
