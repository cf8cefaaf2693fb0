// Shared by the scenarios: run a workload against a started broker, timing the
// broker's own CPU use over the load generator's measuring window, and turn a
// workload result into the integrity counts every cell reports.
import { cpuSeconds, machineBusySeconds } from '../lib/procs.mjs';

/**
 * Runs `spec` against `broker` (ports filled in). Returns the workload's result
 * plus, over the measuring window, brokerCpu: CPU seconds of the broker's
 * processes (Kafka's JVM included on the Kafka rows) per second, i.e. 1.0 = one
 * core busy; and otherCpu: the same for everything else on the machine.
 */
export async function measure(ctx, broker, spec, onMark = () => {}) {
  const pids = [...broker.pids, ...(ctx.env.kafka && ctx.target.usesKafka ? [ctx.env.kafka.pid] : [])];
  const sample = () => ({ broker: pids.reduce((s, pid) => s + cpuSeconds(pid), 0), machine: machineBusySeconds(), at: performance.now() });
  let opened = null;
  let closed = null;
  const result = await ctx.loadgen({ runId: ctx.runId, pubPort: broker.pubPort, subPort: broker.subPort, ...spec }, async (name, send) => {
    if (name === 'window-open') opened = sample();
    if (name === 'window-close') closed = sample();
    await onMark(name, send);
  });
  if (!opened || !closed) return { ...result, brokerCpu: null, otherCpu: null };
  const seconds = (closed.at - opened.at) / 1000;
  const brokerCpu = (closed.broker - opened.broker) / seconds;
  // Whatever else kept the machine's CPUs busy in the window: near 0 on an idle machine.
  const otherCpu = Math.max(0, (closed.machine - opened.machine) / seconds - brokerCpu - (result.loadgenCpu ?? 0));
  return { ...result, brokerCpu, otherCpu };
}

/** The loss / duplicate / reorder counts of a workload result. */
export function integrityOf(r) {
  return { lost: r.lost, duplicates: r.duplicates, reordered: r.reordered, unexpected: r.unexpected };
}
