#!/usr/bin/env node
// Local MariaDB, PostgreSQL and Redis for the connector tests. The logic lives
// in scripts/services/lib.cjs (shared with test/helpers/services.ts); this is
// its command line.
//
//   node scripts/services.mjs ensure mariadb|postgres|redis ...   start what does not answer; print the settings
//   node scripts/services.mjs status [mariadb|postgres|redis ...] print what a ping sees (exit 1 if any is not up)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = require('./services/lib.cjs');
const { runCli, timeoutMsOf } = require('./common/cli.cjs');

const USAGE = `usage: node scripts/services.mjs <command> [service...] [--timeout S] [--quiet]

commands:
  ensure  <service...>   check each service answers; start a local one that does not
                         (as root), wait up to --timeout (default ${lib.DEFAULT_TIMEOUT_MS / 1000} s); print its settings as JSON
  status  [service...]   print what a protocol-level ping sees (all services by default)

services: ${lib.SERVICE_NAMES.join(', ')}
settings: MQLOG_<SERVICE>_{HOST,PORT,USER,PASSWORD,DATABASE}, e.g. MQLOG_POSTGRES_PORT=5433`;

function serviceName(arg) {
  if (!lib.SERVICE_NAMES.includes(arg)) throw new lib.ServiceError(`unknown service ${arg} (known: ${lib.SERVICE_NAMES.join(', ')})`);
  return arg;
}

runCli({
  name: 'services.mjs',
  usage: USAGE,
  flags: { '--timeout': 'number', '--quiet': 'bool' },
  positional: serviceName,
  ErrorClass: lib.ServiceError,
  commands: {
    async ensure(opts, names) {
      if (names.length === 0) throw new lib.ServiceError(`ensure needs at least one service\n\n${USAGE}`);
      const settings = {};
      for (const name of names) settings[name] = await lib.ensureService(name, { quiet: opts.quiet, timeoutMs: timeoutMsOf(opts) });
      process.stdout.write(`${JSON.stringify(settings, null, 2)}\n`);
    },
    async status(opts, names) {
      const statuses = await Promise.all((names.length ? names : lib.SERVICE_NAMES).map((name) => lib.serviceStatus(name)));
      process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
      if (statuses.some((s) => s.state !== 'up')) process.exitCode = 1;
    },
  },
});
