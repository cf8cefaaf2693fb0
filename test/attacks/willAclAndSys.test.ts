/**
 * Attacks: a will on a topic the publish ACL forbids (it once bypassed the
 * ACL), and any client publishing, retained, under `$SYS/`. Now a will must be
 * publishable by its client: checked at CONNECT (CONNACK 5, as Mosquitto) and
 * again when it is published (after a rules reload it is dropped and the
 * refusal recorded). Only the broker publishes under `$SYS`: no client, not
 * even a superuser.
 */
import { rmSync, writeFileSync } from 'fs';
import { IPublishPacket } from 'mqtt-packet';
import { join } from 'path';
import { hashPassword } from '../../auth/passwordHash';
import { decodeEvents } from '../../src/events/codec';
import { startBroker, tempDir, TestBroker } from '../helpers/broker';
import { RawClient } from '../helpers/rawClient';

jest.setTimeout(60_000);

const dir = tempDir('mqlog-willacl-');
const usersFile = join(dir, 'users');
const aclFile = join(dir, 'acl.json');
writeFileSync(usersFile, [`alice:${hashPassword('a-secret')}`, `root:${hashPassword('r-secret')}`].join('\n'));
const allowAliceWill = { rules: [{ permission: 'allow', action: 'all', topic: 'devices/%u/#', username: 'alice' }] };
writeFileSync(aclFile, JSON.stringify(allowAliceWill));

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({ auth: { allowAnonymous: false, usersFile, superusers: ['root'] }, acl: { default: 'deny', file: aclFile } });
});
afterAll(async () => {
  await broker.stop();
  broker.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const creds = (u: string) => ({ username: u, password: Buffer.from(`${u[0]}-secret`) });

async function watcher(topics: string[]): Promise<RawClient> {
  const c = await RawClient.connect(broker.ports.tcp!);
  await c.handshake(`watch-${topics.length}-${Date.now()}`, creds('root'));
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: topics.map((topic) => ({ topic, qos: 1 as const })) });
  await c.nextCmd('suback');
  return c;
}

/** Publishes a sentinel as root and returns the first message `w` receives: the sentinel, if nothing came before it. */
async function firstAfter(w: RawClient, sentinelTopic: string): Promise<IPublishPacket> {
  const s = await RawClient.connect(broker.ports.tcp!);
  await s.handshake(`sentinel-${Date.now()}`, creds('root'));
  s.send({ cmd: 'publish', topic: sentinelTopic, payload: Buffer.from('sentinel'), qos: 1, retain: false, dup: false, messageId: 1 });
  await s.nextCmd('puback');
  s.destroy();
  return w.nextCmd<IPublishPacket>('publish');
}

test('a will on a topic the client may not publish to: CONNACK 5, and the will is never published', async () => {
  const w = await watcher(['alarms/#', 'devices/sentinel']);
  const c = await RawClient.connect(broker.ports.tcp!);
  const connack = await c.handshake('will-sneak', { ...creds('alice'), will: { topic: 'alarms/fire', payload: Buffer.from('panic'), qos: 1, retain: true } });
  expect(connack.returnCode).toBe(5);
  expect(await c.waitClosed()).toBe(true);
  expect((await firstAfter(w, 'devices/sentinel')).topic).toBe('devices/sentinel');
  w.destroy();
});

test('a will to $SYS is refused for everyone, superusers included', async () => {
  for (const u of ['alice', 'root']) {
    const c = await RawClient.connect(broker.ports.tcp!);
    const connack = await c.handshake(`will-sys-${u}`, { ...creds(u), will: { topic: '$SYS/broker/uptime', payload: Buffer.from('0'), qos: 0, retain: true } });
    expect(connack.returnCode).toBe(5);
  }
});

test('a will allowed at CONNECT but forbidden by reloaded rules is dropped when published, and the refusal recorded', async () => {
  const w = await watcher(['devices/alice/#', 'devices/sentinel']);
  const c = await RawClient.connect(broker.ports.tcp!);
  const connack = await c.handshake('will-reload', { ...creds('alice'), will: { topic: 'devices/alice/will', payload: Buffer.from('gone'), qos: 1, retain: false } });
  expect(connack.returnCode).toBe(0);
  writeFileSync(aclFile, JSON.stringify({ rules: [] }));
  await broker.node.reloadAccess();
  c.destroy(); // connection lost: the will would be published now
  await c.waitClosed();
  expect((await firstAfter(w, 'devices/sentinel')).topic).toBe('devices/sentinel');
  const stream = broker.node.streams.sessions;
  const records = await broker.node.eventLog.read(stream, 0, 0, { endOffset: await broker.node.eventLog.endOffset(stream, 0) });
  const denied = records.flatMap((r) => (r.value ? decodeEvents(r.value) : [])).filter((e) => e.type === 'access.decided' && e.action === 'publish' && e.topic === 'devices/alice/will');
  expect(denied).toHaveLength(1);
  writeFileSync(aclFile, JSON.stringify(allowAliceWill));
  await broker.node.reloadAccess();
  w.destroy();
});

test('no client publishes under $SYS, retained or not, superusers included: nothing is delivered or retained', async () => {
  const w = await watcher(['$SYS/#', 'devices/sentinel']);
  for (const u of ['alice', 'root']) {
    const c = await RawClient.connect(broker.ports.tcp!);
    await c.handshake(`sys-${u}`, creds(u));
    c.send({ cmd: 'publish', topic: '$SYS/broker/version', payload: Buffer.from('pwned'), qos: 1, retain: true, dup: false, messageId: 1 });
    await c.nextCmd('puback'); // MQTT 3.1.1 has no negative PUBACK: the exchange completes, the message goes nowhere
    c.destroy();
  }
  expect((await firstAfter(w, 'devices/sentinel')).topic).toBe('devices/sentinel');
  expect(broker.node.retained.get('$SYS/broker/version')).toBeUndefined();
  // A fresh subscriber gets no retained $SYS message: the first retained one it gets is the one after.
  const setter = await RawClient.connect(broker.ports.tcp!);
  await setter.handshake('sys-setter', creds('root'));
  setter.send({ cmd: 'publish', topic: 'zz/retained', payload: Buffer.from('r'), qos: 1, retain: true, dup: false, messageId: 1 });
  await setter.nextCmd('puback');
  setter.destroy();
  const fresh = await RawClient.connect(broker.ports.tcp!);
  await fresh.handshake('sys-fresh', creds('root'));
  fresh.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$SYS/#', qos: 1 }, { topic: 'zz/#', qos: 1 }] });
  expect((await fresh.nextCmd<IPublishPacket>('publish')).topic).toBe('zz/retained');
  fresh.destroy();
  w.destroy();
});
