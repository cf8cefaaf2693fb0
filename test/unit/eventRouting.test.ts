import { decodeEvent, decodeEvents } from '../../src/events/codec';
import { BrokerEvent, MessageOrigin, MessageSource, publishedEvent } from '../../src/events/types';
import { recordsFor } from '../../src/node/EventRouting';
import { streamLayout } from '../../src/node/streams';

const streams = streamLayout('t');
const delivered = (clientId: string, packetId: number): BrokerEvent => ({
  type: 'message.delivered', clientId, packetId, qos: 1, ref: { source: MessageSource.Messages, partition: 0, offset: packetId }, timestamp: packetId,
});
const acked = (clientId: string, packetId: number): BrokerEvent => ({ type: 'message.acknowledged', clientId, packetId, kind: 'puback', direction: 'in', timestamp: 100 + packetId });

describe('recordsFor: where events go in the log', () => {
  test('consecutive session events of one client share one record, in order, keyed by the client id', () => {
    const events = [delivered('a', 1), acked('a', 1), delivered('a', 2), acked('a', 2)];
    const records = recordsFor(events, streams);
    expect(records).toHaveLength(1);
    expect(records[0].stream).toBe(streams.sessions);
    expect(records[0].key!.toString()).toBe('a');
    expect(records[0].timestamp).toBe(102);
    expect(decodeEvents(records[0].value!)).toEqual(events);
  });

  test('another client or a published message ends a batch; a lone event stays a plain record', () => {
    const published = publishedEvent({ topic: 'x/y', payload: Buffer.from('p'), qos: 1, retain: false, publisherId: 'a', origin: MessageOrigin.Client, nodeId: 'n', timestamp: 5 });
    const events = [delivered('a', 1), delivered('a', 2), delivered('b', 1), published, acked('a', 1)];
    const records = recordsFor(events, streams);
    expect(records.map((r) => [r.stream, r.key!.toString()])).toEqual([
      [streams.sessions, 'a'],
      [streams.sessions, 'b'],
      [streams.messages, 'x/y'],
      [streams.sessions, 'a'],
    ]);
    expect(decodeEvents(records[0].value!)).toEqual(events.slice(0, 2));
    expect(decodeEvent(records[1].value!)).toEqual(events[2]);
    expect(decodeEvent(records[3].value!)).toEqual(events[4]);
  });

  test('record keys are the UTF-8 bytes of the client id or topic, also past the key slabs and for long or non-ASCII keys', () => {
    const texts = [...Array.from({ length: 3000 }, (_, i) => `client-${i}-${'k'.repeat(i % 40)}`), 'ü/日本/😀', 'x'.repeat(5000)];
    for (const text of texts) {
      const [record] = recordsFor([delivered(text, 1)], streams);
      expect(record.key!.equals(Buffer.from(text, 'utf8'))).toBe(true);
    }
    // Cached keys come back unchanged after other keys were cut.
    for (const text of texts.slice(0, 50)) expect(recordsFor([delivered(text, 2)], streams)[0].key!.toString('utf8')).toBe(text);
  });
});
