import { IPublishPacket } from 'mqtt-packet';
import { QoS } from '../events/types';
import { encodePublish } from '../protocol/PublishEncoder';
import { Delivery } from '../session/Session';
import { Effect } from './effects';

/**
 * Sending a delivery: the PUBLISH packet (for logs and tests) with its bytes
 * from the shared encoder. `retain` is only set for retained messages sent on
 * subscribe [MQTT-3.3.1-8, MQTT-3.3.1-9].
 */
export function sendPublish(d: Delivery, qos: QoS, messageId: number, dup: boolean): Effect {
  const packet: IPublishPacket = { cmd: 'publish', topic: d.topic, payload: d.payload, qos, retain: d.retain, dup };
  if (qos > 0) packet.messageId = messageId;
  return { type: 'send', packet, bytes: encodePublish(d, qos, messageId, dup) };
}
