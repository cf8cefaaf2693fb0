// Child processes of a benchmark run: started pinned to one CPU with a raised
// open-files limit, remembered by PID until they exit, stopped by PID (SIGTERM,
// then SIGKILL), and all of them stopped when the run ends or is interrupted.
import { execFileSync, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

const live = new Map(); // pid -> Proc
/** 65,535 open files, or as many as the hard limit allows where it is lower and cannot be raised. */
const RAISE_NOFILE = 'ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"';
const cleanups = new Set(); // async functions for what is not a direct child (Kafka)

export class Proc {
  /**
   * Runs `cmd args` as `bash -c 'ulimit -n N; exec taskset -c CPU cmd args'`
   * (10,000 idle clients need more than the usual 1,024 open files):
   * exec keeps the PID, so the PID we hold is the program's own.
   * stdout/stderr go to `logFile` unless `pipeStdout` (then stdout is readable
   * here and stderr still goes to the file); stdin is a pipe when `pipeStdin`.
   */
  constructor({ name, cpu, cmd, args = [], logFile, pipeStdout = false, pipeStdin = false, cwd, env }) {
    /** performance.now() just before the spawn: where "time to start" is counted from */
    this.startedAt = performance.now();
    const fd = openSync(logFile, 'a');
    try {
      this.child = spawn('bash', ['-c', `${RAISE_NOFILE}; exec taskset -c "$0" "$@"`, String(cpu), cmd, ...args], {
        cwd,
        env: { ...process.env, ...env },
        stdio: [pipeStdin ? 'pipe' : 'ignore', pipeStdout ? 'pipe' : fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    this.name = name;
    this.pid = this.child.pid;
    this.logFile = logFile;
    this.exitInfo = null;
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.pid);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.on('error', (err) => {
        live.delete(this.pid);
        this.exitInfo = { code: null, signal: null, error: err.message };
        resolve(this.exitInfo);
      });
    });
    live.set(this.pid, this);
  }

  get running() {
    return this.exitInfo === null;
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  async stop(graceMs = 10000) {
    if (!this.running) return this.exitInfo;
    signal(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(this.pid, 'SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  kill() {
    if (this.running) signal(this.pid, 'SIGKILL');
    return this.exited;
  }

  /** The last lines of its log file, for error messages. */
  logTail(lines = 15) {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Registers an async cleanup for something that is not a direct child; returns its unregister function. */
export function onCleanup(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Stops every process this run started and runs every registered cleanup. */
export async function stopEverything(graceMs = 5000) {
  await Promise.all([...live.values()].map((p) => p.stop(graceMs)));
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    await fn().catch((err) => process.stderr.write(`cleanup failed: ${err.message}\n`));
  }
}

/** Resident memory of a process in KiB (VmRSS from /proc/<pid>/status). */
export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/**
 * CPU seconds all CPUs of the machine have spent running processes (user, nice,
 * system) or stolen by the hypervisor, since boot. Interrupt and softirq time is
 * left out: on loopback it is mostly the packet processing our own brokers and
 * load generator cause, which /proc/<pid>/stat does not charge to them.
 */
export function machineBusySeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , , , steal] = f;
  return (user + nice + system + steal) / TICKS;
}
