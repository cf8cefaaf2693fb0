/** The member choice of shared subscriptions: the same on every node (a function of the position), always a member, spread. */
import fc from 'fast-check';
import { chooseMember, parseShared, sharedFilterError } from '../../src/router/SharedSubscriptions';

test('chooseMember always picks a member, for every position, and the same one for the same inputs', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 20 }), fc.nat(1000), fc.nat(Number.MAX_SAFE_INTEGER), (members, partition, offset) => {
      const chosen = chooseMember(members, partition, offset);
      expect(members).toContain(chosen);
      expect(chooseMember([...members], partition, offset)).toBe(chosen);
    }),
  );
});

test('chooseMember spreads consecutive offsets over the members', () => {
  const members = ['a', 'b', 'c'];
  const counts = new Map<string, number>();
  for (let o = 0; o < 3000; o++) counts.set(chooseMember(members, 0, o)!, (counts.get(chooseMember(members, 0, o)!) ?? 0) + 1);
  for (const m of members) expect(counts.get(m)).toBeGreaterThan(800);
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
