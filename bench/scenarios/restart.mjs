// mqlog restart time with a big log: from spawning `mqlog start` to the first
// CONNACK, on a data dir holding ~N events (file log only).
//
// The log is filled once per run (by the first repeat, not timed): N QoS 0
// publishes of 64 bytes over 10 connections plus one QoS 1 publish per connection,
// i.e. N + 10 `message.published` records, and the session events of those
// connections; then a clean shutdown (SIGTERM, which writes a session snapshot).
// `mqlog log verify` counts what is in the log. Each repeat starts mqlog on that
// data dir (warm page cache) and stops it cleanly again.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMqlogNode } from '../brokers/mqlog.mjs';
import { measure } from './common.mjs';

const run = promisify(execFile);

async function fill(ctx) {
  const dataDir = join(ctx.env.workDir, 'restart-data');
  const node = ctx.track(await startMqlogNode({ ...ctx.env, nodeId: 'mqlog-restart', dataDir }));
  const r = await measure(ctx, { pubPort: node.port, subPort: node.port, pids: [node.proc.pid] }, { workload: 'produce', count: ctx.opts.restartEvents, publishers: 10 });
  if (r.errors.length) throw new Error(`filling the log failed: ${r.errors.join('; ')}`);
  await node.stop();
  const { stdout } = await run(process.execPath, [ctx.env.mqlogBin, 'log', 'verify', '--data-dir', dataDir], { maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout);
  if (!report.ok) throw new Error(`mqlog log verify found corrupt records in ${dataDir}`);
  const byStream = {};
  for (const p of report.partitions) byStream[p.stream] = (byStream[p.stream] ?? 0) + p.records;
  const events = Object.values(byStream).reduce((a, b) => a + b, 0);
  return { dataDir, events, byStream, fillRate: r.rate };
}

export const restart = {
  id: 'restart',
  title: 'restart: process start → accepting connections, big log',
  unit: 'ms',
  targets: ['mqlog'],
  timeoutMs: () => 15 * 60 * 1000,
  async run(ctx) {
    // Filled once per run; the repeats share it (and its failure, if any).
    ctx.shared.restartLog ??= fill(ctx);
    const log = await ctx.shared.restartLog;
    const node = ctx.track(await startMqlogNode({ ...ctx.env, nodeId: 'mqlog-restart', dataDir: log.dataDir }));
    const ms = node.proc.readyAt - node.proc.startedAt;
    await node.stop();
    return {
      value: ms,
      detail: { events: log.events, byStream: log.byStream, fillRate: Math.round(log.fillRate) },
      events: log.events,
      integrity: null,
      loadgenCpu: null,
      brokerCpu: null,
      otherCpu: null,
      errors: [],
    };
  },
};
