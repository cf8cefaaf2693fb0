// mqlog as users run it: `node bin/mqlog.js start --config <file>`, one process per
// node. On the embedded file log with its default durability (fsync: os), or on
// Kafka: one node, or two nodes sharing the Kafka streams (publishers connect to
// the first, subscribers to the second, so every message crosses Kafka).
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/net.mjs';
import { startBrokerProcess } from './common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Copies the built mqlog (bin/, dist/, package.json; node_modules linked) into
 * the run's work dir and returns the copy's bin/mqlog.js. Every cell then runs
 * the same code even when the checkout is rebuilt while the benchmark runs.
 */
export function snapshotMqlog(workDir) {
  const dir = join(workDir, 'mqlog');
  mkdirSync(dir, { recursive: true });
  for (const part of ['bin', 'dist', 'package.json']) cpSync(join(root, part), join(dir, part), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin', 'mqlog.js');
}

function nodeConfig({ nodeId, port, dataDir, queueLimit, kafka, fsync }) {
  const config = {
    nodeId,
    dataDir,
    listeners: { tcp: { host: '127.0.0.1', port }, ws: { enabled: false } },
    api: { enabled: false },
    mqtt: { maxQueuedMessages: queueLimit },
    logging: { level: 'warn' },
  };
  if (fsync) config.log = { file: { fsync } };
  if (kafka) {
    config.log = {
      backend: 'kafka',
      streamPrefix: kafka.streamPrefix,
      kafka: { brokers: kafka.bootstrap.split(','), replicationFactor: 1, minInsyncReplicas: 1 },
    };
  }
  return config;
}

/** Starts one mqlog node (`mqlogBin`: see snapshotMqlog); `dataDir` may hold an existing log (the restart scenario). */
export async function startMqlogNode({ workDir, mqlogBin, cpu, nodeId, dataDir, queueLimit, kafka, fsync }) {
  const port = await freePort();
  mkdirSync(dataDir, { recursive: true });
  const configFile = join(workDir, `${nodeId}-${port}.json`);
  writeFileSync(configFile, `${JSON.stringify(nodeConfig({ nodeId, port, dataDir, queueLimit, kafka, fsync }), null, 2)}\n`);
  const proc = await startBrokerProcess({ name: `${nodeId}-${port}`, cpu, cmd: process.execPath, args: [mqlogBin, 'start', '--config', configFile], workDir, port, readyTimeoutMs: 120000 });
  return { proc, port, configFile, stop: () => proc.stop() };
}

/**
 * What mqlog logged at warn level or above (its pino lines), as "N× message: error"
 * lines: a broker that retries, drops or refuses something under load says so there.
 */
export function loggedWarnings(logFiles) {
  const counts = new Map();
  for (const file of logFiles) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.level < 40 || entry.logger === 'kafkajs') continue; // kafkajs' own chatter repeats what mqlog reports
      const err = typeof entry.err === 'string' ? entry.err : entry.err?.message;
      const key = `${entry.msg}${err ? `: ${String(err).slice(0, 120)}` : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].map(([msg, n]) => `mqlog logged ${n}× "${msg}"`);
}

/**
 * Starts mqlog with `nodes` nodes, each with a fresh data dir; on Kafka when
 * `kafka` ({bootstrap, streamPrefix}) is given; with `fsync` as `log.file.fsync`
 * (default: the broker's default, `os`).
 */
export async function startMqlog({ workDir, mqlogBin, cpu, queueLimit, kafka, fsync, nodes = 1, kind }) {
  const started = [];
  try {
    for (let i = 1; i <= nodes; i++) {
      const nodeId = `${kind}-n${i}`;
      const dataDir = join(workDir, `${nodeId}-data-${Date.now()}`);
      started.push(await startMqlogNode({ workDir, mqlogBin, cpu, nodeId, dataDir, queueLimit, kafka, fsync }));
    }
  } catch (err) {
    await Promise.all(started.map((n) => n.stop()));
    throw err;
  }
  return {
    kind,
    pubPort: started[0].port,
    subPort: started[started.length - 1].port,
    pids: started.map((n) => n.proc.pid),
    memoryPid: started[0].proc.pid,
    stop: () => Promise.all(started.map((n) => n.stop())),
    warnings: () => loggedWarnings(started.map((n) => n.proc.logFile)),
  };
}
