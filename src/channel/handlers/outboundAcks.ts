import { IPubackPacket, IPubcompPacket, IPubrecPacket } from 'mqtt-packet';
import type { Channel } from '../Channel';
import { Effect } from '../effects';
import { AckKind } from '../../events/types';

function ackEvent(ch: Channel, packetId: number, kind: AckKind): Effect {
  return {
    type: 'append',
    events: [{ type: 'message.acknowledged', clientId: ch.clientId, packetId, kind, direction: 'in', timestamp: ch.ctx.now() }],
  };
}

/** PUBACK completes an outbound QoS 1 delivery and frees a window slot. Unknown ids are ignored. */
export function handlePuback(ch: Channel, packet: IPubackPacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  const session = ch.session!;
  const entry = session.inflight.get(packetId);
  if (!entry || entry.qos !== 1) return [];
  session.inflight.delete(packetId);
  return [ackEvent(ch, packetId, 'puback'), ...ch.pump()];
}

/** PUBREC: the client has the QoS 2 message; answer with PUBREL [MQTT-4.3.3-1]. */
export function handlePubrec(ch: Channel, packet: IPubrecPacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  const entry = ch.session!.inflight.get(packetId);
  const pubrel: Effect = { type: 'send', packet: { cmd: 'pubrel', messageId: packetId } };
  if (!entry || entry.qos !== 2) return [pubrel];
  if (entry.released) return [pubrel];
  entry.released = true;
  const record = ackEvent(ch, packetId, 'pubrec');
  return [{ ...record, then: [pubrel] } as Effect];
}

/** PUBCOMP completes an outbound QoS 2 delivery. */
export function handlePubcomp(ch: Channel, packet: IPubcompPacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  const session = ch.session!;
  const entry = session.inflight.get(packetId);
  if (!entry || entry.qos !== 2) return [];
  session.inflight.delete(packetId);
  return [ackEvent(ch, packetId, 'pubcomp'), ...ch.pump()];
}
