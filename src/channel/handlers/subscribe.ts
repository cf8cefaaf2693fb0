import { ISubscribePacket } from 'mqtt-packet';
import { GrantedQoS, QoS, SUBACK_FAILURE, SubscriptionRequest } from '../../events/types';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicFilterError } from '../../protocol/topics';
import type { Channel } from '../Channel';
import { Effect, RouteChange } from '../effects';

/**
 * SUBSCRIBE. Routes are added at once: the spec lets the server send matching
 * PUBLISHes before the SUBACK, and doing so means no message published while the
 * subscription is being made durable slips past it. The SUBACK waits for the log
 * [MQTT-3.8.4-1], lists one code per filter in order [MQTT-3.8.4-5, MQTT-3.9.3-1],
 * and is followed by the matching retained messages [MQTT-3.3.1-6].
 */
export function handleSubscribe(ch: Channel, packet: ISubscribePacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  if (packetId === 0) return ch.violation(new ProtocolViolation('SUBSCRIBE without a packet identifier [MQTT-2.3.1-1]'));
  for (const s of packet.subscriptions) {
    // An invalid filter is a protocol violation; like Mosquitto, close the connection [MQTT-4.7.1-2, MQTT-4.7.1-3].
    const err = topicFilterError(s.topic);
    if (err) return ch.violation(new ProtocolViolation(`invalid topic filter: ${err}`));
  }
  const position = ch.ctx.position();
  const requests: SubscriptionRequest[] = [];
  const routes: RouteChange[] = [];
  const retained: Array<{ filter: string; qos: QoS }> = [];
  for (const s of packet.subscriptions) {
    const requested = s.qos as QoS;
    let granted: GrantedQoS = SUBACK_FAILURE;
    if (ch.acl.maySubscribe(s.topic)) {
      granted = Math.min(requested, ch.settings.maxQos) as QoS; // [MQTT-3.8.4-6]
      routes.push({ filter: s.topic, qos: granted, since: position });
      retained.push({ filter: s.topic, qos: granted });
    }
    requests.push({ filter: s.topic, requestedQos: requested, granted });
  }
  const effects: Effect[] = [];
  if (routes.length) effects.push({ type: 'route-add', routes });
  const refused = requests.filter((r) => r.granted === SUBACK_FAILURE).map((r) => ch.deniedEvent('subscribe', r.filter));
  effects.push({
    type: 'append',
    events: [...refused, { type: 'client.subscribed', clientId: ch.clientId, packetId, subscriptions: requests, position, timestamp: ch.ctx.now() }],
    then: [
      { type: 'send', packet: { cmd: 'suback', messageId: packetId, granted: requests.map((r) => r.granted) } },
      ...(retained.length ? [{ type: 'send-retained' as const, subscriptions: retained }] : []),
    ],
  });
  return effects;
}
