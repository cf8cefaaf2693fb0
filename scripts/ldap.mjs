#!/usr/bin/env node
// A local OpenLDAP server (our own slapd) for mqlog's LDAP connector tests and
// for development. See docs/ldap.md. The logic lives in scripts/ldap/lib.cjs;
// this is its command line.
//
//   node scripts/ldap.mjs start  [--dir DIR] [--port P] [--tls-port P] [--timeout S] [--quiet]
//   node scripts/ldap.mjs stop   [--dir DIR] [--rm]
//   node scripts/ldap.mjs status [--dir DIR]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = require('./ldap/lib.cjs');

const USAGE = `usage: node scripts/ldap.mjs <command> [options]

commands:
  start   [--dir DIR] [--port P] [--tls-port P] [--timeout S]
                         start (or find running) slapd; prints its URLs and credentials as JSON
  stop    [--dir DIR] [--rm]   stop the slapd recorded in DIR (--rm: delete DIR, i.e. the data, too)
  status  [--dir DIR]          print the recorded server and whether it answers, as JSON

defaults: --dir ${lib.defaultDir()}, --port ${lib.DEFAULT_PORT} (ldap://, StartTLS), --tls-port ${lib.DEFAULT_TLS_PORT} (ldaps://)
base DN:  ${lib.BASE_DN}`;

const FLAGS = { '--dir': 'string', '--port': 'int', '--tls-port': 'int', '--timeout': 'int', '--rm': 'bool', '--quiet': 'bool' };

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
    if (!kind) throw new lib.LdapScriptError(`unknown option ${arg}\n\n${USAGE}`);
    const key = arg.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (kind === 'bool') {
      opts[key] = true;
      continue;
    }
    if (value === undefined) {
      value = rest[++i];
      if (value === undefined) throw new lib.LdapScriptError(`${arg} needs a value`);
    }
    if (kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new lib.LdapScriptError(`${arg} needs a positive integer, got ${value}`);
      value = n;
    }
    opts[key] = value;
  }
  return { command, opts };
}

async function main() {
  const { command, opts } = parse(process.argv.slice(2));
  const common = { dir: opts.dir, quiet: opts.quiet };
  switch (command) {
    case 'start': {
      const r = await lib.startLdap({ ...common, port: opts.port, tlsPort: opts.tlsPort, timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined });
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    case 'stop': {
      const r = await lib.stopLdap({ ...common, rm: opts.rm });
      if (!opts.quiet) process.stderr.write(`[ldap] ${r.dir}: ${r.result}${opts.rm ? ' (removed)' : ''}\n`);
      return;
    }
    case 'status': {
      const r = await lib.ldapStatus(common);
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.exitCode = r.running ? 0 : 3;
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new lib.LdapScriptError(`unknown command ${command}\n\n${USAGE}`);
  }
}

main().catch((err) => {
  if (err instanceof lib.LdapScriptError) process.stderr.write(`ldap.mjs: error: ${err.message}\n`);
  else process.stderr.write(`ldap.mjs: unexpected error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
