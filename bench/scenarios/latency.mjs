// QoS 1 end-to-end latency at a fixed 2,000 msg/s (bench/load/latency.mjs).
import { integrityOf, measure } from './common.mjs';

export const RATE = 2000;

export const latency = {
  id: 'latency',
  title: `QoS 1 latency at ${RATE.toLocaleString('en-US')} msg/s, 1 → 1`,
  unit: 'ms',
  targets: ['mqlog', 'aedes', 'mosquitto', 'mqlog-fsync', 'mqlog-kafka-1', 'mqlog-kafka-2'],
  timeoutMs: (opts) => opts.warmupMs + opts.latencyMs + 90000,
  async run(ctx) {
    const broker = await ctx.startBroker();
    const r = await measure(ctx, broker, { workload: 'latency', rate: RATE, warmupMs: ctx.opts.warmupMs, measureMs: ctx.opts.latencyMs });
    return {
      value: r.p50,
      p50: r.p50,
      p99: r.p99,
      max: r.max,
      detail: { samples: r.samples, rate: Math.round(r.rate), sent: r.sent, received: r.received },
      integrity: integrityOf(r),
      loadgenCpu: r.loadgenCpu,
      brokerCpu: r.brokerCpu,
      otherCpu: r.otherCpu,
      errors: r.errors,
    };
  },
};
