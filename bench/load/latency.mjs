// End-to-end latency at a fixed rate: one QoS 1 publisher paced by a 1 ms timer,
// one QoS 1 subscriber, both in this process so send and receive times come from
// the same clock. Only messages sent inside the measuring window are sampled.
import { Publisher } from './publisher.mjs';
import { brokenConnections, connectMany, percentile, sleep, waitFor, Window } from './session.mjs';
import { Tally } from './tally.mjs';

export async function latency(spec, emit) {
  const { rate, warmupMs, measureMs, runId } = spec;
  const topic = `bench/${runId}/lat`;
  const tally = new Tally();
  const [subscriber] = await connectMany({
    port: spec.subPort,
    count: 1,
    clientId: () => `${runId}-lat-sub`,
    handlers: () => ({ onPublish: (_c, buf, ts, te, ps) => tally.onPublish(buf, ts, te, ps, performance.now()) }),
    prepare: (client) => client.subscribe(topic, 1),
  });
  const [publisherClient] = await connectMany({ port: spec.pubPort, count: 1, clientId: () => `${runId}-lat-pub` });
  const t0 = performance.now();
  const pub = new Publisher(publisherClient, { id: 0, topic, qos: 1, allowance: () => Math.floor(((performance.now() - t0) * rate) / 1000) });
  pub.start();
  const pacer = setInterval(() => pub.pump(), 1);

  const window = new Window();
  await sleep(warmupMs);
  const sentBefore = pub.sent;
  window.open(emit);
  tally.latencyFrom = window.startedAt;
  tally.latencyTo = Infinity; // until the window closes
  await sleep(measureMs);
  tally.latencyTo = performance.now();
  const sentInWindow = pub.sent - sentBefore;
  window.close(emit);
  clearInterval(pacer);
  pub.stop();

  const errors = [];
  if (!(await pub.settle(10000))) errors.push(`${pub.inflight} QoS 1 messages never acknowledged`);
  const unique = () => tally.received - tally.duplicates;
  if (!(await waitFor(() => unique() >= pub.sent, unique, { idleMs: 3000, maxMs: 15000 }))) errors.push(`deliveries stopped at ${unique()} of ${pub.sent}`);
  const { lost, unexpected } = tally.missing(new Map([[`0|${topic}`, pub.sent]]));
  errors.push(...brokenConnections([subscriber, publisherClient]));
  if (pub.unexpectedAcks) errors.push(`${pub.unexpectedAcks} PUBACKs for packet ids not in flight`);
  subscriber.end();
  publisherClient.end();

  const sorted = Float64Array.from(tally.latencies).sort();
  return {
    rate: sentInWindow / (window.ms / 1000),
    samples: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
    sent: pub.sent,
    expected: pub.sent,
    received: tally.received,
    lost,
    duplicates: tally.duplicates,
    reordered: tally.reordered,
    unexpected,
    loadgenCpu: window.loadgenCpu,
    errors,
  };
}
