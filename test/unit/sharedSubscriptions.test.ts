/**
 * Shared-subscription groups as every node folds them, and the member choice a
 * node writes into a message: always one connected member holding the
 * subscription, one per matching group [MQTT-4.8.2-3], spread round robin, and
 * never the connection a hand-off comes from.
 */
import fc from 'fast-check';
import { emptySessions, foldSession } from '../../projections/SessionProjection';
import { ClientConnected, ClientDisconnected, DisconnectReason, SessionEvent, Subscribed, Unsubscribed } from '../../src/events/types';
import { SharedGroups } from '../../src/node/SharedGroups';
import { parseShared, sharedFilterError } from '../../src/router/SharedSubscriptions';

function connected(clientId: string, connectionId: string, persistent = false): ClientConnected {
  return {
    type: 'client.connected', clientId, connectionId, nodeId: connectionId.split('/')[0], protocolVersion: 5, cleanSession: !persistent, keepalive: 0,
    sessionExpiry: persistent ? 300 : 0, will: null, username: null, remoteAddress: '', sessionPresent: false, position: [0], timestamp: 0, foreignTakeover: true,
  };
}
function subscribed(clientId: string, filter: string): Subscribed {
  return { type: 'client.subscribed', clientId, packetId: 1, subscriptions: [{ filter, requestedQos: 1, granted: 1 }], position: [0], timestamp: 0 };
}
function unsubscribed(clientId: string, filter: string): Unsubscribed {
  return { type: 'client.unsubscribed', clientId, packetId: 1, filters: [filter], timestamp: 0 };
}
function disconnected(clientId: string, connectionId: string): ClientDisconnected {
  return { type: 'client.disconnected', clientId, connectionId, nodeId: 'n', reason: DisconnectReason.Normal, willPublished: false, servedUpTo: [0], timestamp: 0 };
}

/** A session state and its groups, folded event by event as a node does. */
function folding(): { apply(e: SessionEvent): void; groups: SharedGroups; state: ReturnType<typeof emptySessions> } {
  const state = emptySessions();
  const groups = new SharedGroups(state);
  return {
    state,
    groups,
    apply(e) {
      foldSession(state, e);
      groups.refresh(e.clientId);
    },
  };
}

test('a message names one member per matching group, round robin over the connected members [MQTT-4.8.2-3]', () => {
  const f = folding();
  for (const [id, conn] of [['a', 'n1/e/1'], ['b', 'n2/e/1'], ['c', 'n1/e/2']]) {
    f.apply(connected(id, conn));
    f.apply(subscribed(id, '$share/g/s/+'));
  }
  f.apply(connected('d', 'n2/e/2'));
  f.apply(subscribed('d', '$share/h/s/#'));
  f.apply(subscribed('d', 'plain/#'));
  const counts = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const named = f.groups.assign('s/x', 1)!;
    expect(named.map((a) => a.shareFilter).sort()).toEqual(['$share/g/s/+', '$share/h/s/#']);
    for (const a of named) counts.set(a.clientId, (counts.get(a.clientId) ?? 0) + 1);
    const g = named.find((a) => a.shareFilter === '$share/g/s/+')!;
    expect(g.connectionId).toBe(f.state.get(g.clientId)!.connectionId);
    expect(g.nodeId).toBe(f.state.get(g.clientId)!.nodeId);
  }
  expect([counts.get('a'), counts.get('b'), counts.get('c'), counts.get('d')]).toEqual([100, 100, 100, 300]);
  expect(f.groups.assign('other/topic', 1)).toBeUndefined();
  // Filters starting with a wildcard do not match $ topics [MQTT-4.7.2-1].
  f.apply(connected('e', 'n1/e/3'));
  f.apply(subscribed('e', '$share/all/#'));
  expect(f.groups.assign('$SYS/x', 1)).toBeUndefined();
});

test('an offline persistent member, one that unsubscribed and one that left are not members; a hand-off never names the connection it comes from; with nobody connected a message is parked with an offline persistent member', () => {
  const f = folding();
  f.apply(connected('p', 'n/e/1', true));
  f.apply(subscribed('p', '$share/g/t'));
  f.apply(connected('q', 'n/e/2'));
  f.apply(subscribed('q', '$share/g/t'));
  f.apply(connected('r', 'n/e/3'));
  f.apply(subscribed('r', '$share/g/t'));
  f.apply(disconnected('p', 'n/e/1')); // persistent: the session stays, offline
  expect(f.state.get('p')?.connected).toBe(false);
  f.apply(unsubscribed('r', '$share/g/t'));
  expect(f.groups.membersOf('$share/g/t').map((m) => m.clientId)).toEqual(['q']);
  for (let i = 0; i < 5; i++) expect(f.groups.assign('t', 1)!.map((a) => a.clientId)).toEqual(['q']);
  expect(f.groups.other('$share/g/t', 'n/e/2')).toBeUndefined();
  f.apply(connected('p', 'n/e/4', true)); // back: a member again, under its new connection
  expect(f.groups.membersOf('$share/g/t').map((m) => `${m.clientId}@${m.connectionId}`)).toEqual(['p@n/e/4', 'q@n/e/2']);
  for (let i = 0; i < 5; i++) expect(f.groups.other('$share/g/t', 'n/e/2')?.clientId).toBe('p');
  f.apply(disconnected('q', 'n/e/2'));
  expect(f.groups.matches('t')).toBe(true);
  f.apply(disconnected('p', 'n/e/4'));
  // Nobody connected: a QoS 1 message is kept (parked) for the offline persistent member; QoS 0 is not.
  expect(f.groups.matches('t')).toBe(true);
  expect(f.groups.assign('t', 1)).toEqual([{ shareFilter: '$share/g/t', clientId: 'p', connectionId: 'n/e/4', nodeId: 'n', parked: true }]);
  expect(f.groups.assign('t', 0)).toBeUndefined();
  f.apply({ type: 'session.expired', clientId: 'p', connectionId: 'n/e/4', nodeId: 'n', timestamp: 0 });
  expect(f.groups.matches('t')).toBe(false);
  expect(f.groups.assign('t', 1)).toBeUndefined();
});

test('for any sequence of session events, every member named is connected and holds the subscription, and rebuilding gives the same groups', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const filters = ['$share/g/t/+', '$share/h/#', 't/+'];
  const step = fc.oneof(
    fc.record({ kind: fc.constant('connect' as const), id: fc.constantFrom(...ids), persistent: fc.boolean() }),
    fc.record({ kind: fc.constant('expire' as const), id: fc.constantFrom(...ids) }),
    fc.record({ kind: fc.constant('disconnect' as const), id: fc.constantFrom(...ids) }),
    fc.record({ kind: fc.constant('subscribe' as const), id: fc.constantFrom(...ids), filter: fc.constantFrom(...filters) }),
    fc.record({ kind: fc.constant('unsubscribe' as const), id: fc.constantFrom(...ids), filter: fc.constantFrom(...filters) }),
    fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom('t/1', 't/2', 'u', '$x') }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const f = folding();
      let n = 0;
      for (const s of steps) {
        if (s.kind === 'publish') {
          for (const a of f.groups.assign(s.topic, 1) ?? []) {
            const rec = f.state.get(a.clientId)!;
            expect(rec.connectionId === a.connectionId && rec.subscriptions.has(a.shareFilter)).toBe(true);
            // Parked only when no member holding it is connected, and only with a session that outlives its connection.
            if (a.parked) expect([...f.state.values()].some((r) => r.connected && r.subscriptions.has(a.shareFilter))).toBe(false);
            expect(a.parked ? !rec.connected && rec.sessionExpiry > 0 : rec.connected).toBe(true);
            expect(parseShared(a.shareFilter)).not.toBeNull();
          }
          continue;
        }
        const rec = f.state.get(s.id);
        if (s.kind === 'connect') f.apply(connected(s.id, `n/e/${++n}`, s.persistent));
        else if (!rec) continue;
        else if (s.kind === 'disconnect') f.apply(disconnected(s.id, rec.connectionId));
        else if (s.kind === 'expire') f.apply({ type: 'session.expired', clientId: s.id, connectionId: rec.connectionId, nodeId: 'n', timestamp: 0 });
        else if (s.kind === 'subscribe') f.apply(subscribed(s.id, s.filter));
        else f.apply(unsubscribed(s.id, s.filter));
      }
      const rebuilt = new SharedGroups(f.state);
      rebuilt.rebuild();
      for (const filter of filters) expect(rebuilt.membersOf(filter)).toEqual(f.groups.membersOf(filter));
      for (const topic of ['t/1', 'u', '$x']) expect(rebuilt.matches(topic)).toBe(f.groups.matches(topic));
    }),
  );
});

test.each([
  ['$share/g/a/b', { group: 'g', filter: 'a/b' }, null],
  ['$share/g/#', { group: 'g', filter: '#' }, null],
  ['$share//a', null, 'a shared subscription needs $share/<share name>/<topic filter>'],
  ['$share/g', null, 'a shared subscription needs $share/<share name>/<topic filter>'],
  ['$share/g+/a', { group: 'g+', filter: 'a' }, 'the share name may not hold a wildcard [MQTT-4.8.2-2]'],
  ['a/b', null, null],
])('%s parses and validates', (filter, parsed, error) => {
  expect(parseShared(filter)).toEqual(parsed);
  expect(sharedFilterError(filter)).toBe(error);
});
