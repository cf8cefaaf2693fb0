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
    if (!kind) throw new lib.ElasticsearchScriptError(`unknown option ${arg}\n\n${USAGE}`);
    const key = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (kind === 'bool') {
      opts[key] = true;
      continue;
    }
    if (value === undefined) {
      value = rest[++i];
      if (value === undefined) throw new lib.ElasticsearchScriptError(`${arg} needs a value`);
    }
    if (kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new lib.ElasticsearchScriptError(`${arg} needs a positive integer, got ${value}`);
      value = n;
    }
    opts[key] = value;
  }
  return { command, opts };
}

async function main() {
  const { command, opts } = parse(process.argv.slice(2));
  const common = {
    dir: opts.dir,
    quiet: opts.quiet,
    timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
  };
  switch (command) {
    case 'fetch': {
      const r = await lib.fetchElasticsearch({ version: opts.version, force: opts.force, quiet: opts.quiet });
      process.stdout.write(`${r.dist}\n`);
      if (!r.fetched && !opts.quiet) process.stderr.write(`[elasticsearch] Elasticsearch ${r.version} already cached\n`);
      return;
    }
    case 'start': {
      const r = await lib.startElasticsearch({ ...common, port: opts.port, transportPort: opts.transportPort, version: opts.version, heapMb: opts.heap });
      process.stdout.write(`${r.url}\n`);
      return;
    }
    case 'stop': {
      await lib.stopElasticsearch({ ...common, rm: opts.rm });
      return;
    }
    case 'kill': {
      await lib.killElasticsearch(common);
      return;
    }
    case 'restart': {
      const r = await lib.restartElasticsearch(common);
      process.stdout.write(`${r.url}\n`);
      return;
    }
    case 'status': {
      const r = await lib.elasticsearchStatus(common);
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
      throw new lib.ElasticsearchScriptError(`unknown command ${command}\n\n${USAGE}`);
  }
}

main().catch((err) => {
  if (err instanceof lib.ElasticsearchScriptError) process.stderr.write(`elasticsearch.mjs: error: ${err.message}\n`);
  else process.stderr.write(`elasticsearch.mjs: unexpected error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
