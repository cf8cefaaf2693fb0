// Many idle clients: each connects (clean session, keepalive 300 s: no PINGREQ is
// due while the test runs) and subscribes to a topic of its own. Once all are in,
// it tells the orchestrator ("connected") and holds the connections until the
// orchestrator has read the broker's memory and writes "release" on stdin.
import { createInterface } from 'node:readline';
import { brokenConnections, connectMany, Window } from './session.mjs';

export async function connections(spec, emit) {
  const { count, runId } = spec;
  const window = new Window();
  window.open(emit);
  const clients = await connectMany({
    port: spec.subPort,
    count,
    concurrency: 200,
    clientId: (i) => `${runId}-idle-${i}`,
    prepare: (client, i) => client.subscribe(`bench/${runId}/idle/${i}`, 0),
  });
  window.close(emit);
  emit({ type: 'mark', name: 'connected' });
  await new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      if (line.trim() === 'release') lines.close();
    });
    lines.on('close', resolve); // also when the orchestrator goes away

  });
  const errors = brokenConnections(clients);
  for (const c of clients) c.destroy();
  return { count, connectMs: window.ms, rate: count / (window.ms / 1000), loadgenCpu: window.loadgenCpu, errors };
}
