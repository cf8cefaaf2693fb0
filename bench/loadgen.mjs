#!/usr/bin/env node
// The load generator: one process per scenario run, started by bench/run.mjs
// pinned to its own core. It takes the workload as JSON in argv[2] and writes
// JSON lines on stdout: marks ({type:'mark', name}) the orchestrator times the
// broker's CPU and memory by, then one {type:'result', ...}. Failures go to
// stderr with a non-zero exit.
import { connections } from './load/connections.mjs';
import { latency } from './load/latency.mjs';
import { produce } from './load/produce.mjs';
import { throughput } from './load/throughput.mjs';

const WORKLOADS = { throughput, latency, connections, produce };

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const spec = JSON.parse(process.argv[2] ?? '{}');
const workload = WORKLOADS[spec.workload];
if (!workload) {
  process.stderr.write(`loadgen: unknown workload ${JSON.stringify(spec.workload)}\n`);
  process.exit(2);
}
try {
  emit({ type: 'result', ...(await workload(spec, emit)) });
  // Sockets still closing must not keep a finished run alive.
  process.exit(0);
} catch (err) {
  process.stderr.write(`loadgen: ${err.stack ?? err}\n`);
  process.exit(1);
}
