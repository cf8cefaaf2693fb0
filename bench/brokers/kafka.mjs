// One local Kafka broker (KRaft, scripts/kafka/lib.cjs) for the mqlog-on-Kafka
// rows, in a temp dir on a free port. Its JVM is pinned, every thread of it, to
// the broker core: the Kafka rows measure mqlog and Kafka sharing one core.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { onCleanup } from '../lib/procs.mjs';

const kafkaLib = createRequire(import.meta.url)('../../scripts/kafka/lib.cjs');

export const KAFKA_VERSION = kafkaLib.DEFAULT_VERSION;

export async function startKafka({ workDir, cpu }) {
  const dir = join(workDir, `kafka-${Date.now()}`);
  const stop = () => kafkaLib.stopKafka({ dir, rm: true, quiet: true });
  const unregister = onCleanup(stop);
  const port = await kafkaLib.findFreePortBase(1);
  try {
    const cluster = await kafkaLib.startKafka({ brokers: 1, dir, port, quiet: true });
    const pid = cluster.brokers[0].pid;
    // -a: every existing thread; threads started later inherit the affinity.
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return {
      bootstrap: cluster.bootstrap,
      pid,
      stop: async () => {
        unregister();
        await stop();
      },
    };
  } catch (err) {
    unregister();
    await stop().catch(() => {});
    throw err;
  }
}
