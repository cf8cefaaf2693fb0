/**
 * A broker in its own process, started through the real `mqlog` command, so a
 * test can kill -9 it and start another on the same data directory.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');
let built = false;

/** Compiles dist/ if a source is newer (the command under test runs compiled code). */
export function ensureBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, [join(root, 'scripts', 'ensure-build.mjs')], { cwd: root, stdio: 'inherit' });
  built = true;
}

export interface ChildBroker {
  proc: ChildProcess;
  port: number;
  /** The HTTP API port, when the API is enabled. */
  apiPort?: number;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Kills a child broker that is still running (SIGKILL) and waits for it: the tests' cleanup. */
export async function killIfRunning(broker: ChildBroker | null): Promise<void> {
  if (!broker || broker.proc.exitCode !== null || broker.proc.signalCode !== null) return;
  broker.proc.kill('SIGKILL');
  await broker.exited;
}

export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'mqlog.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export async function spawnBroker(args: string[], timeoutMs = 20_000, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ChildBroker> {
  ensureBuilt();
  const proc = spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'mqlog.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d.toString()));
  proc.stderr!.on('data', (d) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const ports = await new Promise<{ tcp: number; api?: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      for (const line of out.split('\n')) {
        if (!line.includes('"mqlog node started"')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { ports: { tcp: number; api?: number } }).ports);
        return;
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code}) before starting:\n${out}`));
    });
  });
  return { proc, port: ports.tcp, apiPort: ports.api, output: () => out, exited };
}

export function brokerConfig(dataDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataDir,
    listeners: { tcp: { enabled: true, host: '127.0.0.1', port: 0 }, ws: { enabled: false } },
    api: { host: '127.0.0.1', port: 0 },
    logging: { level: 'info' },
    ...extra,
  };
}
