/**
 * Retained messages, folded from the compacted retained stream (key: topic;
 * value: the encoded `message.published`, or a tombstone that clears it
 * [MQTT-3.3.1-10, MQTT-3.3.1-11]).
 */
import { decodeEvent } from '../src/events/codec';
import { MessagePublished } from '../src/events/types';
import { topicMatches, isWildcardFilter } from '../src/protocol/topics';

export interface RetainedEntry {
  message: MessagePublished;
  /** Where the retained record is, for redelivery references. */
  partition: number;
  offset: number;
}

export type RetainedState = Map<string, RetainedEntry>;

export interface RetainedRecord {
  key: Buffer | null;
  value: Buffer | null;
  partition: number;
  offset: number;
}

export function emptyRetained(): RetainedState {
  return new Map();
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

/** Retained messages whose topic matches `filter` [MQTT-3.3.1-6], in topic order for a stable result. */
export function retainedMatching(state: RetainedState, filter: string): RetainedEntry[] {
  if (!isWildcardFilter(filter)) {
    const hit = state.get(filter);
    return hit ? [hit] : [];
  }
  const out: RetainedEntry[] = [];
  for (const [topic, entry] of state) if (topicMatches(filter, topic)) out.push(entry);
  out.sort((a, b) => (a.message.topic < b.message.topic ? -1 : a.message.topic > b.message.topic ? 1 : 0));
  return out;
}
