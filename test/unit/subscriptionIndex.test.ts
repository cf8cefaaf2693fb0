import { DisconnectReason, SessionEvent } from '../../src/events/types';
import { emptySubscriptionIndex, foldSubscriptions, subscribersOf } from '../../projections/SubscriptionIndex';

const connected = (clientId: string, cleanSession: boolean, connectionId = `${clientId}-1`): SessionEvent => ({
  type: 'client.connected', clientId, connectionId, nodeId: 'n', protocolVersion: 4, cleanSession, keepalive: 0,
  sessionExpiry: 0, will: null, username: null, remoteAddress: '', sessionPresent: false, position: [0], timestamp: 1, foreignTakeover: false,
});
const disconnected = (clientId: string, connectionId = `${clientId}-1`): SessionEvent => ({
  type: 'client.disconnected', clientId, connectionId, nodeId: 'n', reason: DisconnectReason.Normal, willPublished: false, servedUpTo: [0], timestamp: 2,
});
const subscribed = (clientId: string, ...subs: Array<[string, 0 | 1 | 2 | 0x80]>): SessionEvent => ({
  type: 'client.subscribed', clientId, packetId: 1, position: [0], timestamp: 3,
  subscriptions: subs.map(([filter, granted]) => ({ filter, requestedQos: 1, granted })),
});

test('a fold over session events: who subscribes to a topic, once each at the highest QoS', () => {
  const s = emptySubscriptionIndex();
  for (const e of [
    connected('a', false), subscribed('a', ['x/#', 1], ['x/+', 2], ['refused', 0x80]),
    connected('b', true), subscribed('b', ['#', 0]),
    connected('c', true), subscribed('c', ['$SYS/#', 1]),
  ]) foldSubscriptions(s, e);
  expect(Object.fromEntries(subscribersOf(s, 'x/y'))).toEqual({ a: 2, b: 0 });
  expect(Object.fromEntries(subscribersOf(s, 'refused'))).toEqual({ b: 0 });
  // [MQTT-4.7.2-1] "#" does not match $ topics.
  expect(Object.fromEntries(subscribersOf(s, '$SYS/load'))).toEqual({ c: 1 });

  // A clean session's subscriptions end with its connection; a persistent one's stay.
  foldSubscriptions(s, disconnected('b'));
  foldSubscriptions(s, disconnected('a'));
  expect(Object.fromEntries(subscribersOf(s, 'x/y'))).toEqual({ a: 2 });
  // Resuming keeps them; connecting clean drops them [MQTT-3.1.2-6].
  foldSubscriptions(s, connected('a', false, 'a-2'));
  expect(subscribersOf(s, 'x/y').get('a')).toBe(2);
  foldSubscriptions(s, { type: 'client.unsubscribed', clientId: 'a', packetId: 2, filters: ['x/+'], timestamp: 4 });
  expect(subscribersOf(s, 'x/y').get('a')).toBe(1);
  foldSubscriptions(s, connected('a', true, 'a-3'));
  expect(subscribersOf(s, 'x/y').size).toBe(0);
  // A stale disconnect (an older connection) changes nothing.
  foldSubscriptions(s, subscribed('a', ['z', 1]));
  foldSubscriptions(s, disconnected('a', 'a-2'));
  expect(subscribersOf(s, 'z').get('a')).toBe(1);
});
