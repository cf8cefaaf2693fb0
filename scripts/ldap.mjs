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
const { runCli, timeoutMsOf } = require('./common/cli.cjs');

const USAGE = `usage: node scripts/ldap.mjs <command> [options]

commands:
  start   [--dir DIR] [--port P] [--tls-port P] [--timeout S]
                         start (or find running) slapd; prints its URLs and credentials as JSON
  stop    [--dir DIR] [--rm]   stop the slapd recorded in DIR (--rm: delete DIR, i.e. the data, too)
  status  [--dir DIR]          print the recorded server and whether it answers, as JSON

defaults: --dir ${lib.defaultDir()}, --port ${lib.DEFAULT_PORT} (ldap://, StartTLS), --tls-port ${lib.DEFAULT_TLS_PORT} (ldaps://)
base DN:  ${lib.BASE_DN}`;

const FLAGS = { '--dir': 'string', '--port': 'int', '--tls-port': 'int', '--timeout': 'int', '--rm': 'bool', '--quiet': 'bool' };

const commonOpts = (opts) => ({ dir: opts.dir, quiet: opts.quiet });

runCli({
  name: 'ldap.mjs',
  usage: USAGE,
  flags: FLAGS,
  ErrorClass: lib.LdapScriptError,
  commands: {
    async start(opts) {
      const r = await lib.startLdap({ ...commonOpts(opts), port: opts.port, tlsPort: opts.tlsPort, timeoutMs: timeoutMsOf(opts) });
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    },
    async stop(opts) {
      const r = await lib.stopLdap({ ...commonOpts(opts), rm: opts.rm });
      if (!opts.quiet) process.stderr.write(`[ldap] ${r.dir}: ${r.result}${opts.rm ? ' (removed)' : ''}\n`);
    },
    async status(opts) {
      const r = await lib.ldapStatus(commonOpts(opts));
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.exitCode = r.running ? 0 : 3;
    },
  },
});
