// Fan-in (many publishers, one topic each, one wildcard subscriber) and fan-out
// (one publisher, many subscribers of its topic) at QoS 0 or 1: the rate of
// deliveries that reach the subscribers in a fixed window after a warm-up.
//
// Besides the socket and the QoS 1 window, a publisher may not run more than `cap`
// messages ahead of what its subscribers have received on average (i.e. at most
// cap × subscribers of its deliveries are pending anywhere). Without that bound
// a broker that reads faster than it writes piles messages into its queues until
// it drops them (or runs out of memory), and the figure would say more about
// queue limits than about a rate it can sustain. The average, not the slowest
// subscriber, so one subscriber stalled for a moment (Nagle, a scheduling hiccup)
// does not stall the publisher for all. The cap (bench/scenarios/throughput.mjs)
// is far above what the round trip needs: tried from 100 to 5,000 it moved no
// broker's figure beyond the run-to-run noise, while 50 starved Mosquitto.
import { Publisher } from './publisher.mjs';
import { brokenConnections, connectMany, sleep, waitFor, Window } from './session.mjs';
import { Tally } from './tally.mjs';

export async function throughput(spec, emit) {
  const { shape, qos, publishers: pubCount, subscribers: subCount, cap, warmupMs, measureMs, runId } = spec;
  const base = `bench/${runId}`;
  const topicOf = (p) => (shape === 'fan-in' ? `${base}/in/${p}` : `${base}/out`);
  const filter = shape === 'fan-in' ? `${base}/in/+` : `${base}/out`;

  const tallies = Array.from({ length: subCount }, () => new Tally());
  const pubs = [];
  const unique = () => tallies.reduce((n, t) => n + t.received - t.duplicates, 0);
  const average = (p) => Math.floor(tallies.reduce((n, t) => n + (t.fromPublisher[p] ?? 0), 0) / subCount);

  const subscribers = await connectMany({
    port: spec.subPort,
    count: subCount,
    clientId: (i) => `${runId}-sub-${i}`,
    handlers: (i) => ({
      onPublish: (_c, buf, ts, te, ps) => tallies[i].onPublish(buf, ts, te, ps, 0),
      afterRead: () => {
        for (const p of pubs) if (p.starved) p.pump();
      },
    }),
    prepare: (client) => client.subscribe(filter, qos),
  });
  const publisherClients = await connectMany({ port: spec.pubPort, count: pubCount, clientId: (i) => `${runId}-pub-${i}` });
  for (let p = 0; p < pubCount; p++) {
    pubs.push(new Publisher(publisherClients[p], { id: p, topic: topicOf(p), qos, allowance: () => average(p) + cap }));
  }

  const errors = [];
  const window = new Window();
  // What the broker took from the publishers: acknowledged (QoS 1) or written to its socket (QoS 0).
  const accepted = () => pubs.reduce((n, p) => n + (qos > 0 ? p.acked : p.sent), 0);
  for (const p of pubs) p.start();
  await sleep(warmupMs);
  const before = unique();
  const acceptedBefore = accepted();
  window.open(emit);
  await sleep(measureMs);
  const inWindow = unique() - before;
  const acceptedInWindow = accepted() - acceptedBefore;
  window.close(emit);
  for (const p of pubs) p.stop();
  const stoppedAt = performance.now();

  for (const p of pubs) if (!(await p.settle(10000))) errors.push(`publisher ${p.id}: ${p.inflight} QoS 1 messages never acknowledged`);
  const sent = new Map(pubs.map((p) => [`${p.id}|${p.topic}`, p.sent]));
  const expected = pubs.reduce((n, p) => n + p.sent, 0) * subCount;
  const complete = await waitFor(() => unique() >= expected, unique, { idleMs: 5000, maxMs: 60000 });
  if (!complete) errors.push(`deliveries stopped at ${unique()} of ${expected}`);
  // From the publishers' stop until the subscribers had everything: how far behind delivery was.
  const drainMs = complete ? performance.now() - stoppedAt : null;

  let lost = 0;
  let unexpected = 0;
  for (const t of tallies) {
    const m = t.missing(sent);
    lost += m.lost;
    unexpected += m.unexpected;
  }
  errors.push(...brokenConnections([...subscribers, ...publisherClients]));
  const unexpectedAcks = pubs.reduce((n, p) => n + p.unexpectedAcks, 0);
  if (unexpectedAcks) errors.push(`${unexpectedAcks} PUBACKs for packet ids not in flight`);
  for (const c of [...subscribers, ...publisherClients]) c.end();

  return {
    rate: inWindow / (window.ms / 1000),
    acceptedRate: acceptedInWindow / (window.ms / 1000),
    drainMs,
    windowMs: window.ms,
    sent: pubs.reduce((n, p) => n + p.sent, 0),
    expected,
    received: tallies.reduce((n, t) => n + t.received, 0),
    lost,
    duplicates: tallies.reduce((n, t) => n + t.duplicates, 0),
    reordered: tallies.reduce((n, t) => n + t.reordered, 0),
    unexpected,
    loadgenCpu: window.loadgenCpu,
    errors,
  };
}
