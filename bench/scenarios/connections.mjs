// Idle connections (bench/load/connections.mjs): how long N clients take to
// connect and subscribe, and how much resident memory each costs the broker
// (VmRSS after, minus before, over N). Both readings are taken after a short
// settle so start-up and handshake garbage has a chance to be collected.
import { rssKiB } from '../lib/procs.mjs';
import { measure } from './common.mjs';

const SETTLE_MS = 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const connections = {
  id: 'connections',
  title: 'idle connections: connect + subscribe, broker RSS per connection',
  unit: 'KiB/conn',
  targets: ['mqlog', 'aedes', 'mosquitto'],
  timeoutMs: (opts) => 60000 + opts.connections * 20,
  async run(ctx) {
    const broker = await ctx.startBroker();
    await sleep(SETTLE_MS);
    const before = rssKiB(broker.memoryPid);
    let after = null;
    const count = ctx.opts.connections;
    const r = await measure(ctx, broker, { workload: 'connections', count }, async (name, send) => {
      if (name !== 'connected') return;
      await sleep(SETTLE_MS);
      after = rssKiB(broker.memoryPid);
      send('release');
    });
    const perConn = (after - before) / count;
    return {
      value: perConn,
      detail: { count, connectMs: Math.round(r.connectMs), rssBeforeKiB: before, rssAfterKiB: after },
      connectMs: r.connectMs,
      integrity: null,
      loadgenCpu: r.loadgenCpu,
      brokerCpu: r.brokerCpu,
      otherCpu: r.otherCpu,
      errors: r.errors,
    };
  },
};
