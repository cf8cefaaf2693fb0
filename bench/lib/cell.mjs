// One cell of the table: one scenario against one broker, once. Everything the
// cell starts (brokers, load generators) is tracked and stopped by PID when it
// ends, fails or runs out of time; a cell never outlives its timeout.
import { startLoadgen } from './loadgen-runner.mjs';

export async function runCell({ scenario, target, env, opts, shared, loadgenCpu }) {
  const stoppables = [];
  let aborted = false;
  const track = (thing) => {
    stoppables.push(thing);
    // Started after the timeout fired: stop it right away (the finally below has run).
    if (aborted) void thing.stop();
    return thing;
  };
  const ctx = {
    env,
    opts,
    shared,
    target,
    runId: `${env.runId}-${scenario.id}-${target.id}-${Date.now() % 100000}`,
    track,
    startBroker: async () => track(await target.start(env)),
    loadgen: (spec, onMark) => {
      const { proc, done } = startLoadgen(spec, { cpu: loadgenCpu, workDir: env.workDir, onMark, native: opts.loadgen === 'native' });
      track({ stop: () => proc.kill() });
      return done;
    },
  };
  const timeoutMs = scenario.timeoutMs(opts);
  let timer;
  const started = performance.now();
  try {
    const outcome = scenario.run(ctx);
    outcome.catch(() => {}); // after a timeout its rejection is expected and ignored
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s; everything it started was stopped`)), timeoutMs);
    });
    const result = await Promise.race([outcome, timeout]);
    if (typeof result.value !== 'number' || !Number.isFinite(result.value)) {
      throw new Error(`no figure measured${result.errors?.length ? `: ${result.errors.join('; ')}` : ''}`);
    }
    return { ok: true, seconds: (performance.now() - started) / 1000, ...result, warnings: await stopAll() };
  } catch (err) {
    return { ok: false, seconds: (performance.now() - started) / 1000, error: err.message, warnings: await stopAll() };
  } finally {
    clearTimeout(timer);
    await stopAll();
  }

  /** Stops everything the cell started (once); returns what the brokers logged as warnings. */
  async function stopAll() {
    if (aborted) return [];
    aborted = true;
    await Promise.all(stoppables.map((s) => Promise.resolve(s.stop()).catch(() => {})));
    return stoppables.flatMap((s) => s.warnings?.() ?? []);
  }
}
