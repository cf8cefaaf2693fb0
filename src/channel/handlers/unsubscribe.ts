import { IUnsubscribePacket } from 'mqtt-packet';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicFilterError } from '../../protocol/topics';
import { parseShared } from '../../router/SharedSubscriptions';
import type { Channel } from '../Channel';
import { Effect } from '../effects';

/** UNSUBSCRIBE: stop routing at once, UNSUBACK once durable, even if nothing matched [MQTT-3.10.4-4, MQTT-3.10.4-5]. */
export function handleUnsubscribe(ch: Channel, packet: IUnsubscribePacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  if (packetId === 0) return ch.violation(new ProtocolViolation('UNSUBSCRIBE without a packet identifier [MQTT-2.3.1-1]'));
  // MQTT 3.1.1's UNSUBACK has no per-filter codes: an UNSUBSCRIBE past the filter limit is refused as a whole.
  if (packet.unsubscriptions.length > ch.settings.maxFiltersPerSubscribe) {
    const detail = `UNSUBSCRIBE with ${packet.unsubscriptions.length} filters (mqtt.maxFiltersPerSubscribe ${ch.settings.maxFiltersPerSubscribe})`;
    return [{ type: 'limit', limit: 'mqtt.maxFiltersPerSubscribe', detail }, ...ch.violation(new ProtocolViolation(detail))];
  }
  for (const f of packet.unsubscriptions) {
    const err = topicFilterError(f);
    if (err) return ch.violation(new ProtocolViolation(`invalid topic filter: ${err}`));
  }
  // MQTT 5: a code per filter, 0x11 when there was no such subscription [MQTT-3.11.3-1].
  const codes = ch.v5 ? packet.unsubscriptions.map((f) => (ch.ctx.isSubscribed(ch.clientId, f) ? 0x00 : 0x11)) : undefined;
  const effects: Effect[] = [];
  for (const f of packet.unsubscriptions) ch.session?.feedEnded(f);
  // A shared subscription left while the session reads the log behind live: what the log names for it
  // there goes to other members (the pages will not deliver it without the route).
  const cursor = ch.session?.cursor;
  const shared = packet.unsubscriptions.filter((f) => parseShared(f) !== null);
  if (cursor && shared.length) effects.push({ type: 'shared-release', from: [...cursor], to: ch.ctx.position(), filters: shared });
  effects.push(
    { type: 'route-remove', filters: packet.unsubscriptions },
    {
      type: 'append',
      events: [{ type: 'client.unsubscribed', clientId: ch.clientId, packetId, filters: packet.unsubscriptions, timestamp: ch.ctx.now() }],
      then: [{ type: 'unsuback', packetId, ...(codes ? { codes } : {}) }],
    },
  );
  return effects;
}
