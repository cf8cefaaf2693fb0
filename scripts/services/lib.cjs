'use strict';
// The database services the connector tests run against (MariaDB, PostgreSQL,
// Redis): check that each answers at protocol level, and when a local one does
// not, start it with the machine's own command and wait (bounded) until it does.
// A service that cannot be brought up fails with a message naming it, the
// address, what the ping saw and the command that was tried: tests never skip.
//
// Settings come from MQLOG_<SERVICE>_{HOST,PORT,USER,PASSWORD,DATABASE}
// (defaults below). Only services on this machine are started; a remote one
// that does not answer is an error.
//
// CommonJS on purpose (like scripts/kafka/lib.cjs): jest (ts-jest, CommonJS)
// can require() it, the CLI scripts/services.mjs imports it. No npm dependencies.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pingMariaDb, pingPostgres, pingRedis } = require('./pings.cjs');
const { sleep } = require('../common/polling.cjs');
const { lastLines } = require('../common/files.cjs');
const { progressLogger } = require('../common/progress.cjs');
const { isRoot, runCommand } = require('../common/processes.cjs');
const { withLockFile } = require('../common/lockFile.cjs');

const DEFAULT_TIMEOUT_MS = 60000;
const START_COMMAND_TIMEOUT_MS = 90000;
const POLL_MS = 250;
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

class ServiceError extends Error {}

function envSettings(prefix, defaults) {
  const env = (key) => process.env[`${prefix}_${key}`];
  const settings = { ...defaults };
  if (env('HOST')) settings.host = env('HOST');
  if (env('PORT')) settings.port = Number(env('PORT'));
  if ('user' in defaults && env('USER') !== undefined) settings.user = env('USER');
  if (env('PASSWORD') !== undefined) settings.password = env('PASSWORD');
  if ('database' in defaults && env('DATABASE')) settings.database = env('DATABASE');
  if (!Number.isInteger(settings.port) || settings.port <= 0 || settings.port > 65535) {
    throw new ServiceError(`${prefix}_PORT must be a TCP port, got ${JSON.stringify(env('PORT'))}`);
  }
  return settings;
}

function ensureDir(dir, owner) {
  fs.mkdirSync(dir, { recursive: true });
  if (owner) {
    try {
      const { uid, gid } = userIds(owner);
      fs.chownSync(dir, uid, gid);
    } catch {
      // Owner unknown or not root: the start command reports what is wrong.
    }
  }
}

function userIds(name) {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function newestPostgresVersion() {
  let versions = [];
  try {
    versions = fs.readdirSync('/etc/postgresql').filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // reported below
  }
  if (versions.length === 0) throw new ServiceError('PostgreSQL: no cluster configured under /etc/postgresql (is postgresql installed?)');
  return versions.sort((a, b) => Number(b) - Number(a))[0];
}

/** Each service: how its settings default, how it is pinged and how it is started. */
const SERVICES = {
  mariadb: {
    label: 'MariaDB',
    envPrefix: 'MQLOG_MARIADB',
    defaults: { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' },
    ping: pingMariaDb,
    start() {
      // /run is a tmpfs: on a fresh boot the socket directory is gone and mariadbd refuses to start.
      ensureDir('/run/mysqld', 'mysql');
      return { command: 'start-stop-daemon', args: ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'] };
    },
  },
  postgres: {
    label: 'PostgreSQL',
    envPrefix: 'MQLOG_POSTGRES',
    defaults: { host: '127.0.0.1', port: 5432, user: 'root', password: '', database: 'test' },
    ping: pingPostgres,
    start() {
      return { command: 'pg_ctlcluster', args: ['--skip-systemctl-redirect', newestPostgresVersion(), 'main', 'start'] };
    },
  },
  redis: {
    label: 'Redis',
    envPrefix: 'MQLOG_REDIS',
    defaults: { host: '127.0.0.1', port: 6379, password: '' },
    ping: pingRedis,
    start(settings) {
      ensureDir('/var/lib/redis');
      ensureDir('/var/log/redis');
      return {
        command: 'redis-server',
        args: ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(settings.port), '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log'],
      };
    },
  },
};

function serviceOf(name) {
  const service = SERVICES[name];
  if (!service) throw new ServiceError(`unknown service ${JSON.stringify(name)} (known: ${Object.keys(SERVICES).join(', ')})`);
  return service;
}

function commandLine({ command, args }) {
  return [command, ...args.map((a) => (a === '' ? '""' : /[\s"']/.test(a) ? JSON.stringify(a) : a))].join(' ');
}

/**
 * Runs a start command; resolves (never rejects) with its exit code (null when
 * it could not run or was killed) and output. Daemons it forks may keep our
 * pipes open, so it settles on exit, not on the pipes closing.
 */
async function runStart(cmd, timeoutMs) {
  try {
    const r = await runCommand(cmd.command, cmd.args, { detached: true, settleOnExit: true, timeoutMs, purpose: 'start the service', ErrorClass: ServiceError });
    if (r.timedOut) return { code: null, output: `${r.output.trim()}\n(killed after ${timeoutMs / 1000} s)`.trim() };
    return { code: r.signal || r.code, output: r.output.trim() };
  } catch (err) {
    return { code: null, output: err.message };
  }
}

/**
 * Only one process at a time starts a given service (jest runs test files in
 * parallel workers); the others wait here and then find it up.
 */
function withStartLock(name, timeoutMs, fn) {
  return withLockFile(path.join(os.tmpdir(), `mqlog-service-${name}.lock`), timeoutMs, fn, {
    ErrorClass: ServiceError,
    pollMs: POLL_MS,
    busyMessage: (lock, holder) => `${name}: another process (pid ${holder}) has been starting it for too long (lock ${lock})`,
  });
}

const makeLogger = (opts) => progressLogger(opts, 'services');

/** The settings of a service and what a ping sees now. */
async function serviceStatus(name, opts = {}) {
  const service = serviceOf(name);
  const settings = envSettings(service.envPrefix, service.defaults);
  const ping = await service.ping({ ...settings, timeoutMs: opts.pingTimeoutMs });
  return { service: name, settings, ...ping };
}

async function waitUntilUp(service, settings, deadline) {
  let last;
  for (;;) {
    last = await service.ping(settings);
    if (last.state === 'up' || last.state === 'failing') return last;
    if (Date.now() > deadline) return last;
    await sleep(POLL_MS);
  }
}

/**
 * Resolves with the connection settings once the service answers; starts it
 * first when it is local and down. Rejects with a ServiceError otherwise.
 */
async function ensureService(name, opts = {}) {
  const service = serviceOf(name);
  const log = makeLogger(opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const settings = envSettings(service.envPrefix, service.defaults);
  const where = `${settings.host}:${settings.port}`;
  const first = await service.ping(settings);
  if (first.state === 'up') return settings;
  if (first.state === 'failing') throw new ServiceError(`${service.label} on ${where} answers but refuses: ${first.detail}`);
  if (!LOCAL_HOSTS.has(settings.host)) {
    throw new ServiceError(`${service.label} on ${where} does not answer (${first.detail}); it is not on this machine, so it was not started (${service.envPrefix}_HOST)`);
  }
  return withStartLock(name, timeoutMs + START_COMMAND_TIMEOUT_MS, async () => {
    const deadline = Date.now() + timeoutMs;
    const again = await service.ping(settings);
    if (again.state === 'up') return settings;
    let tried = '(none: it reported that it is starting)';
    let outcome = '';
    if (again.state === 'down') {
      const cmd = service.start(settings);
      tried = commandLine(cmd);
      log(`${service.label} on ${where} does not answer (${again.detail}); starting it: ${tried}`);
      const run = await runStart(cmd, START_COMMAND_TIMEOUT_MS);
      outcome = ` (exit ${run.code}${run.output ? `: ${lastLines(run.output, 10)}` : ''})`;
      if (run.code !== 0 && process.getuid && !isRoot()) outcome += ' — the start commands need root';
    }
    const last = await waitUntilUp(service, settings, deadline);
    if (last.state === 'up') {
      log(`${service.label} on ${where} is up`);
      return settings;
    }
    throw new ServiceError(
      `${service.label} on ${where} is not answering (${last.detail}) ${Math.round(timeoutMs / 1000)} s after starting it with: ${tried}${outcome}`,
    );
  });
}

module.exports = {
  SERVICE_NAMES: Object.keys(SERVICES),
  DEFAULT_TIMEOUT_MS,
  ServiceError,
  ensureService,
  serviceStatus,
};
