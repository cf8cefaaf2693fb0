'use strict';
// A local OpenLDAP server (slapd) for the LDAP connector's tests and for
// development: our own slapd process with its own generated slapd.conf, mdb
// database, TLS certificate (test/fixtures/tls) and seed data, in a run dir.
// Never the distribution's system slapd (which may or may not be running on
// 389): only the slapd binary, schema files and modules are borrowed from the
// installed package.
//
// The run dir holds state.json (pid, ports, generated passwords), the config,
// the database and slapd.log. Start is idempotent (a running instance is just
// reported) and serialised by a lock file, so parallel jest workers can all
// ask for the shared test server at once.
//
// CommonJS on purpose, like scripts/kafka/lib.cjs: jest (ts-jest, CommonJS)
// can require() it and the ESM CLI (scripts/ldap.mjs) imports it. No npm
// dependencies: readiness is checked with ldapwhoami from ldap-utils.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { sleep } = require('../common/polling.cjs');
const { writeFileAtomic, lastLines, tailFile } = require('../common/files.cjs');
const { progressLogger, secondsSince } = require('../common/progress.cjs');
const { isRoot, findExecutable, runCommand, spawnDetached, pidAlive, stopProcess } = require('../common/processes.cjs');
const { withDirLock: withLock } = require('../common/lockFile.cjs');
const { waitPortsFree } = require('../common/ports.cjs');
const { readState: readStateFile, writeState: writeStateFile } = require('../common/stateFile.cjs');

/** Outside Linux's ephemeral range (32768-60999), so an outgoing connection never holds them. */
const DEFAULT_PORT = 28389;
const DEFAULT_TLS_PORT = 28636;
const BASE_DN = 'dc=mqlog,dc=test';
const ADMIN_DN = `cn=admin,${BASE_DN}`;
const PEOPLE_DN = `ou=people,${BASE_DN}`;
const GROUPS_DN = `ou=groups,${BASE_DN}`;
const SERVICE_DN = `cn=mqlog-service,ou=services,${BASE_DN}`;
const FIXTURE_TLS_DIR = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');

const SCHEMA_DIRS = ['/etc/ldap/schema', '/etc/openldap/schema', '/usr/local/etc/openldap/schema'];
const MODULE_DIRS = ['/usr/lib/ldap', '/usr/lib64/openldap', '/usr/lib/openldap', '/usr/libexec/openldap', '/usr/local/libexec/openldap'];
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/libexec', '/usr/local/libexec'];

class LdapScriptError extends Error {}

const makeLogger = (opts) => progressLogger(opts, 'ldap');

function defaultDir() {
  return path.join(os.tmpdir(), 'mqlog-ldap');
}

/** Every file of the run dir holds or protects a secret: owner-only. */
const writeSecretFile = (file, text) => writeFileAtomic(file, text, 0o600);

/** Serialises start/stop on one run dir across processes; a lock whose owner died is taken over. */
const withDirLock = (dir, timeoutMs, fn) => withLock(dir, timeoutMs, fn, { ErrorClass: LdapScriptError, pollMs: 100 });

/** Runs a command to completion (killed after timeoutMs); resolves {code, output}. */
function run(cmd, args, { env, timeoutMs = 60000 } = {}) {
  return runCommand(cmd, args, { extraEnv: env, timeoutMs, ErrorClass: LdapScriptError });
}

// ---------------------------------------------------------------------------
// the OpenLDAP installation

function firstExisting(dirs, probe) {
  return dirs.find((d) => fs.existsSync(path.join(d, probe))) || null;
}

/** Paths of the installed OpenLDAP pieces we use, or null when something is missing. */
function findInstall() {
  const slapd = findExecutable('slapd', SBIN_DIRS);
  const slapadd = findExecutable('slapadd', SBIN_DIRS);
  const ldapwhoami = findExecutable('ldapwhoami');
  const schemaDir = firstExisting(SCHEMA_DIRS, 'inetorgperson.schema');
  // Some builds link back_mdb and memberof statically: then there is no module to load.
  const moduleDir = firstExisting(MODULE_DIRS, 'back_mdb.so') || firstExisting(MODULE_DIRS, 'memberof.so');
  if (!slapd || !slapadd || !ldapwhoami || !schemaDir) return null;
  return { slapd, slapadd, ldapwhoami, schemaDir, moduleDir };
}

/**
 * Finds slapd and ldap-utils; when missing and we are root on a Debian-like
 * system, installs them with apt-get (the package's own service is never used).
 */
async function ensureInstalled(opts = {}) {
  const found = findInstall();
  if (found) return found;
  const log = makeLogger(opts);
  const hint = 'install OpenLDAP\'s server and client tools (Debian/Ubuntu: apt-get install slapd ldap-utils)';
  const root = isRoot();
  if (!root || !findExecutable('apt-get')) {
    throw new LdapScriptError(`slapd, slapadd or ldapwhoami not found and cannot be installed here (${root ? 'no apt-get' : 'not root'}); ${hint}`);
  }
  return withDirLock(path.join(os.tmpdir(), 'mqlog-ldap-install'), 15 * 60 * 1000, async () => {
    const again = findInstall();
    if (again) return again;
    // noninteractive: the slapd package asks debconf questions otherwise.
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    const args = ['install', '-y', '--no-install-recommends', 'slapd', 'ldap-utils'];
    log('installing slapd and ldap-utils with apt-get ...');
    let res = await run('apt-get', args, { env, timeoutMs: 10 * 60 * 1000 });
    if (res.code !== 0) {
      log('apt-get install failed; refreshing the package lists and trying again ...');
      await run('apt-get', ['update'], { env, timeoutMs: 5 * 60 * 1000 });
      res = await run('apt-get', args, { env, timeoutMs: 10 * 60 * 1000 });
    }
    const installed = findInstall();
    if (res.code !== 0 || !installed) {
      throw new LdapScriptError(`could not install slapd and ldap-utils (apt-get exit ${res.code}); ${hint}\n${lastLines(res.output, 20)}`);
    }
    return installed;
  });
}

// ---------------------------------------------------------------------------
// passwords

/** {SSHA} (salted SHA-1, OpenLDAP's default userPassword scheme) of a password, as slappasswd makes it. */
function sshaPassword(password) {
  const salt = crypto.randomBytes(8);
  const digest = crypto.createHash('sha1').update(Buffer.from(password, 'utf8')).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function newPassword() {
  return crypto.randomBytes(12).toString('base64url');
}

// ---------------------------------------------------------------------------
// processes

/** True when pid is our slapd (guards against pid reuse: the command line names our config). */
function slapdAlive(pid, configFile) {
  return pidAlive(pid, ['slapd', configFile]);
}

// ---------------------------------------------------------------------------
// the run dir

function paths(dir) {
  return {
    dir,
    config: path.join(dir, 'slapd.conf'),
    data: path.join(dir, 'data'),
    tls: path.join(dir, 'tls'),
    ca: path.join(dir, 'tls', 'ca.pem'),
    cert: path.join(dir, 'tls', 'server.pem'),
    key: path.join(dir, 'tls', 'server.key'),
    seed: path.join(dir, 'seed.ldif'),
    adminPasswordFile: path.join(dir, 'admin.pw'),
    log: path.join(dir, 'slapd.log'),
    pidFile: path.join(dir, 'slapd.pid'),
    argsFile: path.join(dir, 'slapd.args'),
  };
}

const readState = (dir) => readStateFile(dir, LdapScriptError);

/** state.json holds the generated passwords: owner-only. */
const writeState = (dir, state) => writeStateFile(dir, state, { mode: 0o600 });

/** slapd.conf(5): schema, TLS, one mdb database with the memberOf overlay, and the ACLs. */
function renderConfig(install, p, state) {
  const mod = install.moduleDir ? [`modulepath ${install.moduleDir}`, 'moduleload back_mdb', 'moduleload memberof'] : [];
  return [
    '# Generated by scripts/ldap/lib.cjs: rewritten on every start.',
    ...['core', 'cosine', 'inetorgperson'].map((s) => `include ${path.join(install.schemaDir, `${s}.schema`)}`),
    `pidfile ${p.pidFile}`,
    `argsfile ${p.argsFile}`,
    ...mod,
    `loglevel ${process.env.MQLOG_LDAP_DEBUG ? 'stats' : 'none'}`,
    // The fixture certificate serves ldaps:// and StartTLS on ldap:// (RFC 4513 section 3).
    `TLSCACertificateFile ${p.ca}`,
    `TLSCertificateFile ${p.cert}`,
    `TLSCertificateKeyFile ${p.key}`,
    '',
    'database mdb',
    `suffix "${BASE_DN}"`,
    `rootdn "${ADMIN_DN}"`,
    `rootpw ${sshaPassword(state.adminPassword)}`,
    `directory ${p.data}`,
    'maxsize 104857600',
    'index objectClass eq',
    'index uid eq',
    'index member eq',
    // memberOf on user entries, kept up to date as groups change (the connector's "memberOf" group source).
    'overlay memberof',
    'memberof-group-oc groupOfNames',
    'memberof-member-ad member',
    'memberof-memberof-ad memberOf',
    'memberof-refint TRUE',
    // Passwords: only usable to bind. Everything else: readable by the service
    // account and by any bound user (so a user can read its own memberOf and
    // search groups), invisible to anonymous clients.
    'access to attrs=userPassword',
    '  by anonymous auth',
    '  by * none',
    'access to *',
    `  by dn.exact="${SERVICE_DN}" read`,
    '  by users read',
    '  by * none',
    '',
  ].join('\n');
}

function renderSeed(state) {
  return [
    `dn: ${BASE_DN}`,
    'objectClass: dcObject',
    'objectClass: organization',
    'dc: mqlog',
    'o: mqlog test directory',
    '',
    `dn: ${PEOPLE_DN}`,
    'objectClass: organizationalUnit',
    'ou: people',
    '',
    `dn: ${GROUPS_DN}`,
    'objectClass: organizationalUnit',
    'ou: groups',
    '',
    `dn: ou=services,${BASE_DN}`,
    'objectClass: organizationalUnit',
    'ou: services',
    '',
    // The account the connector's search mode binds as to find users and groups.
    `dn: ${SERVICE_DN}`,
    'objectClass: applicationProcess',
    'objectClass: simpleSecurityObject',
    'cn: mqlog-service',
    `userPassword: ${sshaPassword(state.servicePassword)}`,
    '',
  ].join('\n');
}

function prepareDir(install, dir, state) {
  const p = paths(dir);
  fs.mkdirSync(p.data, { recursive: true, mode: 0o700 });
  fs.mkdirSync(p.tls, { recursive: true, mode: 0o700 });
  // Copies, so the server does not depend on the checkout it was started from.
  for (const [from, to] of [['ca.pem', p.ca], ['server.pem', p.cert], ['server.key', p.key]]) {
    fs.copyFileSync(path.join(FIXTURE_TLS_DIR, from), to);
    fs.chmodSync(to, 0o600);
  }
  writeSecretFile(p.config, renderConfig(install, p, state));
  writeSecretFile(p.adminPasswordFile, state.adminPassword); // for ldapwhoami -y: no password on a command line
}

async function seedIfEmpty(install, dir, state, log) {
  const p = paths(dir);
  if (fs.existsSync(path.join(p.data, 'data.mdb'))) return;
  writeSecretFile(p.seed, renderSeed(state));
  log(`seeding ${BASE_DN} in ${p.data}`);
  const res = await run(install.slapadd, ['-q', '-f', p.config, '-l', p.seed]);
  if (res.code !== 0) throw new LdapScriptError(`slapadd failed (exit ${res.code}):\n${res.output}`);
}

function spawnSlapd(install, dir, state) {
  const p = paths(dir);
  const urls = `ldap://127.0.0.1:${state.port}/ ldaps://127.0.0.1:${state.tlsPort}/`;
  // -d keeps slapd in the foreground (so the pid we spawn is the server's) and sends its log to slapd.log.
  const args = ['-f', p.config, '-h', urls, '-d', process.env.MQLOG_LDAP_DEBUG ? 'stats' : '0'];
  const pid = spawnDetached(install.slapd, args, { cwd: dir, logFile: p.log, banner: 'starting slapd' });
  if (!pid) throw new LdapScriptError(`could not run ${install.slapd}`);
  return pid;
}

/** One bind as the admin through each transport: plain, StartTLS (-ZZ: must succeed) and ldaps. */
async function answersBinds(install, dir, state) {
  const p = paths(dir);
  const env = { LDAPTLS_CACERT: p.ca, LDAPTLS_REQCERT: 'demand' };
  const common = ['-x', '-o', 'nettimeout=2', '-D', ADMIN_DN, '-y', p.adminPasswordFile];
  const attempts = [
    ['-H', `ldap://127.0.0.1:${state.port}`],
    ['-ZZ', '-H', `ldap://127.0.0.1:${state.port}`],
    ['-H', `ldaps://127.0.0.1:${state.tlsPort}`],
  ];
  for (const a of attempts) {
    const res = await run(install.ldapwhoami, [...common, ...a], { env, timeoutMs: 5000 });
    if (res.code !== 0) return false;
  }
  return true;
}

async function waitReady(install, dir, state, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const p = paths(dir);
  for (;;) {
    if (!slapdAlive(state.pid, p.config)) {
      throw new LdapScriptError(`slapd exited while starting (pid ${state.pid}).\n--- ${p.log} (tail)\n${tailFile(p.log)}`);
    }
    if (await answersBinds(install, dir, state)) return;
    if (Date.now() > deadline) {
      throw new LdapScriptError(`slapd (pid ${state.pid}) did not answer a bind within ${Math.round(timeoutMs / 1000)} s.\n--- ${p.log} (tail)\n${tailFile(p.log)}`);
    }
    await sleep(100);
  }
}

function publicResult(dir, state) {
  return {
    dir,
    pid: state.pid,
    url: `ldap://127.0.0.1:${state.port}`,
    ldapsUrl: `ldaps://127.0.0.1:${state.tlsPort}`,
    port: state.port,
    tlsPort: state.tlsPort,
    baseDn: BASE_DN,
    peopleDn: PEOPLE_DN,
    groupsDn: GROUPS_DN,
    adminDn: ADMIN_DN,
    adminPassword: state.adminPassword,
    serviceDn: SERVICE_DN,
    servicePassword: state.servicePassword,
    caFile: paths(dir).ca,
  };
}

// ---------------------------------------------------------------------------
// public operations

/**
 * Starts our slapd in `dir` (or finds it running) and waits until it answers a
 * bind over ldap://, StartTLS and ldaps://.
 */
async function startLdap(opts = {}) {
  const dir = path.resolve(opts.dir || defaultDir());
  const timeoutMs = opts.timeoutMs ?? 20000;
  const log = makeLogger(opts);
  const install = await ensureInstalled(opts);
  return withDirLock(dir, timeoutMs + 30000, async () => {
    let state = readState(dir);
    if (state) {
      const conflicts = [];
      if (opts.port && opts.port !== state.port) conflicts.push(`port ${state.port}, not ${opts.port}`);
      if (opts.tlsPort && opts.tlsPort !== state.tlsPort) conflicts.push(`TLS port ${state.tlsPort}, not ${opts.tlsPort}`);
      if (conflicts.length) throw new LdapScriptError(`${dir} already holds a server on ${conflicts.join(', ')}; stop it with --rm or use another --dir`);
      if (slapdAlive(state.pid, paths(dir).config) && (await answersBinds(install, dir, state))) return publicResult(dir, state);
    } else {
      state = {
        port: opts.port || DEFAULT_PORT,
        tlsPort: opts.tlsPort || DEFAULT_TLS_PORT,
        adminPassword: newPassword(),
        servicePassword: newPassword(),
        pid: null,
        createdAt: new Date().toISOString(),
      };
    }
    if (slapdAlive(state.pid, paths(dir).config)) {
      // Alive but not answering: a wedged server. Replace it.
      await killSlapd(state.pid, paths(dir).config, 5000);
    }
    if (!(await waitPortsFree([state.port, state.tlsPort], 5000))) {
      throw new LdapScriptError(`port ${state.port} or ${state.tlsPort} is in use by another process; choose others with --port/--tls-port`);
    }
    prepareDir(install, dir, state);
    await seedIfEmpty(install, dir, state, log);
    const t0 = Date.now();
    state.pid = spawnSlapd(install, dir, state);
    writeState(dir, state);
    try {
      await waitReady(install, dir, state, timeoutMs);
    } catch (err) {
      await killSlapd(state.pid, paths(dir).config, 5000);
      throw err;
    }
    log(`slapd ready in ${secondsSince(t0)} s: ldap://127.0.0.1:${state.port} ldaps://127.0.0.1:${state.tlsPort} (pid ${state.pid})`);
    return publicResult(dir, state);
  });
}

/** SIGTERM, then SIGKILL after timeoutMs: 'not running', 'stopped' or 'killed'. */
async function killSlapd(pid, configFile, timeoutMs) {
  if (!slapdAlive(pid, configFile)) return 'not running';
  return stopProcess(pid, timeoutMs);
}

/** Stops the slapd recorded in dir (SIGTERM, then SIGKILL). Idempotent. `rm` deletes the dir too. */
async function stopLdap(opts = {}) {
  const dir = path.resolve(opts.dir || defaultDir());
  if (!fs.existsSync(dir)) return { dir, result: 'not running' };
  const result = await withDirLock(dir, 60000, async () => {
    const state = readState(dir);
    if (!state) return 'not running';
    const r = await killSlapd(state.pid, paths(dir).config, opts.timeoutMs ?? 10000);
    if (r !== 'not running') makeLogger(opts)(`slapd (pid ${state.pid}) ${r}`);
    state.pid = null;
    writeState(dir, state);
    return r;
  });
  if (opts.rm || opts.remove) fs.rmSync(dir, { recursive: true, force: true });
  return { dir, result };
}

/** The recorded server and whether it is alive (process) and answering (binds). */
async function ldapStatus(opts = {}) {
  const dir = path.resolve(opts.dir || defaultDir());
  const state = readState(dir);
  if (!state) return { dir, running: false, alive: false };
  const alive = slapdAlive(state.pid, paths(dir).config);
  const install = findInstall();
  const running = alive && install !== null && (await answersBinds(install, dir, state));
  return { ...publicResult(dir, state), pid: alive ? state.pid : null, alive, running };
}

module.exports = {
  DEFAULT_PORT,
  DEFAULT_TLS_PORT,
  BASE_DN,
  LdapScriptError,
  defaultDir,
  ensureInstalled,
  sshaPassword,
  startLdap,
  stopLdap,
  ldapStatus,
};
