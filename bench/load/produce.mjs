// Fills a broker's log: `count` QoS 0 publishes spread over `publishers`
// connections, as fast as the sockets take them, then one QoS 1 publish per
// connection. A broker acknowledges in order per connection, so its PUBACK means
// every earlier message of that connection is in the log.
import { Publisher } from './publisher.mjs';
import { brokenConnections, connectMany, Window } from './session.mjs';

export async function produce(spec, emit) {
  const { count, publishers: pubCount, runId } = spec;
  const fences = [];
  const clients = await connectMany({ port: spec.pubPort, count: pubCount, clientId: (i) => `${runId}-fill-${i}` });
  const window = new Window();
  window.open(emit);
  const floods = clients.map((client, i) => {
    const quota = Math.floor(count / pubCount) + (i < count % pubCount ? 1 : 0);
    return new Publisher(client, { id: i, topic: `bench/${runId}/fill/${i}`, qos: 0, allowance: () => quota });
  });
  for (const p of floods) p.start();
  const errors = [];
  for (const p of floods) if (!(await p.settle(600000))) errors.push(`publisher ${p.id} could not flush`);
  for (const [i, client] of clients.entries()) {
    fences[i] = new Publisher(client, { id: pubCount + i, topic: `bench/${runId}/fill/${i}`, qos: 1, allowance: () => 1 });
    fences[i].start();
  }
  for (const f of fences) if (!(await f.settle(60000))) errors.push(`publisher ${f.id}: no PUBACK for the closing QoS 1 message`);
  window.close(emit);
  errors.push(...brokenConnections(clients));
  for (const c of clients) c.end();
  const sent = floods.reduce((n, p) => n + p.sent, 0) + fences.reduce((n, f) => n + f.sent, 0);
  return { sent, ms: window.ms, rate: sent / (window.ms / 1000), loadgenCpu: window.loadgenCpu, errors };
}
