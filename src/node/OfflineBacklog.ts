/**
 * The offline queue of a persistent session, read from the log: every QoS 1/2
 * message after the session's served position that one of its subscriptions
 * matched when it was published [MQTT-3.1.2-5]. Nothing is copied per session
 * while it is offline; the log is the queue. QoS 0 messages are not queued for
 * offline sessions (Mosquitto's default).
 */
import { decodeEvent } from '../events/codec';
import { MessageSource, Positions, QoS } from '../events/types';
import { EventLog } from '../log/EventLog';
import { topicMatches } from '../protocol/topics';
import { Delivery } from '../session/Session';
import { StoredSubscription } from '../../projections/SessionProjection';

export interface BacklogScan {
  deliveries: Delivery[];
  /** Messages the session should have had that retention deleted before it came back. */
  expired: number;
}

const PAGE = 2000;

export async function scanBacklog(
  log: EventLog,
  messagesStream: string,
  subscriptions: ReadonlyMap<string, StoredSubscription>,
  from: Positions,
  upTo: Positions,
): Promise<BacklogScan> {
  const found: Array<Delivery & { ts: number }> = [];
  let expired = 0;
  const subs = [...subscriptions];
  for (let p = 0; p < upTo.length; p++) {
    let next = from[p] ?? 0;
    const end = upTo[p];
    if (next >= end || subs.length === 0) continue;
    const start = await log.startOffset(messagesStream, p);
    if (start > next) {
      expired += Math.min(start, end) - next;
      next = start;
    }
    while (next < end) {
      const records = await log.read(messagesStream, p, next, { endOffset: end, maxRecords: PAGE });
      if (records.length === 0) break;
      for (const r of records) {
        next = r.offset + 1;
        if (!r.key || !r.value) continue;
        const topic = r.key.toString('utf8');
        let best = -1;
        for (const [filter, sub] of subs) {
          if (sub.qos > best && r.offset >= (sub.since[p] ?? 0) && topicMatches(filter, topic)) best = sub.qos;
        }
        if (best <= 0) continue;
        const event = decodeEvent(r.value);
        if (event.type !== 'message.published') continue;
        const qos = Math.min(event.qos, best) as QoS;
        if (qos === 0) continue;
        found.push({
          topic: event.topic,
          payload: event.payload,
          qos,
          retain: false,
          ref: { source: MessageSource.Messages, partition: p, offset: r.offset },
          ts: event.timestamp,
        });
      }
    }
  }
  // Partitions interleave by publish time; within a partition (and so per topic) offset order stands.
  if (upTo.length > 1) found.sort((a, b) => a.ts - b.ts || a.ref.partition - b.ref.partition || a.ref.offset - b.ref.offset);
  return { deliveries: found.map(({ ts: _ts, ...d }) => d), expired };
}
