'use strict';
// Processes of the service starters: finding executables, running a command to
// completion, starting a detached server, and checking, signalling and waiting
// for pids (on Linux with /proc, guarded against pid reuse and zombies).

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { pollUntil } = require('./polling.cjs');

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The first executable file `name` on PATH, then in extraDirs; null if none. */
function findExecutable(name, extraDirs = []) {
  const dirs = [...(process.env.PATH || '').split(path.delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {}
  }
  return null;
}

/**
 * Runs a command to completion, collecting stdout and stderr together (ANSI
 * colours removed); resolves {code, signal, timedOut, output}, code 128 when it
 * died of a signal. Rejects with ErrorClass when the command is not found.
 *
 * options: cwd; extraEnv (added to process.env); input (written to stdin,
 * else stdin is /dev/null); timeoutMs (SIGKILL then, and resolve at once);
 * purpose (for the not-found message); detached (own process group, which a
 * timeout kills whole); settleOnExit (resolve when the command exits, not when
 * its pipes close: for commands that fork daemons which keep them open).
 */
function runCommand(cmd, args, options = {}) {
  const { cwd, extraEnv, input, timeoutMs, purpose, ErrorClass = Error, detached = false, settleOnExit = false } = options;
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(cmd, args, {
        cwd,
        env: extraEnv ? { ...process.env, ...extraEnv } : undefined,
        detached,
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(err);
      return;
    }
    const chunks = [];
    const output = () => Buffer.concat(chunks).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    const timer =
      timeoutMs === undefined
        ? null
        : setTimeout(() => {
            sendSignal(detached ? -child.pid : child.pid, 'SIGKILL');
            resolve({ code: 128, signal: 'SIGKILL', timedOut: true, output: output() });
          }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') reject(new ErrorClass(`\`${cmd}\` not found on PATH${purpose ? ` (needed to ${purpose})` : ''}`));
      else reject(err);
    });
    child.on(settleOnExit ? 'exit' : 'close', (code, signal) => {
      clearTimeout(timer);
      if (settleOnExit) {
        child.stdout.destroy();
        child.stderr.destroy();
      }
      resolve({ code: code ?? 128, signal, timedOut: false, output: output() });
    });
    if (input !== undefined) {
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
  });
}

/**
 * Starts a server in the background, in its own process group, with stdout and
 * stderr appended to logFile (after a "==== <time> <banner>" line); returns its
 * pid (undefined when it could not be started). env: its whole environment
 * (default: ours). Whether it keeps running is for the caller's liveness check.
 */
function spawnDetached(cmd, args, { cwd, env, logFile, banner }) {
  fs.appendFileSync(logFile, `\n==== ${new Date().toISOString()} ${banner}\n`);
  const out = fs.openSync(logFile, 'a');
  let child;
  try {
    child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', out, out] });
  } finally {
    fs.closeSync(out);
  }
  child.on('error', () => {}); // reported through the caller's pid check
  child.unref();
  return child.pid;
}

/** process.kill without the throw: false when the process is gone (or not ours). */
function sendSignal(pid, signal) {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The pid exists (possibly as a zombie, possibly another user's). */
function processExists(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** The state letter of /proc/<pid>/stat (R, S, Z, ...), or null. */
function procState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** pid is alive, not a zombie, and (on Linux) its command line holds every marker string. */
function pidAlive(pid, markers = []) {
  if (!processExists(pid)) return false;
  if (process.platform === 'linux') {
    // Guard against pid reuse and zombies.
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      for (const m of markers) if (!cmdline.includes(m)) return false;
    } catch {
      return false;
    }
    const s = procState(pid);
    if (s === null || s === 'Z' || s === 'X') return false;
  }
  return true;
}

/**
 * True while the process still exists and is not a zombie. Unlike pidAlive it
 * does not look at the command line: a process being killed loses its memory
 * (and so /proc/<pid>/cmdline) before it closes its sockets.
 */
function pidExiting(pid) {
  if (!processExists(pid)) return false;
  if (process.platform !== 'linux') return true;
  const s = procState(pid);
  return s !== null && s !== 'Z' && s !== 'X';
}

/** Waits until none of the (previously verified) pids exists any more; false on timeout. */
function waitGone(pids, timeoutMs) {
  return pollUntil(() => !pids.some((p) => pidExiting(p)), timeoutMs, 100);
}

/**
 * SIGTERM, then SIGKILL when the process is still there after graceMs; resolves
 * 'stopped' or 'killed'. Only for a pid already verified to be ours.
 */
async function stopProcess(pid, graceMs, killWaitMs = 5000) {
  sendSignal(pid, 'SIGTERM');
  if (await waitGone([pid], graceMs)) return 'stopped';
  sendSignal(pid, 'SIGKILL');
  await waitGone([pid], killWaitMs);
  return 'killed';
}

module.exports = {
  isRoot,
  findExecutable,
  runCommand,
  spawnDetached,
  sendSignal,
  processExists,
  procState,
  pidAlive,
  pidExiting,
  waitGone,
  stopProcess,
};
