/**
 * A full disk: on a small tmpfs this test mounts itself, the broker's appends
 * stop, no PUBACK is sent for what could not be written, the node says why
 * (degraded, "disk full" on /api/v1/status), and once space is freed it goes on
 * by itself with nothing acknowledged lost. Needs root (mount), as CI has.
 */
import { execFileSync } from 'child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'fs';
import { join } from 'path';
import { tempDir } from '../helpers/broker';
import { api } from '../helpers/api';
import { brokerConfig, ChildBroker, spawnBroker, writeConfig, killIfRunning } from '../helpers/childBroker';
import { drainPublishes, RawClient } from '../helpers/rawClient';

jest.setTimeout(120_000);

let dir: string;
let mount: string;
let child: ChildBroker | null = null;

beforeAll(() => {
  dir = tempDir('mqlog-diskfull-');
  mount = join(dir, 'small');
  mkdirSync(mount);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount]);
});

afterAll(async () => {
  await killIfRunning(child);
  execFileSync('umount', ['-l', mount]);
  rmSync(dir, { recursive: true, force: true });
});

interface Status {
  health: { state: string; reasons: string[] };
}

test('appends wait on a full disk (no PUBACK, node degraded: disk full) and resume once space is freed, nothing acknowledged lost', async () => {
  const dataDir = join(mount, 'data');
  const configFile = writeConfig(dir, brokerConfig(dataDir, { log: { file: { segmentBytes: 1024 * 1024 } }, api: { host: '127.0.0.1', port: 0 } }));
  child = await spawnBroker(['start', '--config', configFile]);
  const base = `http://127.0.0.1:${child.apiPort}`;

  const sub = await RawClient.connect(child.port);
  await sub.handshake('df-sub', { clean: false });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'df/#', qos: 1 }] });
  await sub.nextCmd('suback');
  sub.send({ cmd: 'disconnect' });
  await sub.waitClosed();

  // Leave about 600 KB free.
  const fs = statfsSync(mount);
  const filler = join(mount, 'filler');
  writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 600 * 1024)));

  const pub = await RawClient.connect(child.port);
  await pub.handshake('df-pub');
  const payload = (i: number) => Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(4000, 0x61)]);
  const acked: number[] = [];
  let i = 0;
  // Publish until a PUBACK does not come: the disk is full.
  for (;;) {
    i++;
    pub.send({ cmd: 'publish', topic: 'df/t', payload: payload(i), qos: 1, retain: false, dup: false, messageId: i });
    try {
      await pub.next((p) => p.cmd === 'puback' && p.messageId === i, 3000);
      acked.push(i);
    } catch {
      break;
    }
  }
  expect(acked.length).toBeGreaterThan(50);
  const waiting = i;
  const status = await api<Status>(base, 'GET', '/api/v1/status');
  expect(status.body.health.state).toBe('degraded');
  expect(status.body.health.reasons.join(' ')).toMatch(/disk full/);
  expect(child.output()).toMatch(/disk full: the log at .* needs \d+ bytes/);
  expect(pub.closed).toBe(false);

  // Space again: the held message is written and acknowledged, and publishing goes on.
  rmSync(filler);
  await pub.next((p) => p.cmd === 'puback' && p.messageId === waiting, 15_000);
  acked.push(waiting);
  for (let k = waiting + 1; k <= waiting + 20; k++) {
    pub.send({ cmd: 'publish', topic: 'df/t', payload: payload(k), qos: 1, retain: false, dup: false, messageId: k });
    await pub.next((p) => p.cmd === 'puback' && p.messageId === k, 5000);
    acked.push(k);
  }
  expect((await api<Status>(base, 'GET', '/api/v1/status')).body.health.state).toBe('healthy');
  pub.destroy();

  const back = await RawClient.connect(child.port);
  await back.handshake('df-sub', { clean: false });
  const got = (await drainPublishes(back, 1500)).map((p) => Number(p.payload.toString().split(':')[0]));
  expect(got).toEqual(acked);
  back.destroy();
});
