#!/usr/bin/env node
// `npm run bench`: mqlog (file log and Kafka) against Aedes and Mosquitto, side by
// side in one run. Every broker runs on CPU 0, the load generator on CPU 1, this
// orchestrator (idle while measuring) on CPU 1 too. Within a repeat the brokers
// are interleaved per scenario; the Kafka rows come last in each repeat, with a
// Kafka broker started for them and stopped after, so an idle JVM never shares the
// broker core with the other rows.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aedesVersion } from './brokers/aedes.mjs';
import { TARGETS } from './brokers/index.mjs';
import { KAFKA_VERSION, startKafka } from './brokers/kafka.mjs';
import { MOSQUITTO, mosquittoVersion } from './brokers/mosquitto.mjs';
import { snapshotMqlog } from './brokers/mqlog.mjs';
import { renderDoc } from './docs.mjs';
import { parseArgs, USAGE } from './lib/args.mjs';
import { runCell } from './lib/cell.mjs';
import { filesystemOf, loadAverage, machineInfo, waitUntilIdle } from './lib/machine.mjs';
import { stopEverything } from './lib/procs.mjs';
import { buildRows, problemLines, renderTable, verdictCounts } from './report.mjs';
import { SCENARIOS } from './scenarios/index.mjs';

const BROKER_CPU = 0;
const LOADGEN_CPU = 1;
/** max_queued_messages (Mosquitto) and mqtt.maxQueuedMessages (mqlog): high enough that neither drops here. */
const QUEUE_LIMIT = 1_000_000;
/** A cell during whose window other processes kept this much of a core busy is measured again... */
const DISTURBED = 0.2;
/** ...up to this many times in all (the last attempt is kept, its other CPU shown). */
const MAX_ATTEMPTS = 3;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stderr.write(`[bench] ${msg}\n`);

function preflight(targets) {
  const problems = [];
  if (os.cpus().length < 2) problems.push('needs at least 2 CPUs (brokers on CPU 0, load generator on CPU 1)');
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    problems.push('taskset not found (apt-get install util-linux)');
  }
  if (targets.some((t) => t.id === 'mosquitto') && !existsSync(MOSQUITTO)) problems.push(`${MOSQUITTO} not found (apt-get install mosquitto)`);
  if (!existsSync(join(root, 'dist', 'src', 'cli.js'))) problems.push('mqlog is not built (npm run bench builds it; or npm run build)');
  if (problems.length) throw new Error(problems.join('\n'));
}

async function main() {
  const targetIds = TARGETS.map((t) => t.id);
  const opts = parseArgs(process.argv.slice(2), { targetIds, scenarioIds: SCENARIOS.map((s) => s.id) });
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const targets = TARGETS.filter((t) => opts.targets.includes(t.id));
  const scenarios = SCENARIOS.filter((s) => opts.scenarios.includes(s.id) && targets.some((t) => s.targets.includes(t.id)));
  preflight(targets);
  execFileSync('taskset', ['-p', '-c', String(LOADGEN_CPU), String(process.pid)], { stdio: 'ignore' });

  const workDir = mkdtempSync(join(os.tmpdir(), 'mqlog-bench-'));
  const workDirDevice = filesystemOf(workDir);
  // What is measured: the build and the checkout as they are now, whatever changes during the run.
  const machine = machineInfo({ mosquitto: mosquittoVersion(), aedes: aedesVersion(), kafka: KAFKA_VERSION });
  const env = { workDir, mqlogBin: snapshotMqlog(workDir), cpu: BROKER_CPU, queueLimit: QUEUE_LIMIT, runId: Math.random().toString(36).slice(2, 8), kafka: null };
  const startedAt = new Date();
  const commandLine = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const loadAtStart = loadAverage();
  if (loadAtStart > 0.5) say(`warning: load average ${loadAtStart} before starting; other work on this machine skews every figure`);
  say(`${commandLine}: ${opts.repeats} repeat(s), ${scenarios.length} scenario(s), brokers ${targets.map((t) => t.id).join(', ')}; work dir ${workDir}`);

  let interrupted = false;
  const onSignal = (sig) => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping every broker, Kafka and load generator`);
    stopEverything().finally(() => {
      if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const cells = new Map(); // "<scenario>/<target>" -> results in repeat order
  const shared = {}; // state scenarios keep across repeats (the restart scenario's filled log)
  const runOne = async (scenario, target, repeat) => {
    if (!scenario.targets.includes(target.id) || interrupted) return;
    let cell;
    for (let attempt = 1; ; attempt++) {
      // Other work on a shared machine (test runs) comes and goes: start each cell in a quiet moment...
      const waited = await waitUntilIdle({ excludePids: env.kafka ? [env.kafka.pid] : [] });
      if (waited === null) say('the machine did not go quiet within 10 min; measuring anyway');
      else if (waited > 2) say(`waited ${Math.round(waited)} s for the machine to go quiet`);
      cell = await runCell({ scenario, target, env, opts, shared, loadgenCpu: LOADGEN_CPU });
      // ...and measure it again when something else still ran during its window.
      if (!cell.ok || !(cell.otherCpu > DISTURBED) || attempt === MAX_ATTEMPTS || interrupted) break;
      say(`${scenario.id} ${target.id}: other processes used ${Math.round(cell.otherCpu * 100)}% CPU in the window; measuring again`);
    }
    const key = `${scenario.id}/${target.id}`;
    cells.set(key, [...(cells.get(key) ?? []), cell]);
    const shown = cell.ok ? `${typeof cell.value === 'number' ? cell.value.toFixed(2) : cell.value} ${scenario.unit}${cell.errors?.length ? ` [${cell.errors.join('; ')}]` : ''}` : `FAILED: ${cell.error}`;
    say(`repeat ${repeat}/${opts.repeats} ${scenario.id} ${target.id}: ${shown} (${cell.seconds.toFixed(1)} s)`);
  };

  try {
    for (let repeat = 1; repeat <= opts.repeats && !interrupted; repeat++) {
      for (const scenario of scenarios) for (const target of targets.filter((t) => !t.usesKafka)) await runOne(scenario, target, repeat);
      const kafkaTargets = targets.filter((t) => t.usesKafka);
      if (kafkaTargets.length && scenarios.some((s) => kafkaTargets.some((t) => s.targets.includes(t.id))) && !interrupted) {
        say(`repeat ${repeat}: starting Kafka for the Kafka rows`);
        try {
          env.kafka = await startKafka({ workDir, cpu: BROKER_CPU });
        } catch (err) {
          say(`Kafka did not start: ${err.message}`);
          for (const scenario of scenarios) for (const target of kafkaTargets) {
            if (!scenario.targets.includes(target.id)) continue;
            const key = `${scenario.id}/${target.id}`;
            cells.set(key, [...(cells.get(key) ?? []), { ok: false, seconds: 0, error: `Kafka did not start: ${err.message.split('\n')[0]}` }]);
          }
          continue;
        }
        try {
          for (const scenario of scenarios) for (const target of kafkaTargets) await runOne(scenario, target, repeat);
        } finally {
          await env.kafka.stop();
          env.kafka = null;
        }
      }
    }
  } finally {
    await stopEverything();
  }
  if (interrupted) return 130;

  const rows = buildRows(scenarios, targets, (s, t) => cells.get(`${s.id}/${t.id}`) ?? []);
  const table = renderTable(rows);
  const problems = problemLines(rows);
  const counts = verdictCounts(rows);
  process.stdout.write(`\n${table}\n\nmqlog targets: ${counts.PASS} PASS, ${counts.MISS} MISS, ${counts['n/a']} n/a\n`);
  if (problems.length) process.stdout.write(`\nProblems:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);

  if (opts.docs) {
    const doc = renderDoc({ table, rows, problems, counts, machine, opts, commandLine, startedAt, finishedAt: new Date(), queueLimit: QUEUE_LIMIT, loadAtStart, workDirDevice });
    writeFileSync(join(root, 'docs', 'benchmarks.md'), doc);
    say('wrote docs/benchmarks.md');
  } else {
    say('docs/benchmarks.md not rewritten (quick or filtered run; --docs forces it)');
  }
  if (opts.keep) say(`kept ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
  return [...cells.values()].flat().some((c) => !c.ok) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`bench: ${err.message}\n`);
    await stopEverything();
    process.exit(2);
  },
);
