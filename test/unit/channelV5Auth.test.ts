/**
 * The channel's MQTT 5 pieces without I/O: enhanced authentication and
 * re-authentication (section 4.12) as a state machine, the receive maximum over
 * QoS 1 and 2, Response Information, the server's redirection at shutdown, and
 * reason strings of refusals. The SCRAM exchange itself is the node's
 * (test/unit/scram.test.ts); here its answers are given by hand.
 */
import { Packet } from 'mqtt-packet';
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import { Channel, ChannelContext } from '../../src/channel/Channel';
import { channelContext } from '../helpers/channelContext';
import { Effect } from '../../src/channel/effects';
import { defaultConfig } from '../../src/config';
import type { Properties } from '../../src/protocol/v5/properties';

let now = 1_000_000;
const settings = { ...defaultConfig().mqtt, receiveMaximum: 2, connectTimeoutMs: 5000, responseInformation: 'replies/%c/' };
const context = (over: Partial<typeof settings> = {}): ChannelContext => channelContext({ settings: { ...settings, ...over }, now: () => now });
const identity = (username: string | null) => ({ clientId: 'c1', username, ip: '127.0.0.1', groups: [], superuser: false });
const allowed = (username: string | null = 'alice', authData: Buffer | null = null) => ({ allowed: true as const, acl: ConnectionAcl.allowAll(), identity: identity(username), authData });
const connect5 = (v5: Properties, extra: Record<string, unknown> = {}) => ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'c1', v5, ...extra }) as unknown as Packet;
const auth = (reasonCode: number, v5: Properties) => ({ cmd: 'auth', reasonCode, v5 }) as unknown as Packet;
const publish = (qos: 0 | 1 | 2, messageId: number) => ({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos, retain: false, dup: false, messageId, v5: {} }) as unknown as Packet;
const SCRAM = 'SCRAM-SHA-256';
const types = (effects: Effect[]) => effects.map((e) => (e.type === 'ack' ? `send:${e.kind}` : e.type));
const find = <T extends Effect['type']>(effects: Effect[], type: T) => effects.find((e) => e.type === type) as Extract<Effect, { type: T }> | undefined;

/** A v5 channel through a SCRAM-like exchange at CONNECT, connected. */
function authenticatedChannel(ctx = context()): Channel {
  const ch = new Channel(ctx, 'n1/c1', '127.0.0.1:1');
  const first = ch.handle(connect5({ authenticationMethod: SCRAM, authenticationData: Buffer.from('client-first') }, { username: 'alice', password: Buffer.from('ignored') }));
  expect(first).toEqual([{ type: 'authenticate', request: { clientId: 'c1', username: 'alice', password: null, remoteAddress: '127.0.0.1:1', protocolVersion: 5, enhanced: { method: SCRAM, data: Buffer.from('client-first') } } }]);
  expect(ch.challenged(Buffer.from('server-first'))).toEqual([{ type: 'auth', reasonCode: 0x18, method: SCRAM, data: Buffer.from('server-first') }, { type: 'await-auth' }]);
  expect(ch.state).toBe('challenged');
  expect(ch.handle(auth(0x18, { authenticationMethod: SCRAM, authenticationData: Buffer.from('client-final') }))).toEqual([{ type: 'auth-answer', data: Buffer.from('client-final') }]);
  expect(ch.authenticated(allowed('alice', Buffer.from('v=server-final')))).toEqual([{ type: 'open-session' }]);
  const opened = ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null });
  // The CONNACK repeats the method [MQTT-4.12.0-5] and carries the server's last message.
  expect(find(opened, 'connack')?.v5).toMatchObject({ authenticationMethod: SCRAM, authenticationData: Buffer.from('v=server-final') });
  return ch;
}

function plainChannel(ctx = context(), v5: Properties = {}): Channel {
  const ch = new Channel(ctx, 'n1/c1', '127.0.0.1:1');
  ch.handle(connect5(v5));
  ch.authenticated(allowed(null));
  ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null });
  return ch;
}

describe('enhanced authentication at CONNECT (section 4.12)', () => {
  test('CONNECT with a method: a challenge, the answer, CONNACK with the method and the server\'s last message [MQTT-4.12.0-2, MQTT-4.12.0-5]', () => {
    expect(authenticatedChannel().state).toBe('connected');
  });

  test('a CONNACK without enhanced authentication carries no Authentication Method [MQTT-4.12.0-6]', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5({}));
    ch.authenticated(allowed(null));
    const connack = find(ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null }), 'connack');
    expect(connack?.v5?.authenticationMethod).toBeUndefined();
    expect(connack?.v5?.authenticationData).toBeUndefined();
  });

  test('a refusal at any step is a CONNACK with its code and a reason string in words, then close', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5({ authenticationMethod: SCRAM, authenticationData: Buffer.from('x') }));
    ch.challenged(Buffer.from('server-first'));
    ch.handle(auth(0x18, { authenticationMethod: SCRAM, authenticationData: Buffer.from('bad proof') }));
    const effects = ch.authenticated({ allowed: false, refusal: 'bad-credentials' });
    expect(effects).toEqual([{ type: 'connack', refusal: 'bad-credentials', sessionPresent: false, v5: { reasonString: 'bad user name or password' } }, { type: 'close', reason: null, detail: 'connection refused: bad-credentials' }]);
  });

  test('no reason string when the client asked for no problem information (Request Problem Information 0) [MQTT-3.1.2-29]', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5({ authenticationMethod: 'KERBEROS', requestProblemInformation: 0 }));
    expect(find(ch.authenticated({ allowed: false, refusal: 'bad-auth-method' }), 'connack')).toEqual({ type: 'connack', refusal: 'bad-auth-method', sessionPresent: false, v5: {} });
  });

  test.each([
    ['another method in the answer [MQTT-4.12.0-5]', auth(0x18, { authenticationMethod: 'OTHER', authenticationData: Buffer.from('x') })],
    ['an answer without a method', auth(0x18, { authenticationData: Buffer.from('x') })],
    ['an answer with reason code 0x19 [MQTT-4.12.0-3]', auth(0x19, { authenticationMethod: SCRAM })],
    ['a PUBLISH before the CONNACK [MQTT-3.1.2-30]', publish(0, 0)],
    ['a SUBSCRIBE before the CONNACK [MQTT-3.1.2-30]', { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] } as unknown as Packet],
  ])('during the challenge, %s is a Protocol Error: CONNACK 0x82, close', (_name, packet) => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5({ authenticationMethod: SCRAM, authenticationData: Buffer.from('x') }));
    ch.challenged(Buffer.from('server-first'));
    const effects = ch.handle(packet);
    expect(types(effects)).toEqual(['connack', 'close']);
    expect(find(effects, 'connack')?.refusal).toBe('protocol-error');
  });

  test('a DISCONNECT during the challenge just closes', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5({ authenticationMethod: SCRAM, authenticationData: Buffer.from('x') }));
    ch.challenged(Buffer.from('server-first'));
    expect(types(ch.handle({ cmd: 'disconnect' } as Packet))).toEqual(['close']);
  });

  test('Authentication Data without a method is a Protocol Error (section 3.1.2.11.10)', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    const effects = ch.handle(connect5({ authenticationData: Buffer.from('x') }));
    expect(types(effects)).toEqual(['connack', 'close']);
    expect(find(effects, 'connack')?.refusal).toBe('protocol-error');
  });

  test('a challenge not answered within mqtt.connectTimeoutMs (counted from the connection) closes the connection', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5({ authenticationMethod: SCRAM, authenticationData: Buffer.from('x') }));
    ch.challenged(Buffer.from('server-first'));
    expect(ch.tick(now + 5000)).toEqual([]);
    const effects = ch.tick(now + 5001);
    expect(effects).toEqual([{ type: 'limit', limit: 'mqtt.connectTimeoutMs', detail: 'authentication challenge not answered in time' }, { type: 'close', reason: null, detail: 'authentication challenge not answered in time' }]);
  });
});

describe('re-authentication (section 4.12.1)', () => {
  test('AUTH 0x19, challenge, answer, AUTH 0x00 with the server\'s last message; publishing goes on meanwhile', () => {
    const ch = authenticatedChannel();
    expect(ch.handle(auth(0x19, { authenticationMethod: SCRAM, authenticationData: Buffer.from('first-2') }))).toEqual([{ type: 'reauthenticate', method: SCRAM, data: Buffer.from('first-2') }]);
    expect(types(ch.handle(publish(1, 1)))).toEqual(['append']); // the client keeps working
    expect(ch.challenged(Buffer.from('server-first-2'))).toEqual([{ type: 'auth', reasonCode: 0x18, method: SCRAM, data: Buffer.from('server-first-2') }]);
    expect(ch.handle(auth(0x18, { authenticationMethod: SCRAM, authenticationData: Buffer.from('final-2') }))).toEqual([{ type: 'auth-answer', data: Buffer.from('final-2') }]);
    expect(ch.reauthenticated(allowed('alice', Buffer.from('v=2')))).toEqual([{ type: 'auth', reasonCode: 0x00, method: SCRAM, data: Buffer.from('v=2') }]);
    expect(ch.v5?.reauth).toBeNull();
    expect(ch.state).toBe('connected');
  });

  test('a failed re-authentication ends the connection with DISCONNECT 0x87 [MQTT-4.12.1-2]', () => {
    const ch = authenticatedChannel();
    ch.handle(auth(0x19, { authenticationMethod: SCRAM, authenticationData: Buffer.from('first-2') }));
    ch.challenged(Buffer.from('server-first-2'));
    ch.handle(auth(0x18, { authenticationMethod: SCRAM, authenticationData: Buffer.from('wrong') }));
    const effects = ch.reauthenticated({ allowed: false, refusal: 'bad-credentials' });
    expect(types(effects)).toEqual(['append', 'shared-release', 'disconnect', 'close']);
    expect(find(effects, 'disconnect')).toEqual({ type: 'disconnect', reasonCode: 0x87, reasonString: 're-authentication failed: bad user name or password' });
  });

  test.each([
    ['another method [MQTT-4.12.1-1]', [auth(0x19, { authenticationMethod: 'OTHER' })]],
    ['a second 0x19 while one is in progress', [auth(0x19, { authenticationMethod: SCRAM }), auth(0x19, { authenticationMethod: SCRAM })]],
    ['0x18 with no challenge out', [auth(0x18, { authenticationMethod: SCRAM })]],
    ['0x00 (Success) from a client', [auth(0x00, { authenticationMethod: SCRAM })]],
  ])('%s is a Protocol Error: DISCONNECT 0x82', (_name, packets) => {
    const ch = authenticatedChannel();
    let effects: Effect[] = [];
    for (const p of packets) effects = ch.handle(p);
    expect(find(effects, 'disconnect')?.reasonCode).toBe(0x82);
    expect(ch.state).toBe('closed');
  });

  test('AUTH from a client whose CONNECT had no Authentication Method is a Protocol Error [MQTT-4.12.0-7]', () => {
    const ch = plainChannel();
    const effects = ch.handle(auth(0x19, { authenticationMethod: SCRAM }));
    expect(find(effects, 'disconnect')?.reasonCode).toBe(0x82);
  });

  test('a re-authentication not over within mqtt.connectTimeoutMs fails (DISCONNECT 0x87)', () => {
    const ch = authenticatedChannel();
    ch.handle(auth(0x19, { authenticationMethod: SCRAM, authenticationData: Buffer.from('first-2') }));
    ch.challenged(Buffer.from('server-first-2'));
    expect(ch.tick(now + 5000)).toEqual([]);
    expect(find(ch.tick(now + 5001), 'disconnect')?.reasonCode).toBe(0x87);
  });

  test('answers that come after the connection ended change nothing', () => {
    const ch = authenticatedChannel();
    ch.handle(auth(0x19, { authenticationMethod: SCRAM, authenticationData: Buffer.from('first-2') }));
    ch.connectionLost();
    expect(ch.challenged(Buffer.from('late'))).toEqual([]);
    expect(ch.reauthenticated(allowed())).toEqual([]);
  });
});

describe('receive maximum over QoS 1 and 2 [MQTT-3.3.4-7]', () => {
  test('more unacknowledged QoS 1 and 2 PUBLISHes than announced: DISCONNECT 0x93; each PUBACK sent makes room', () => {
    const ch = plainChannel();
    const first = ch.handle(publish(1, 1));
    expect(find(first, 'append')?.then).toEqual([{ type: 'ack', kind: 'puback', packetId: 1 }, { type: 'puback-sent' }]);
    ch.handle(publish(2, 2)); // QoS 2 open until PUBREL: 2 of 2
    ch.pubackSent(); // the PUBACK of 1 left: 1 of 2
    expect(types(ch.handle(publish(1, 3)))).toEqual(['append']); // 2 of 2
    const over = ch.handle(publish(1, 4));
    expect(find(over, 'disconnect')?.reasonCode).toBe(0x93);
  });

  test('a QoS 2 resend of an open exchange is not a new one; QoS 0 does not count', () => {
    const ch = plainChannel();
    ch.handle(publish(2, 1));
    ch.handle(publish(2, 2));
    expect(types(ch.handle(publish(2, 2)))).toEqual(['append']);
    expect(types(ch.handle(publish(0, 0)))).toEqual(['append']);
  });

  test('3.1.1 clients are not counted', () => {
    const ch = new Channel(context(), 'n1/c1', '127.0.0.1:1');
    ch.handle({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c1' } as Packet);
    ch.authenticated(allowed(null));
    ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null });
    for (let id = 1; id <= 5; id++) {
      const effects = ch.handle({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: id });
      expect(find(effects, 'append')?.then).toEqual([{ type: 'ack', kind: 'puback', packetId: id }]);
    }
  });
});

describe('Response Information and Server Reference', () => {
  const connackOf = (ch: Channel) => find(ch.opened({ sessionPresent: false, outbound: [], inbound: [], backlogFrom: null }), 'connack');
  const connected = (ctx: ChannelContext, v5: Properties) => {
    const ch = new Channel(ctx, 'n1/c1', '127.0.0.1:1');
    ch.handle(connect5(v5));
    ch.authenticated(allowed(null));
    return ch;
  };

  test('Response Information only when asked for (Request Response Information 1) and configured [MQTT-3.1.2-28]', () => {
    expect(connackOf(connected(context(), { requestResponseInformation: 1 }))?.v5?.responseInformation).toBe('replies/c1/');
    expect(connackOf(connected(context(), {}))?.v5?.responseInformation).toBeUndefined();
    expect(connackOf(connected(context(), { requestResponseInformation: 0 }))?.v5?.responseInformation).toBeUndefined();
    expect(connackOf(connected(context({ responseInformation: '' }), { requestResponseInformation: 1 }))?.v5?.responseInformation).toBeUndefined();
  });

  test('shutdown with another server: v5 clients get DISCONNECT 0x9C with its Server Reference, otherwise 0x8B', () => {
    expect(find(plainChannel().shutdown('other:18883'), 'disconnect')).toMatchObject({ reasonCode: 0x9c, serverReference: 'other:18883' });
    expect(find(plainChannel().shutdown(null), 'disconnect')).toMatchObject({ reasonCode: 0x8b });
    expect(find(plainChannel().shutdown(null), 'disconnect')?.serverReference).toBeUndefined();
  });

  test("a connection refused because the node is full: CONNACK 0x9C naming mqtt.serverReference (3.1.1: CONNACK 3)", () => {
    const ctx = context({ serverReference: 'spare:18883' });
    const ch = new Channel(ctx, 'n1/c1', '127.0.0.1:1', true);
    const effects = ch.handle(connect5({}));
    expect(effects).toEqual([
      { type: 'connack', refusal: 'use-another-server', sessionPresent: false, v5: { reasonString: 'this server is full: use another server', serverReference: 'spare:18883' } },
      { type: 'close', reason: null, detail: 'connection refused: use-another-server' },
    ]);
    const v3 = new Channel(ctx, 'n1/c2', '127.0.0.1:2', true);
    expect(find(v3.handle({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c2' } as Packet), 'connack')).toEqual({ type: 'connack', refusal: 'use-another-server', sessionPresent: false });
  });
});
