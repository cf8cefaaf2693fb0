/**
 * `npm run fuzz` for 30 seconds: mutated packets of every type at a broker in
 * its own process while a canary QoS 1 stream runs beside them; then a clean
 * stop, a restart on the same data and `mqlog log verify`. The long run (1M
 * packets) and its figures are in docs/hardening.md.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';
import { ensureBuilt } from '../helpers/childBroker';

jest.setTimeout(180_000);

test('30 s of fuzzing: broker alive, canary complete, clean stop, restart ok, log verify ok', () => {
  ensureBuilt();
  const root = join(__dirname, '..', '..');
  const run = spawnSync(process.execPath, [join(root, 'scripts', 'fuzz.mjs'), '--seconds', '30', '--json'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  let result: { packets: number; brokerAlive: boolean; canary: { acknowledged: number; lost: number; duplicated: number }; cleanStop: boolean; restartOk: boolean; verifyOk: boolean };
  try {
    result = JSON.parse(line);
  } catch {
    throw new Error(`the fuzzer printed no result (exit ${run.status}):\n${run.stderr.slice(-4000)}`);
  }
  expect(result.packets).toBeGreaterThan(10_000);
  expect({ alive: result.brokerAlive, lost: result.canary.lost, duplicated: result.canary.duplicated, cleanStop: result.cleanStop, restart: result.restartOk, verify: result.verifyOk }).toEqual({
    alive: true,
    lost: 0,
    duplicated: 0,
    cleanStop: true,
    restart: true,
    verify: true,
  });
  expect(result.canary.acknowledged).toBeGreaterThan(100);
  expect(run.status).toBe(0);
});
