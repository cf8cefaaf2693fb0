'use strict';
// A local Elasticsearch node for tests and development.
//
// The distribution is Elastic's "integ-test-zip" (the OSS-licensed minimal zip
// Elastic publishes to Maven Central: server, transport-netty4, x-pack core and
// security, no bundled JDK), fetched with `mvn` (maven-dependency-plugin copy)
// and unpacked once into $MQLOG_CACHE_DIR (default ~/.cache/mqlog)/
// elasticsearch-<version>/dist. Nodes run single-node on 127.0.0.1 as
// background JVMs; each run dir holds its own copy of the config dir
// (ES_PATH_CONF), data, logs and tmp, so the cached distribution stays pristine
// and several nodes can run side by side. A state file in the run dir records
// pids and ports so later calls (the CLI `scripts/elasticsearch.mjs` or test
// code) can find them again.
//
// Elasticsearch refuses to run as root. As root, the node runs as a system user
// (mqlog-es, created on first use) through setpriv (or runuser); the run dir's
// config/data/logs/tmp are chowned to it, and the distribution is hard-linked
// into the run dir (the cache under /root is not reachable by other users).
//
// CommonJS on purpose, like scripts/kafka/lib.cjs: jest (ts-jest, CommonJS) can
// `require()` it; the ESM CLI imports it. No npm dependencies: readiness is
// checked with plain HTTP (GET /_cluster/health).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { sleep } = require('../common/polling.cjs');
const { tempSuffix, lastLines, tailFile } = require('../common/files.cjs');
const { progressLogger, secondsSince } = require('../common/progress.cjs');
const { isRoot, findExecutable, runCommand, spawnDetached, sendSignal, pidAlive, pidExiting, waitGone } = require('../common/processes.cjs');
const { withDirLock: withLock } = require('../common/lockFile.cjs');
const { portFree, waitPortsFree, findFreePortBlock } = require('../common/ports.cjs');
const { cacheRoot, cacheDir, readCacheMarker, installIntoCache, fetchOnce } = require('../common/cache.cjs');
const { runDependencyPlugin } = require('../common/maven.cjs');
const { STATE_FILE, readState: readStateFile, writeState } = require('../common/stateFile.cjs');

const DEFAULT_VERSION = '8.19.7';
/** Outside Linux's ephemeral range (32768-60999), so an outgoing connection never holds them. */
const DEFAULT_PORT = 29200;
/** transport port = http port + TRANSPORT_PORT_OFFSET unless given */
const TRANSPORT_PORT_OFFSET = 100;
const DEFAULT_HEAP_MB = 512;
const DEFAULT_USER = 'mqlog-es';
const SERVER_MAIN = 'org.elasticsearch.bootstrap.Elasticsearch';

class ElasticsearchScriptError extends Error {}

// ---------------------------------------------------------------------------
// small helpers

/** The cache dir of one version: fetched.json + dist/ (the unpacked distribution). */
function elasticsearchHome(version = DEFAULT_VERSION) {
  return cacheDir(`elasticsearch-${version}`);
}

function defaultDir() {
  return path.join(os.tmpdir(), 'mqlog-elasticsearch');
}

function checkVersion(version) {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new ElasticsearchScriptError(`not an Elasticsearch version: ${JSON.stringify(version)}`);
  return version;
}

/**
 * The end of a log file, or, when the last ERROR line of an Elasticsearch log
 * is further up (a long stack trace follows it), from that line on. Very long
 * lines (the JVM arguments line) are cut.
 */
function tail(file) {
  return tailFile(file, { startAt: /^\[[^\]]*\]\[(ERROR|FATAL)\s*\]/, maxLineLength: 400 });
}

const makeLogger = (opts) => progressLogger(opts, 'elasticsearch');

const withDirLock = (dir, timeoutMs, fn) => withLock(dir, timeoutMs, fn, { ErrorClass: ElasticsearchScriptError });

/** Runs a command, collecting its output; resolves {code, output}. */
const run = (cmd, args, options) => runCommand(cmd, args, { ...options, ErrorClass: ElasticsearchScriptError });

// ---------------------------------------------------------------------------
// Java

/**
 * The Java home Elasticsearch runs on (the integ-test-zip has no bundled JDK):
 * $ES_JAVA_HOME, else $JAVA_HOME, else the JDK/JRE of `java` on PATH.
 */
function javaHome() {
  for (const name of ['ES_JAVA_HOME', 'JAVA_HOME']) {
    const home = process.env[name];
    if (home && fs.existsSync(path.join(home, 'bin', 'java'))) return home;
  }
  const java = findExecutable('java');
  if (java) {
    // /usr/bin/java -> /etc/alternatives/java -> /usr/lib/jvm/<jdk>/bin/java
    const home = path.dirname(path.dirname(fs.realpathSync(java)));
    if (fs.existsSync(path.join(home, 'bin', 'java'))) return home;
  }
  throw new ElasticsearchScriptError(
    'no Java found (Elasticsearch 8 needs Java 17+): set ES_JAVA_HOME or JAVA_HOME, or put `java` on PATH (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)',
  );
}

// ---------------------------------------------------------------------------
// fetch

/** Returns the cache marker (+ paths) when the cache for `version` is complete, else null. */
function cachedInstall(version = DEFAULT_VERSION) {
  const home = elasticsearchHome(version);
  const marker = readCacheMarker(home);
  if (!marker || marker.version !== version) return null;
  const dist = path.join(home, 'dist');
  for (const probe of ['bin/elasticsearch', 'lib', 'config/jvm.options', 'modules']) {
    if (!fs.existsSync(path.join(dist, probe))) return null;
  }
  return { ...marker, home, dist };
}

/**
 * Unpacks a zip into dest with the first tool found: `unzip`, the JDK's `jar`,
 * or `python3 -m zipfile` ($MQLOG_ELASTICSEARCH_UNZIP=unzip|jar|python3 forces one).
 * Returns the tool used.
 */
async function extractZip(zip, dest) {
  fs.mkdirSync(dest, { recursive: true });
  const tools = {
    unzip: () => findExecutable('unzip') && { cmd: findExecutable('unzip'), args: ['-q', '-o', zip, '-d', dest], cwd: dest },
    jar: () => {
      let jar = null;
      try {
        const j = path.join(javaHome(), 'bin', 'jar');
        if (fs.existsSync(j)) jar = j;
      } catch {}
      jar = jar || findExecutable('jar');
      return jar && { cmd: jar, args: ['xf', zip], cwd: dest };
    },
    python3: () => findExecutable('python3') && { cmd: findExecutable('python3'), args: ['-m', 'zipfile', '-e', zip, dest], cwd: dest },
  };
  const forced = process.env.MQLOG_ELASTICSEARCH_UNZIP;
  if (forced && !tools[forced]) throw new ElasticsearchScriptError(`MQLOG_ELASTICSEARCH_UNZIP must be one of ${Object.keys(tools).join(', ')}, got ${forced}`);
  for (const name of forced ? [forced] : Object.keys(tools)) {
    const t = tools[name]();
    if (!t) continue;
    const res = await run(t.cmd, t.args, { cwd: t.cwd, purpose: 'unpack the Elasticsearch zip' });
    if (res.code !== 0) throw new ElasticsearchScriptError(`unpacking ${zip} with ${name} failed (exit ${res.code}):\n${lastLines(res.output, 20)}`);
    return name;
  }
  throw new ElasticsearchScriptError(
    `nothing found to unpack ${zip}${forced ? ` with ${forced}` : ''}: install unzip (Debian/Ubuntu: apt-get install unzip), or a JDK (its \`jar\` tool), or python3`,
  );
}

/**
 * Makes the unpacked tree usable whatever tool unpacked it (jar and python3
 * do not keep the executable bits) and by any user: dirs 755, files 644, bin/* 755.
 */
function fixPermissions(dist) {
  const walk = (p) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      fs.chmodSync(p, 0o755);
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else {
      fs.chmodSync(p, st.mode & 0o111 ? 0o755 : 0o644);
    }
  };
  walk(dist);
  for (const bin of ['bin', ...fs.readdirSync(path.join(dist, 'modules')).map((m) => path.join('modules', m, 'platform'))]) {
    const dir = path.join(dist, bin);
    if (!fs.existsSync(dir)) continue;
    const stack = [dir];
    while (stack.length) {
      const d = stack.pop();
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) stack.push(p);
        else if (e.isFile() && (bin === 'bin' || path.basename(d) === 'bin')) fs.chmodSync(p, 0o755);
      }
    }
  }
}

/**
 * Fetches org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip
 * with Maven and unpacks it into <cache>/elasticsearch-<version>/dist.
 * Does nothing (no network) when that cache is already complete.
 */
async function fetchElasticsearch(opts = {}) {
  const version = checkVersion(opts.version || DEFAULT_VERSION);
  const log = makeLogger(opts);
  const home = elasticsearchHome(version);
  return fetchOnce(home, { force: opts.force, cached: () => cachedInstall(version), fetch: () => fetchLocked(version, home, log), ErrorClass: ElasticsearchScriptError });
}

async function fetchLocked(version, home, log) {
  const artifact = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${version}:zip`;
  const suffix = tempSuffix();
  const download = path.join(home, `download.tmp-${suffix}`);
  const unpack = path.join(home, `dist.tmp-${suffix}`);
  log(`fetching Elasticsearch ${version} (${artifact}) with Maven into ${home} ...`);
  const started = Date.now();
  try {
    await runDependencyPlugin('copy', {
      properties: { artifact, outputDirectory: download },
      cwd: home,
      what: artifact,
      purpose: 'fetch the Elasticsearch distribution from Maven Central',
      ErrorClass: ElasticsearchScriptError,
    });
    const zips = fs.existsSync(download) ? fs.readdirSync(download).filter((f) => f.endsWith('.zip')) : [];
    if (zips.length !== 1) throw new ElasticsearchScriptError(`mvn copied ${zips.length} zip files into ${download}, expected 1`);
    const zip = path.join(download, zips[0]);
    const zipBytes = fs.statSync(zip).size;
    log(`unpacking ${zips[0]} (${(zipBytes / 1e6).toFixed(0)} MB) ...`);
    const tool = await extractZip(zip, unpack);
    const top = fs.readdirSync(unpack);
    const root = top.length === 1 ? path.join(unpack, top[0]) : unpack;
    if (!fs.existsSync(path.join(root, 'bin', 'elasticsearch'))) throw new ElasticsearchScriptError(`${zips[0]} holds no bin/elasticsearch`);
    fixPermissions(root);
    const marker = { version, artifact, zipBytes, unpackedWith: tool, fetchedAt: new Date().toISOString() };
    installIntoCache(home, 'dist', root, marker);
    log(`fetched and unpacked in ${secondsSince(started)} s`);
    return { ...marker, home, dist: path.join(home, 'dist'), fetched: true };
  } finally {
    fs.rmSync(download, { recursive: true, force: true });
    fs.rmSync(unpack, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * One HTTP request to 127.0.0.1:port; resolves {status, body} with body parsed
 * as JSON when it is JSON. Rejects on connection errors and timeouts.
 */
function httpRequest(port, method, urlPath, { body, host = '127.0.0.1', timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(
      {
        host,
        port,
        method,
        path: urlPath,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} http://${host}:${port}${urlPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET /_cluster/health on 127.0.0.1:port; resolves the health object or null when nothing (valid) answers. */
async function clusterHealth(port, { timeoutMs = 2000 } = {}) {
  try {
    const res = await httpRequest(port, 'GET', '/_cluster/health', { timeoutMs });
    if (res.status !== 200 || !res.body || typeof res.body !== 'object' || !res.body.status) return null;
    return res.body;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// processes and ports

/**
 * Finds a free http port in min..max whose transport port (port +
 * transportOffset) is free too. Keep max + transportOffset below 32768 (the
 * kernel's ephemeral range, where an outgoing connection may take a port).
 */
function findFreePort({ min = 20000, max = 32000, transportOffset = TRANSPORT_PORT_OFFSET } = {}) {
  return findFreePortBlock({
    offsets: [0, transportOffset],
    min,
    max,
    what: `port pair (http, http+${transportOffset})`,
    ErrorClass: ElasticsearchScriptError,
  });
}

// ---------------------------------------------------------------------------
// the user Elasticsearch runs as

function idOf(user, flag) {
  const res = spawnSync('id', [flag, user], { encoding: 'utf8' });
  if (res.status !== 0) return null;
  const n = Number(res.stdout.trim());
  return Number.isInteger(n) ? n : null;
}

/**
 * As root: the system user Elasticsearch runs as ($MQLOG_ELASTICSEARCH_USER,
 * default mqlog-es), created when missing. Not root: null (run as ourselves).
 */
async function ensureRunUser(log) {
  if (!isRoot()) return null;
  const name = process.env.MQLOG_ELASTICSEARCH_USER || DEFAULT_USER;
  if (name === 'root') throw new ElasticsearchScriptError('Elasticsearch can not run as root; MQLOG_ELASTICSEARCH_USER must name another user');
  for (let attempt = 0; idOf(name, '-u') === null; attempt++) {
    const useradd = findExecutable('useradd', ['/usr/sbin', '/sbin']);
    if (!useradd) {
      throw new ElasticsearchScriptError(
        `Elasticsearch can not run as root, and there is no user ${name} to run it as, nor useradd to create one; create a system user ${name} or run as a non-root user`,
      );
    }
    log(`creating system user ${name} (Elasticsearch can not run as root)`);
    const res = await run(useradd, ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { purpose: `create the user ${name}` });
    // 9: exists already (another worker was faster); 1/10: /etc/passwd or /etc/group busy.
    if (res.code === 0 || res.code === 9) continue;
    if (attempt >= 5) throw new ElasticsearchScriptError(`useradd ${name} failed (exit ${res.code}): ${res.output.trim()}`);
    await sleep(300);
  }
  const uid = idOf(name, '-u');
  const gid = idOf(name, '-g');
  if (uid === 0) throw new ElasticsearchScriptError(`user ${name} has uid 0; Elasticsearch can not run as root`);
  return { name, uid, gid };
}

function chownTree(p, uid, gid) {
  const st = fs.lstatSync(p);
  if (st.uid !== uid || st.gid !== gid) fs.lchownSync(p, uid, gid);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

/** Throws unless `user` can search every directory from / down to dir. */
function assertReachable(dir, user) {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  let cur = path.sep;
  for (const part of ['', ...parts]) {
    cur = part ? path.join(cur, part) : cur;
    const st = fs.statSync(cur);
    const ok = (st.uid === user.uid && st.mode & 0o100) || (st.gid === user.gid && st.mode & 0o010) || st.mode & 0o001;
    if (!ok) {
      throw new ElasticsearchScriptError(
        `${dir} is not reachable by the user ${user.name} that Elasticsearch runs as (${cur} is mode ${(st.mode & 0o777).toString(8)}); use a run dir under ${os.tmpdir()}`,
      );
    }
  }
}

/**
 * Hard-links (copies, across file systems) the cached distribution into
 * <run>/dist for the run user: the cache lives under root's home, which other
 * users cannot enter. Files stay root-owned and read-only to the run user.
 */
function linkDistribution(install, target) {
  const marker = path.join(target, '.mqlog-dist.json');
  try {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
    if (m.version === install.version && m.fetchedAt === install.fetchedAt) return;
  } catch {}
  fs.rmSync(target, { recursive: true, force: true });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const copy = (from, to) => {
    const st = fs.lstatSync(from);
    if (st.isDirectory()) {
      fs.mkdirSync(to, { mode: 0o755 });
      fs.chmodSync(to, 0o755);
      for (const e of fs.readdirSync(from)) copy(path.join(from, e), path.join(to, e));
    } else if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(from), to);
    } else {
      try {
        fs.linkSync(from, to);
      } catch (err) {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
        fs.copyFileSync(from, to);
        fs.chmodSync(to, st.mode & 0o777);
      }
    }
  };
  copy(install.dist, tmp);
  fs.writeFileSync(path.join(tmp, '.mqlog-dist.json'), JSON.stringify({ version: install.version, fetchedAt: install.fetchedAt }) + '\n');
  fs.renameSync(tmp, target);
}

// ---------------------------------------------------------------------------
// state and run dir

const readState = (dir) => readStateFile(dir, ElasticsearchScriptError);

function runPaths(dir) {
  return {
    config: path.join(dir, 'config'),
    data: path.join(dir, 'data'),
    logs: path.join(dir, 'logs'),
    tmp: path.join(dir, 'tmp'),
    dist: path.join(dir, 'dist'),
    stdout: path.join(dir, 'stdout.log'),
    pidFile: path.join(dir, 'logs', 'elasticsearch.pid'),
  };
}

function urlOf(state) {
  return `http://127.0.0.1:${state.port}`;
}

function publicResult(state) {
  return {
    url: urlOf(state),
    pid: state.pid,
    port: state.port,
    transportPort: state.transportPort,
    dir: state.dir,
    version: state.version,
    clusterName: state.clusterName,
  };
}

function yamlValue(v) {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(String(v));
}

/** Writes the run dir's config (a copy of the distribution's, plus our settings) and creates data/logs/tmp. */
function prepareRunDir(state, install, user) {
  const p = runPaths(state.dir);
  if (user) {
    fs.chmodSync(state.dir, 0o755); // a mkdtemp dir is 0700
    assertReachable(state.dir, user);
  }
  if (!fs.existsSync(path.join(p.config, 'jvm.options'))) {
    fs.rmSync(p.config, { recursive: true, force: true });
    fs.cpSync(path.join(install.dist, 'config'), p.config, { recursive: true });
  }
  const settings = {
    'cluster.name': state.clusterName,
    'node.name': 'mqlog-es',
    'path.data': p.data,
    'path.logs': p.logs,
    'network.host': '127.0.0.1',
    'http.port': state.port,
    'transport.port': state.transportPort,
    'discovery.type': 'single-node',
    'xpack.security.enabled': false,
    'action.destructive_requires_name': false,
    'cluster.routing.allocation.disk.threshold_enabled': false,
    ...state.extraConfig,
  };
  const yml = [
    '# Written by scripts/elasticsearch/lib.cjs on every start; edit extraConfig (state.json), not this file.',
    ...Object.entries(settings).map(([k, v]) => `${k}: ${yamlValue(v)}`),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(p.config, 'elasticsearch.yml'), yml);
  fs.mkdirSync(path.join(p.config, 'jvm.options.d'), { recursive: true });
  // Read after jvm.options; $MQLOG_ELASTICSEARCH_JAVA_OPTS (ES_JAVA_OPTS) comes last and wins.
  // C1 only (TieredStopAtLevel=1) and no heap pre-touch: about a third less
  // startup time on 2 cores, at some cost in peak throughput (a test node).
  fs.writeFileSync(
    path.join(p.config, 'jvm.options.d', 'mqlog.options'),
    [
      '# Written by scripts/elasticsearch/lib.cjs on every start.',
      `-Xms${state.heapMb}m`,
      `-Xmx${state.heapMb}m`,
      '-XX:-AlwaysPreTouch',
      '-XX:TieredStopAtLevel=1',
      '-XX:-HeapDumpOnOutOfMemoryError',
      '',
    ].join('\n'),
  );
  for (const d of [p.data, p.logs, p.tmp]) fs.mkdirSync(d, { recursive: true });
  fs.rmSync(p.pidFile, { force: true });
  let esHome = install.dist;
  if (user) {
    linkDistribution(install, p.dist);
    esHome = p.dist;
    for (const d of [p.config, p.data, p.logs, p.tmp]) chownTree(d, user.uid, user.gid);
  }
  return esHome;
}

function spawnNode(state, esHome, user) {
  const p = runPaths(state.dir);
  const env = { ...process.env };
  for (const k of ['JAVA_HOME', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JAVA_OPTS', 'ES_JAVA_OPTS', 'CLI_JAVA_OPTS']) delete env[k];
  Object.assign(env, {
    ES_JAVA_HOME: javaHome(),
    ES_PATH_CONF: p.config,
    ES_TMPDIR: p.tmp,
    ES_JAVA_OPTS: process.env.MQLOG_ELASTICSEARCH_JAVA_OPTS || '',
    // The launcher JVM runs for the node's lifetime but does little: C1 starts it faster.
    CLI_JAVA_OPTS: '-XX:TieredStopAtLevel=1',
  });
  if (user) env.HOME = state.dir;
  // -p: the server JVM writes its pid there (also in the foreground); -q: no
  // console logging (the log is in logs/), startup errors still reach stdout.log.
  const esArgs = [path.join(esHome, 'bin', 'elasticsearch'), '-q', '-p', p.pidFile];
  let cmd = esArgs[0];
  let args = esArgs.slice(1);
  if (user) {
    const setpriv = findExecutable('setpriv', ['/usr/bin', '/bin']);
    const runuser = findExecutable('runuser', ['/usr/sbin', '/sbin']);
    if (setpriv) {
      cmd = setpriv;
      args = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...esArgs];
    } else if (runuser) {
      cmd = runuser;
      args = ['-u', user.name, '--', ...esArgs];
    } else {
      throw new ElasticsearchScriptError(`running as root, but neither setpriv nor runuser (util-linux) is there to start Elasticsearch as ${user.name}`);
    }
  }
  const banner = `starting Elasticsearch ${state.version}${user ? ` as ${user.name}` : ''}`;
  const pid = spawnDetached(cmd, args, { cwd: p.logs, env, logFile: p.stdout, banner });
  if (!pid) throw new ElasticsearchScriptError(`could not start ${cmd}`);
  state.launcherPid = pid;
  state.pid = null;
  state.user = user ? user.name : null;
  state.startedAt = new Date().toISOString();
  return pid;
}

/** The server JVM (org.elasticsearch.bootstrap.Elasticsearch, with our tmp dir). */
function serverAlive(state) {
  return pidAlive(state.pid, [SERVER_MAIN, `-Djava.io.tmpdir=${runPaths(state.dir).tmp}`]);
}

/** The launcher (setpriv/runuser → bin/elasticsearch → CliToolLauncher), which stays while the server runs. */
function launcherAlive(state) {
  return pidAlive(state.launcherPid, [runPaths(state.dir).pidFile]);
}

/** Reads the server pid from the pid file once the server has written it. */
function refreshServerPid(state) {
  if (serverAlive(state)) return true;
  try {
    const pid = Number(fs.readFileSync(runPaths(state.dir).pidFile, 'utf8').trim());
    if (pid > 0 && pid !== state.pid) {
      const was = state.pid;
      state.pid = pid;
      if (serverAlive(state)) return true;
      state.pid = was;
    }
  } catch {}
  return false;
}

function mainLog(state) {
  return path.join(runPaths(state.dir).logs, `${state.clusterName}.log`);
}

function nodeFailure(state, why) {
  const p = runPaths(state.dir);
  return new ElasticsearchScriptError(
    `Elasticsearch (port ${state.port}, dir ${state.dir}) ${why}.\n` +
      `--- ${p.stdout} (tail)\n${tail(p.stdout)}\n--- ${mainLog(state)} (tail)\n${tail(mainLog(state))}`,
  );
}

/** Health from our node (cluster name checked), or null. */
async function ownHealth(state) {
  const h = await clusterHealth(state.port, { timeoutMs: 2000 });
  if (!h || h.cluster_name !== state.clusterName) return null;
  return h;
}

/** Waits until our node answers /_cluster/health with status green or yellow. */
async function waitReady(state, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = refreshServerPid(state);
    // Not launcherAlive: right after spawn the child may not have exec'd yet
    // (its command line is still ours); a pid we just started is not reused.
    if (!server && !pidExiting(state.launcherPid)) {
      throw nodeFailure(state, `exited while starting (launcher pid ${state.launcherPid}${state.pid ? `, server pid ${state.pid}` : ''})`);
    }
    if (server) {
      const h = await ownHealth(state);
      if (h && (h.status === 'green' || h.status === 'yellow')) return h;
    }
    if (Date.now() > deadline) throw nodeFailure(state, `did not become ready (cluster health green or yellow) within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(250);
  }
}

/** Live pids of the node (server, launcher), verified by their command lines. */
function livePids(state) {
  const pids = [];
  if (serverAlive(state)) pids.push(state.pid);
  if (launcherAlive(state)) pids.push(state.launcherPid);
  return pids;
}

function signalNode(state, pids, signal) {
  // The launcher was spawned detached: its pid is its process group, which holds the server too.
  if (signal === 'SIGKILL' && pids.includes(state.launcherPid)) sendSignal(-state.launcherPid, signal);
  for (const pid of pids) sendSignal(pid, signal);
}

// ---------------------------------------------------------------------------
// public operations

function resolveDir(opts) {
  return opts.dir ? path.resolve(opts.dir) : defaultDir();
}

function loadState(dir) {
  const state = readState(dir);
  if (!state) throw new ElasticsearchScriptError(`no Elasticsearch node recorded in ${dir} (no ${STATE_FILE}); start one first`);
  state.dir = dir;
  return state;
}

/**
 * Starts (or finds already running) a single-node Elasticsearch in dir.
 * @returns {Promise<{url:string, pid:number, port:number, transportPort:number, dir:string, version:string, clusterName:string}>}
 */
async function startElasticsearch(opts = {}) {
  const dir = resolveDir(opts);
  return withDirLock(dir, (opts.timeoutMs ?? 120000) + 60000, () => startLocked(dir, opts));
}

async function startLocked(dir, opts) {
  const log = makeLogger(opts);
  const timeoutMs = opts.timeoutMs ?? 120000;
  let state = readState(dir);
  let fresh = false;

  if (state) {
    state.dir = dir;
    const conflicts = [];
    if (opts.port && opts.port !== state.port) conflicts.push(`http port ${state.port}, not ${opts.port}`);
    if (opts.transportPort && opts.transportPort !== state.transportPort) conflicts.push(`transport port ${state.transportPort}, not ${opts.transportPort}`);
    if (opts.version && opts.version !== state.version) conflicts.push(`Elasticsearch ${state.version}, not ${opts.version}`);
    if (conflicts.length) {
      throw new ElasticsearchScriptError(`${dir} already holds a node with ${conflicts.join(', ')}; stop it and remove the dir (stop --rm), or use another --dir`);
    }
    refreshServerPid(state);
    if (livePids(state).length > 0) {
      // Running (or still starting): wait until it is ready, then report it.
      await waitReady(state, timeoutMs);
      writeState(dir, state);
      return publicResult(state);
    }
    if (!(await waitPortsFree([state.port, state.transportPort], 10000))) {
      throw new ElasticsearchScriptError(`port ${state.port} or ${state.transportPort} (recorded in ${dir}) is in use by another process`);
    }
  } else {
    fresh = true;
    const version = checkVersion(opts.version || DEFAULT_VERSION);
    const port = opts.port || DEFAULT_PORT;
    const transportPort = opts.transportPort || port + TRANSPORT_PORT_OFFSET;
    const heapMb = opts.heapMb || Number(process.env.MQLOG_ELASTICSEARCH_HEAP_MB) || DEFAULT_HEAP_MB;
    if (!Number.isInteger(heapMb) || heapMb < 128) throw new ElasticsearchScriptError(`heap must be an integer >= 128 (MiB), got ${heapMb}`);
    for (const [what, p] of [['http port', port], ['transport port', transportPort]]) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new ElasticsearchScriptError(`${what} must be 1..65535, got ${p}`);
      if (!(await portFree(p))) {
        throw new ElasticsearchScriptError(`${what} ${p} is already in use by another process; pick another with --port (transport: --transport-port, default port+${TRANSPORT_PORT_OFFSET})`);
      }
    }
    state = {
      dir,
      version,
      port,
      transportPort,
      heapMb,
      clusterName: `mqlog-${crypto.randomBytes(4).toString('hex')}`,
      extraConfig: opts.extraConfig || {},
      user: null,
      pid: null,
      launcherPid: null,
      createdAt: new Date().toISOString(),
    };
  }

  const install = await fetchElasticsearch({ version: state.version, log });
  const user = await ensureRunUser(log);
  const esHome = prepareRunDir(state, install, user);
  log(`${fresh ? 'starting' : 'starting again'} Elasticsearch ${state.version} in ${dir} on port ${state.port}${user ? ` as user ${user.name}` : ''} ...`);
  const t0 = Date.now();
  spawnNode(state, esHome, user);
  writeState(dir, state);
  try {
    await waitReady(state, timeoutMs);
  } catch (err) {
    await stopLocked(dir, { quiet: true, timeoutMs: 5000 }).catch(() => {});
    throw err;
  }
  writeState(dir, state);
  log(`Elasticsearch ${state.version} ready in ${secondsSince(t0)} s: ${urlOf(state)} (pid ${state.pid})`);
  return publicResult(state);
}

/** Stops the node recorded in dir (SIGTERM, then SIGKILL after timeoutMs). Idempotent. */
async function stopElasticsearch(opts = {}) {
  const dir = resolveDir(opts);
  if (!fs.existsSync(dir)) return { dir, result: 'not running' };
  const remove = Boolean(opts.remove || opts.rm);
  const result = await withDirLock(dir, (opts.timeoutMs ?? 30000) + 60000, () => stopLocked(dir, opts));
  if (remove) fs.rmSync(dir, { recursive: true, force: true });
  return { dir, result };
}

async function stopLocked(dir, opts) {
  const log = makeLogger(opts);
  const timeoutMs = opts.timeoutMs ?? 30000;
  const state = readState(dir);
  if (!state) return 'not running';
  state.dir = dir;
  refreshServerPid(state);
  const pids = livePids(state);
  let result = 'not running';
  if (pids.length) {
    // SIGTERM the launcher: it stops the server cleanly and exits after it (the
    // way Ctrl-C works in a terminal). Without a launcher, SIGTERM the server.
    signalNode(state, [pids.includes(state.launcherPid) ? state.launcherPid : state.pid], 'SIGTERM');
    if (await waitGone(pids, timeoutMs)) result = 'stopped';
    else {
      signalNode(state, pids, 'SIGKILL');
      await waitGone(pids, 10000);
      result = 'killed';
    }
    log(`Elasticsearch in ${dir} ${result === 'stopped' ? 'stopped' : `SIGKILLed after ${timeoutMs} ms`} (pid ${state.pid ?? state.launcherPid})`);
  }
  state.pid = null;
  state.launcherPid = null;
  writeState(dir, state);
  return result;
}

/** SIGKILLs the node (server and launcher; for crash tests) and waits until it is gone. */
async function killElasticsearch(opts = {}) {
  const dir = resolveDir(opts);
  loadState(dir); // a clear error (and no dir created) before taking the lock
  return withDirLock(dir, 60000, async () => {
    const state = loadState(dir);
    refreshServerPid(state);
    const pids = livePids(state);
    const pid = state.pid;
    if (pids.length) {
      signalNode(state, pids, 'SIGKILL');
      if (!(await waitGone(pids, 15000))) throw new ElasticsearchScriptError(`Elasticsearch (pid ${pids.join(', ')}) survived SIGKILL`);
      makeLogger(opts)(`killed Elasticsearch in ${dir} (pid ${pid ?? state.launcherPid})`);
    }
    return { pid, port: state.port, dir };
  });
}

/**
 * Starts the node recorded in dir again (same config, data dir and ports),
 * stopping it first if it runs, and waits until it is ready.
 */
async function restartElasticsearch(opts = {}) {
  const dir = resolveDir(opts);
  loadState(dir); // a clear error before taking the lock
  return withDirLock(dir, (opts.timeoutMs ?? 120000) + 90000, async () => {
    const state = loadState(dir);
    refreshServerPid(state);
    if (livePids(state).length) await stopLocked(dir, { ...opts, timeoutMs: undefined });
    return startLocked(dir, { ...opts, port: undefined, transportPort: undefined, version: undefined });
  });
}

/** The recorded state plus whether the node's process is alive and answers with a usable cluster health. */
async function elasticsearchStatus(opts = {}) {
  const dir = resolveDir(opts);
  const state = readState(dir);
  if (!state) return { dir, running: false, alive: false, answering: false };
  state.dir = dir;
  const alive = refreshServerPid(state);
  const h = alive ? await ownHealth(state) : null;
  return {
    ...publicResult(state),
    pid: alive ? state.pid : null,
    launcherPid: launcherAlive(state) ? state.launcherPid : null,
    user: state.user,
    heapMb: state.heapMb,
    alive,
    answering: h !== null,
    health: h ? h.status : null,
    running: h !== null && (h.status === 'green' || h.status === 'yellow'),
  };
}

module.exports = {
  DEFAULT_VERSION,
  DEFAULT_PORT,
  TRANSPORT_PORT_OFFSET,
  DEFAULT_HEAP_MB,
  DEFAULT_USER,
  ElasticsearchScriptError,
  cacheRoot,
  elasticsearchHome,
  defaultDir,
  cachedInstall,
  javaHome,
  extractZip,
  fetchElasticsearch,
  startElasticsearch,
  stopElasticsearch,
  killElasticsearch,
  restartElasticsearch,
  elasticsearchStatus,
  clusterHealth,
  httpRequest,
  findFreePort,
};
