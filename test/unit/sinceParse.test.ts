/**
 * `since` comes from a client's SUBSCRIBE and is recorded with the subscription
 * (event format 6): whatever the client sends, it is refused (null) or a whole
 * number of milliseconds in [0, now] that the event codec takes. A duration
 * reaching before 1970 once made a negative time that the codec refused at
 * append, which failed the node (found by the fuzzer).
 */
import fc from 'fast-check';
import { parseSince } from '../../src/delivery/SinceFeed';
import { encodeEvent, decodeEvent } from '../../src/events/codec';

const NOW = Date.UTC(2026, 11, 7);

test('any string gives null or a whole time in [0, now] that the codec round-trips', () => {
  const text = fc.oneof(
    fc.string(),
    fc.tuple(fc.integer({ min: 0, max: 1e10 }), fc.constantFrom('s', 'm', 'h', 'd', 'y', '')).map(([n, u]) => `${n}${u}`),
    fc.stringMatching(/^\d{1,400}$/),
    fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) }).map((d) => d.toISOString()),
  );
  fc.assert(
    fc.property(text, (t) => {
      const at = parseSince(t, NOW);
      if (at === null) return;
      expect(Number.isInteger(at) && at >= 0 && at <= NOW).toBe(true);
      const event = { type: 'client.subscribed' as const, clientId: 'c', packetId: 1, subscriptions: [{ filter: 'a/#', requestedQos: 1 as const, granted: 1 as const, since: at }], position: [0], timestamp: NOW };
      expect(decodeEvent(encodeEvent(event))).toEqual(event);
    }),
    { numRuns: 2000 },
  );
});

test.each([
  ['999999999d', 0],
  ['1969-01-01T00:00:00Z', 0],
  ['2999-01-01T00:00:00Z', NOW],
  ['1h', NOW - 3_600_000],
  ['9'.repeat(400), null],
  ['soon', null],
  ['-5m', null],
])('since=%s is %s', (text, expected) => {
  expect(parseSince(text, NOW)).toBe(expected);
});
