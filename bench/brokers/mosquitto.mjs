// Mosquitto from the Debian package, as its own instance: loopback only, no
// persistence, and a queue limit high enough that it never drops in these
// scenarios (its default of 1000 drops acknowledged QoS 1 messages under load).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/net.mjs';
import { singleProcess, startBrokerProcess } from './common.mjs';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export function mosquittoConfig({ port, queueLimit }) {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    `max_queued_messages ${queueLimit}`,
    'max_inflight_messages 20',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

export async function startMosquitto({ workDir, cpu, queueLimit }) {
  const port = await freePort();
  const conf = join(workDir, `mosquitto-${port}.conf`);
  writeFileSync(conf, mosquittoConfig({ port, queueLimit }));
  const proc = await startBrokerProcess({ name: `mosquitto-${port}`, cpu, cmd: MOSQUITTO, args: ['-c', conf], workDir, port });
  return singleProcess('mosquitto', proc, port);
}

export function mosquittoVersion() {
  // `mosquitto -h` prints "mosquitto version X" and exits with status 3.
  try {
    execFileSync(MOSQUITTO, ['-h'], { stdio: 'pipe' });
  } catch (err) {
    const m = /mosquitto version (\S+)/.exec(String(err.stdout));
    if (m) return m[1];
  }
  return 'unknown';
}
