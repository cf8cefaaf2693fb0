import { ISubscribePacket } from 'mqtt-packet';
import { GrantedQoS, QoS, SUBACK_FAILURE, SubscriptionRequest } from '../../events/types';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicFilterError, topicLimitError } from '../../protocol/topics';
import type { Channel } from '../Channel';
import { Effect, RouteChange } from '../effects';

/**
 * SUBSCRIBE. Routes are added at once: the spec lets the server send matching
 * PUBLISHes before the SUBACK, and doing so means no message published while the
 * subscription is being made durable slips past it. The SUBACK waits for the log
 * [MQTT-3.8.4-1], lists one code per filter in order [MQTT-3.8.4-5, MQTT-3.9.3-1],
 * and is followed by the matching retained messages [MQTT-3.3.1-6].
 *
 * Limits: filters past `mqtt.maxFiltersPerSubscribe`, filters past the topic
 * length and level limits, and new filters past `mqtt.maxSubscriptionsPerClient`
 * are refused with 0x80 (counted). A filter named twice in one SUBSCRIBE is one
 * subscription: the later one replaces the earlier [MQTT-3.8.4-3], and its
 * retained messages are sent once.
 */
export function handleSubscribe(ch: Channel, packet: ISubscribePacket): Effect[] {
  const packetId = packet.messageId ?? 0;
  if (packetId === 0) return ch.violation(new ProtocolViolation('SUBSCRIBE without a packet identifier [MQTT-2.3.1-1]'));
  for (const s of packet.subscriptions) {
    // An invalid filter is a protocol violation; like Mosquitto, close the connection [MQTT-4.7.1-2, MQTT-4.7.1-3].
    const err = topicFilterError(s.topic);
    if (err) return ch.violation(new ProtocolViolation(`invalid topic filter: ${err}`));
  }
  const settings = ch.settings;
  const position = ch.ctx.position();
  const effects: Effect[] = [];
  const requests: SubscriptionRequest[] = [];
  /** The granted subscriptions by filter: a repeated filter's later entry wins. */
  const granted = new Map<string, QoS>();
  /** Filters the access rules refused: each is an audit event (filters refused by a limit are counted instead). */
  const denied: string[] = [];
  let held = ch.ctx.subscriptionCount(ch.clientId);
  const limitHit = (limit: Extract<Effect, { type: 'limit' }>['limit'], detail: string) => {
    if (!effects.some((e) => e.type === 'limit' && e.limit === limit)) effects.push({ type: 'limit', limit, detail });
  };
  for (let i = 0; i < packet.subscriptions.length; i++) {
    const s = packet.subscriptions[i];
    const requested = s.qos as QoS;
    let code: GrantedQoS = SUBACK_FAILURE;
    const tooLong = topicLimitError(s.topic, settings);
    if (i >= settings.maxFiltersPerSubscribe) {
      limitHit('mqtt.maxFiltersPerSubscribe', `SUBSCRIBE with ${packet.subscriptions.length} filters`);
    } else if (tooLong) {
      limitHit(tooLong.limit, tooLong.detail);
    } else if (ch.acl.maySubscribe(s.topic)) {
      const isNew = !granted.has(s.topic) && !ch.ctx.isSubscribed(ch.clientId, s.topic);
      if (isNew && held >= settings.maxSubscriptionsPerClient) {
        limitHit('mqtt.maxSubscriptionsPerClient', `session already holds ${held} subscriptions`);
      } else {
        if (isNew) held++;
        code = Math.min(requested, settings.maxQos) as QoS; // [MQTT-3.8.4-6]
        granted.delete(s.topic); // re-inserted last: the later entry's place and QoS
        granted.set(s.topic, code);
      }
    } else {
      denied.push(s.topic);
    }
    requests.push({ filter: s.topic, requestedQos: requested, granted: code });
  }
  const routes: RouteChange[] = [];
  const retained: Array<{ filter: string; qos: QoS }> = [];
  for (const [filter, qos] of granted) {
    routes.push({ filter, qos, since: position });
    retained.push({ filter, qos });
  }
  if (routes.length) effects.push({ type: 'route-add', routes });
  const refused = denied.map((filter) => ch.deniedEvent('subscribe', filter));
  effects.push({
    type: 'append',
    events: [...refused, { type: 'client.subscribed', clientId: ch.clientId, packetId, subscriptions: requests, position, timestamp: ch.ctx.now() }],
    then: [
      { type: 'suback', packetId, granted: requests.map((r) => r.granted) },
      ...(retained.length ? [{ type: 'send-retained' as const, subscriptions: retained }] : []),
    ],
  });
  return effects;
}
