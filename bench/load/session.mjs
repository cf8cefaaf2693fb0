// Pieces every workload shares: connecting groups of clients with bounded
// concurrency, the measuring window (its own CPU share included), and waiting for
// deliveries to finish without waiting forever.
import { connect } from './mqtt.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Connects `count` clients, at most `concurrency` handshakes at a time; `prepare(client, i)` runs after each CONNACK. */
export async function connectMany({ port, count, clientId, concurrency = 100, handlers, prepare = async () => {} }) {
  const clients = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const client = await connect({ port, clientId: clientId(i), handlers: handlers?.(i) });
      clients[i] = client;
      await prepare(client, i);
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    for (const c of clients) c?.destroy();
    throw err;
  }
  return clients;
}

/** One line per distinct error that ended a connection, with how many it ended. */
export function brokenConnections(clients) {
  const counts = new Map();
  for (const c of clients) if (c.error) counts.set(c.error.message, (counts.get(c.error.message) ?? 0) + 1);
  return [...counts].map(([message, n]) => `${n} connection(s): ${message}`);
}

/** The measuring window: wall time and this process's CPU time between open() and close(). */
export class Window {
  open(emit) {
    this.startedAt = performance.now();
    this.cpuAtStart = process.cpuUsage();
    emit({ type: 'mark', name: 'window-open' });
  }

  close(emit) {
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.ms = performance.now() - this.startedAt;
    this.loadgenCpu = (cpu.user + cpu.system) / 1000 / this.ms;
    emit({ type: 'mark', name: 'window-close' });
  }
}

/**
 * Waits until `done()` is true; gives up after `idleMs` without `progress()`
 * changing, or after `maxMs` in all. Returns true when done.
 */
export async function waitFor(done, progress, { idleMs = 3000, maxMs = 20000 } = {}) {
  const deadline = Date.now() + maxMs;
  let last = progress();
  let lastChange = Date.now();
  while (!done()) {
    const now = Date.now();
    if (now > deadline || now - lastChange > idleMs) return false;
    await sleep(20);
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    }
  }
  return true;
}

/** Percentile (0..1) of an ascending array, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
