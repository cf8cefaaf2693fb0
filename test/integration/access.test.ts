/**
 * Authentication and access control end to end, over real sockets: the users
 * file and `mqlog passwd`, anonymous on/off, client-id and address rules, the
 * rate limiter, TLS client certificates, ACLs on publish, subscribe and
 * delivery, and the audit events every decision leaves in the log.
 */
import { spawnSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import mqtt, { MqttClient } from 'mqtt';
import { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { join } from 'path';
import pino from 'pino';
import { Writable } from 'stream';
import { hashPassword } from '../../auth/passwordHash';
import { decodeEvents } from '../../src/events/codec';
import { AccessDecided } from '../../src/events/types';
import { startBroker, tempDir, TestBroker } from '../helpers/broker';
import { ensureBuilt } from '../helpers/childBroker';
import { connectBytes } from '../helpers/packets';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';

jest.setTimeout(60_000);

const tlsDir = join(__dirname, '..', 'fixtures', 'tls');
const dir = tempDir('mqlog-access-');
const usersFile = join(dir, 'users');
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(chunk.toString());
    cb();
  },
});

let broker: TestBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  writeFileSync(
    usersFile,
    [
      `alice:${hashPassword('alice-secret')}`,
      `bob:${hashPassword('bob-secret', 'bcrypt')}`,
      `admin:${hashPassword('admin-secret', 'pbkdf2-sha256', 1000)}`,
      `carol:${hashPassword('carol-secret', 'sha256')}`,
    ].join('\n'),
  );
  broker = await startBroker(
    {
      listeners: {
        tls: { enabled: true, host: '127.0.0.1', port: 0, keyFile: join(tlsDir, 'server.key'), certFile: join(tlsDir, 'server.pem'), caFile: join(tlsDir, 'ca.pem'), requireClientCert: true },
      },
      auth: {
        allowAnonymous: false,
        usersFile,
        superusers: ['admin'],
        clientIds: { allow: [], deny: ['banned-*'] },
        addresses: { allow: [], deny: ['10.0.0.0/8'] },
        certificateAsUsername: true,
        rateLimit: { maxFailuresPerIp: 1000, maxFailuresPerClientId: 5, windowMs: 60_000, lockoutMs: 60_000 },
      },
      acl: {
        default: 'deny',
        rules: [
          { permission: 'allow', action: 'all', topic: 'users/%u/#' },
          { permission: 'deny', action: 'subscribe', topic: 'users/#' },
          { permission: 'deny', action: 'subscribe', topic: 'public/secret' },
          { permission: 'allow', action: 'all', topic: 'public/#' },
          { permission: 'allow', action: 'publish', topic: 'devices/%c/state', username: 'device-42' },
          { permission: 'allow', action: 'subscribe', topic: 'ops/#', username: 'carol' },
          { permission: 'allow', action: 'subscribe', topic: '#', username: 'alice' },
        ],
      },
    },
    { logger: pino({ level: 'info' }, logSink) },
  );
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

afterAll(async () => {
  await broker.stop();
  broker.cleanup();
});

async function login(username: string | undefined, password: string | undefined, clientId = `c-${username}-${Math.random()}`): Promise<IConnackPacket> {
  const c = await RawClient.connect(broker.ports.tcp!);
  const ack = await c.handshake(clientId, { username, password: password === undefined ? undefined : Buffer.from(password) });
  c.destroy();
  return ack;
}

async function client(username: string, password: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(broker.url, { clientId: `mq-${username}-${Math.random()}`, username, password, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

/** SUBACK codes (mqtt.js rejects a subscribe with any 0x80, so read them off the SUBACK itself). */
function granted(c: MqttClient, filters: string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  return new Promise((resolve) =>
    c.subscribe(filters, { qos }, (err, grants) => {
      const packet = (err as { packet?: { granted?: number[] } } | null)?.packet;
      resolve(packet?.granted ?? (grants ?? []).map((g) => g.qos));
    }),
  );
}

async function accessEvents(): Promise<AccessDecided[]> {
  const log = broker.node.eventLog;
  const stream = broker.node.streams.sessions;
  const out: AccessDecided[] = [];
  const end = await log.endOffset(stream, 0);
  for (let next = 0; next < end; ) {
    const recs = await log.read(stream, 0, next, { endOffset: end });
    if (!recs.length) break;
    for (const r of recs) {
      for (const e of decodeEvents(r.value!)) if (e.type === 'access.decided') out.push(e);
    }
    next = recs[recs.length - 1].offset + 1;
  }
  return out;
}

describe('authentication', () => {
  test('users-file logins with bcrypt, PBKDF2 and salted SHA-256 hashes are accepted', async () => {
    for (const [u, p] of [
      ['alice', 'alice-secret'],
      ['bob', 'bob-secret'],
      ['admin', 'admin-secret'],
      ['carol', 'carol-secret'],
    ]) {
      expect([u, (await login(u, p)).returnCode]).toEqual([u, 0]);
    }
  });

  test('a wrong password gets CONNACK 4 (bad user name or password)', async () => {
    expect((await login('alice', 'nope')).returnCode).toBe(4);
  });

  test('an unknown user gets CONNACK 4', async () => {
    expect((await login('mallory', 'x')).returnCode).toBe(4);
  });

  test('anonymous access off: CONNACK 5 (not authorized)', async () => {
    expect((await login(undefined, undefined)).returnCode).toBe(5);
  });

  test('a denied client id gets CONNACK 5 even with good credentials', async () => {
    expect((await login('alice', 'alice-secret', 'banned-123')).returnCode).toBe(5);
  });

  test('mqlog passwd adds a user; after a reload (SIGHUP) the user can log in', async () => {
    ensureBuilt();
    const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'mqlog.js'), 'passwd', usersFile, 'dave', '--password', 'dave-secret'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(readFileSync(usersFile, 'utf8')).toMatch(/^dave:\$pbkdf2-sha512\$/m);
    expect((await login('dave', 'dave-secret')).returnCode).toBe(4); // not reloaded yet
    await broker.node.reloadAccess();
    expect((await login('dave', 'dave-secret')).returnCode).toBe(0);
  });

  test('the rate limiter locks out a client id after repeated failures, even with the right password', async () => {
    const id = 'brute-force-target';
    for (let i = 0; i < 5; i++) expect((await login('bob', `guess-${i}`, id)).returnCode).toBe(4);
    expect((await login('bob', 'bob-secret', id)).returnCode).toBe(5);
    const refusal = (await accessEvents()).filter((e) => e.clientId === id).at(-1)!;
    expect(refusal).toMatchObject({ allowed: false, code: 5, source: 'rate limiter' });
  });

  test('a TLS client certificate logs in with its CN as user name; no certificate, no connection', async () => {
    const url = `mqtts://localhost:${broker.ports.tls}`;
    const withCert = await mqtt.connectAsync(url, {
      clientId: 'cert-client',
      ca: readFileSync(join(tlsDir, 'ca.pem')),
      cert: readFileSync(join(tlsDir, 'client.pem')),
      key: readFileSync(join(tlsDir, 'client.key')),
      reconnectPeriod: 0,
    });
    clients.push(withCert);
    // The ACL rule for user device-42 lets it publish its own state; nothing else.
    const watcher = await client('admin', 'admin-secret');
    const got: string[] = [];
    watcher.on('message', (t) => got.push(t));
    await watcher.subscribeAsync('devices/#', { qos: 1 });
    await withCert.publishAsync('devices/cert-client/state', 'on', { qos: 1 });
    await withCert.publishAsync('devices/other/state', 'on', { qos: 1 });
    await waitFor(() => got.length >= 1, 'the allowed publish', 5000);
    await sleep(200);
    expect(got).toEqual(['devices/cert-client/state']);
    await expect(mqtt.connectAsync(url, { clientId: 'no-cert', ca: readFileSync(join(tlsDir, 'ca.pem')), reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow();
  });

  test('every CONNECT decision is in the log, and no password appears in events or logs', async () => {
    await login('alice', 'alice-secret', 'audit-ok');
    await login('alice', 'a-very-wrong-password', 'audit-bad');
    const events = await accessEvents();
    expect(events.find((e) => e.clientId === 'audit-ok')).toMatchObject({ action: 'connect', allowed: true, username: 'alice', source: 'users file', ip: '127.0.0.1' });
    expect(events.find((e) => e.clientId === 'audit-bad')).toMatchObject({ action: 'connect', allowed: false, code: 4, username: 'alice' });
    const everything = JSON.stringify(events) + logLines.join('');
    for (const secret of ['alice-secret', 'a-very-wrong-password', 'bob-secret', 'guess-1']) expect(everything).not.toContain(secret);
  });
});

describe('access control', () => {
  test('a refused publish is dropped and counted, its QoS 1 exchange still completes', async () => {
    const admin = await client('admin', 'admin-secret');
    const got: string[] = [];
    admin.on('message', (t) => got.push(t));
    await admin.subscribeAsync('#', { qos: 1 });
    const alice = await client('alice', 'alice-secret');
    const denied = broker.node.stats.publishDenied;
    await alice.publishAsync('forbidden/topic', 'x', { qos: 1 }); // resolves: PUBACK came
    await alice.publishAsync('users/alice/ok', 'x', { qos: 1 });
    await waitFor(() => got.includes('users/alice/ok'), 'the allowed publish', 5000);
    await sleep(200);
    expect(got).not.toContain('forbidden/topic');
    expect(broker.node.stats.publishDenied).toBe(denied + 1);
    const ev = (await accessEvents()).find((e) => e.action === 'publish' && e.topic === 'forbidden/topic');
    expect(ev).toMatchObject({ allowed: false, username: 'alice', source: 'acl' });
  });

  test('a refused subscription gets 0x80; %u substitution gives each user their own tree', async () => {
    const alice = await client('alice', 'alice-secret');
    expect(await granted(alice, ['users/alice/#', 'users/bob/#', 'public/secret', 'public/news'])).toEqual([1, 128, 128, 1]);
    const bob = await client('bob', 'bob-secret');
    expect(await granted(bob, ['users/bob/#', 'users/alice/#'])).toEqual([1, 128]);
  });

  test('a # subscription never receives topics the client may not read', async () => {
    const alice = await client('alice', 'alice-secret');
    const got: string[] = [];
    alice.on('message', (t) => got.push(t));
    // Alice may subscribe to "#" (a rule says so), but delivery is still checked per topic.
    expect(await granted(alice, ['#'])).toEqual([1]);
    const admin = await client('admin', 'admin-secret');
    for (const t of ['users/bob/private', 'public/secret', 'ops/alerts', 'users/alice/mine', 'public/news']) await admin.publishAsync(t, t, { qos: 1 });
    await waitFor(() => got.length >= 3, 'readable messages', 5000);
    await sleep(300);
    expect(got.sort()).toEqual(['ops/alerts', 'public/news', 'users/alice/mine']);
  });

  test('retained messages follow the same read rules', async () => {
    const admin = await client('admin', 'admin-secret');
    await admin.publishAsync('users/bob/retained', 'b', { qos: 1, retain: true });
    await admin.publishAsync('users/alice/retained', 'a', { qos: 1, retain: true });
    const alice = await client('alice', 'alice-secret');
    const got: string[] = [];
    alice.on('message', (t) => got.push(t));
    expect(await granted(alice, ['#'])).toEqual([1]);
    await waitFor(() => got.length >= 1, 'retained', 5000);
    await sleep(200);
    expect(got).toEqual(['users/alice/retained']);
  });

  test('$SYS is readable by superusers only', async () => {
    const carol = await client('carol', 'carol-secret');
    expect(await granted(carol, ['$SYS/#'], 0)).toEqual([128]);
    const admin = await client('admin', 'admin-secret');
    expect(await granted(admin, ['$SYS/#'], 0)).toEqual([0]);
  });

  test('a group-less user rule (username condition) only applies to that user', async () => {
    const carol = await client('carol', 'carol-secret');
    const bob = await client('bob', 'bob-secret');
    expect(await granted(carol, ['ops/#'], 0)).toEqual([0]);
    expect(await granted(bob, ['ops/#'], 0)).toEqual([128]);
  });
});

describe('disconnect on a refused publish', () => {
  let strict: TestBroker;
  beforeAll(async () => {
    strict = await startBroker({ acl: { default: 'deny', denyAction: 'disconnect', rules: [{ permission: 'allow', action: 'all', topic: 'ok/#' }] } });
  });
  afterAll(async () => {
    await strict.stop();
    strict.cleanup();
  });

  test('with acl.denyAction "disconnect" the client is disconnected and its will published', async () => {
    const watcher = await mqtt.connectAsync(strict.url, { clientId: 'w', reconnectPeriod: 0 });
    const got: string[] = [];
    watcher.on('message', (_t, p) => got.push(p.toString()));
    await watcher.subscribeAsync('ok/will', { qos: 1 });
    const raw = await RawClient.connect(strict.ports.tcp!);
    raw.send(connectBytes({ clientId: 'rogue', flags: 0x02 | 0x04, willTopic: 'ok/will', willPayload: Buffer.from('rogue gone') }));
    await raw.nextCmd('connack');
    const p: IPublishPacket = { cmd: 'publish', topic: 'not/ok', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: 1 };
    raw.send(p);
    expect(await raw.waitClosed()).toBe(true);
    await waitFor(() => got.length === 1, 'the will', 5000);
    expect(got).toEqual(['rogue gone']);
    await watcher.endAsync();
  });

  test('an address in the deny list gets CONNACK 5', async () => {
    const guarded = await startBroker({ auth: { addresses: { allow: [], deny: ['127.0.0.0/8'] } } });
    try {
      const c = await RawClient.connect(guarded.ports.tcp!);
      expect((await c.handshake('from-loopback')).returnCode).toBe(5);
      c.destroy();
    } finally {
      await guarded.stop();
      guarded.cleanup();
    }
  });
});
