#!/usr/bin/env node
// A local single-node Elasticsearch for mqlog's tests and development.
// See docs/elasticsearch-local.md. The logic lives in scripts/elasticsearch/lib.cjs
// (importable from CommonJS and ESM alike); this is its command line.
//
//   node scripts/elasticsearch.mjs fetch   [--version V] [--force]
//   node scripts/elasticsearch.mjs start   [--dir DIR] [--port P] [--transport-port P] [--heap MB] [--version V] [--timeout S]
//   node scripts/elasticsearch.mjs stop    [--dir DIR] [--rm] [--timeout S]
//   node scripts/elasticsearch.mjs kill    [--dir DIR]
//   node scripts/elasticsearch.mjs restart [--dir DIR] [--timeout S]
//   node scripts/elasticsearch.mjs status  [--dir DIR]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = require('./elasticsearch/lib.cjs');
const { runCli, timeoutMsOf } = require('./common/cli.cjs');

const USAGE = `usage: node scripts/elasticsearch.mjs <command> [options]

commands:
  fetch    [--version V] [--force]      fetch the distribution with mvn and unpack it into the cache
  start    [--dir DIR] [--port P] [--transport-port P] [--heap MB] [--version V] [--timeout S]
                                        start (or find running) a single-node Elasticsearch; prints its URL
  stop     [--dir DIR] [--rm] [--timeout S]   stop the node recorded in DIR (--rm: delete DIR too)
  kill     [--dir DIR]                  SIGKILL the node (for crash tests)
  restart  [--dir DIR] [--timeout S]    start it again on the same data dir and ports (stopping it first if it runs)
  status   [--dir DIR]                  print the recorded state as JSON

defaults: --dir <tmpdir>/mqlog-elasticsearch (now ${lib.defaultDir()}), --port ${lib.DEFAULT_PORT},
          --transport-port port+${lib.TRANSPORT_PORT_OFFSET}, --heap ${lib.DEFAULT_HEAP_MB} (MiB), --version ${lib.DEFAULT_VERSION}
cache:    $MQLOG_CACHE_DIR or ~/.cache/mqlog (now ${lib.cacheRoot()})
as root:  the node runs as the system user ${lib.DEFAULT_USER} ($MQLOG_ELASTICSEARCH_USER), created when missing`;

const FLAGS = {
  '--version': 'string',
  '--dir': 'string',
  '--port': 'int',
  '--transport-port': 'int',
  '--heap': 'int',
  '--timeout': 'int',
  '--force': 'bool',
  '--rm': 'bool',
  '--quiet': 'bool',
};

const commonOpts = (opts) => ({ dir: opts.dir, quiet: opts.quiet, timeoutMs: timeoutMsOf(opts) });

runCli({
  name: 'elasticsearch.mjs',
  usage: USAGE,
  flags: FLAGS,
  ErrorClass: lib.ElasticsearchScriptError,
  commands: {
    async fetch(opts) {
      const r = await lib.fetchElasticsearch({ version: opts.version, force: opts.force, quiet: opts.quiet });
      process.stdout.write(`${r.dist}\n`);
      if (!r.fetched && !opts.quiet) process.stderr.write(`[elasticsearch] Elasticsearch ${r.version} already cached\n`);
    },
    async start(opts) {
      const r = await lib.startElasticsearch({ ...commonOpts(opts), port: opts.port, transportPort: opts.transportPort, version: opts.version, heapMb: opts.heap });
      process.stdout.write(`${r.url}\n`);
    },
    async stop(opts) {
      await lib.stopElasticsearch({ ...commonOpts(opts), rm: opts.rm });
    },
    async kill(opts) {
      await lib.killElasticsearch(commonOpts(opts));
    },
    async restart(opts) {
      const r = await lib.restartElasticsearch(commonOpts(opts));
      process.stdout.write(`${r.url}\n`);
    },
    async status(opts) {
      const r = await lib.elasticsearchStatus(commonOpts(opts));
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    },
  },
});
