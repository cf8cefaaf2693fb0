'use strict';
// Local Apache Kafka (KRaft) clusters for tests, benchmarks and development.
//
// The Kafka server jars come from Maven Central through `mvn` (a generated pom +
// maven-dependency-plugin copy-dependencies) and are cached in
// $MQLOG_CACHE_DIR (default ~/.cache/mqlog)/kafka-<version>/libs. Brokers run in
// combined broker+controller mode on 127.0.0.1, one JVM per node, in the
// background; a state file in the run dir records pids and ports so later calls
// (from the CLI `scripts/kafka.mjs` or from test code) can find them again.
//
// CommonJS on purpose: jest (ts-jest, CommonJS) can `require()` it; the ESM CLI
// imports it. No npm dependencies: readiness is checked with a raw Kafka
// Metadata request, not with a client library.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const crypto = require('node:crypto');
const { sleep } = require('../common/polling.cjs');
const { tempSuffix, writeFileAtomic, lastLines, tailFile } = require('../common/files.cjs');
const { progressLogger, secondsSince } = require('../common/progress.cjs');
const { runCommand, spawnDetached, sendSignal, pidAlive, waitGone, stopProcess } = require('../common/processes.cjs');
const { withDirLock: withLock } = require('../common/lockFile.cjs');
const { portFree, waitPortsFree, findFreePortBlock } = require('../common/ports.cjs');
const { cacheRoot, cacheDir, readCacheMarker, installIntoCache, fetchOnce } = require('../common/cache.cjs');
const { runDependencyPlugin } = require('../common/maven.cjs');
const { STATE_FILE, readState: readStateFile, writeState } = require('../common/stateFile.cjs');

const DEFAULT_VERSION = '3.9.2';
const DEFAULT_PORT = 19092;
/** controller port of node i = client port of node i + CONTROLLER_PORT_OFFSET */
const CONTROLLER_PORT_OFFSET = 100;
const DEFAULT_HEAP_MB = 512;
const DEFAULT_LOG4J2_VERSION = '2.25.5';
const TEMPLATE_DIR = __dirname;

class KafkaScriptError extends Error {}

// ---------------------------------------------------------------------------
// small helpers

function kafkaHome(version = DEFAULT_VERSION) {
  return cacheDir(`kafka-${version}`);
}

function defaultDir(brokers = 1) {
  return path.join(os.tmpdir(), `mqlog-kafka-${brokers}`);
}

function majorOf(version) {
  const m = /^(\d+)\./.exec(version);
  if (!m) throw new KafkaScriptError(`not a Kafka version: ${JSON.stringify(version)}`);
  return Number(m[1]);
}

function render(templateName, vars) {
  let text = fs.readFileSync(path.join(TEMPLATE_DIR, templateName), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.split(`@${k}@`).join(String(v));
  return text;
}

const makeLogger = (opts) => progressLogger(opts, 'kafka');

const withDirLock = (dir, timeoutMs, fn) => withLock(dir, timeoutMs, fn, { ErrorClass: KafkaScriptError });

// ---------------------------------------------------------------------------
// fetch

/** Returns the cache marker when the cache for `version` is complete, else null. */
function cachedInstall(version = DEFAULT_VERSION) {
  const home = kafkaHome(version);
  const marker = readCacheMarker(home);
  if (!marker || marker.version !== version || !Array.isArray(marker.jars) || !marker.storageToolClass) return null;
  const libs = path.join(home, 'libs');
  for (const jar of marker.jars) if (!fs.existsSync(path.join(libs, jar))) return null;
  return { ...marker, home, libs };
}

/** Finds the main class of Kafka's storage tool (kafka-storage.sh) in the fetched jars. */
function findStorageToolClass(libs, jars) {
  const candidates = [
    ['kafka/tools/StorageTool.class', 'kafka.tools.StorageTool'],
    ['org/apache/kafka/tools/StorageTool.class', 'org.apache.kafka.tools.StorageTool'],
    ['org/apache/kafka/storage/StorageTool.class', 'org.apache.kafka.storage.StorageTool'],
  ];
  // Entry names are stored uncompressed in a jar's local and central headers.
  const ordered = [...jars].sort((a, b) => Number(/^kafka/.test(b)) - Number(/^kafka/.test(a)));
  for (const jar of ordered) {
    if (!/kafka/.test(jar)) continue;
    const bytes = fs.readFileSync(path.join(libs, jar));
    for (const [entry, cls] of candidates) if (bytes.includes(entry)) return cls;
  }
  return null;
}

/**
 * Resolves org.apache.kafka:kafka_2.13:<version> and its runtime dependencies
 * (plus a logging binding) with Maven into <cache>/kafka-<version>/libs.
 * Does nothing (no network) when that cache is already complete.
 */
async function fetchKafka(opts = {}) {
  const version = opts.version || DEFAULT_VERSION;
  const log = makeLogger(opts);
  const home = kafkaHome(version);
  return fetchOnce(home, { force: opts.force, cached: () => cachedInstall(version), fetch: () => fetchLocked(version, home, log), ErrorClass: KafkaScriptError });
}

async function fetchLocked(version, home, log) {
  const logging =
    majorOf(version) >= 4
      ? render('logging-log4j2.xml', { LOG4J2_VERSION: process.env.MQLOG_LOG4J2_VERSION || DEFAULT_LOG4J2_VERSION })
      : render('logging-log4j1.xml', {});
  const pom = path.join(home, 'pom.xml');
  writeFileAtomic(pom, render('pom.xml.tmpl', { KAFKA_VERSION: version, LOGGING_DEPENDENCIES: logging.replace(/\n$/, '') }));

  const tmpLibs = path.join(home, `libs.tmp-${tempSuffix()}`);
  log(`fetching Kafka ${version} with Maven into ${home} ...`);
  const started = Date.now();
  try {
    await runDependencyPlugin('copy-dependencies', {
      pom,
      properties: { outputDirectory: tmpLibs, includeScope: 'runtime', 'mdep.useRepositoryLayout': false },
      cwd: home,
      what: `org.apache.kafka:kafka_2.13:${version}`,
      purpose: 'fetch the Kafka jars from Maven Central',
      ErrorClass: KafkaScriptError,
    });
  } catch (err) {
    fs.rmSync(tmpLibs, { recursive: true, force: true });
    throw err;
  }
  const jars = fs.readdirSync(tmpLibs).filter((f) => f.endsWith('.jar')).sort();
  const storageToolClass = findStorageToolClass(tmpLibs, jars);
  if (!storageToolClass) {
    fs.rmSync(tmpLibs, { recursive: true, force: true });
    throw new KafkaScriptError(`no StorageTool class found in the jars of Kafka ${version}`);
  }
  const marker = { version, jars, storageToolClass, logging: majorOf(version) >= 4 ? 'log4j2' : 'log4j1', fetchedAt: new Date().toISOString() };
  installIntoCache(home, 'libs', tmpLibs, marker);
  log(`fetched ${jars.length} jars in ${secondsSince(started)} s`);
  return { ...marker, home, libs: path.join(home, 'libs'), fetched: true };
}

// ---------------------------------------------------------------------------
// a raw Kafka Metadata request (v4: supported from Kafka 1.0 through 4.x)

/**
 * Sends one Metadata request to 127.0.0.1:port and resolves
 * {brokers:[{id,host,port}], clusterId, controllerId}; rejects on any error.
 */
function metadataRequest(port, { host = '127.0.0.1', timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('mqlog-kafka-script');
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
    let o = 0;
    o = body.writeInt16BE(3, o); // api key: Metadata
    o = body.writeInt16BE(4, o); // api version
    o = body.writeInt32BE(1, o); // correlation id
    o = body.writeInt16BE(clientId.length, o);
    o += clientId.copy(body, o);
    o = body.writeInt32BE(0, o); // topics: empty array = no topics, just brokers
    body.writeInt8(0, o); // allow_auto_topic_creation
    const frame = Buffer.alloc(4 + body.length);
    frame.writeInt32BE(body.length, 0);
    body.copy(frame, 4);

    let buf = Buffer.alloc(0);
    let done = false;
    const sock = net.connect({ host, port });
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`metadata request to ${host}:${port} timed out`)), timeoutMs);
    sock.on('connect', () => sock.write(frame));
    sock.on('error', (err) => finish(err));
    sock.on('close', () => finish(new Error(`connection to ${host}:${port} closed`)));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4) return;
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) return;
      try {
        let p = 4;
        const corr = buf.readInt32BE(p); p += 4;
        if (corr !== 1) throw new Error('bad correlation id');
        p += 4; // throttle_time_ms
        const n = buf.readInt32BE(p); p += 4;
        const brokers = [];
        for (let i = 0; i < n; i++) {
          const id = buf.readInt32BE(p); p += 4;
          const hl = buf.readInt16BE(p); p += 2;
          const h = buf.toString('utf8', p, p + hl); p += hl;
          const bp = buf.readInt32BE(p); p += 4;
          const rl = buf.readInt16BE(p); p += 2;
          if (rl > 0) p += rl;
          brokers.push({ id, host: h, port: bp });
        }
        const cl = buf.readInt16BE(p); p += 2;
        const clusterId = cl >= 0 ? buf.toString('utf8', p, p + cl) : null;
        if (cl > 0) p += cl;
        const controllerId = buf.readInt32BE(p);
        finish(null, { brokers, clusterId, controllerId });
      } catch (err) {
        finish(err);
      }
    });
  });
}

// ---------------------------------------------------------------------------
// processes

/**
 * Finds a base port such that base..base+brokers-1 and their controller ports
 * are all free (for tests that must not clash with any other cluster).
 */
function findFreePortBase(brokers = 1, { min = 20000, max = 29000 } = {}) {
  return findFreePortBlock({
    count: brokers,
    offsets: [0, CONTROLLER_PORT_OFFSET],
    min,
    max,
    what: `port range for ${brokers} broker(s)`,
    ErrorClass: KafkaScriptError,
  });
}

function javaBin() {
  if (process.env.JAVA_HOME) {
    const j = path.join(process.env.JAVA_HOME, 'bin', 'java');
    if (fs.existsSync(j)) return j;
  }
  return 'java';
}

// ---------------------------------------------------------------------------
// state

const readState = (dir) => readStateFile(dir, KafkaScriptError);

function bootstrapOf(state) {
  return state.brokers.map((b) => `127.0.0.1:${b.port}`).join(',');
}

function publicResult(state) {
  return {
    bootstrap: bootstrapOf(state),
    dir: state.dir,
    version: state.version,
    clusterId: state.clusterId,
    brokers: state.brokers.map((b) => ({ id: b.id, pid: b.pid, port: b.port, controllerPort: b.controllerPort })),
  };
}

function newClusterId() {
  // Kafka cluster ids are base64url UUIDs (22 chars); Kafka itself avoids a leading '-'.
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function brokerPaths(dir, id) {
  const base = path.join(dir, `broker-${id}`);
  return {
    base,
    config: path.join(base, 'server.properties'),
    data: path.join(base, 'data'),
    logs: path.join(base, 'logs'),
    logConfig: path.join(base, 'log4j.properties'),
    log2Config: path.join(base, 'log4j2.properties'),
    stdout: path.join(base, 'stdout.log'),
  };
}

function writeBrokerConfig(state, b, extraConfig) {
  const p = brokerPaths(state.dir, b.id);
  fs.mkdirSync(p.data, { recursive: true });
  fs.mkdirSync(p.logs, { recursive: true });
  const n = state.brokers.length;
  const rf = Math.min(3, n);
  const voters = state.brokers.map((x) => `${x.id}@127.0.0.1:${x.controllerPort}`).join(',');
  const extra = { ...extraConfig };
  if (majorOf(state.version) >= 4) {
    extra['share.coordinator.state.topic.replication.factor'] ??= rf;
    extra['share.coordinator.state.topic.min.isr'] ??= Math.min(2, rf);
  }
  const extraText = Object.entries(extra).map(([k, v]) => `${k}=${v}`).join('\n');
  fs.writeFileSync(
    p.config,
    render('server.properties.tmpl', {
      NODE_ID: b.id,
      VOTERS: voters,
      PORT: b.port,
      CONTROLLER_PORT: b.controllerPort,
      DATA_DIR: p.data,
      RF: rf,
      MIN_ISR: Math.min(2, rf),
      OFFSETS_PARTITIONS: state.offsetsTopicPartitions,
      EXTRA: extraText ? `\n# Extra settings (extraConfig)\n${extraText}` : '',
    }),
  );
  const level = (process.env.MQLOG_KAFKA_LOG_LEVEL || 'WARN').toUpperCase();
  if (majorOf(state.version) >= 4) fs.writeFileSync(p.log2Config, render('log4j2.properties.tmpl', { LOG_DIR: p.logs, LEVEL: level.toLowerCase() }));
  else fs.writeFileSync(p.logConfig, render('log4j.properties.tmpl', { LOG_DIR: p.logs, LEVEL: level }));
}

function loggingJvmArgs(state, p) {
  return majorOf(state.version) >= 4
    ? [`-Dlog4j2.configurationFile=${p.log2Config}`, '-Dlog4j2.disable.jmx=true']
    : [`-Dlog4j.configuration=file:${p.logConfig}`];
}

async function formatBroker(state, install, b) {
  const p = brokerPaths(state.dir, b.id);
  if (fs.existsSync(path.join(p.data, 'meta.properties'))) return;
  const args = [
    '-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC',
    ...loggingJvmArgs(state, p),
    '-cp', path.join(install.libs, '*'),
    install.storageToolClass, 'format', '-t', state.clusterId, '-c', p.config, '--ignore-formatted',
  ];
  const res = await runCommand(javaBin(), args, { cwd: p.base, purpose: 'format Kafka storage', ErrorClass: KafkaScriptError });
  if (res.code !== 0) {
    throw new KafkaScriptError(`formatting the storage of broker ${b.id} failed (exit ${res.code}):\n${lastLines(res.output, 30)}`);
  }
}

function spawnBroker(state, install, b) {
  const p = brokerPaths(state.dir, b.id);
  const jvmOpts = (process.env.MQLOG_KAFKA_JVM_OPTS || '').split(/\s+/).filter(Boolean);
  const args = [
    `-Xms${Math.min(256, state.heapMb)}m`, `-Xmx${state.heapMb}m`,
    '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${p.logs}`,
    ...loggingJvmArgs(state, p),
    ...jvmOpts,
    '-cp', path.join(install.libs, '*'),
    'kafka.Kafka', p.config,
  ];
  const pid = spawnDetached(javaBin(), args, { cwd: p.base, logFile: p.stdout, banner: `starting broker ${b.id}` });
  if (!pid) throw new KafkaScriptError(`could not start java (${javaBin()}) for broker ${b.id}`);
  b.pid = pid;
  return pid;
}

function brokerFailure(state, b, why) {
  const p = brokerPaths(state.dir, b.id);
  return new KafkaScriptError(
    `broker ${b.id} (port ${b.port}) ${why}.\n` +
      `--- ${p.stdout} (tail)\n${tailFile(p.stdout)}\n--- ${path.join(p.logs, 'server.log')} (tail)\n${tailFile(path.join(p.logs, 'server.log'))}`,
  );
}

/**
 * Waits until every broker in `ids` is alive and answers a Metadata request that
 * lists every broker in `expectIds` (i.e. they are registered and unfenced).
 */
async function waitReady(state, ids, expectIds, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(ids);
  for (;;) {
    for (const id of [...pending]) {
      const b = state.brokers.find((x) => x.id === id);
      if (!brokerAlive(state, b)) throw brokerFailure(state, b, `exited while starting (pid ${b.pid})`);
      try {
        const md = await metadataRequest(b.port, { timeoutMs: 1500 });
        const seen = new Set(md.brokers.map((x) => x.id));
        if (expectIds.every((e) => seen.has(e))) pending.delete(id);
      } catch {
        // not up yet
      }
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      const b = state.brokers.find((x) => x.id === [...pending][0]);
      throw brokerFailure(state, b, `did not become ready within ${Math.round(timeoutMs / 1000)} s`);
    }
    await sleep(250);
  }
}

/** The broker's JVM (kafka.Kafka with its config) is alive: guards against pid reuse. */
function brokerAlive(state, b) {
  return pidAlive(b.pid, ['kafka.Kafka', brokerPaths(state.dir, b.id).config]);
}

async function brokerAnswers(b) {
  try {
    await metadataRequest(b.port, { timeoutMs: 1500 });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// public operations

function resolveDir(opts) {
  if (opts.dir) return path.resolve(opts.dir);
  return defaultDir(opts.brokers || 1);
}

function loadRunningState(opts) {
  const dir = resolveDir(opts);
  const state = readState(dir);
  if (!state) throw new KafkaScriptError(`no Kafka cluster recorded in ${dir} (no ${STATE_FILE}); start one first`);
  state.dir = dir;
  return state;
}

/**
 * Starts (or finds already running) a local KRaft cluster.
 * @returns {Promise<{bootstrap:string, dir:string, version:string, clusterId:string, brokers:{id:number,pid:number,port:number,controllerPort:number}[]}>}
 */
async function startKafka(opts = {}) {
  const dir = resolveDir(opts);
  return withDirLock(dir, (opts.timeoutMs ?? 120000) + 60000, () => startLocked(dir, opts));
}

async function startLocked(dir, opts) {
  const log = makeLogger(opts);
  const timeoutMs = opts.timeoutMs ?? 120000;
  fs.mkdirSync(dir, { recursive: true });
  let state = readState(dir);

  if (state) {
    state.dir = dir;
    const conflicts = [];
    if (opts.brokers && opts.brokers !== state.brokers.length) conflicts.push(`${state.brokers.length} brokers, not ${opts.brokers}`);
    if (opts.port && opts.port !== state.brokers[0].port) conflicts.push(`base port ${state.brokers[0].port}, not ${opts.port}`);
    if (opts.version && opts.version !== state.version) conflicts.push(`Kafka ${state.version}, not ${opts.version}`);
    if (conflicts.length) {
      throw new KafkaScriptError(`${dir} already holds a cluster with ${conflicts.join(', ')}; stop it and remove the dir (stop --rm), or use another --dir`);
    }
    const alive = [];
    for (const b of state.brokers) if (brokerAlive(state, b) && (await brokerAnswers(b))) alive.push(b.id);
    if (alive.length === state.brokers.length) {
      // Already up: make sure the quorum is complete, then report it.
      await waitReady(state, alive, alive, timeoutMs);
      return publicResult(state);
    }
    const install = await fetchKafka({ version: state.version, log });
    const toStart = state.brokers.filter((b) => !brokerAlive(state, b));
    for (const b of toStart) {
      if (!(await waitPortsFree([b.port, b.controllerPort], 10000))) {
        throw new KafkaScriptError(`port ${b.port} or ${b.controllerPort} of broker ${b.id} is in use by another process`);
      }
    }
    log(`starting ${toStart.length} of ${state.brokers.length} broker(s) recorded in ${dir}`);
    for (const b of toStart) writeBrokerConfig(state, b, state.extraConfig);
    await Promise.all(toStart.map((b) => formatBroker(state, install, b)));
    for (const b of toStart) spawnBroker(state, install, b);
    writeState(dir, state);
    const ids = state.brokers.map((b) => b.id);
    await waitReady(state, ids, ids, timeoutMs);
    log(`Kafka ${state.version} ready: ${bootstrapOf(state)}`);
    return publicResult(state);
  }

  const brokers = opts.brokers || 1;
  if (!Number.isInteger(brokers) || brokers < 1 || brokers > 9) throw new KafkaScriptError(`--brokers must be 1..9 (3 for a replicated cluster), got ${brokers}`);
  const version = opts.version || DEFAULT_VERSION;
  const basePort = opts.port || DEFAULT_PORT;
  const install = await fetchKafka({ version, log });
  state = {
    dir,
    version,
    clusterId: newClusterId(),
    heapMb: opts.heapMb || Number(process.env.MQLOG_KAFKA_HEAP_MB) || DEFAULT_HEAP_MB,
    offsetsTopicPartitions: opts.offsetsTopicPartitions || 10,
    extraConfig: opts.extraConfig || {},
    createdAt: new Date().toISOString(),
    brokers: Array.from({ length: brokers }, (_, i) => ({
      id: i + 1,
      port: basePort + i,
      controllerPort: basePort + i + CONTROLLER_PORT_OFFSET,
      pid: null,
    })),
  };
  for (const b of state.brokers) {
    for (const port of [b.port, b.controllerPort]) {
      if (!(await portFree(port))) {
        throw new KafkaScriptError(`port ${port} (broker ${b.id}) is already in use; pick another base port with --port (brokers use BASE..BASE+n-1, controllers BASE+${CONTROLLER_PORT_OFFSET}..)`);
      }
    }
  }
  log(`formatting ${brokers} KRaft node(s) in ${dir} (Kafka ${version}, cluster ${state.clusterId})`);
  for (const b of state.brokers) writeBrokerConfig(state, b, state.extraConfig);
  await Promise.all(state.brokers.map((b) => formatBroker(state, install, b)));
  writeState(dir, state);
  const t0 = Date.now();
  for (const b of state.brokers) spawnBroker(state, install, b);
  writeState(dir, state);
  const ids = state.brokers.map((b) => b.id);
  try {
    await waitReady(state, ids, ids, timeoutMs);
  } catch (err) {
    await stopLocked(dir, { quiet: true, timeoutMs: 5000 }).catch(() => {});
    throw err;
  }
  log(`Kafka ${version} ready in ${secondsSince(t0)} s: ${bootstrapOf(state)}`);
  return publicResult(state);
}

/** Stops every broker recorded in dir (SIGTERM, then SIGKILL after timeoutMs). Idempotent. */
async function stopKafka(opts = {}) {
  const dir = resolveDir(opts);
  if (!fs.existsSync(dir)) return { dir, stopped: [], killed: [] };
  const remove = Boolean(opts.remove || opts.rm);
  const result = await withDirLock(dir, 180000, () => stopLocked(dir, { ...opts, remove: false }));
  if (remove) fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

async function stopLocked(dir, opts) {
  const log = makeLogger(opts);
  const timeoutMs = opts.timeoutMs ?? 20000;
  const state = readState(dir);
  const result = { dir, stopped: [], killed: [] };
  if (state) {
    state.dir = dir;
    const live = state.brokers.filter((b) => brokerAlive(state, b));
    await Promise.all(
      live.map(async (b) => {
        const outcome = await stopProcess(b.pid, timeoutMs);
        result[outcome].push(b.id);
      }),
    );
    for (const b of state.brokers) b.pid = null;
    if (live.length) {
      log(`stopped broker(s) ${live.map((b) => b.id).join(',')} in ${dir}` + (result.killed.length ? ` (SIGKILLed after ${timeoutMs} ms: ${result.killed.join(',')})` : ''));
    }
    writeState(dir, state);
  }
  return result;
}

function findBroker(state, broker) {
  const id = Number(broker);
  const b = state.brokers.find((x) => x.id === id);
  if (!b) throw new KafkaScriptError(`no broker ${broker} in ${state.dir} (brokers: ${state.brokers.map((x) => x.id).join(', ')})`);
  return b;
}

/** SIGKILLs one broker of a running cluster (for failure tests). */
async function killBroker(opts = {}) {
  const state = loadRunningState(opts);
  const b = findBroker(state, opts.broker);
  const pid = b.pid;
  if (brokerAlive(state, b)) {
    sendSignal(pid, 'SIGKILL');
    if (!(await waitGone([pid], 10000))) throw new KafkaScriptError(`broker ${b.id} (pid ${pid}) survived SIGKILL`);
  }
  makeLogger(opts)(`killed broker ${b.id} (pid ${pid})`);
  return { id: b.id, pid, port: b.port };
}

/** Starts one broker again on its data dir and port; waits until it answers and has registered. */
async function restartBroker(opts = {}) {
  const dir = resolveDir(opts);
  findBroker(loadRunningState(opts), opts.broker); // clear errors before taking the lock
  return withDirLock(dir, (opts.timeoutMs ?? 120000) + 60000, () => restartLocked(opts));
}

async function restartLocked(opts) {
  const state = loadRunningState(opts);
  const b = findBroker(state, opts.broker);
  const timeoutMs = opts.timeoutMs ?? 120000;
  if (!brokerAlive(state, b)) {
    if (!(await waitPortsFree([b.port, b.controllerPort], 10000))) {
      throw new KafkaScriptError(`port ${b.port} or ${b.controllerPort} of broker ${b.id} is in use by another process`);
    }
    const install = await fetchKafka({ version: state.version, log: makeLogger(opts) });
    writeBrokerConfig(state, b, state.extraConfig);
    await formatBroker(state, install, b);
    spawnBroker(state, install, b);
    writeState(state.dir, state);
  }
  const running = state.brokers.filter((x) => brokerAlive(state, x)).map((x) => x.id);
  await waitReady(state, [b.id], running, timeoutMs);
  makeLogger(opts)(`broker ${b.id} running again (pid ${b.pid}, port ${b.port})`);
  return { id: b.id, pid: b.pid, port: b.port, bootstrap: bootstrapOf(state) };
}

/** The recorded state plus, per broker, whether its process is alive and answers. */
async function kafkaStatus(opts = {}) {
  const dir = resolveDir(opts);
  const state = readState(dir);
  if (!state) return { dir, running: false, brokers: [] };
  state.dir = dir;
  const brokers = [];
  for (const b of state.brokers) {
    const alive = brokerAlive(state, b);
    brokers.push({ id: b.id, pid: alive ? b.pid : null, port: b.port, controllerPort: b.controllerPort, alive, answering: alive && (await brokerAnswers(b)) });
  }
  return {
    dir,
    version: state.version,
    clusterId: state.clusterId,
    bootstrap: bootstrapOf(state),
    running: brokers.every((b) => b.answering),
    brokers,
  };
}

module.exports = {
  DEFAULT_VERSION,
  DEFAULT_PORT,
  CONTROLLER_PORT_OFFSET,
  KafkaScriptError,
  cacheRoot,
  kafkaHome,
  defaultDir,
  cachedInstall,
  fetchKafka,
  startKafka,
  stopKafka,
  killBroker,
  restartBroker,
  kafkaStatus,
  metadataRequest,
  findFreePortBase,
};
