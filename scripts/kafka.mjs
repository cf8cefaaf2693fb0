#!/usr/bin/env node
// Local Apache Kafka (KRaft) clusters for mqlog's tests, benchmarks and development.
// See docs/kafka-local.md. The logic lives in scripts/kafka/lib.cjs (importable
// from CommonJS and ESM alike); this is its command line.
//
//   node scripts/kafka.mjs fetch   [--version V] [--force]
//   node scripts/kafka.mjs start   [--brokers 1|3] [--dir DIR] [--port BASE] [--version V] [--heap MB] [--timeout S]
//   node scripts/kafka.mjs stop    [--dir DIR | --brokers N] [--rm] [--timeout S]
//   node scripts/kafka.mjs kill    --broker N [--dir DIR | --brokers N]
//   node scripts/kafka.mjs restart --broker N [--dir DIR | --brokers N] [--timeout S]
//   node scripts/kafka.mjs status  [--dir DIR | --brokers N]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = require('./kafka/lib.cjs');

const USAGE = `usage: node scripts/kafka.mjs <command> [options]

commands:
  fetch    [--version V] [--force]      resolve Kafka's jars with mvn into the cache
  start    [--brokers N] [--dir DIR] [--port BASE] [--version V] [--heap MB] [--timeout S]
                                        start (or find running) a KRaft cluster; prints the bootstrap servers
  stop     [--dir DIR] [--rm] [--timeout S]   stop the cluster recorded in DIR (--rm: delete DIR too)
  kill     --broker N [--dir DIR]       SIGKILL broker N
  restart  --broker N [--dir DIR]       start broker N again (same data dir and port)
  status   [--dir DIR]                  print the recorded state as JSON

defaults: --brokers 1, --dir <tmpdir>/mqlog-kafka-<brokers>, --port ${lib.DEFAULT_PORT}
          (controllers on port+${lib.CONTROLLER_PORT_OFFSET}), --version ${lib.DEFAULT_VERSION}
cache:    $MQLOG_CACHE_DIR or ~/.cache/mqlog (now ${lib.cacheRoot()})`;

const FLAGS = {
  '--version': 'string',
  '--brokers': 'int',
  '--broker': 'int',
  '--dir': 'string',
  '--port': 'int',
  '--heap': 'int',
  '--timeout': 'int',
  '--force': 'bool',
  '--rm': 'bool',
  '--quiet': 'bool',
};

function parse(argv) {
  const [command, ...rest] = argv;
  const opts = {};
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const kind = FLAGS[arg];
    if (!kind) throw new lib.KafkaScriptError(`unknown option ${arg}\n\n${USAGE}`);
    if (kind === 'bool') {
      opts[arg.slice(2)] = true;
      continue;
    }
    if (value === undefined) {
      value = rest[++i];
      if (value === undefined) throw new lib.KafkaScriptError(`${arg} needs a value`);
    }
    if (kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new lib.KafkaScriptError(`${arg} needs a positive integer, got ${value}`);
      value = n;
    }
    opts[arg.slice(2)] = value;
  }
  return { command, opts };
}

async function main() {
  const { command, opts } = parse(process.argv.slice(2));
  const common = {
    dir: opts.dir,
    brokers: opts.brokers,
    quiet: opts.quiet,
    timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
  };
  switch (command) {
    case 'fetch': {
      const r = await lib.fetchKafka({ version: opts.version, force: opts.force, quiet: opts.quiet });
      process.stdout.write(`${r.libs}\n`);
      if (!r.fetched && !opts.quiet) process.stderr.write(`[kafka] Kafka ${r.version} already cached (${r.jars.length} jars)\n`);
      return;
    }
    case 'start': {
      const r = await lib.startKafka({ ...common, port: opts.port, version: opts.version, heapMb: opts.heap });
      process.stdout.write(`${r.bootstrap}\n`);
      return;
    }
    case 'stop': {
      await lib.stopKafka({ ...common, remove: opts.rm });
      return;
    }
    case 'kill': {
      if (!opts.broker) throw new lib.KafkaScriptError('kill needs --broker N');
      await lib.killBroker({ ...common, broker: opts.broker });
      return;
    }
    case 'restart': {
      if (!opts.broker) throw new lib.KafkaScriptError('restart needs --broker N');
      const r = await lib.restartBroker({ ...common, broker: opts.broker });
      process.stdout.write(`${r.bootstrap}\n`);
      return;
    }
    case 'status': {
      const r = await lib.kafkaStatus(common);
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new lib.KafkaScriptError(`unknown command ${command}\n\n${USAGE}`);
  }
}

main().catch((err) => {
  if (err instanceof lib.KafkaScriptError) process.stderr.write(`kafka.mjs: error: ${err.message}\n`);
  else process.stderr.write(`kafka.mjs: unexpected error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
