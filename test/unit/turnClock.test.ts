import { TurnClock } from '../../src/node/TurnClock';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const busyWait = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

test('one reading per event-loop turn: events of a turn share it, the next turn reads the clock again', async () => {
  const clock = new TurnClock();
  const first = clock.now();
  busyWait(5);
  expect(clock.now()).toBe(first); // same turn, even though time moved on
  await nextTurn();
  await nextTurn();
  const later = clock.now();
  expect(later).toBeGreaterThanOrEqual(first + 5);
  expect(Math.abs(later - Date.now())).toBeLessThanOrEqual(1);
});
