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
const { runCli, timeoutMsOf } = require('./common/cli.cjs');

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

const commonOpts = (opts) => ({ dir: opts.dir, brokers: opts.brokers, quiet: opts.quiet, timeoutMs: timeoutMsOf(opts) });

runCli({
  name: 'kafka.mjs',
  usage: USAGE,
  flags: FLAGS,
  ErrorClass: lib.KafkaScriptError,
  commands: {
    async fetch(opts) {
      const r = await lib.fetchKafka({ version: opts.version, force: opts.force, quiet: opts.quiet });
      process.stdout.write(`${r.libs}\n`);
      if (!r.fetched && !opts.quiet) process.stderr.write(`[kafka] Kafka ${r.version} already cached (${r.jars.length} jars)\n`);
    },
    async start(opts) {
      const r = await lib.startKafka({ ...commonOpts(opts), port: opts.port, version: opts.version, heapMb: opts.heap });
      process.stdout.write(`${r.bootstrap}\n`);
    },
    async stop(opts) {
      await lib.stopKafka({ ...commonOpts(opts), remove: opts.rm });
    },
    async kill(opts) {
      if (!opts.broker) throw new lib.KafkaScriptError('kill needs --broker N');
      await lib.killBroker({ ...commonOpts(opts), broker: opts.broker });
    },
    async restart(opts) {
      if (!opts.broker) throw new lib.KafkaScriptError('restart needs --broker N');
      const r = await lib.restartBroker({ ...commonOpts(opts), broker: opts.broker });
      process.stdout.write(`${r.bootstrap}\n`);
    },
    async status(opts) {
      const r = await lib.kafkaStatus(commonOpts(opts));
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    },
  },
});
