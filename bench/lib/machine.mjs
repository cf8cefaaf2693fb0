// What the numbers were measured on: the machine and the versions of everything compared.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, machineBusySeconds } from './procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo({ mosquitto, aedes, kafka }) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'projections', 'auth', 'connectors']) !== '';
  return {
    nproc: sh('nproc', ['--all']), // --all: this process is pinned to one CPU
    cpu: model,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    mqlog: `${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version} (commit ${sh('git', ['rev-parse', '--short', 'HEAD'])}${dirty ? ', with uncommitted changes' : ''})`,
    mosquitto,
    aedes,
    kafka,
  };
}

/** Filesystem type and device a directory is on (`df --output=fstype,source`): fsync costs depend on it. */
export function filesystemOf(dir) {
  const out = sh('df', ['--output=fstype,source', dir]).split('\n')[1];
  return out ? out.trim().split(/\s+/).join(' on ') : 'unknown';
}

/** The 1-minute load average: a benchmark wants it near 0 before it starts. */
export function loadAverage() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/**
 * Waits until the machine is quiet: under `threshold` cores busy over a 1 s
 * sample, not counting `excludePids` (our own Kafka). Returns the seconds it
 * waited, or null when it gave up after maxMs.
 */
export async function waitUntilIdle({ excludePids = [], threshold = 0.15, maxMs = 600000 } = {}) {
  const started = Date.now();
  const ours = () => excludePids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  for (;;) {
    const m0 = machineBusySeconds();
    const o0 = ours();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = machineBusySeconds() - m0 - (ours() - o0);
    if (busy < threshold) return (Date.now() - started) / 1000;
    if (Date.now() - started > maxMs) return null;
  }
}
