/**
 * The MQTT 5 codec's output side: bytes for what a channel sends a v5 client.
 * The channel's effects are the same as for 3.1.1; v5 adds reason codes and
 * properties, and DISCONNECT from the server (section 3.14).
 */
import { QoS, SUBACK_FAILURE } from '../../events/types';
import { mqtt5ConnackCode } from '../ConnectRefusal';
import { encodePublish, PublishSource } from '../PublishEncoder';
import type { ServerPacket } from '../ServerPacket';
import { Properties, str, varint, writeProperties } from './properties';

const ACK_FIRST = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

function packet(first: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/** Message properties forwarded with a PUBLISH to a v5 client (the rest of a message's properties stay with it). */
export interface PublishProperties {
  payloadFormatIndicator?: number;
  /** Seconds left, not the original interval [MQTT-3.3.2-6]. */
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Array<[string, string]>;
  subscriptionIdentifiers?: number[];
  topicAlias?: number;
  /** The client knows the alias already: the topic is sent empty [MQTT-3.3.2-7]. Not a wire property. */
  topicOmitted?: boolean;
}

export function encodePublish5(d: PublishSource, qos: QoS, packetId: number, dup: boolean, props: PublishProperties | undefined): Buffer {
  // No properties (most messages): the shared template, as for 3.1.1, with an empty property block.
  if (props === undefined) return encodePublish(d, qos, packetId, dup, true);
  const first = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (d.retain ? 1 : 0);
  let wire: Properties | undefined = props as Properties | undefined;
  let topic = d.topic;
  if (props?.topicOmitted) {
    const { topicOmitted: _omitted, ...rest } = props;
    wire = rest as Properties;
    topic = '';
  }
  return packet(first, str(topic), qos > 0 ? u16(packetId) : Buffer.alloc(0), writeProperties(wire, 'publish'), d.payload);
}

export function encodeMqtt5(effect: ServerPacket): Buffer {
  switch (effect.type) {
    case 'publish':
      return encodePublish5(effect.delivery, effect.qos, effect.packetId, effect.dup, effect.v5);
    case 'ack':
      // The short form when all is well and nothing is said [MQTT-3.4.2-1].
      if (!effect.reasonCode && !effect.reasonString) return Buffer.from([ACK_FIRST[effect.kind], 2, (effect.packetId >> 8) & 0xff, effect.packetId & 0xff]);
      return packet(ACK_FIRST[effect.kind], u16(effect.packetId), Buffer.from([effect.reasonCode ?? 0]), writeProperties(effect.reasonString ? { reasonString: effect.reasonString } : undefined, effect.kind));
    case 'pingresp':
      return Buffer.from([0xd0, 0x00]);
    case 'connack': {
      const accepted = effect.refusal === null;
      // [MQTT-3.2.2-6] a refused connection has session present 0.
      return packet(0x20, Buffer.from([accepted && effect.sessionPresent ? 1 : 0, mqtt5ConnackCode(effect.refusal)]), writeProperties(effect.v5, 'connack'));
    }
    case 'suback': {
      const codes = effect.codes ?? effect.granted.map((g) => (g === SUBACK_FAILURE ? 0x80 : g));
      return packet(0x90, u16(effect.packetId), writeProperties(undefined, 'suback'), Buffer.from(codes));
    }
    case 'unsuback':
      return packet(0xb0, u16(effect.packetId), writeProperties(undefined, 'unsuback'), Buffer.from(effect.codes ?? []));
    case 'disconnect': {
      const props: Properties = {};
      if (effect.reasonString) props.reasonString = effect.reasonString;
      if (effect.serverReference) props.serverReference = effect.serverReference;
      return packet(0xe0, Buffer.from([effect.reasonCode]), writeProperties(props, 'disconnect'));
    }
    case 'auth': {
      // The method is the CONNECT's in every AUTH [MQTT-4.12.0-5].
      const props: Properties = { authenticationMethod: effect.method };
      if (effect.data) props.authenticationData = effect.data;
      if (effect.reasonString) props.reasonString = effect.reasonString;
      return packet(0xf0, Buffer.from([effect.reasonCode]), writeProperties(props, 'auth'));
    }
  }
}
