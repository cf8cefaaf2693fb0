import { IPubackPacket, IPubcompPacket, IPubrecPacket } from 'mqtt-packet';
import type { Channel } from '../Channel';
import { Effect } from '../effects';
import { AckKind, BrokerEvent } from '../../events/types';

function ackEvent(ch: Channel, packetId: number, kind: AckKind, then?: Effect[]): Extract<Effect, { type: 'append' }> {
  const events: BrokerEvent[] = [{ type: 'message.acknowledged', clientId: ch.clientId, packetId, kind, direction: 'in', timestamp: ch.ctx.now() }];
  // Built whole rather than `{ ...ackEvent(), then }`: on V8 11 a spread copy given more properties gets hidden classes of its own, per message.
  return then ? { type: 'append', events, then } : { type: 'append', events };
}

/** The final acknowledgement of an outbound exchange frees its window slot. Unknown ids are ignored. */
function complete(ch: Channel, packetId: number, qos: 1 | 2, kind: AckKind, room: number): Effect[] {
  const session = ch.session!;
  const entry = session.inflight.get(packetId);
  if (!entry || entry.qos !== qos) return [];
  session.inflight.delete(packetId);
  session.progress(ch.ctx.now());
  return ch.pump(room, [ackEvent(ch, packetId, kind)]);
}

/** PUBACK completes an outbound QoS 1 delivery. */
export function handlePuback(ch: Channel, packet: IPubackPacket, room: number): Effect[] {
  return complete(ch, packet.messageId ?? 0, 1, 'puback', room);
}

/** PUBCOMP completes an outbound QoS 2 delivery. */
export function handlePubcomp(ch: Channel, packet: IPubcompPacket, room: number): Effect[] {
  return complete(ch, packet.messageId ?? 0, 2, 'pubcomp', room);
}

/** PUBREC: the client has the QoS 2 message; answer with PUBREL [MQTT-4.3.3-1], also for an unknown id. */
export function handlePubrec(ch: Channel, packet: IPubrecPacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  const entry = ch.session!.inflight.get(packetId);
  const pubrel: Effect = { type: 'ack', kind: 'pubrel', packetId };
  if (!entry || entry.qos !== 2 || entry.released) return [pubrel];
  entry.released = true;
  ch.session!.progress(ch.ctx.now());
  return [ackEvent(ch, packetId, 'pubrec', [pubrel])];
}
