/**
 * Where each event goes in the log: the one mapping from broker events to
 * keyed records (see streams.ts for the layout and why).
 */
import { encodeEvent, encodeEvents } from '../events/codec';
import { BrokerEvent, isSessionEvent, SessionEvent } from '../events/types';
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

/**
 * Cached keys are cut from slabs of their own, not from Node's shared Buffer
 * pool: a key kept in the cache pins the whole 8 KiB pool slab it was cut from,
 * and a burst of new clients (a key each) spread its keys over every slab the
 * burst allocated, so the pool's slabs outlived their other, short-lived
 * buffers by thousands (docs/performance.md, memory per connection).
 */
const KEY_SLAB_BYTES = 16 * 1024;
let keySlab = Buffer.allocUnsafeSlow(KEY_SLAB_BYTES);
let keySlabUsed = 0;

function keyBytes(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  if (length > KEY_SLAB_BYTES / 16) return Buffer.from(text, 'utf8'); // a long key: its own buffer
  if (keySlabUsed + length > KEY_SLAB_BYTES) {
    keySlab = Buffer.allocUnsafeSlow(KEY_SLAB_BYTES);
    keySlabUsed = 0;
  }
  const key = keySlab.subarray(keySlabUsed, keySlabUsed + length);
  key.write(text, 'utf8');
  keySlabUsed += length;
  return key;
}

function keyOf(text: string): Buffer {
  let key = keyCache.get(text);
  if (key === undefined) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    key = keyBytes(text);
    keyCache.set(text, key);
  }
  return key;
}

/**
 * Consecutive session events of one client become one record (see
 * `encodeEvents`): a connection hands over a turn's deliveries and
 * acknowledgements together, and one record per turn instead of one per packet
 * is most of the log's cost per QoS 1/2 message.
 */
export function recordsFor(events: readonly BrokerEvent[], streams: StreamLayout, out: AppendRecord[] = []): AppendRecord[] {
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (isSessionEvent(event)) {
      let end = i + 1;
      while (end < events.length && sameClient(events[end], event)) end++;
      // `local`: the event, or the batch's events, so this node's session folder need not decode them back.
      let value: Buffer;
      let local: SessionEvent | BrokerEvent[];
      if (end - i === 1) {
        value = encodeEvent(event);
        local = event;
      } else {
        local = events.slice(i, end);
        value = encodeEvents(local);
      }
      out.push({ stream: streams.sessions, key: keyOf(event.clientId), value, timestamp: events[end - 1].timestamp, local });
      i = end - 1;
      continue;
    }
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
    } else if (event.type === 'operator.action') {
      out.push({ stream: streams.audit, key: keyOf(event.actor), value, partition: 0, timestamp: event.timestamp });
    }
  }
  return out;
}

function sameClient(event: BrokerEvent, first: SessionEvent): boolean {
  return isSessionEvent(event) && event.clientId === first.clientId;
}
