/**
 * What a server sends a client, in the broker's terms: the channel's effects
 * for the wire, which each protocol's codec turns into bytes (Mqtt3Encoder for
 * MQTT 3.1/3.1.1).
 */
import { AckKind, GrantedQoS, QoS } from '../events/types';
import type { ConnectRefusal } from './ConnectRefusal';
import type { PublishSource } from './PublishEncoder';

export type ServerPacket =
  /** The answer to CONNECT: accepted (refusal null) or why not. */
  | { type: 'connack'; refusal: ConnectRefusal | null; sessionPresent: boolean }
  /** PUBACK, PUBREC, PUBREL or PUBCOMP for a packet id. */
  | { type: 'ack'; kind: AckKind; packetId: number }
  /** The answer to SUBSCRIBE: one granted QoS (or refusal) per filter, in order [MQTT-3.8.4-5]. */
  | { type: 'suback'; packetId: number; granted: GrantedQoS[] }
  | { type: 'unsuback'; packetId: number }
  | { type: 'pingresp' }
  /** A message to the client (`packetId` 0 at QoS 0); DUP on a resend [MQTT-3.3.1-1]. */
  | { type: 'publish'; delivery: PublishSource; qos: QoS; packetId: number; dup: boolean };
