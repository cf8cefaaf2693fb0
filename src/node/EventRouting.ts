/**
 * Where each event goes in the log: the one mapping from broker events to
 * keyed records (see streams.ts for the layout and why).
 */
import { encodeEvent } from '../events/codec';
import { BrokerEvent } from '../events/types';
import { AppendRecord } from '../log/EventLog';
import { StreamLayout } from './streams';

export function recordsFor(events: readonly BrokerEvent[], streams: StreamLayout, out: AppendRecord[] = []): AppendRecord[] {
  for (const event of events) {
    const value = encodeEvent(event);
    if (event.type === 'message.published') {
      const key = Buffer.from(event.topic, 'utf8');
      out.push({ stream: streams.messages, key, value, timestamp: event.timestamp, local: event });
      if (event.retain) {
        // An empty retained payload clears the topic's retained message [MQTT-3.3.1-10, MQTT-3.3.1-11].
        out.push({ stream: streams.retained, key, value: event.payload.length ? value : null, timestamp: event.timestamp });
      }
    } else if (event.type === 'node.heartbeat') {
      out.push({ stream: streams.nodes, key: Buffer.from(event.nodeId, 'utf8'), value, partition: 0, timestamp: event.timestamp });
    } else {
      out.push({ stream: streams.sessions, key: Buffer.from(event.clientId, 'utf8'), value, timestamp: event.timestamp });
    }
  }
  return out;
}
