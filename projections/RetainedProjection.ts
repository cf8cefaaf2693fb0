/**
 * Retained messages, folded from the compacted retained stream (key: topic;
 * value: the encoded `message.published`, or a tombstone that clears it
 * [MQTT-3.3.1-10, MQTT-3.3.1-11]). The state also counts the store's bytes and
 * indexes its topics by level, for the retained-store limits and for matching a
 * new subscription's filter without visiting every stored topic.
 */
import { decodeEvent } from '../src/events/codec';
import { MessageProperties, MessagePublished } from '../src/events/types';
import { TopicNameIndex } from '../src/router/TopicNameIndex';

export interface RetainedEntry {
  message: MessagePublished;
  /** Where the retained record is, for redelivery references. */
  partition: number;
  offset: number;
}

export interface RetainedRecord {
  key: Buffer | null;
  value: Buffer | null;
  partition: number;
  offset: number;
}

/** What a retained message counts against `mqtt.maxRetainedBytes`: its topic, payload and MQTT 5 properties. */
export function retainedBytes(message: Pick<MessagePublished, 'topic' | 'payload' | 'properties'>): number {
  return message.topic.length + message.payload.length + propertiesBytes(message.properties);
}

/** The size MQTT 5 message properties take (their strings and bytes; a bound on what they hold in memory). */
export function propertiesBytes(p: MessageProperties | undefined): number {
  if (!p) return 0;
  let n = (p.contentType?.length ?? 0) + (p.responseTopic?.length ?? 0) + (p.correlationData?.length ?? 0);
  for (const [k, v] of p.userProperties ?? []) n += k.length + v.length;
  return n;
}

export class RetainedState {
  readonly topics = new Map<string, RetainedEntry>();
  readonly index = new TopicNameIndex();
  /** Sum of `retainedBytes` over the stored messages. */
  bytes = 0;

  get size(): number {
    return this.topics.size;
  }

  get(topic: string): RetainedEntry | undefined {
    return this.topics.get(topic);
  }

  keys(): IterableIterator<string> {
    return this.topics.keys();
  }

  set(topic: string, entry: RetainedEntry): void {
    const old = this.topics.get(topic);
    if (old) this.bytes -= retainedBytes(old.message);
    else this.index.add(topic);
    this.topics.set(topic, entry);
    this.bytes += retainedBytes(entry.message);
  }

  /**
   * Whether a retained message of `bytes` for `topic` fits the store's limits
   * (mqtt.maxRetainedMessages, maxRetainedBytes), or which it would pass.
   * Replacing a topic's message never adds a topic.
   */
  room(topic: string, bytes: number, limits: { maxRetainedMessages: number; maxRetainedBytes: number }): true | 'mqtt.maxRetainedMessages' | 'mqtt.maxRetainedBytes' {
    const old = this.topics.get(topic);
    if (!old && this.topics.size >= limits.maxRetainedMessages) return 'mqtt.maxRetainedMessages';
    if (this.bytes - (old ? retainedBytes(old.message) : 0) + bytes > limits.maxRetainedBytes) return 'mqtt.maxRetainedBytes';
    return true;
  }

  delete(topic: string): void {
    const old = this.topics.get(topic);
    if (!old) return;
    this.bytes -= retainedBytes(old.message);
    this.topics.delete(topic);
    this.index.delete(topic);
  }
}

export function emptyRetained(): RetainedState {
  return new RetainedState();
}

export function foldRetained(state: RetainedState, record: RetainedRecord): RetainedState {
  if (!record.key) return state;
  const topic = record.key.toString('utf8');
  if (record.value === null) {
    state.delete(topic);
    return state;
  }
  const event = decodeEvent(record.value);
  if (event.type !== 'message.published') {
    throw new Error(`retained stream holds a ${event.type} event at ${record.partition}/${record.offset}`);
  }
  state.set(topic, { message: event, partition: record.partition, offset: record.offset });
  return state;
}

export interface RetainedMatch {
  entries: RetainedEntry[];
  /** More matched than `limit`, or the walk ran out of its budget. */
  truncated: boolean;
}

/**
 * Retained messages whose topic matches `filter` [MQTT-3.3.1-6], in topic order for
 * a stable result: at most `limit`, after visiting at most `budget` index nodes.
 */
export function retainedMatching(state: RetainedState, filter: string, limit = Infinity, budget = Infinity): RetainedMatch {
  const { topics, truncated } = state.index.match(filter, limit, budget);
  topics.sort();
  const entries: RetainedEntry[] = [];
  for (const t of topics) {
    const e = state.topics.get(t);
    if (e) entries.push(e);
  }
  return { entries, truncated };
}
