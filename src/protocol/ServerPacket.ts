/**
 * What a server sends a client, in the broker's terms: the channel's effects
 * for the wire, which each protocol's codec turns into bytes (Mqtt3Encoder for
 * MQTT 3.1/3.1.1).
 */
import { AckKind, GrantedQoS, QoS } from '../events/types';
import type { ConnectRefusal } from './ConnectRefusal';
import type { PublishSource } from './PublishEncoder';
import type { Properties } from './v5/properties';
import type { PublishProperties } from './v5/Mqtt5Encoder';

/** MQTT 5 adds reason codes and properties; the MQTT 3 codec ignores them. */
export type ServerPacket =
  /** The answer to CONNECT: accepted (refusal null) or why not; `v5`: CONNACK properties. */
  | { type: 'connack'; refusal: ConnectRefusal | null; sessionPresent: boolean; v5?: Properties }
  /** PUBACK, PUBREC, PUBREL or PUBCOMP for a packet id; v5: a reason code other than success. */
  | { type: 'ack'; kind: AckKind; packetId: number; reasonCode?: number; reasonString?: string }
  /** The answer to SUBSCRIBE: one granted QoS (or refusal) per filter, in order [MQTT-3.8.4-5]; v5: the reason codes. */
  | { type: 'suback'; packetId: number; granted: GrantedQoS[]; codes?: number[] }
  /** v5: a reason code per filter (success, or no subscription existed). */
  | { type: 'unsuback'; packetId: number; codes?: number[] }
  | { type: 'pingresp' }
  /** A message to the client (`packetId` 0 at QoS 0); DUP on a resend [MQTT-3.3.1-1]; v5: its properties. */
  | { type: 'publish'; delivery: PublishSource; qos: QoS; packetId: number; dup: boolean; v5?: PublishProperties }
  /** MQTT 5 only: the server ends the connection, saying why [MQTT-3.14.2-1]. */
  | { type: 'disconnect'; reasonCode: number; reasonString?: string; serverReference?: string }
  /** MQTT 5 only: enhanced authentication, 0x18 Continue (a challenge) or 0x00 Success of a re-authentication (section 3.15). */
  | { type: 'auth'; reasonCode: 0x00 | 0x18; method: string; data: Buffer | null; reasonString?: string };
