/**
 * Attack: user B connects with user A's client id. B once took over A's
 * persistent session and received the QoS 1 messages queued for A (and A,
 * reconnecting, got none); with a `devices/%c/#` rule, B got A's whole
 * namespace. Now a session belongs to the user name that created it: B is
 * refused with CONNACK 5 (logged, counted, in the audit trail) and A's session
 * is untouched, unless mqtt.allowSessionTakeoverByOtherUser says otherwise.
 */
import { rmSync, writeFileSync } from 'fs';
import { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { join } from 'path';
import { hashPassword } from '../../auth/passwordHash';
import { foldSession, emptySessions } from '../../projections/SessionProjection';
import { decodeEvents } from '../../src/events/codec';
import { ClientConnected } from '../../src/events/types';
import { startBroker, tempDir, TestBroker } from '../helpers/broker';
import { drainPublishes, RawClient } from '../helpers/rawClient';

jest.setTimeout(60_000);

const dir = tempDir('mqlog-takeover-');
const usersFile = join(dir, 'users');
writeFileSync(usersFile, [`alice:${hashPassword('a-secret')}`, `bob:${hashPassword('b-secret')}`, `ops:${hashPassword('o-secret')}`].join('\n'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const auth = { allowAnonymous: false, usersFile, superusers: ['ops'] };
const acl = { default: 'deny' as const, rules: [{ permission: 'allow' as const, action: 'all' as const, topic: 'devices/%c/#' }] };

async function login(broker: TestBroker, clientId: string, username: string, clean: boolean): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await RawClient.connect(broker.ports.tcp!);
  const connack = await c.handshake(clientId, { clean, username, password: Buffer.from(`${username[0]}-secret`) });
  return { c, connack };
}

async function queueForAlice(broker: TestBroker, n: number): Promise<void> {
  const { c } = await login(broker, 'ops-pub', 'ops', true);
  for (let i = 1; i <= n; i++) {
    c.send({ cmd: 'publish', topic: 'devices/dev-1/cmd', payload: Buffer.from(`m${i}`), qos: 1, retain: false, dup: false, messageId: i });
    await c.next((p) => p.cmd === 'puback' && p.messageId === i);
  }
  c.destroy();
}

async function accessEvents(broker: TestBroker) {
  const stream = broker.node.streams.sessions;
  const end = await broker.node.eventLog.endOffset(stream, 0);
  const records = await broker.node.eventLog.read(stream, 0, 0, { endOffset: end });
  return records.flatMap((r) => (r.value ? decodeEvents(r.value) : [])).filter((e) => e.type === 'access.decided');
}

describe('identity owns the session', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker({ auth, acl });
  });
  afterAll(async () => {
    await broker.stop();
    broker.cleanup();
  });

  test("bob with alice's client id: CONNACK 5 (persistent or clean), counted and recorded; alice gets every queued message", async () => {
    const a = await login(broker, 'dev-1', 'alice', false);
    expect(a.connack.returnCode).toBe(0);
    a.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/dev-1/#', qos: 1 }] });
    await a.c.nextCmd('suback');
    a.c.send({ cmd: 'disconnect' });
    await a.c.waitClosed();
    await queueForAlice(broker, 3);

    for (const clean of [false, true]) {
      const b = await login(broker, 'dev-1', 'bob', clean);
      expect(b.connack.returnCode).toBe(5);
      expect(await b.c.waitClosed()).toBe(true);
      expect(b.c.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
    }
    expect(broker.node.stats.sessionTakeoversRefused).toBe(2);
    const refusals = (await accessEvents(broker)).filter((e) => e.source === 'session');
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ clientId: 'dev-1', username: 'bob', allowed: false, code: 5 });

    const back = await login(broker, 'dev-1', 'alice', false);
    expect(back.connack).toMatchObject({ returnCode: 0, sessionPresent: true });
    expect((await drainPublishes(back.c, 500)).map((p) => p.payload.toString())).toEqual(['m1', 'm2', 'm3']);
    back.c.destroy();
  });

  test("bob cannot kick alice's live connection either: she keeps receiving", async () => {
    const a = await login(broker, 'dev-2', 'alice', true);
    a.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/dev-2/#', qos: 1 }] });
    await a.c.nextCmd('suback');
    const b = await login(broker, 'dev-2', 'bob', true);
    expect(b.connack.returnCode).toBe(5);
    const { c: ops } = await login(broker, 'ops-2', 'ops', true);
    ops.send({ cmd: 'publish', topic: 'devices/dev-2/x', payload: Buffer.from('still yours'), qos: 1, retain: false, dup: false, messageId: 1 });
    await ops.nextCmd('puback');
    expect((await a.c.nextCmd<IPublishPacket>('publish')).payload.toString()).toBe('still yours');
    expect(a.c.closed).toBe(false);
    a.c.destroy();
    ops.destroy();
  });

  test('the same user takes over as before [MQTT-3.1.4-2]', async () => {
    const a1 = await login(broker, 'dev-3', 'alice', false);
    const a2 = await login(broker, 'dev-3', 'alice', false);
    expect(a2.connack.returnCode).toBe(0);
    expect(await a1.c.waitClosed()).toBe(true);
    a2.c.destroy();
  });
});

test('mqtt.allowSessionTakeoverByOtherUser lets another user in (the old behaviour, by choice)', async () => {
  const broker = await startBroker({ auth, acl, mqtt: { allowSessionTakeoverByOtherUser: true } });
  try {
    const a = await login(broker, 'dev-9', 'alice', false);
    a.c.send({ cmd: 'disconnect' });
    await a.c.waitClosed();
    const b = await login(broker, 'dev-9', 'bob', false);
    expect(b.connack).toMatchObject({ returnCode: 0, sessionPresent: true });
    b.c.destroy();
  } finally {
    await broker.stop();
    broker.cleanup();
  }
});

test('the session fold ignores a connect of another user that was not allowed to take over (every node agrees)', () => {
  const connect = (connectionId: string, username: string | null, foreignTakeover: boolean): ClientConnected => ({
    type: 'client.connected',
    clientId: 'c',
    connectionId,
    nodeId: 'n',
    protocolVersion: 4,
    cleanSession: false,
    keepalive: 0,
    sessionExpiry: 7200,
    will: null,
    username,
    remoteAddress: '',
    sessionPresent: false,
    position: [0],
    timestamp: 1,
    foreignTakeover,
  });
  const state = foldSession(emptySessions(), connect('a1', 'alice', false));
  foldSession(state, connect('b1', 'bob', false));
  expect(state.get('c')).toMatchObject({ connectionId: 'a1', username: 'alice' });
  foldSession(state, connect('a2', 'alice', false));
  expect(state.get('c')!.connectionId).toBe('a2');
  foldSession(state, connect('b2', 'bob', true));
  expect(state.get('c')).toMatchObject({ connectionId: 'b2', username: 'bob' });
});
