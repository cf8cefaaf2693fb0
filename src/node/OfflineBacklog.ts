/**
 * Reading a session's messages back from the log. The log is the queue: nothing
 * is copied per session.
 *
 * - Offline backlog: when a persistent session returns, every QoS 1/2 message
 *   after its served position that one of its subscriptions matched when it was
 *   published [MQTT-3.1.2-5]. QoS 0 is not queued for offline sessions
 *   (Mosquitto's default).
 * - Catch-up: a connected session whose queue overflowed (a slow subscriber)
 *   stops buffering and reads the rest from the log, page by page, as it drains:
 *   every message, QoS 0 included, so a slow subscriber loses nothing.
 */
import { decodePublishedForDelivery } from '../events/codec';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { MessageSource, Positions, QoS } from '../events/types';
import { EventLog } from '../log/EventLog';
import { TopicTrie } from '../router/TopicTrie';
import { Delivery } from '../session/Session';

export interface ScanSubscription {
  qos: QoS;
  since: Positions;
}

export interface BacklogScan {
  /** In log order per partition, partitions interleaved by publish time. */
  deliveries: Delivery[];
  /** Where the next scan continues: every message before it was looked at. */
  next: number[];
  /** Whether `next` reached `upTo` in every partition. */
  complete: boolean;
  /** Messages deleted by retention before they could be read. */
  expired: number;
}

export interface ScanOptions {
  /** Deliver QoS 0 messages too (a connected session catching up). */
  includeQos0: boolean;
  /** Stop after this many deliveries (the rest is left for the next scan). */
  limit: number;
  /** Whether the client may read a topic (its access rules); unreadable messages are skipped. */
  mayRead?: (topic: string) => boolean;
  /** The session's client id: messages aimed at another client (MessagePublished.target) are skipped. */
  clientId?: string;
}

const PAGE = 5000;

export async function scanBacklog(
  log: EventLog,
  messagesStream: string,
  subscriptions: ReadonlyMap<string, ScanSubscription>,
  from: Positions,
  upTo: Positions,
  options: ScanOptions = { includeQos0: false, limit: Infinity },
): Promise<BacklogScan> {
  const subs = [...subscriptions];
  // The session's filters in a trie, and their matches per topic: topics repeat.
  const trie = new TopicTrie<ScanSubscription>();
  for (const [filter, sub] of subs) trie.add(filter, filter, sub);
  const matchesOf = new Map<string, ScanSubscription[]>();
  const perPartition: Array<Array<Delivery & { ts: number }>> = [];
  const reached: number[] = [];
  let expired = 0;
  for (let p = 0; p < upTo.length; p++) {
    const found: Array<Delivery & { ts: number }> = [];
    perPartition.push(found);
    let next = from[p] ?? 0;
    const end = upTo[p];
    if (next < end && subs.length > 0) {
      const start = await log.startOffset(messagesStream, p);
      if (start > next) {
        expired += Math.min(start, end) - next;
        next = Math.min(start, end);
      }
    }
    while (next < end && subs.length > 0 && found.length < options.limit) {
      const records = await log.read(messagesStream, p, next, { endOffset: end, maxRecords: Math.min(PAGE, Math.max(100, options.limit - found.length)) });
      if (records.length === 0) break;
      for (const r of records) {
        if (found.length >= options.limit) break;
        next = r.offset + 1;
        if (!r.key || !r.value) continue;
        const topic = r.key.toString('utf8');
        let matches = matchesOf.get(topic);
        if (!matches) {
          const hits: ScanSubscription[] = [];
          if (!options.mayRead || options.mayRead(topic)) trie.match(topic, (_filter, sub) => hits.push(sub));
          matchesOf.set(topic, (matches = hits));
        }
        let best = -1;
        for (const sub of matches) if (sub.qos > best && r.offset >= (sub.since[p] ?? 0)) best = sub.qos;
        if (best < 0 || (best === 0 && !options.includeQos0)) continue;
        let event;
        try {
          event = decodePublishedForDelivery(r.value);
        } catch (err) {
          throw UndecodableRecord.at(messagesStream, p, r.offset, err);
        }
        if (event.target !== null && event.target !== options.clientId) continue;
        const qos = Math.min(event.qos, best) as QoS;
        if (qos === 0 && !options.includeQos0) continue;
        found.push({ topic, payload: event.payload, qos, retain: false, ref: { source: MessageSource.Messages, partition: p, offset: r.offset }, ts: event.timestamp });
      }
    }
    reached.push(subs.length === 0 ? Math.max(next, end) : next);
  }
  // Interleave partitions by publish time (per partition, and so per topic, log order stands), then cut at the limit.
  const all = perPartition.flat();
  if (upTo.length > 1) all.sort((a, b) => a.ts - b.ts || a.ref.partition - b.ref.partition || a.ref.offset - b.ref.offset);
  const taken = all.length > options.limit ? all.slice(0, options.limit) : all;
  const next = [...reached];
  if (taken.length < all.length) {
    // Partitions with matches left over resume at their first one not taken.
    for (const d of all.slice(taken.length)) next[d.ref.partition] = Math.min(next[d.ref.partition], d.ref.offset);
  }
  const complete = next.every((o, p) => o >= upTo[p]);
  return { deliveries: taken.map(({ ts: _ts, ...d }) => d), next, complete, expired };
}
