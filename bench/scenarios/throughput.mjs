// The three throughput scenarios (bench/load/throughput.mjs does the work): the
// rate of deliveries over a fixed window after a warm-up.
import { integrityOf, measure } from './common.mjs';

const ALL = ['mqlog', 'aedes', 'mosquitto', 'mqlog-fsync', 'mqlog-kafka-1', 'mqlog-kafka-2'];
const EMBEDDED = ['mqlog', 'aedes', 'mosquitto', 'mqlog-fsync'];
/** How far (messages) a publisher may run ahead of its subscribers' average; see load/throughput.mjs. */
export const AHEAD_CAP = 500;

function throughputScenario({ id, title, unit, shape, qos, publishers, subscribers, targets, cap = AHEAD_CAP }) {
  return {
    id,
    title,
    unit,
    targets,
    timeoutMs: (opts) => opts.warmupMs + opts.measureMs + 120000,
    async run(ctx) {
      const broker = await ctx.startBroker();
      const r = await measure(ctx, broker, {
        workload: 'throughput',
        shape,
        qos,
        publishers,
        subscribers,
        cap,
        warmupMs: ctx.opts.warmupMs,
        measureMs: ctx.opts.measureMs,
      });
      return {
        value: r.rate,
        detail: { sent: r.sent, expected: r.expected, received: r.received, windowMs: Math.round(r.windowMs), acceptedRate: r.acceptedRate, drainMs: r.drainMs },
        accepted: r.acceptedRate,
        drainMs: r.drainMs,
        integrity: integrityOf(r),
        loadgenCpu: r.loadgenCpu,
        brokerCpu: r.brokerCpu,
        otherCpu: r.otherCpu,
        errors: r.errors,
      };
    },
  };
}

export const fanInQos0 = throughputScenario({
  id: 'fanin-qos0',
  title: 'fan-in QoS 0, 10 publishers → 1 subscriber',
  unit: 'msg/s',
  shape: 'fan-in',
  qos: 0,
  publishers: 10,
  subscribers: 1,
  targets: ALL,
});

export const fanInQos1 = throughputScenario({
  id: 'fanin-qos1',
  title: 'fan-in QoS 1, 10 publishers × 64 in flight → 1 subscriber',
  unit: 'msg/s',
  shape: 'fan-in',
  qos: 1,
  publishers: 10,
  subscribers: 1,
  targets: ALL,
});

export const fanOutQos0 = throughputScenario({
  id: 'fanout-qos0',
  title: 'fan-out QoS 0, 1 publisher → 100 subscribers',
  unit: 'deliveries/s',
  shape: 'fan-out',
  qos: 0,
  publishers: 1,
  subscribers: 100,
  targets: EMBEDDED,
});

// Open loop: publishers paced only by their socket and (QoS 1) their 64-message
// window, the way real devices publish: not by their subscribers. The figure is
// what reached the subscriber while the load lasted; beside it what the broker
// accepted (PUBACKed) and how long delivery took to drain once the publishers
// stopped. A broker that takes in more than it delivers shows here.
export const fanInQos1Open = throughputScenario({
  id: 'fanin-qos1-open',
  title: 'open-loop fan-in QoS 1, 10 publishers × 64 in flight → 1 subscriber (delivered while loaded)',
  unit: 'msg/s',
  shape: 'fan-in',
  qos: 1,
  publishers: 10,
  subscribers: 1,
  targets: EMBEDDED,
  cap: 1e15, // no bound (a number: the spec travels to the load generator as JSON)
});

export const fanInQos0Open = throughputScenario({
  id: 'fanin-qos0-open',
  title: 'open-loop fan-in QoS 0, 10 publishers → 1 subscriber (delivered while loaded)',
  unit: 'msg/s',
  shape: 'fan-in',
  qos: 0,
  publishers: 10,
  subscribers: 1,
  targets: EMBEDDED,
  cap: 1e15, // no bound (a number: the spec travels to the load generator as JSON)
});
