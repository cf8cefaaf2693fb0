import { IUnsubscribePacket } from 'mqtt-packet';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicFilterError } from '../../protocol/topics';
import type { Channel } from '../Channel';
import { Effect } from '../effects';

/** UNSUBSCRIBE: stop routing at once, UNSUBACK once durable, even if nothing matched [MQTT-3.10.4-4, MQTT-3.10.4-5]. */
export function handleUnsubscribe(ch: Channel, packet: IUnsubscribePacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  if (packetId === 0) return ch.violation(new ProtocolViolation('UNSUBSCRIBE without a packet identifier [MQTT-2.3.1-1]'));
  for (const f of packet.unsubscriptions) {
    const err = topicFilterError(f);
    if (err) return ch.violation(new ProtocolViolation(`invalid topic filter: ${err}`));
  }
  return [
    { type: 'route-remove', filters: packet.unsubscriptions },
    {
      type: 'append',
      events: [{ type: 'client.unsubscribed', clientId: ch.clientId, packetId, filters: packet.unsubscriptions, timestamp: ch.ctx.now() }],
      then: [{ type: 'send', packet: { cmd: 'unsuback', messageId: packetId, granted: [] } }],
    },
  ];
}
