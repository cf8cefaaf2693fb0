/**
 * MQTT 5 enhanced authentication with SCRAM-SHA-256 against the users file, and
 * re-authentication (sections 4.12, 3.15), over real sockets: raw packets for
 * every step and every wrong turn, mqtt.js (its handleAuth hook) on TCP and
 * WebSocket. The client side of SCRAM is the tests' own (test/helpers/scramClient.ts).
 */
import mqtt, { MqttClient } from 'mqtt';
import { IAuthPacket, IConnackPacket, IDisconnectPacket, IPubackPacket, IPublishPacket, ISubackPacket, Packet } from 'mqtt-packet';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { hashPassword } from '../../auth/passwordHash';
import { decodeEvents } from '../../src/events/codec';
import { AccessDecided } from '../../src/events/types';
import { startBroker, tempDir, TestBroker } from '../helpers/broker';
import { authBytes, frame } from '../helpers/packets';
import { RawClient } from '../helpers/rawClient';
import { ScramClient } from '../helpers/scramClient';

jest.setTimeout(30_000);

const SCRAM = 'SCRAM-SHA-256';
const dir = tempDir('mqlog-scram-');
const usersFile = join(dir, 'users');
let b: TestBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  writeFileSync(
    usersFile,
    [
      `alice:${hashPassword('alice-secret', 'pbkdf2-sha256', 1000)}`,
      `dave:${hashPassword('dave-secret', 'pbkdf2-sha256', 1000)}`,
      `bob:${hashPassword('bob-secret', 'bcrypt')}`,
    ].join('\n'),
  );
  b = await startBroker({
    listeners: { ws: { enabled: true, host: '127.0.0.1', port: 0 } },
    auth: { allowAnonymous: false, usersFile, rateLimit: { maxFailuresPerIp: 1000, maxFailuresPerClientId: 3, windowMs: 60_000, lockoutMs: 60_000 } },
    acl: { default: 'deny', rules: [{ permission: 'allow', action: 'all', topic: 'users/%u/#' }] },
  });
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await b.stop();
  b.cleanup();
});

function u16(n: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(n);
  return out;
}
/** A v5 QoS 1 PUBLISH without properties. */
function publish5(topic: string, packetId: number, payload = 'x'): Buffer {
  const t = Buffer.from(topic);
  return frame(0x32, Buffer.concat([u16(t.length), t, u16(packetId), Buffer.from([0]), Buffer.from(payload)]));
}

async function rawConnect(clientId: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}, port = b.ports.tcp!): Promise<RawClient> {
  const c = await RawClient.connect(port, '127.0.0.1', 5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId, properties, ...extra } as never);
  return c;
}

interface Login {
  c: RawClient;
  scram: ScramClient;
  /** The server's challenge (AUTH 0x18), or null when the CONNECT was refused at once. */
  challenge: IAuthPacket | null;
  connack: IConnackPacket;
}

/** CONNECT with SCRAM-SHA-256, the answer to the challenge, the CONNACK. */
async function scramLogin(clientId: string, user: string, password: string, extra: Record<string, unknown> = {}): Promise<Login> {
  const scram = new ScramClient(user, password);
  const c = await rawConnect(clientId, { authenticationMethod: SCRAM, authenticationData: scram.first() }, extra);
  const first = await c.next((p) => p.cmd === 'auth' || p.cmd === 'connack');
  if (first.cmd === 'connack') return { c, scram, challenge: null, connack: first as IConnackPacket };
  const challenge = first as IAuthPacket;
  expect(challenge.reasonCode).toBe(0x18);
  expect(challenge.properties?.authenticationMethod).toBe(SCRAM); // [MQTT-4.12.0-5]
  c.send(authBytes(0x18, { authenticationMethod: SCRAM, authenticationData: scram.final(challenge.properties!.authenticationData!) }));
  return { c, scram, challenge, connack: await c.nextCmd<IConnackPacket>('connack') };
}

/** mqtt.js with its handleAuth hook answering the challenge. */
async function mqttjsLogin(url: string, clientId: string, user: string, password: string): Promise<{ client: MqttClient; connack: IConnackPacket; scram: ScramClient }> {
  const scram = new ScramClient(user, password);
  const client = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, properties: { authenticationMethod: SCRAM, authenticationData: scram.first() } });
  clients.push(client);
  client.handleAuth = (packet, callback) => {
    try {
      callback(undefined, { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: SCRAM, authenticationData: scram.final(packet.properties!.authenticationData!) } } as Packet);
    } catch (err) {
      callback(err as Error);
    }
  };
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, connack, scram };
}

/** The challenge's salt length and iteration count: what tells a real user from a decoy, if anything does. */
function challengeShape(challenge: IAuthPacket | null): { saltBytes: number; iterations: string } | null {
  if (!challenge) return null;
  const attrs = new Map(challenge.properties!.authenticationData!.toString().split(',').map((a) => [a[0], a.slice(2)] as const));
  return { saltBytes: Buffer.from(attrs.get('s')!, 'base64').length, iterations: attrs.get('i')! };
}

async function accessEvents(clientId: string): Promise<AccessDecided[]> {
  const log = b.node.eventLog;
  const stream = b.node.streams.sessions;
  const out: AccessDecided[] = [];
  const end = await log.endOffset(stream, 0);
  for (let next = 0; next < end; ) {
    const recs = await log.read(stream, 0, next, { endOffset: end });
    if (!recs.length) break;
    for (const r of recs) for (const e of decodeEvents(r.value!)) if (e.type === 'access.decided' && e.clientId === clientId) out.push(e);
    next = recs[recs.length - 1].offset + 1;
  }
  return out;
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('SCRAM-SHA-256 at CONNECT', () => {
  test("challenge, answer, CONNACK 0x00 with the method and the server's proof [MQTT-4.12.0-2, MQTT-4.12.0-3, MQTT-4.12.0-5]; recorded like a login", async () => {
    const { c, scram, connack } = await scramLogin('scram-ok', 'alice', 'alice-secret');
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.authenticationMethod).toBe(SCRAM);
    expect(scram.verifyServer(connack.properties?.authenticationData)).toBe(true); // the server knew alice's key
    c.send(publish5('users/alice/x', 1));
    expect((await c.nextCmd<IPubackPacket>('puback')).reasonCode ?? 0).toBe(0);
    c.destroy();
    await until(async () => (await accessEvents('scram-ok')).length > 0, 'the access decision');
    expect(await accessEvents('scram-ok')).toEqual([expect.objectContaining({ action: 'connect', username: 'alice', allowed: true, source: 'users file' })]);
  });

  test.each([
    ['tcp', () => `mqtt://127.0.0.1:${b.ports.tcp}`],
    ['ws', () => `ws://127.0.0.1:${b.ports.ws}/mqtt`],
  ])('mqtt.js over %s: logged in by SCRAM, with the SCRAM user\'s access rules', async (transport, url) => {
    const { client, connack, scram } = await mqttjsLogin(url(), `scram-mqttjs-${transport}`, 'alice', 'alice-secret');
    expect(scram.verifyServer(connack.properties?.authenticationData)).toBe(true);
    const got: string[] = [];
    client.on('message', (topic) => got.push(topic));
    await client.subscribeAsync('users/alice/#', { qos: 1 });
    // Another user's topics are refused (PUBACK 0x87 Not authorized), the user's own ones pass.
    const refused = await client.publishAsync('users/dave/x', 'no', { qos: 1 }).then(
      () => null,
      (err: { code?: number }) => err.code,
    );
    expect(refused).toBe(0x87);
    await client.publishAsync(`users/alice/${transport}`, 'yes', { qos: 1 });
    await until(() => got.length === 1, 'the message');
    expect(got).toEqual([`users/alice/${transport}`]);
  });

  test('a wrong password, an unknown user and a user whose hash cannot serve SCRAM (bcrypt) get the same answers: a challenge alike, then CONNACK 0x86', async () => {
    const answers = [];
    for (const [user, password] of [['alice', 'wrong'], ['mallory', 'alice-secret'], ['bob', 'bob-secret']] as const) {
      const { c, challenge, connack } = await scramLogin(`scram-bad-${user}`, user, password);
      answers.push({ shape: challengeShape(challenge), code: connack.reasonCode, reason: connack.properties?.reasonString, data: connack.properties?.authenticationData, closed: await c.waitClosed() });
    }
    const expected = { shape: { saltBytes: 16, iterations: '1000' }, code: 0x86, reason: 'bad user name or password', data: undefined, closed: true };
    expect(answers).toEqual([expected, expected, expected]);
    await until(async () => (await accessEvents('scram-bad-mallory')).length > 0, 'the access decision');
    expect(await accessEvents('scram-bad-mallory')).toEqual([expect.objectContaining({ username: 'mallory', allowed: false, code: 4, source: 'enhanced auth' })]);
  });

  test('an authentication method the server does not offer: CONNACK 0x8C, closed [MQTT-4.12.0-1]', async () => {
    const c = await rawConnect('scram-method', { authenticationMethod: 'GS2-KRB5', authenticationData: Buffer.from('x') });
    expect((await c.nextCmd<IConnackPacket>('connack')).reasonCode).toBe(0x8c);
    expect(await c.waitClosed()).toBe(true);
  });

  test("a CONNECT user name other than the SCRAM user's is refused (0x87)", async () => {
    const { connack, challenge } = await scramLogin('scram-other-name', 'alice', 'alice-secret', { username: 'dave' });
    expect(challenge).toBeNull();
    expect(connack.reasonCode).toBe(0x87);
  });

  test('a client-first that is not SCRAM, or longer than 2048 bytes, is refused (0x87) and counted by the login rate limiter: past it even the right password is refused', async () => {
    const id = 'scram-garbage';
    for (const data of [Buffer.from('hello'), Buffer.concat([Buffer.from('n,,n=alice,r='), Buffer.alloc(2100, 0x61)]), Buffer.from([0xff, 0xfe, 0x00])]) {
      const c = await rawConnect(id, { authenticationMethod: SCRAM, authenticationData: data });
      expect((await c.nextCmd<IConnackPacket>('connack')).reasonCode).toBe(0x87);
      expect(await c.waitClosed()).toBe(true);
    }
    const locked = await scramLogin(id, 'alice', 'alice-secret');
    expect([locked.challenge, locked.connack.reasonCode]).toEqual([null, 0x87]);
    await until(async () => (await accessEvents(id)).length === 4, 'four access decisions');
    expect((await accessEvents(id)).map((e) => e.source)).toEqual(['enhanced auth', 'enhanced auth', 'enhanced auth', 'rate limiter']);
  });

  test('during the challenge, an AUTH with another method or any other packet is a Protocol Error (CONNACK 0x82) [MQTT-4.12.0-5, MQTT-3.1.2-30]', async () => {
    for (const answer of [authBytes(0x18, { authenticationMethod: 'OTHER', authenticationData: Buffer.from('x') }), publish5('users/alice/x', 1)]) {
      const scram = new ScramClient('alice', 'alice-secret');
      const c = await rawConnect('scram-wrong-turn', { authenticationMethod: SCRAM, authenticationData: scram.first() });
      await c.nextCmd('auth');
      c.send(answer);
      expect((await c.nextCmd<IConnackPacket>('connack')).reasonCode).toBe(0x82);
      expect(await c.waitClosed()).toBe(true);
    }
  });

  test('AUTH from a client whose CONNECT had no Authentication Method is a Protocol Error (DISCONNECT 0x82) [MQTT-4.12.0-7]', async () => {
    const node = await startBroker({});
    try {
      const c = await rawConnect('no-method', {}, {}, node.ports.tcp!);
      expect((await c.nextCmd<IConnackPacket>('connack')).reasonCode).toBe(0);
      c.send(authBytes(0x19, { authenticationMethod: SCRAM, authenticationData: new ScramClient('alice', 'x').first() }));
      expect((await c.nextCmd<IDisconnectPacket>('disconnect')).reasonCode).toBe(0x82);
      expect(await c.waitClosed()).toBe(true);
    } finally {
      await node.stop();
      node.cleanup();
    }
  });

  test('a client that does not answer the challenge is closed after mqtt.connectTimeoutMs (counted from the connection)', async () => {
    const node = await startBroker({ auth: { usersFile }, mqtt: { connectTimeoutMs: 400 } });
    try {
      const t0 = Date.now();
      const c = await rawConnect('scram-silent', { authenticationMethod: SCRAM, authenticationData: new ScramClient('alice', 'alice-secret').first() }, {}, node.ports.tcp!);
      await c.nextCmd('auth');
      expect(await c.waitClosed(5000)).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
      expect(c.packets.map((p) => p.cmd)).toEqual([]); // no CONNACK
    } finally {
      await node.stop();
      node.cleanup();
    }
  });
});

describe('re-authentication [MQTT-4.12.1-1]', () => {
  /** Starts a re-authentication on a logged-in connection and answers its challenge with `scram`. */
  async function reauthenticate(c: RawClient, scram: ScramClient): Promise<void> {
    c.send(authBytes(0x19, { authenticationMethod: SCRAM, authenticationData: scram.first() }));
    const challenge = await c.nextCmd<IAuthPacket>('auth');
    expect([challenge.reasonCode, challenge.properties?.authenticationMethod]).toEqual([0x18, SCRAM]);
    c.send(authBytes(0x18, { authenticationMethod: SCRAM, authenticationData: scram.final(challenge.properties!.authenticationData!) }));
  }

  test("AUTH 0x19, a challenge, the answer, AUTH 0x00 with the server's proof; the client keeps publishing and receiving meanwhile", async () => {
    const { c, connack } = await scramLogin('reauth-ok', 'alice', 'alice-secret');
    expect(connack.reasonCode).toBe(0);
    // SUBSCRIBE users/alice/# at QoS 0 (no properties).
    const filter = Buffer.from('users/alice/#');
    c.send(frame(0x82, Buffer.concat([u16(1), Buffer.from([0]), u16(filter.length), filter, Buffer.from([0])])));
    expect((await c.nextCmd<ISubackPacket>('suback')).granted).toEqual([0]);
    const again = new ScramClient('alice', 'alice-secret');
    c.send(authBytes(0x19, { authenticationMethod: SCRAM, authenticationData: again.first() }));
    const challenge = await c.nextCmd<IAuthPacket>('auth');
    // In the middle of the exchange, publishing goes on.
    c.send(publish5('users/alice/during', 7));
    expect((await c.nextCmd<IPubackPacket>('puback')).messageId).toBe(7);
    expect((await c.nextCmd<IPublishPacket>('publish')).topic).toBe('users/alice/during');
    c.send(authBytes(0x18, { authenticationMethod: SCRAM, authenticationData: again.final(challenge.properties!.authenticationData!) }));
    const success = await c.nextCmd<IAuthPacket>('auth');
    expect([success.reasonCode, success.properties?.authenticationMethod]).toEqual([0x00, SCRAM]);
    expect(again.verifyServer(success.properties?.authenticationData)).toBe(true);
    c.send(publish5('users/alice/after', 8));
    expect((await c.nextCmd<IPubackPacket>('puback')).messageId).toBe(8);
    await until(async () => (await accessEvents('reauth-ok')).length === 2, 'both decisions');
    expect((await accessEvents('reauth-ok'))[1]).toMatchObject({ username: 'alice', allowed: true, reason: expect.stringMatching(/^re-authentication/) });
    c.destroy();
  });

  test.each([
    ['a wrong password', 'alice', 'wrong'],
    ["another user's right password (the user is fixed by the first authentication)", 'dave', 'dave-secret'],
  ])('%s: DISCONNECT 0x87 and close [MQTT-4.12.1-2]', async (_name, user, password) => {
    const { c, connack } = await scramLogin(`reauth-bad-${user}`, 'alice', 'alice-secret');
    expect(connack.reasonCode).toBe(0);
    const scram = new ScramClient(user, password);
    c.send(authBytes(0x19, { authenticationMethod: SCRAM, authenticationData: scram.first() }));
    const answer = await c.next((p) => p.cmd === 'auth' || p.cmd === 'disconnect');
    if (answer.cmd === 'auth') c.send(authBytes(0x18, { authenticationMethod: SCRAM, authenticationData: scram.final((answer as IAuthPacket).properties!.authenticationData!) }));
    const d = answer.cmd === 'disconnect' ? (answer as IDisconnectPacket) : await c.nextCmd<IDisconnectPacket>('disconnect');
    expect(d.reasonCode).toBe(0x87);
    expect(await c.waitClosed()).toBe(true);
  });

  test('another method is a Protocol Error: DISCONNECT 0x82 [MQTT-4.12.1-1]', async () => {
    const { c } = await scramLogin('reauth-method', 'alice', 'alice-secret');
    c.send(authBytes(0x19, { authenticationMethod: 'SCRAM-SHA-1', authenticationData: new ScramClient('alice', 'alice-secret').first() }));
    expect((await c.nextCmd<IDisconnectPacket>('disconnect')).reasonCode).toBe(0x82);
    expect(await c.waitClosed()).toBe(true);
  });

  test('a re-authentication succeeds twice in a row on one connection', async () => {
    const { c } = await scramLogin('reauth-twice', 'alice', 'alice-secret');
    for (let i = 0; i < 2; i++) {
      await reauthenticate(c, new ScramClient('alice', 'alice-secret'));
      expect((await c.nextCmd<IAuthPacket>('auth')).reasonCode).toBe(0);
    }
    c.destroy();
  });
});
