import { ISubscribePacket } from 'mqtt-packet';
import { GrantedQoS, QoS, SUBACK_FAILURE, SubscriptionRequest } from '../../events/types';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicFilterError, topicLimitError } from '../../protocol/topics';
import type { Channel } from '../Channel';
import type { V5Subscribe } from '../../protocol/v5/Mqtt5Decoder';
import { parseShared, sharedFilterError } from '../../router/SharedSubscriptions';
import { parseSince } from '../../delivery/SinceFeed';
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
  const v5 = ch.v5 !== null;
  const v5subs = v5 ? (packet as unknown as V5Subscribe).subscriptions : null;
  const subscriptionId = v5 ? ((packet as unknown as V5Subscribe).v5?.subscriptionIdentifiers?.[0] ?? 0) : 0;
  // A user property `since` (ISO 8601 or 15m, 24h...): the subscriptions start in the past (docs/history.md).
  const sinceText = v5 ? (packet as unknown as V5Subscribe).v5?.userProperties?.find(([k]) => k === 'since')?.[1] : undefined;
  const since = sinceText === undefined ? null : parseSince(sinceText, ch.ctx.now());
  if (sinceText !== undefined && since === null) return ch.violation(new ProtocolViolation(`user property since=${sinceText.slice(0, 64)} is not an ISO 8601 time or a duration (30s, 15m, 24h, 7d)`, undefined, 0x82));
  /** MQTT 5 reason codes per filter where they say more than 0x80 (table 3-8). */
  const v5codes: number[] = [];
  for (let i = 0; i < packet.subscriptions.length; i++) {
    const s = packet.subscriptions[i];
    // An invalid filter: MQTT 5 answers 0x8F for it; 3.1.1 has no code, so like Mosquitto the connection closes [MQTT-4.7.1-2, MQTT-4.7.1-3].
    const err = topicFilterError(s.topic) ?? sharedFilterError(s.topic);
    if (err && !v5) return ch.violation(new ProtocolViolation(`invalid topic filter: ${err}`));
    // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
    if (v5subs?.[i].nl && parseShared(s.topic)) return ch.violation(new ProtocolViolation('No Local on a shared subscription [MQTT-3.8.3-4]', undefined, 0x82));
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
  /** Filters whose retained messages are sent: MQTT 5 Retain Handling 1 only for a new subscription, 2 never [MQTT-3.3.1-9..11]. */
  const sendRetainedFor = new Set<string>();
  for (let i = 0; i < packet.subscriptions.length; i++) {
    const s = packet.subscriptions[i];
    const requested = s.qos as QoS;
    let code: GrantedQoS = SUBACK_FAILURE;
    let v5code = 0x80;
    const tooLong = topicLimitError(s.topic, settings);
    const o = v5subs?.[i];
    const shared = parseShared(s.topic);
    if (v5 && (topicFilterError(s.topic) || sharedFilterError(s.topic))) {
      v5code = 0x8f;
    } else if (i >= settings.maxFiltersPerSubscribe) {
      limitHit('mqtt.maxFiltersPerSubscribe', `SUBSCRIBE with ${packet.subscriptions.length} filters`);
      v5code = 0x97;
    } else if (tooLong) {
      limitHit(tooLong.limit, tooLong.detail);
      v5code = 0x8f;
    } else if (ch.acl.maySubscribe(shared ? shared.filter : s.topic)) {
      const isNew = !granted.has(s.topic) && !ch.ctx.isSubscribed(ch.clientId, s.topic);
      if (isNew && held >= settings.maxSubscriptionsPerClient) {
        limitHit('mqtt.maxSubscriptionsPerClient', `session already holds ${held} subscriptions`);
        v5code = 0x97;
      } else {
        if (isNew) held++;
        code = Math.min(requested, settings.maxQos) as QoS; // [MQTT-3.8.4-6]
        granted.delete(s.topic); // re-inserted last: the later entry's place and QoS
        granted.set(s.topic, code);
        // Retained messages are not sent for a shared subscription (MQTT 5 section 4.8.2).
        if (!shared && (!o || o.rh === 0 || (o.rh === 1 && isNew))) sendRetainedFor.add(s.topic);
        else sendRetainedFor.delete(s.topic);
      }
    } else {
      denied.push(s.topic);
      // 0x80, not 0x87: both are allowed, and clients (Paho's among them) accept only 0x80 as a refusal.
      v5code = 0x80;
    }
    const request: SubscriptionRequest = { filter: s.topic, requestedQos: requested, granted: code };
    // Options are kept only when they change delivery (retain handling acts now): the common v5 subscription routes as fast as a 3.1.1 one.
    if (o && (o.nl || o.rap || subscriptionId)) request.options = { noLocal: o.nl, retainAsPublished: o.rap, retainHandling: o.rh, subscriptionId };
    requests.push(request);
    v5codes.push(code === SUBACK_FAILURE ? v5code : code);
  }
  const routes: RouteChange[] = [];
  const retained: Array<{ filter: string; qos: QoS; subscriptionId?: number }> = [];
  const optionsOf = new Map(requests.map((r) => [r.filter, r.options]));
  const feeds: Effect[] = [];
  for (const [filter, qos] of granted) {
    const options = optionsOf.get(filter);
    // A `since` subscription that is new is fed from the log first; an existing one keeps its flow [MQTT-3.8.4-3].
    const feed = since !== null && !parseShared(filter) && !ch.ctx.isSubscribed(ch.clientId, filter);
    routes.push({ filter, qos, since: position, ...(options ? { options } : {}), ...(feed ? { held: true } : {}) });
    if (feed) {
      feeds.push({ type: 'since-feed', filter, qos, ...(options ? { options } : {}), from: since });
      // Recorded with the subscription, so a session that resumes before the feed caught up continues it.
      for (const r of requests) if (r.filter === filter) r.since = since;
      ch.session?.feedStarted(filter);
    }
    if (sendRetainedFor.has(filter)) retained.push({ filter, qos, ...(subscriptionId ? { subscriptionId } : {}) });
  }
  if (routes.length) effects.push({ type: 'route-add', routes });
  const refused = denied.map((filter) => ch.deniedEvent('subscribe', filter));
  effects.push({
    type: 'append',
    events: [...refused, { type: 'client.subscribed', clientId: ch.clientId, packetId, subscriptions: requests, position, timestamp: ch.ctx.now() }],
    then: [
      { type: 'suback', packetId, granted: requests.map((r) => r.granted), ...(v5 ? { codes: v5codes } : {}) },
      ...(retained.length ? [{ type: 'send-retained' as const, subscriptions: retained }] : []),
      ...feeds,
    ],
  });
  return effects;
}
