/**
 * Where each event goes in the log: the one mapping from broker events to
 * keyed records (see streams.ts for the layout and why).
 */
import { encodeEvent } from '../events/codec';
import { BrokerEvent } from '../events/types';
import { AppendRecord } from '../log/EventLog';
import { StreamLayout } from './streams';

/**
 * Record keys (client ids and topics) as bytes, reused: the same few keys recur
 * in every batch, and a fresh Buffer per record was a measurable share of the
 * allocation on the publish path. Bounded: cleared once it holds
 * KEY_CACHE_LIMIT keys. Log implementations copy keys and never modify them.
 */
const KEY_CACHE_LIMIT = 8192;
const keyCache = new Map<string, Buffer>();

function keyOf(text: string): Buffer {
  let key = keyCache.get(text);
  if (key === undefined) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    key = Buffer.from(text, 'utf8');
    keyCache.set(text, key);
  }
  return key;
}

export function recordsFor(events: readonly BrokerEvent[], streams: StreamLayout, out: AppendRecord[] = []): AppendRecord[] {
  for (const event of events) {
    const value = encodeEvent(event);
    if (event.type === 'message.published') {
      const key = keyOf(event.topic);
      out.push({ stream: streams.messages, key, value, timestamp: event.timestamp, local: event });
      if (event.retain) {
        // An empty retained payload clears the topic's retained message [MQTT-3.3.1-10, MQTT-3.3.1-11].
        out.push({ stream: streams.retained, key, value: event.payload.length ? value : null, timestamp: event.timestamp });
      }
    } else if (event.type === 'node.heartbeat') {
      out.push({ stream: streams.nodes, key: keyOf(event.nodeId), value, partition: 0, timestamp: event.timestamp });
    } else {
      out.push({ stream: streams.sessions, key: keyOf(event.clientId), value, timestamp: event.timestamp });
    }
  }
  return out;
}
