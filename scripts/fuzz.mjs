// `npm run fuzz`: mutated packets of every type (MQTT 3.1.1 and 5) at a running broker, with a
// canary publisher and subscriber beside them; then the broker is stopped,
// restarted on the same data, and its log checked with `mqlog log verify`.
//
//   npm run fuzz -- [--seconds N | --packets N] [--connections C] [--seed S] [--json] [--keep]
//
// Headline: packets sent, broker alive, canary loss, restart ok, log verify ok.
// Exit status 0 only when all of those hold.
import { spawn, spawnSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { anyPacket, connect, mutate, rng } from './fuzz/packets.mjs';
import { auth, authData, frameReader, garbageAuth, SCRAM_PASSWORD, SCRAM_USER, ScramClient, scramConnect } from './fuzz/scram.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { seconds: 30, packets: 0, connections: 8, seed: Date.now() % 1_000_000, json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--keep') o.keep = true;
    else if (['--seconds', '--packets', '--connections', '--seed'].includes(a)) o[a.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  if (o.packets > 0 && !argv.includes('--seconds')) o.seconds = Infinity;
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const say = (line) => process.stderr.write(`[fuzz] ${line}\n`);

// ---------------------------------------------------------------------------
// The broker, through the real command

const dir = mkdtempSync(join(tmpdir(), 'mqlog-fuzz-'));
const dataDir = join(dir, 'data');
const configFile = join(dir, 'mqlog.json');
// One SCRAM-SHA-256 user (MQTT 5 enhanced authentication); everyone else is let in as without a users file
// (auth.default allow), and failed logins lock nobody out (the fuzzer fails a great many from one address).
const usersFile = join(dir, 'users');
const salt = randomBytes(16);
writeFileSync(usersFile, `${SCRAM_USER}:$pbkdf2-sha256$1000$${salt.toString('base64')}$${pbkdf2Sync(SCRAM_PASSWORD, salt, 1000, 32, 'sha256').toString('base64')}\n`);
writeFileSync(
  configFile,
  JSON.stringify({
    dataDir,
    listeners: { tcp: { enabled: true, host: '127.0.0.1', port: 0 }, ws: { enabled: false } },
    api: { host: '127.0.0.1', port: 0 },
    auth: { usersFile, default: 'allow', rateLimit: { maxFailuresPerIp: 0, maxFailuresPerClientId: 0 } },
    logging: { level: 'info' },
  }),
);

function startBroker(tag) {
  const logFile = join(dir, `broker-${tag}.log`);
  const fd = openSync(logFile, 'a');
  const proc = spawn(process.execPath, [join(root, 'bin', 'mqlog.js'), 'start', '--config', configFile], { cwd: root, stdio: ['ignore', fd, fd] });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  const started = new Promise((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    const poll = setInterval(() => {
      const text = readFileSync(logFile, 'utf8');
      const line = text.split('\n').find((l) => l.includes('"mqlog node started"'));
      if (line) {
        clearInterval(poll);
        resolve(JSON.parse(line).ports.tcp);
      } else if (proc.exitCode !== null || Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`broker did not start (see ${logFile})`));
      }
    }, 50);
  });
  return { proc, exited, started, logFile };
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------
// Fuzzing connections

const state = { packets: 0, bytes: 0, connections: 0, running: true, scram: { sessions: 0, challenged: 0, connected: 0, reauthChallenged: 0 } };

function writePackets(socket, packets) {
  for (const p of packets) {
    if (socket.destroyed) return;
    socket.write(p);
    state.packets++;
    state.bytes += p.length;
  }
}

async function fuzzer(n) {
  const r = rng(opts.seed * 131 + n);
  let k = 0;
  while (state.running && (opts.packets === 0 || state.packets < opts.packets)) {
    const socket = tcpConnect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.resume(); // read and drop what the broker answers
    const ok = await new Promise((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!ok) continue;
    state.connections++;
    // Client ids of their own (never the canary's); a few persistent ones from a small pool.
    const clientId = r.chance(0.1) ? `fz-p-${r.int(20)}` : `fz-${n}-${k++}`;
    // Two in five connections speak MQTT 5 (properties, reason codes, AUTH), the rest 3.1.1.
    const v5 = r.chance(0.4);
    // A third of those authenticate with SCRAM-SHA-256: the challenge, re-authentication, and garbage in between.
    if (v5 && r.chance(0.3)) {
      await scramSession(r, socket, clientId);
      continue;
    }
    const first = connect(r, clientId, { valid: r.chance(0.9), v5 });
    const packets = [r.chance(0.05) ? mutate(r, first) : first];
    for (let i = 0, count = 1 + r.int(60); i < count; i++) {
      const p = anyPacket(r, v5);
      packets.push(r.chance(0.25) ? mutate(r, p) : p);
    }
    writePackets(socket, packets);
    await hangUp(r, socket);
  }
}

/** Waits a little (or for the broker to close), then closes the socket, abruptly or not. */
async function hangUp(r, socket) {
  await new Promise((resolve) => {
    const t = setTimeout(resolve, r.pick([0, 1, 5, 20]));
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
  if (r.chance(0.5)) socket.destroy();
  else socket.end();
}

/**
 * A v5 connection with the SCRAM method. Half the time garbage follows the
 * CONNECT while the broker's challenge is out; otherwise the challenge is
 * answered (now and then wrongly), and once connected the client sends MQTT 5
 * packets with re-authentications among them, right, wrong and garbled.
 */
async function scramSession(r, socket, clientId) {
  const frames = frameReader(socket);
  const client = new ScramClient(SCRAM_USER, r.chance(0.8) ? SCRAM_PASSWORD : 'wrong');
  const packets = [scramConnect(r, clientId, client)];
  state.scram.sessions++;
  if (r.chance(0.5)) {
    for (let i = 0, n = 1 + r.int(5); i < n; i++) packets.push(r.chance(0.7) ? garbageAuth(r) : r.chance(0.5) ? mutate(r, garbageAuth(r)) : anyPacket(r, true));
    writePackets(socket, packets);
  } else {
    writePackets(socket, packets);
    const final = client.final(authData(await frames.next(0xf, 1000)) ?? Buffer.alloc(0));
    if (final) {
      state.scram.challenged++;
      writePackets(socket, [r.chance(0.9) ? auth(0x18, final) : mutate(r, auth(0x18, final))]);
      const connack = await frames.next(0x2, 1000);
      if (connack !== null && connack[1] === 0) {
        state.scram.connected++;
        const after = [];
        for (let i = 0, n = 1 + r.int(30); i < n; i++) {
          if (r.chance(0.15)) {
            // A re-authentication: its start, then (answered below when the challenge comes) or garbage.
            const again = new ScramClient(SCRAM_USER, r.chance(0.8) ? SCRAM_PASSWORD : 'wrong');
            writePackets(socket, [...after.splice(0), auth(0x19, again.first())]);
            const answer = again.final(authData(await frames.next(0xf, 500)) ?? Buffer.alloc(0));
            if (answer) state.scram.reauthChallenged++;
            after.push(answer && r.chance(0.8) ? auth(0x18, answer) : garbageAuth(r));
          } else {
            const p = anyPacket(r, true);
            after.push(r.chance(0.2) ? mutate(r, p) : p);
          }
        }
        writePackets(socket, after);
      }
    }
  }
  await hangUp(r, socket);
}

// ---------------------------------------------------------------------------
// The canary: a QoS 1 stream between two well-behaved clients

async function canary(url) {
  const sub = await mqtt.connectAsync(url, { clientId: 'canary-sub', clean: false, reconnectPeriod: 0 });
  const received = new Map();
  sub.on('message', (_t, payload) => {
    const seq = Number(payload.toString());
    received.set(seq, (received.get(seq) ?? 0) + 1);
  });
  await sub.subscribeAsync('canary/seq', { qos: 1 });
  const pub = await mqtt.connectAsync(url, { clientId: 'canary-pub', reconnectPeriod: 0 });
  const acked = new Set();
  let sent = 0;
  let errors = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      const seq = sent++;
      pub.publishAsync('canary/seq', String(seq), { qos: 1 }).then(
        () => acked.add(seq),
        () => errors++,
      );
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      // Every acknowledged message must arrive (a sentinel: the last one, after all the others, through the same ordered stream).
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && [...acked].some((s) => !received.has(s))) await new Promise((r) => setTimeout(r, 50));
      await pub.endAsync().catch(() => undefined);
      await sub.endAsync().catch(() => undefined);
      const lost = [...acked].filter((s) => !received.has(s)).length;
      const duplicated = [...received.values()].filter((c) => c > 1).length;
      return { sent, acknowledged: acked.size, received: received.size, lost, duplicated, errors };
    },
  };
}

// ---------------------------------------------------------------------------

const t0 = Date.now();
let broker = startBroker('run');
const port = await broker.started;
say(`broker on 127.0.0.1:${port} (data in ${dataDir}), seed ${opts.seed}, ${opts.connections} fuzzing connections, ${opts.packets > 0 ? `${opts.packets} packets` : `${opts.seconds} s`}`);
const brokerUrl = `mqtt://127.0.0.1:${port}`;
const theCanary = await canary(brokerUrl);
let rssMax = rssMb(broker.proc.pid);
const progress = setInterval(() => {
  rssMax = Math.max(rssMax, rssMb(broker.proc.pid));
  say(`${state.packets} packets, ${state.connections} connections, ${((Date.now() - t0) / 1000).toFixed(0)} s, broker RSS ${rssMb(broker.proc.pid)} MB`);
}, 5000);
const fuzzers = Array.from({ length: opts.connections }, (_, n) => fuzzer(n));
const stopAt = Number.isFinite(opts.seconds) ? setTimeout(() => (state.running = false), opts.seconds * 1000) : null;
await Promise.all(fuzzers);
if (stopAt) clearTimeout(stopAt);
state.running = false;
const fuzzSeconds = (Date.now() - t0) / 1000;

const aliveDuringRun = broker.proc.exitCode === null && broker.proc.signalCode === null;
const canaryResult = aliveDuringRun ? await theCanary.stop() : { sent: 0, acknowledged: 0, received: 0, lost: -1, duplicated: 0, errors: 0 };
// Alive means serving: a fresh client connects and gets a PINGRESP.
let alive = false;
if (aliveDuringRun) {
  try {
    const probe = await mqtt.connectAsync(brokerUrl, { clientId: 'fuzz-probe', reconnectPeriod: 0, connectTimeout: 5000 });
    await probe.endAsync();
    alive = true;
  } catch {
    alive = false;
  }
}
clearInterval(progress);
rssMax = Math.max(rssMax, rssMb(broker.proc.pid));

// Stop cleanly, start again on the same data, then verify the log.
broker.proc.kill('SIGTERM');
const stopCode = await broker.exited;
let restartOk = false;
if (stopCode === 0) {
  broker = startBroker('restart');
  try {
    const p = await broker.started;
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${p}`, { clientId: 'canary-sub', clean: false, reconnectPeriod: 0 });
    restartOk = again.connected;
    await again.endAsync();
  } catch (err) {
    say(`restart failed: ${err.message}`);
  }
  broker.proc.kill('SIGTERM');
  restartOk = restartOk && (await broker.exited) === 0;
}
const verify = spawnSync(process.execPath, [join(root, 'bin', 'mqlog.js'), 'log', 'verify', '--data-dir', dataDir], { cwd: root, encoding: 'utf8' });
const verifyOk = verify.status === 0;

const result = {
  seed: opts.seed,
  packets: state.packets,
  bytes: state.bytes,
  connections: state.connections,
  scram: state.scram,
  seconds: Math.round(fuzzSeconds),
  brokerAlive: alive,
  canary: canaryResult,
  cleanStop: stopCode === 0,
  restartOk,
  verifyOk,
  brokerRssMaxMb: rssMax,
};
const ok = alive && canaryResult.lost === 0 && canaryResult.duplicated === 0 && canaryResult.acknowledged > 0 && restartOk && verifyOk;
if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
say(
  `${state.packets.toLocaleString('en')} packets over ${state.connections.toLocaleString('en')} connections in ${result.seconds} s ` +
    `(SCRAM: ${state.scram.sessions} sessions, ${state.scram.challenged} challenged, ${state.scram.connected} connected, ${state.scram.reauthChallenged} re-authentications challenged); ` +
    `broker ${alive ? 'alive' : 'NOT alive'}; canary ${canaryResult.sent} sent / ${canaryResult.acknowledged} acknowledged / ${canaryResult.received} received ` +
    `(lost ${canaryResult.lost}, duplicated ${canaryResult.duplicated}); restart ${restartOk ? 'ok' : 'FAILED'}; log verify ${verifyOk ? 'ok' : 'FAILED'}; broker RSS max ${rssMax} MB`,
);
if (!verifyOk) say(verify.stdout + verify.stderr);
if (!ok || opts.keep) say(`broker logs and data kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
