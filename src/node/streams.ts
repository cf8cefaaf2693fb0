/**
 * The broker's streams and what each holds. One layout for every log backend:
 *
 * - messages  (key: MQTT topic)  every published message; partitioned by topic so
 *                                each topic keeps its order [MQTT-4.6.0-5].
 * - sessions  (key: client id)   connect, disconnect, subscribe, unsubscribe,
 *                                deliveries and acknowledgements; partitioned by
 *                                client id so each session keeps its order.
 * - retained  (key: MQTT topic)  compacted: the retained message per topic, a
 *                                tombstone when cleared.
 * - snapshots (key: projection)  compacted: periodic session-projection snapshots
 *                                so a restart replays only the tail.
 * - nodes     (key: node id)     compacted: node heartbeats (cluster membership).
 * - audit     (key: actor)       what operators did through the API; kept as
 *                                long as session events.
 */
import { StreamSpec } from '../log/EventLog';

export interface StreamLayout {
  messages: string;
  sessions: string;
  retained: string;
  snapshots: string;
  nodes: string;
  audit: string;
}

export interface StreamSettings {
  /** Prefix of every stream name (a Kafka topic prefix). */
  prefix: string;
  messagePartitions: number;
  sessionPartitions: number;
  /** Message retention (ms, -1 keeps forever). */
  messageRetentionMs: number;
  /** Message retention per partition (bytes, -1 keeps everything). */
  messageRetentionBytes: number;
  /** Session-event retention (ms); must exceed the snapshot interval by far. */
  sessionRetentionMs: number;
}

export function streamLayout(prefix: string): StreamLayout {
  return {
    messages: `${prefix}messages`,
    sessions: `${prefix}sessions`,
    retained: `${prefix}retained`,
    snapshots: `${prefix}snapshots`,
    nodes: `${prefix}nodes`,
    audit: `${prefix}audit`,
  };
}

export function streamSpecs(s: StreamSettings): StreamSpec[] {
  const names = streamLayout(s.prefix);
  return [
    { name: names.messages, partitions: s.messagePartitions, compacted: false, retentionMs: s.messageRetentionMs, retentionBytes: s.messageRetentionBytes },
    { name: names.sessions, partitions: s.sessionPartitions, compacted: false, retentionMs: s.sessionRetentionMs, retentionBytes: -1 },
    { name: names.retained, partitions: 1, compacted: true },
    { name: names.snapshots, partitions: 1, compacted: true },
    { name: names.nodes, partitions: 1, compacted: true },
    { name: names.audit, partitions: 1, compacted: false, retentionMs: s.sessionRetentionMs, retentionBytes: -1 },
  ];
}
