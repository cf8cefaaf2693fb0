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

const USAGE = `usage: node scripts/services.mjs <command> [service...] [--timeout S] [--quiet]

commands:
  ensure  <service...>   check each service answers; start a local one that does not
                         (as root), wait up to --timeout (default ${lib.DEFAULT_TIMEOUT_MS / 1000} s); print its settings as JSON
  status  [service...]   print what a protocol-level ping sees (all services by default)

services: ${lib.SERVICE_NAMES.join(', ')}
settings: MQLOG_<SERVICE>_{HOST,PORT,USER,PASSWORD,DATABASE}, e.g. MQLOG_POSTGRES_PORT=5433`;

function parse(argv) {
  const [command, ...rest] = argv;
  const names = [];
  const opts = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--quiet') opts.quiet = true;
    else if (arg === '--timeout' || arg.startsWith('--timeout=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : rest[++i];
      const seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new lib.ServiceError(`--timeout needs a positive number of seconds, got ${value}`);
      opts.timeoutMs = seconds * 1000;
    } else if (arg.startsWith('-')) throw new lib.ServiceError(`unknown option ${arg}\n\n${USAGE}`);
    else if (!lib.SERVICE_NAMES.includes(arg)) throw new lib.ServiceError(`unknown service ${arg} (known: ${lib.SERVICE_NAMES.join(', ')})`);
    else names.push(arg);
  }
  return { command, names, opts };
}

async function main() {
  const { command, names, opts } = parse(process.argv.slice(2));
  switch (command) {
    case 'ensure': {
      if (names.length === 0) throw new lib.ServiceError(`ensure needs at least one service\n\n${USAGE}`);
      const settings = {};
      for (const name of names) settings[name] = await lib.ensureService(name, opts);
      process.stdout.write(`${JSON.stringify(settings, null, 2)}\n`);
      return;
    }
    case 'status': {
      const statuses = await Promise.all((names.length ? names : lib.SERVICE_NAMES).map((name) => lib.serviceStatus(name)));
      process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
      if (statuses.some((s) => s.state !== 'up')) process.exitCode = 1;
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new lib.ServiceError(`unknown command ${command}\n\n${USAGE}`);
  }
}

main().catch((err) => {
  if (err instanceof lib.ServiceError) process.stderr.write(`services.mjs: error: ${err.message}\n`);
  else process.stderr.write(`services.mjs: unexpected error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
