/** A session's subscriptions (projections/SubscriptionMap): one inline, more in a Map; it behaves as a Map whatever the mix. */
import fc from 'fast-check';
import { SubscriptionMap } from '../../projections/SubscriptionMap';

const filter = fc.constantFrom('a', 'a/b', 'a/+', '#', 'x/y/z');
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), filter, value: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('delete' as const), filter }),
);

describe('SubscriptionMap', () => {
  test('for any sequence of sets and deletes it holds what a Map holds, in the same order', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const ours = new SubscriptionMap<number>();
        const ref = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            ours.set(o.filter, o.value);
            ref.set(o.filter, o.value);
          } else {
            expect(ours.delete(o.filter)).toBe(ref.delete(o.filter));
          }
          expect(ours.size).toBe(ref.size);
          expect([...ours]).toEqual([...ref]);
          expect([...ours.keys()]).toEqual([...ref.keys()]);
          expect([...ours.values()]).toEqual([...ref.values()]);
          for (const f of ['a', 'a/b', 'a/+', '#', 'x/y/z', 'absent']) {
            expect(ours.get(f)).toBe(ref.get(f));
            expect(ours.has(f)).toBe(ref.has(f));
          }
        }
      }),
    );
  });

  test('made from entries: the same as setting them in order (a repeated filter keeps its first place, its last value)', () => {
    const m = new SubscriptionMap<number>([
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ]);
    expect([...m]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });
});
