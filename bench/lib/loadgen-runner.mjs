// Runs bench/loadgen.mjs for one workload on the load-generator core and turns
// its JSON lines into calls: onMark(name, send) for each mark (send writes a
// line to its stdin), and the result object as the resolved value.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc } from './procs.mjs';

const LOADGEN = join(dirname(fileURLToPath(import.meta.url)), '..', 'loadgen.mjs');
const NATIVE = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'loadgen');
let runs = 0;

/** The native load generator's command line for `spec`, or null when it does not do that workload (then the JS one runs). */
function nativeArgs(spec) {
  if (spec.workload !== 'throughput' || spec.shape !== 'fan-in' || spec.subscribers !== 1) return null;
  if (!existsSync(NATIVE)) {
    const built = spawnSync('bash', [join(dirname(NATIVE), '..', '..', 'scripts', 'bench-native.sh')], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('--loadgen native: the native load generator could not be built (scripts/bench-native.sh)');
  }
  const cap = spec.cap >= 1e15 ? 0 : spec.cap;
  return [spec.pubPort, spec.qos, spec.publishers, 64, cap, spec.warmupMs, spec.measureMs, spec.runId, spec.subPort].map(String);
}

/** Returns { proc, done }: done resolves with the result or rejects with why there is none. */
export function startLoadgen(spec, { cpu, workDir, onMark = () => {}, native = false }) {
  const nativeCommand = native ? nativeArgs(spec) : null;
  const proc = new Proc({
    name: `loadgen-${spec.workload}`,
    cpu,
    cmd: nativeCommand ? NATIVE : process.execPath,
    args: nativeCommand ?? [LOADGEN, JSON.stringify(spec)],
    logFile: join(workDir, `loadgen-${spec.workload}-${++runs}.log`),
    pipeStdout: true,
    pipeStdin: true,
  });
  const send = (line) => proc.child.stdin.write(`${line}\n`);
  proc.child.stdin.on('error', () => {}); // it may exit before reading
  const done = new Promise((resolve, reject) => {
    let result = null;
    let markFailure = null;
    createInterface({ input: proc.child.stdout }).on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return; // not ours
      }
      if (msg.type === 'mark') {
        Promise.resolve()
          .then(() => onMark(msg.name, send))
          .catch((err) => {
            markFailure = err;
            proc.kill();
          });
      } else if (msg.type === 'result') {
        const { type, ...rest } = msg;
        result = rest;
      }
    });
    // 'close' comes after the exit and after stdout is fully read.
    proc.child.once('close', async () => {
      const info = await proc.exited;
      if (markFailure) reject(markFailure);
      else if (result && info.code === 0) resolve(result);
      else reject(new Error(`load generator ended without a result (${JSON.stringify(info)}):\n${proc.logTail()}`));
    });
  });
  return { proc, done };
}
