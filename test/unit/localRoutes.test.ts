/**
 * LocalRoutes.match against its definition, for any set of subscriptions: each
 * client whose filters match the topic once [MQTT-3.3.5-1], at the highest QoS
 * of its matching subscriptions, none whose subscription starts after the
 * message. Both ways of finding a client's earlier match are exercised: a scan
 * (few candidate routes) and an index (more than sixteen).
 */
import fc from 'fast-check';
import { QoS } from '../../src/events/types';
import { topicMatches } from '../../src/protocol/topics';
import { LocalRoutes, RouteMatches } from '../../src/router/LocalRoutes';

const level = fc.constantFrom('a', 'b', 'c');
const topic = fc.array(level, { minLength: 1, maxLength: 3 }).map((l) => l.join('/'));
const filter = fc.array(fc.constantFrom('a', 'b', 'c', '+'), { minLength: 1, maxLength: 3 }).chain((l) =>
  fc.boolean().map((hash) => (hash ? [...l.slice(0, -1), '#'] : l).join('/')),
);
const route = fc.record({ client: fc.integer({ min: 0, max: 40 }).map((i) => `c${i}`), filter, qos: fc.constantFrom<QoS>(0, 1, 2), since: fc.integer({ min: 0, max: 3 }) });

/** Many routes on one topic (the index path) with clients holding several of them. */
const crowded = fc.array(
  fc.record({ client: fc.integer({ min: 0, max: 12 }).map((i) => `c${i}`), filter: fc.constantFrom('#', 'a/#', 'a/+', '+/b', 'a/b', '+/+', 'a/c'), qos: fc.constantFrom<QoS>(0, 1, 2), since: fc.integer({ min: 0, max: 3 }) }),
  { minLength: 17, maxLength: 80 },
);

test('each matching client once, at its highest matching QoS, from its start position on [MQTT-3.3.5-1, MQTT-3.8.4-3]', () => {
  fc.assert(
    fc.property(fc.oneof(fc.array(route, { maxLength: 80 }), crowded), fc.oneof(topic, fc.constant('a/b')), fc.integer({ min: 0, max: 3 }), (routes, t, offset) => {
      const local = new LocalRoutes();
      // A repeated (client, filter) takes the new QoS and keeps its first start: a re-subscription does not interrupt the flow [MQTT-3.8.4-3].
      const added = new Map<string, { qos: QoS; since: number }>();
      for (const r of routes) {
        local.add(r.client, r.filter, r.qos, [r.since]);
        const key = `${r.client}\u0000${r.filter}`;
        added.set(key, { qos: r.qos, since: added.get(key)?.since ?? r.since });
      }
      const expected = new Map<string, QoS>();
      for (const [key, r] of added) {
        const [client, f] = key.split('\u0000');
        if (offset < r.since || !topicMatches(f, t)) continue;
        if ((expected.get(client) ?? -1) < r.qos) expected.set(client, r.qos);
      }
      const out = new RouteMatches();
      const n = local.match(t, 0, offset, out);
      const got = new Map<string, QoS>();
      for (let i = 0; i < n; i++) {
        expect(got.has(out.clients[i])).toBe(false);
        got.set(out.clients[i], out.qos[i]);
      }
      expect(got).toEqual(expected);
    }),
    { numRuns: 2000 },
  );
});
