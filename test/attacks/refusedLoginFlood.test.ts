/**
 * Attack: unauthenticated clients filling the disk. Every refused CONNECT once
 * appended an `access.decided` record repeating a client id and a user name of
 * up to 65,535 bytes each: 200 refused logins with 60,000-byte ids grew the
 * data directory by 36 MB and the broker's log by as much. Now client ids and
 * user names in those records are cut to auth.audit.maxFieldLength, each
 * address gets at most auth.audit.refusedLoginsPerIp records per window (the
 * rest are counted and summed up in one record), and the log lines likewise.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { hashPassword } from '../../auth/passwordHash';
import { decodeEvents } from '../../src/events/codec';
import { AccessDecided } from '../../src/events/types';
import { tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker, writeConfig, killIfRunning } from '../helpers/childBroker';
import { connectBytes } from '../helpers/packets';
import { RawClient } from '../helpers/rawClient';
import { FileEventLog } from '../../src/log/file/FileEventLog';

jest.setTimeout(90_000);

let dir: string;
let broker: ChildBroker | null = null;
beforeEach(() => {
  dir = tempDir('mqlog-refused-');
});
afterEach(async () => {
  await killIfRunning(broker);
  rmSync(dir, { recursive: true, force: true });
});

function sizeOf(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    total += entry.isDirectory() ? sizeOf(p) : statSync(p).size;
  }
  return total;
}

test('200 refused logins with 30,000-character client ids and user names grow the data and the log by kilobytes, not megabytes', async () => {
  const usersFile = join(dir, 'users');
  writeFileSync(usersFile, `alice:${hashPassword('secret')}\n`);
  const dataDir = join(dir, 'data');
  const configFile = writeConfig(dir, brokerConfig(dataDir, { auth: { allowAnonymous: false, usersFile, rateLimit: { maxFailuresPerIp: 0, maxFailuresPerClientId: 0, windowMs: 60_000, lockoutMs: 60_000 } } }));
  broker = await spawnBroker(['start', '--config', configFile]);
  const dataBefore = sizeOf(dataDir);
  const logBefore = broker.output().length;

  for (let i = 0; i < 200; i++) {
    const c = await RawClient.connect(broker.port);
    const id = `${String(i).padStart(4, '0')}${'x'.repeat(29_996)}`;
    c.send(connectBytes({ clientId: id, flags: 0x02 | 0x80 | 0x40, username: 'u'.repeat(30_000), password: Buffer.from('wrong') }));
    const connack = await c.nextCmd('connack');
    expect(connack).toMatchObject({ returnCode: 4 });
    await c.waitClosed();
  }
  // A login that is let in afterwards is recorded as ever (the sentinel that the refusals were processed).
  const ok = await RawClient.connect(broker.port);
  expect((await ok.handshake('alice-1', { username: 'alice', password: Buffer.from('secret') })).returnCode).toBe(0);
  ok.destroy();

  broker.proc.kill('SIGTERM');
  expect(await broker.exited).toBe(0);
  const grown = sizeOf(dataDir) - dataBefore;
  const logged = broker.output().length - logBefore;
  // 200 unbounded records would be 24 MB: 20 cut-short records and a summary are a few KB.
  expect(grown).toBeLessThan(200 * 1024);
  expect(logged).toBeLessThan(200 * 1024);

  const log = new FileEventLog({ dir: join(dataDir, 'log') });
  await log.open([{ name: 'mqlog.sessions', partitions: 1, compacted: false }]);
  const records = await log.read('mqlog.sessions', 0, 0, { endOffset: await log.endOffset('mqlog.sessions', 0) });
  await log.close();
  const decisions = records.flatMap((r) => (r.value ? decodeEvents(r.value) : [])).filter((e): e is AccessDecided => e.type === 'access.decided');
  const refused = decisions.filter((d) => !d.allowed && d.source !== 'audit');
  expect(refused).toHaveLength(20); // auth.audit.refusedLoginsPerIp
  for (const d of refused) {
    expect(d.clientId.length).toBeLessThan(300);
    expect(d.clientId).toMatch(/…\[\+29744\]$/);
    expect(d.username!.length).toBeLessThan(300);
  }
  expect(decisions.some((d) => d.allowed && d.clientId === 'alice-1')).toBe(true);
  // The rest are counted, in one record for the address.
  expect(decisions.filter((d) => d.source === 'audit').map((d) => d.reason)).toEqual([expect.stringMatching(/^180 more refused logins from 127\.0\.0\.1 /)]);
});
