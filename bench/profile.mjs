#!/usr/bin/env node
// Where mqlog's time goes on one benchmark workload: runs the broker (embedded
// log, default durability) under `node --cpu-prof` pinned to CPU 0 and the
// bench load generator pinned to CPU 1, then prints the functions with the most
// self time and the broker's own modules by inclusive time. The profile itself
// is kept (path printed) for Chrome DevTools or speedscope.
//
//   node bench/profile.mjs [--qos 0|1] [--shape fan-in|fan-out|latency] [--seconds S] [--open]
// (--open: publishers paced only by their window, as the open-loop scenarios)
// (latency: the latency scenario's QoS 1 flow at 2,000 msg/s)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const qos = Number(args.qos ?? 1);
const shape = args.shape ?? 'fan-in';
const seconds = Number(args.seconds ?? 10);
const openLoop = process.argv.includes('--open');
const heap = process.argv.includes('--heap');
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const pinned = (cpu, cmd, argv) => (hasTaskset ? ['taskset', ['-c', String(cpu), cmd, ...argv]] : [cmd, argv]);

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const dir = mkdtempSync(join(tmpdir(), 'mqlog-profile-'));
const port = await freePort();
writeFileSync(join(dir, 'config.json'), JSON.stringify({ dataDir: join(dir, 'data'), listeners: { tcp: { host: '127.0.0.1', port }, ws: { enabled: false } }, api: { enabled: false }, logging: { level: 'warn' } }));
const [bcmd, bargs] = pinned(0, process.execPath, [...(heap ? ['--heap-prof', `--heap-prof-dir=${dir}`, '--heap-prof-interval=65536'] : ['--cpu-prof', ...(args.interval ? [`--cpu-prof-interval=${args.interval}`] : []), `--cpu-prof-dir=${dir}`]), join(root, 'bin', 'mqlog.js'), 'start', '--config', join(dir, 'config.json')]);
const broker = spawn(bcmd, bargs, { stdio: ['ignore', 'inherit', 'inherit'] });
for (let i = 0; i < 100; i++) {
  const up = await new Promise((r) => net.connect(port, '127.0.0.1').on('connect', function () { this.destroy(); r(true); }).on('error', () => r(false)));
  if (up) break;
  await new Promise((r) => setTimeout(r, 100));
}
const spec =
  shape === 'latency'
    ? { workload: 'latency', runId: 'profile', pubPort: port, subPort: port, rate: 2000, warmupMs: 2000, measureMs: seconds * 1000 }
    : { workload: 'throughput', runId: 'profile', pubPort: port, subPort: port, shape, qos, publishers: shape === 'fan-in' ? 10 : 1, subscribers: shape === 'fan-in' ? 1 : 100, cap: openLoop ? 1e15 : 500, warmupMs: 2000, measureMs: seconds * 1000 };
const [lcmd, largs] = pinned(1, process.execPath, [join(root, 'bench', 'loadgen.mjs'), JSON.stringify(spec)]);
const gen = spawnSync(lcmd, largs, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const result = gen.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.type === 'result');
broker.kill('SIGTERM');
await new Promise((r) => broker.on('exit', r));
if (heap) {
  // Sampling heap profile: allocations (bytes sampled) by function, self.
  const hfile = readdirSync(dir).find((f) => f.endsWith('.heapprofile'));
  const hp = JSON.parse(readFileSync(join(dir, hfile), 'utf8'));
  const bytes = new Map();
  let all = 0;
  const walk = (node) => {
    const stack = [node];
    while (stack.length) {
      const n = stack.pop();
      const self = (n.selfSize ?? 0);
      all += self;
      const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/') : ''}:${n.callFrame.lineNumber}`;
      bytes.set(name, (bytes.get(name) ?? 0) + self);
      for (const c of n.children ?? []) stack.push(c);
    }
  };
  walk(hp.head);
  console.log(`\n${result ? Math.round(result.rate).toLocaleString('en') : '?'} msg/s delivered under the heap profiler; allocations sampled, top 30 by self bytes:`);
  for (const [name, b] of [...bytes].sort((a, b2) => b2[1] - a[1]).slice(0, 30)) console.log(`${((100 * b) / all).toFixed(1).padStart(5)}%  ${name}`);
  process.exit(0);
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));

// Self time per node from the samples, then per function name and per module (inclusive).
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
profile.timeDeltas.forEach((dt, i) => self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/') : ''}`.trim();
const selfByFn = new Map();
const inclByModule = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  selfByFn.set(label(n), (selfByFn.get(label(n)) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const m = /dist\/((?:src|connectors|auth|projections)\/.*)\.js$/.exec(byId.get(cur).callFrame.url)?.[1];
    if (m && !seen.has(m)) {
      seen.add(m);
      inclByModule.set(m, (inclByModule.get(m) ?? 0) + t);
    }
  }
}
const pct = (t) => `${((100 * t) / total).toFixed(1)}%`.padStart(6);
console.log(`\n${shape} QoS ${shape === 'latency' ? 1 : qos}: ${result ? Math.round(result.rate).toLocaleString('en') : '?'} msg/s delivered${result?.p50 !== undefined ? `, p50 ${result.p50.toFixed(3)} ms, p99 ${result.p99.toFixed(3)} ms` : ''}; lost ${result?.lost} dup ${result?.duplicates}; profile ${join(dir, file)}\n`);
console.log('self time, top 25:');
for (const [name, t] of [...selfByFn].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${pct(t)}  ${name}`);
console.log('\nmqlog modules, inclusive time:');
for (const [name, t] of [...inclByModule].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(t)}  ${name}`);
