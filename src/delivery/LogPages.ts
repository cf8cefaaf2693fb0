/**
 * A session's page of the message stream: the log is the queue. A session that
 * comes back with an offline backlog, or that fell behind while connected,
 * reads the stream from its cursor in bounded pages, through the one ordered
 * reader (MessageStreamReader) and the one delivery decision (DeliveryCore),
 * however large the backlog: memory per session stays bounded, and nothing the
 * log still holds is dropped for a full queue.
 */
import { decodePublishedForDelivery } from '../events/codec';
import { MessageSource, Positions, QoS, SubscriptionOptions } from '../events/types';
import { EventLog } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { MessageStreamReader } from '../history/MessageScan';
import { TopicTrie } from '../router/TopicTrie';
import { Delivery } from '../session/Session';
import { parseShared } from '../router/SharedSubscriptions';
import { decidedQos, decideDelivery, DeliveryPath, DeliveryReader, NOT_DELIVERED, sharedFor } from './DeliveryCore';

export interface PageSubscription {
  qos: QoS;
  /** Messages before this position predate the subscription. */
  since: Positions;
  /** MQTT 5 options (No Local, Retain As Published, the identifier). */
  options?: SubscriptionOptions;
}

export interface PageRequest {
  session: DeliveryReader;
  subscriptions: ReadonlyMap<string, PageSubscription>;
  /**
   * The session's shared subscriptions (`$share/...`) and its connection: a
   * message goes through one when its record names this connection for it.
   */
  shared?: { connectionId: string; routes: ReadonlyMap<string, Omit<PageSubscription, 'since'>> };
  /** The session's cursor: where to read from. */
  from: Positions;
  /** The node's position now: where the page ends at the latest. */
  upTo: Positions;
  /** Messages before this were published while the session was offline (no QoS 0), or null. */
  offlineUntil: Positions | null;
  /** The most deliveries the page may bring (the room in the session's queue). */
  limit: number;
}

/** Records one page looks at, at most: a backlog of other topics' traffic is read a bounded step at a time. */
const MAX_SCANNED = 50_000;

export interface Page {
  /** In (publish time, partition, offset) order: log order per partition and so per topic. */
  deliveries: Delivery[];
  /** Where the next page starts: every message before it was looked at. */
  next: number[];
  /** Whether `next` reached `upTo` in every partition. */
  complete: boolean;
  /** Messages deleted by retention before the session read them. */
  expired: number;
}

export async function readPage(log: EventLog, stream: string, request: PageRequest): Promise<Page> {
  const { subscriptions, upTo, offlineUntil, limit, session } = request;
  const from = [...request.from];
  let expired = 0;
  for (let p = 0; p < upTo.length; p++) {
    from[p] ??= 0;
    if (from[p] >= upTo[p]) continue;
    const start = await log.startOffset(stream, p);
    if (start > from[p]) {
      expired += Math.min(start, upTo[p]) - from[p];
      from[p] = Math.min(start, upTo[p]);
    }
  }
  const shared = request.shared !== undefined && request.shared.routes.size > 0 ? request.shared : null;
  if (subscriptions.size === 0 && shared === null) return { deliveries: [], next: [...upTo], complete: true, expired };
  // The session's filters in a trie, and their matches per topic (topics repeat); shared ones apart.
  const trie = new TopicTrie<PageSubscription>();
  for (const [filter, sub] of subscriptions) trie.add(filter, filter, sub);
  const sharedTrie = new TopicTrie<string>();
  if (shared) for (const f of shared.routes.keys()) sharedTrie.add(parseShared(f)!.filter, f, f);
  const matchesOf = new Map<string, PageSubscription[]>();
  const sharedTopics = new Map<string, boolean>();
  const reader = new MessageStreamReader(log, stream, { start: from, end: [...upTo] }, Math.min(5000, Math.max(100, limit)));
  const deliveries: Delivery[] = [];
  while (deliveries.length < limit && reader.scanned < MAX_SCANNED) {
    const next = await reader.next();
    if (!next) break;
    const { record: r, partition: p } = next;
    if (!r.key || !r.value) continue;
    const topic = r.key.toString('utf8');
    let matches = matchesOf.get(topic);
    if (!matches) {
      const hits: PageSubscription[] = [];
      trie.match(topic, (_filter, sub) => hits.push(sub));
      matchesOf.set(topic, (matches = hits));
    }
    let granted = -1;
    for (const sub of matches) if (sub.qos > granted && r.offset >= (sub.since[p] ?? 0)) granted = sub.qos;
    let sharedTopic = false;
    if (shared) {
      let known = sharedTopics.get(topic);
      if (known === undefined) {
        known = false;
        sharedTrie.match(topic, () => (known = true));
        sharedTopics.set(topic, known);
      }
      sharedTopic = known;
    }
    if (granted < 0 && !sharedTopic) continue; // skipped by key: never decoded
    let event;
    try {
      event = decodePublishedForDelivery(r.value);
    } catch (err) {
      throw UndecodableRecord.at(stream, p, r.offset, err);
    }
    const ref = { source: MessageSource.Messages, partition: p, offset: r.offset };
    // Shared subscriptions: what the record names this connection for [MQTT-4.8.2-3], as live delivery does.
    const named = shared ? sharedFor(event, shared.connectionId, session.clientId) : null;
    if (named) {
      for (const a of named) {
        const route = shared!.routes.get(a.shareFilter);
        if (!route) continue;
        const decision = decideDelivery(session, topic, event, route.qos, DeliveryPath.Log, true);
        if (decision === NOT_DELIVERED) continue;
        const d: Delivery = { topic, payload: event.payload, qos: decidedQos(decision), retain: false, ref, shared: a.shareFilter };
        if (event.properties) d.props = event.properties;
        if (route.options?.subscriptionId) d.subscriptionIds = [route.options.subscriptionId];
        deliveries.push(d);
      }
    }
    if (granted < 0) continue;
    const path = offlineUntil !== null && r.offset < (offlineUntil[p] ?? 0) ? DeliveryPath.Offline : DeliveryPath.Log;
    // MQTT 5 options: No Local leaves out the session's own messages, Retain As Published keeps the flag, identifiers go along.
    let retain = false;
    let subscriptionIds: number[] | undefined;
    if (matches.some((m) => m.options)) {
      granted = -1;
      for (const sub of matches) {
        if (r.offset < (sub.since[p] ?? 0) || (sub.options?.noLocal && event.publisherId === session.clientId)) continue;
        if (sub.qos > granted) granted = sub.qos;
        if (sub.options?.retainAsPublished && event.retain) retain = true;
        if (sub.options?.subscriptionId) (subscriptionIds ??= []).push(sub.options.subscriptionId);
      }
    }
    const decision = decideDelivery(session, topic, event, granted, path);
    if (decision === NOT_DELIVERED) continue;
    const d: Delivery = { topic, payload: event.payload, qos: decidedQos(decision), retain, ref };
    if (event.properties) d.props = event.properties;
    if (subscriptionIds) d.subscriptionIds = subscriptionIds;
    deliveries.push(d);
  }
  const next = reader.positions();
  return { deliveries, next, complete: next.every((o, p) => o >= upTo[p]), expired };
}
