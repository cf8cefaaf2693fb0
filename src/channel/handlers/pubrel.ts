import { IPubrelPacket } from 'mqtt-packet';
import type { Channel } from '../Channel';
import { Effect } from '../effects';

/** PUBREL ends an inbound QoS 2 exchange; PUBCOMP answers it even for an unknown id [MQTT-4.3.3-2]. */
export function handlePubrel(ch: Channel, packet: IPubrelPacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  const pubcomp: Effect = { type: 'ack', kind: 'pubcomp', packetId };
  if (!ch.session!.inbound.delete(packetId)) return [{ type: 'append', events: [], then: [pubcomp] }];
  return [
    {
      type: 'append',
      events: [{ type: 'message.acknowledged', clientId: ch.clientId, packetId, kind: 'pubrel', direction: 'in', timestamp: ch.ctx.now() }],
      then: [pubcomp],
    },
  ];
}
