// Starting one broker process: pinned, logging to its own file, ready once it
// answers MQTT. Every broker kind is such a process (or several).
import { join } from 'node:path';
import { Proc } from '../lib/procs.mjs';
import { waitForMqtt } from '../lib/net.mjs';

/**
 * Starts `cmd args` on `cpu` and waits until it accepts MQTT on `port` (then
 * proc.readyAt is set); stops it again if it never does.
 */
export async function startBrokerProcess({ name, cpu, cmd, args, workDir, port, readyTimeoutMs = 60000 }) {
  const proc = new Proc({ name, cpu, cmd, args, logFile: join(workDir, `${name}.log`) });
  try {
    proc.readyAt = await waitForMqtt(port, proc, { timeoutMs: readyTimeoutMs });
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
  return proc;
}

/** The instance shape the scenarios use, for a single-process broker. */
export function singleProcess(kind, proc, port) {
  return { kind, pubPort: port, subPort: port, pids: [proc.pid], memoryPid: proc.pid, stop: () => proc.stop() };
}
