import { IPublishPacket } from 'mqtt-packet';
import { QoS } from '../events/types';
import { Delivery } from '../session/Session';

/** The PUBLISH packet for a delivery. `retain` is only set for retained messages sent on subscribe [MQTT-3.3.1-8, MQTT-3.3.1-9]. */
export function publishPacket(d: Delivery, qos: QoS, messageId: number, dup: boolean): IPublishPacket {
  const packet: IPublishPacket = { cmd: 'publish', topic: d.topic, payload: d.payload, qos, retain: d.retain, dup };
  if (qos > 0) packet.messageId = messageId;
  return packet;
}
