/**
 * What the archive stores for an event: one document per log record, its id
 * the record's log position, so indexing the same record twice (a re-run after
 * a crash) finds the document already there instead of adding a second.
 */
import { BrokerEvent, DISCONNECT_REASON_NAMES, MessageOrigin } from '../../src/events/types';
import { historyProperties, ORIGIN_NAMES, utf8OrNull } from '../../src/history/HistoryMessage';
import { IndexFamily, indexFor } from './ArchiveIndices';

export interface ArchiveDocument {
  family: IndexFamily;
  index: string;
  id: string;
  body: Record<string, unknown>;
}

export interface LogPosition {
  stream: string;
  partition: number;
  offset: number;
  /** Place of the event in its record when the record holds a batch (0: the first, or the only one). */
  index?: number;
}

/** `<stream>/<partition>/<offset>`, and `/<index>` for the second and later events of a batch record. */
export function documentId(pos: LogPosition): string {
  const base = `${pos.stream}/${pos.partition}/${pos.offset}`;
  return pos.index ? `${base}/${pos.index}` : base;
}

/** Every ancestor of a topic, itself included: "a/b/c" → ["a", "a/b", "a/b/c"]. */
export function topicPath(topic: string): string[] {
  const out: string[] = [];
  let i = topic.indexOf('/');
  while (i >= 0) {
    out.push(topic.slice(0, i));
    i = topic.indexOf('/', i + 1);
  }
  out.push(topic);
  return out;
}

const REASONS = DISCONNECT_REASON_NAMES;

/**
 * The document for an event, or null for what the archive leaves out: replays
 * (their originals are archived already), `$SYS` figures, per-delivery and acknowledgement
 * records (they stay in the log) and node heartbeats.
 */
export function archiveDocument(prefix: string, event: BrokerEvent, pos: LogPosition): ArchiveDocument | null {
  const log = { stream: pos.stream, partition: pos.partition, offset: pos.offset, ...(pos.index ? { index: pos.index } : {}) };
  const id = documentId(pos);
  const events = (body: Record<string, unknown>, timestamp: number): ArchiveDocument => ({
    family: 'events',
    index: indexFor(prefix, 'events', timestamp),
    id,
    body: { kind: event.type, timestamp, log, ...body },
  });
  switch (event.type) {
    case 'message.published': {
      // Replays' originals are archived already; $SYS figures are the broker's status, not anyone's message.
      if (event.origin === MessageOrigin.Replay || event.origin === MessageOrigin.System) return null;
      const text = utf8OrNull(event.payload);
      return {
        family: 'messages',
        index: indexFor(prefix, 'messages', event.timestamp),
        id,
        body: {
          kind: event.type,
          topic: event.topic,
          topic_path: topicPath(event.topic),
          client_id: event.publisherId,
          username: event.username,
          remote_address: event.remoteAddress,
          qos: event.qos,
          retain: event.retain,
          origin: ORIGIN_NAMES[event.origin],
          ...(text === null ? { payload_base64: event.payload.toString('base64'), payload_encoding: 'base64' } : { payload: text, payload_encoding: 'utf8' }),
          payload_size: event.payload.length,
          node: event.nodeId,
          timestamp: event.timestamp,
          log,
          ...(event.properties ? { properties: historyProperties(event.properties) } : {}),
        },
      };
    }
    case 'client.connected':
      return events(
        {
          client_id: event.clientId,
          connection_id: event.connectionId,
          username: event.username,
          remote_address: event.remoteAddress,
          node: event.nodeId,
          clean_session: event.cleanSession,
          session_present: event.sessionPresent,
          keepalive: event.keepalive,
          protocol_version: event.protocolVersion,
          will_topic: event.will?.topic ?? null,
        },
        event.timestamp,
      );
    case 'client.disconnected':
      return events(
        { client_id: event.clientId, connection_id: event.connectionId, node: event.nodeId, reason: REASONS[event.reason], will_published: event.willPublished },
        event.timestamp,
      );
    case 'client.subscribed':
      return events(
        { client_id: event.clientId, filters: event.subscriptions.map((s) => s.filter), granted: event.subscriptions.map((s) => s.granted) },
        event.timestamp,
      );
    case 'client.unsubscribed':
      return events({ client_id: event.clientId, filters: event.filters }, event.timestamp);
    case 'access.decided':
      return events(
        {
          client_id: event.clientId,
          username: event.username,
          remote_address: event.ip,
          node: event.nodeId,
          action: event.action,
          topic: event.topic,
          allowed: event.allowed,
          code: event.code,
          source: event.source,
          reason: event.reason,
        },
        event.timestamp,
      );
    case 'message.dropped':
      return events({ client_id: event.clientId, node: event.nodeId, count: event.count, reason: event.reason, detail: event.detail }, event.timestamp);
    case 'operator.action':
      return events({ username: event.actor, remote_address: event.ip, node: event.nodeId, action: event.action, target: event.target, detail: event.detail }, event.timestamp);
    default:
      return null;
  }
}
