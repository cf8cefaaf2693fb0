import { IPublishPacket } from 'mqtt-packet';
import { DisconnectReason, MessageOrigin, MessagePublished } from '../../events/types';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicLimitError, topicNameError } from '../../protocol/topics';
import type { Channel } from '../Channel';
import { isUtf8 } from 'buffer';
import { V5Publish } from '../../protocol/v5/Mqtt5Decoder';
import { messagePropertiesOf } from '../../protocol/v5/messageProperties';
import { retainedBytes } from '../../../projections/RetainedProjection';
import { Effect } from '../effects';

/**
 * An inbound PUBLISH. It is acknowledged only once it is durable in the log:
 * QoS 1 with PUBACK [MQTT-4.3.2-2], QoS 2 with PUBREC [MQTT-4.3.3-2]. A QoS 2
 * packet id still awaiting PUBREL is a resend: acknowledged, not published again.
 */
export function handlePublish(ch: Channel, packet: IPublishPacket): Effect[] {
  const v5 = (packet as V5Publish).v5;
  if (ch.v5) {
    // Topic aliases [MQTT-3.3.2-7..12]: the packet's topic becomes the one its alias names.
    const topic = ch.v5.resolveAlias(packet.topic, v5?.topicAlias);
    if (typeof topic === 'number') return ch.violation(new ProtocolViolation(topic === 0x94 ? `topic alias ${v5?.topicAlias} out of range (1..${ch.v5.topicAliasMaximum})` : `unknown topic alias ${v5?.topicAlias} or empty topic`, undefined, topic));
    packet.topic = topic;
  }
  const topicError = topicNameError(packet.topic);
  if (topicError) return ch.violation(new ProtocolViolation(topicError));
  // 3.1.1 has no negative PUBACK: a topic past the limits closes the connection, as EMQX does.
  const tooLong = topicLimitError(packet.topic, ch.settings);
  if (tooLong) return [{ type: 'limit', ...tooLong }, ...ch.violation(new ProtocolViolation(tooLong.detail))];
  const qos = packet.qos;
  const packetId = packet.messageId ?? 0;
  if (qos > 0 && packetId === 0) return ch.violation(new ProtocolViolation('QoS > 0 PUBLISH without a packet identifier [MQTT-2.3.1-1]'));
  const session = ch.session!;

  if (qos === 2 && session.inbound.has(packetId)) {
    return [{ type: 'append', events: [], then: [{ type: 'ack', kind: 'pubrec', packetId }] }];
  }
  // MQTT 5: no more QoS 1 and 2 PUBLISHes unacknowledged (QoS 1 until its PUBACK, QoS 2 until its PUBCOMP) than
  // the Receive Maximum the CONNACK announced [MQTT-3.3.4-7].
  if (qos > 0 && ch.v5 && ch.v5.inboundQos1 + session.inbound.size >= ch.settings.receiveMaximum) {
    return ch.violation(new ProtocolViolation(`more than ${ch.settings.receiveMaximum} QoS 1 and 2 PUBLISHes unacknowledged (receive maximum)`, undefined, 0x93));
  }

  if (!ch.acl.mayPublish(packet.topic)) return refused(ch, packet, packetId);

  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  const now = ch.ctx.now();
  // A payload that says it is UTF-8 and is not: refused with 0x99 [MQTT-3.3.2-4] (a QoS 0 one is dropped).
  if (v5?.payloadFormatIndicator === 1 && !isUtf8(payload)) return negativeAck(ch, packet, packetId, 0x99, 'payload is not UTF-8 though its payload format indicator says so');
  let retain = packet.retain && ch.settings.retainAvailable;
  let full: Effect | null = null;
  const properties = v5 ? messagePropertiesOf(v5, now) : undefined;
  if (retain && payload.length > 0) {
    // A full retained store takes no new topics: the message is delivered, not retained (as EMQX). Properties count too.
    const room = ch.ctx.retainedRoom(packet.topic, retainedBytes({ topic: packet.topic, payload, properties }));
    if (room !== true) {
      retain = false;
      full = { type: 'limit', limit: room, detail: `retained message for ${packet.topic.slice(0, 200)} not stored: the retained store is full` };
    }
  }
  const event: MessagePublished = {
    type: 'message.published',
    topic: packet.topic,
    payload,
    qos,
    retain,
    publisherId: ch.clientId,
    packetId,
    origin: MessageOrigin.Client,
    nodeId: ch.ctx.nodeId,
    timestamp: now,
    username: ch.username,
    remoteAddress: ch.remoteAddress,
    target: null,
  };
  if (properties) event.properties = properties;
  // Array literals of their final length (this runs per message: an empty array grown by push allocates twice).
  let append: Effect;
  if (qos === 0) append = { type: 'append', events: [event] };
  else if (qos === 1 && ch.v5) {
    ch.v5.inboundQos1++;
    append = { type: 'append', events: [event], then: [{ type: 'ack', kind: 'puback', packetId }, { type: 'puback-sent' }] };
  } else if (qos === 1) append = { type: 'append', events: [event], then: [{ type: 'ack', kind: 'puback', packetId }] };
  else append = qos2Append(ch, event, packetId, now);
  return full ? [full, append] : [append];
}

/** A QoS 2 PUBLISH: the message and the open inbound exchange, then PUBREC [MQTT-4.3.3-2]. */
function qos2Append(ch: Channel, event: MessagePublished, packetId: number, now: number): Effect {
  ch.session!.inbound.add(packetId);
  return {
    type: 'append',
    events: [event, { type: 'message.acknowledged', clientId: ch.clientId, packetId, kind: 'pubrec', direction: 'out', timestamp: now }],
    then: [{ type: 'ack', kind: 'pubrec', packetId }],
  };
}

/**
 * A PUBLISH the access rules refuse is not published; the refusal is recorded.
 * MQTT 3.1.1 has no negative acknowledgement, so QoS 1/2 exchanges complete as
 * usual (as Mosquitto does), unless the broker is configured to disconnect.
 */
function refused(ch: Channel, packet: IPublishPacket, packetId: number): Effect[] {
  const denied = ch.deniedEvent('publish', packet.topic);
  if (ch.ctx.aclDenyAction === 'disconnect') {
    return [{ type: 'append', events: [denied] }, ...ch.end(DisconnectReason.NotAuthorized, `publish to ${packet.topic} refused by the access rules`, true)];
  }
  // MQTT 5 says so: PUBACK or PUBREC 0x87 Not authorized (tables 3-4, 3-5), and no QoS 2 exchange is opened.
  if (ch.v5) return [{ type: 'append', events: [denied] }, ...negativeAck(ch, packet, packetId, 0x87, 'not authorized')];
  if (packet.qos === 0) return [{ type: 'append', events: [denied] }];
  if (packet.qos === 1) return [{ type: 'append', events: [denied], then: [{ type: 'ack', kind: 'puback', packetId }] }];
  ch.session!.inbound.add(packetId);
  return [
    {
      type: 'append',
      events: [denied, { type: 'message.acknowledged', clientId: ch.clientId, packetId, kind: 'pubrec', direction: 'out', timestamp: ch.ctx.now() }],
      then: [{ type: 'ack', kind: 'pubrec', packetId }],
    },
  ];
}

/** MQTT 5: a PUBLISH not taken, answered with its reason code (QoS 1 PUBACK, QoS 2 PUBREC; QoS 0 has no answer). */
function negativeAck(ch: Channel, packet: IPublishPacket, packetId: number, reasonCode: number, why: string): Effect[] {
  if (!ch.v5) return ch.violation(new ProtocolViolation(why));
  const reasonString = ch.v5.requestProblemInformation ? why : undefined;
  if (packet.qos === 0) return [];
  return [{ type: 'ack', kind: packet.qos === 1 ? 'puback' : 'pubrec', packetId, reasonCode, ...(reasonString ? { reasonString } : {}) }];
}
