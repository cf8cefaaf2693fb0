/**
 * MQTT 5 packets from a client (OASIS MQTT 5.0, chapter 3), decoded here with
 * the one property reader (properties.ts) rather than by mqtt-packet, whose
 * parser turns repeated properties into arrays, user properties into an
 * unordered object and accepts properties a packet may not carry. Packets come
 * out in mqtt-packet's shapes (what the channel's handlers take) with the
 * properties as `v5` and reason codes as `reasonCode`.
 *
 * Every rule broken is a ProtocolViolation carrying the reason code the spec
 * gives: 0x81 Malformed Packet, 0x82 Protocol Error.
 */
import { isUtf8 } from 'buffer';
import { IConnectPacket, IDisconnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { QoS } from '../../events/types';
import { ProtocolViolation } from '../ProtocolViolation';
import { MALFORMED, PROTOCOL_ERROR, Properties, readProperties, V5Reader } from './properties';

/** What a v5 packet carries besides mqtt-packet's fields. */
export interface V5Fields {
  v5?: Properties;
  reasonCode?: number;
}

export interface V5Subscription {
  topic: string;
  qos: QoS;
  /** No Local, Retain As Published, Retain Handling [MQTT-3.8.3.1]. */
  nl: boolean;
  rap: boolean;
  rh: 0 | 1 | 2;
}

export type V5Connect = IConnectPacket & V5Fields & { willProperties?: Properties };
export type V5Publish = IPublishPacket & V5Fields;
export type V5Subscribe = Omit<ISubscribePacket, 'subscriptions'> & V5Fields & { subscriptions: V5Subscription[] };
export type V5Unsubscribe = IUnsubscribePacket & V5Fields;
export type V5Disconnect = IDisconnectPacket & V5Fields;

const malformed = (why: string) => new ProtocolViolation(`malformed packet: ${why}`, undefined, MALFORMED);
const protocolError = (why: string) => new ProtocolViolation(`protocol error: ${why}`, undefined, PROTOCOL_ERROR);

/** Reason codes a client may put in PUBACK/PUBREC [MQTT-3.4.2.1], PUBREL/PUBCOMP [MQTT-3.6.2.1], DISCONNECT [MQTT-3.14.2.1]. */
const ACK_CODES: Record<string, ReadonlySet<number>> = {
  puback: new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
  pubrec: new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
  pubrel: new Set([0x00, 0x92]),
  pubcomp: new Set([0x00, 0x92]),
};
const CLIENT_DISCONNECT_CODES = new Set([0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99]);

function flagsMustBe(frame: Buffer, expected: number, name: string): void {
  const flags = frame[0] & 0x0f;
  if (flags !== expected) throw malformed(`${name} with reserved flags ${flags.toString(2).padStart(4, '0')} [MQTT-2.1.3-1]`);
}

function done(r: V5Reader, name: string): void {
  if (r.remaining !== 0) throw malformed(`${name} has ${r.remaining} unexpected trailing byte(s)`);
}

/** CONNECT with protocol level 5 (section 3.1); `headerLength` is the fixed header's. */
export function decodeConnect5(frame: Buffer, headerLength: number): V5Connect {
  flagsMustBe(frame, 0, 'CONNECT');
  const r = new V5Reader(frame, headerLength, frame.length);
  const protocolId = r.string('protocol name');
  if (protocolId !== 'MQTT') throw malformed(`protocol name ${protocolId} with level 5 [MQTT-3.1.2-1]`);
  r.byte('protocol level');
  const flags = r.byte('connect flags');
  const keepalive = r.u16('keep alive');
  if (flags & 0x01) throw malformed('connect flag bit 0 must be 0 [MQTT-3.1.2-3]');
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (hasWill && willQos === 3) throw malformed('will QoS 3 [MQTT-3.1.2-12]');
  if (!hasWill && (willQos !== 0 || willRetain)) throw malformed('will QoS or retain set without a will [MQTT-3.1.2-11, MQTT-3.1.2-13]');
  const v5 = readProperties(r, 'connect');
  const packet: V5Connect = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: (flags & 0x02) !== 0,
    keepalive,
    clientId: r.string('client id'),
    v5,
  };
  if (hasWill) {
    packet.willProperties = readProperties(r, 'will');
    const topic = r.string('will topic');
    const payload = r.binary('will payload');
    if (packet.willProperties.payloadFormatIndicator === 1 && !isUtf8(payload)) {
      throw new ProtocolViolation('will payload is not UTF-8 though its payload format indicator says so [MQTT-3.1.3-11]', undefined, 0x99);
    }
    packet.will = { topic, payload, qos: willQos as QoS, retain: willRetain };
  }
  // MQTT 5 allows a password without a user name [MQTT-3.1.2-20 dropped].
  if (flags & 0x80) packet.username = r.string('user name');
  if (flags & 0x40) packet.password = r.binary('password');
  done(r, 'CONNECT');
  return packet;
}

/** Any other packet of a v5 client (the connection is past its CONNECT). */
export function decodePacket5(frame: Buffer, headerLength: number): Packet & V5Fields {
  const type = frame[0] >> 4;
  const r = new V5Reader(frame, headerLength, frame.length);
  switch (type) {
    case 1:
      // A second CONNECT: the channel closes the connection for it [MQTT-3.1.0-2].
      return decodeConnect5(frame, r.pos);
    case 3:
      return decodePublish5(frame, r);
    case 4:
    case 5:
    case 6:
    case 7: {
      const cmd = (['puback', 'pubrec', 'pubrel', 'pubcomp'] as const)[type - 4];
      flagsMustBe(frame, type === 6 ? 2 : 0, cmd.toUpperCase());
      const messageId = r.u16('packet identifier');
      let reasonCode = 0;
      let v5: Properties = {};
      // The reason code and properties may be left out when the code is 0 and there are none [MQTT-3.4.2.1].
      if (r.remaining > 0) {
        reasonCode = r.byte('reason code');
        if (!ACK_CODES[cmd].has(reasonCode)) throw protocolError(`${cmd.toUpperCase()} reason code 0x${reasonCode.toString(16)}`);
        if (r.remaining > 0) v5 = readProperties(r, cmd);
      }
      done(r, cmd.toUpperCase());
      return { cmd, messageId, reasonCode, v5 } as Packet & V5Fields;
    }
    case 8:
      return decodeSubscribe5(frame, r) as unknown as Packet & V5Fields;
    case 10: {
      flagsMustBe(frame, 2, 'UNSUBSCRIBE');
      const messageId = r.u16('packet identifier');
      const v5 = readProperties(r, 'unsubscribe');
      const unsubscriptions: string[] = [];
      while (r.remaining > 0) unsubscriptions.push(r.string('topic filter'));
      if (unsubscriptions.length === 0) throw protocolError('UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]');
      return { cmd: 'unsubscribe', messageId, unsubscriptions, v5 } as V5Unsubscribe;
    }
    case 12:
      flagsMustBe(frame, 0, 'PINGREQ');
      done(r, 'PINGREQ');
      return { cmd: 'pingreq' };
    case 14: {
      flagsMustBe(frame, 0, 'DISCONNECT');
      let reasonCode = 0;
      let v5: Properties = {};
      if (r.remaining > 0) {
        reasonCode = r.byte('reason code');
        if (!CLIENT_DISCONNECT_CODES.has(reasonCode)) throw protocolError(`DISCONNECT reason code 0x${reasonCode.toString(16)}`);
        if (r.remaining > 0) v5 = readProperties(r, 'disconnect');
      }
      done(r, 'DISCONNECT');
      return { cmd: 'disconnect', reasonCode, v5 } as V5Disconnect;
    }
    case 15: {
      flagsMustBe(frame, 0, 'AUTH');
      let reasonCode = 0;
      let v5: Properties = {};
      if (r.remaining > 0) {
        reasonCode = r.byte('reason code');
        if (reasonCode !== 0x00 && reasonCode !== 0x18 && reasonCode !== 0x19) throw protocolError(`AUTH reason code 0x${reasonCode.toString(16)}`);
        if (r.remaining > 0) v5 = readProperties(r, 'auth');
      }
      done(r, 'AUTH');
      return { cmd: 'auth', reasonCode, v5 } as unknown as Packet & V5Fields;
    }
    default:
      throw malformed(`packet type ${type} may not be sent by a client [MQTT-2.1.2]`);
  }
}

function decodePublish5(frame: Buffer, r: V5Reader): V5Publish {
  const flags = frame[0] & 0x0f;
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw malformed('PUBLISH with both QoS bits set [MQTT-3.3.1-4]');
  const dup = (flags & 0x08) !== 0;
  if (dup && qos === 0) throw malformed('DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]');
  const topic = r.string('topic name');
  let messageId: number | undefined;
  if (qos > 0) {
    messageId = r.u16('packet identifier');
    if (messageId === 0) throw protocolError('packet identifier 0 [MQTT-2.2.1-3]');
  }
  const v5 = readProperties(r, 'publish');
  // A client never sends subscription identifiers [MQTT-3.3.4-6].
  if (v5.subscriptionIdentifiers) throw protocolError('PUBLISH from a client with a subscription identifier [MQTT-3.3.4-6]');
  const payload = frame.subarray(r.pos);
  const packet: V5Publish = { cmd: 'publish', topic, payload, qos: qos as QoS, dup, retain: (flags & 0x01) !== 0, v5 };
  if (messageId !== undefined) packet.messageId = messageId;
  return packet;
}

function decodeSubscribe5(frame: Buffer, r: V5Reader): V5Subscribe {
  flagsMustBe(frame, 2, 'SUBSCRIBE');
  const messageId = r.u16('packet identifier');
  const v5 = readProperties(r, 'subscribe');
  const subscriptions: V5Subscription[] = [];
  while (r.remaining > 0) {
    const topic = r.string('topic filter');
    const options = r.byte('subscription options');
    if (options & 0xc0) throw malformed('subscription options with reserved bits set [MQTT-3.8.3-5]');
    const qos = options & 3;
    if (qos === 3) throw malformed('subscription QoS 3 [MQTT-3.8.3-2]');
    const rh = (options >> 4) & 3;
    if (rh === 3) throw protocolError('retain handling 3 [MQTT-3.8.3.1]');
    subscriptions.push({ topic, qos: qos as QoS, nl: (options & 0x04) !== 0, rap: (options & 0x08) !== 0, rh: rh as 0 | 1 | 2 });
  }
  if (subscriptions.length === 0) throw protocolError('SUBSCRIBE without topic filters [MQTT-3.8.3-3]');
  return { cmd: 'subscribe', messageId, subscriptions, v5 };
}
