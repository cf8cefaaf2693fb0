/**
 * Attacks on resources that once had no bound. One 80 KB SUBSCRIBE of 20,000
 * `#` filters over 1,000 retained messages was granted in full and grew the
 * broker from 95 MB to 2.85 GB while a canary's round trips were lost for 10 s;
 * a client could announce a 268 MB packet before authenticating (50 such
 * sockets held 106 MB); there was no connection limit, persistent sessions
 * never expired, and subscriptions and retained messages per client were
 * unbounded. Each now has a limit with a documented default, counted when hit.
 */
import { readFileSync, rmSync } from 'fs';
import mqtt from 'mqtt';
import mqttPacket, { IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { connect as tcpConnect } from 'net';
import { api, apiBase } from '../helpers/api';
import { startBroker, tempDir, TestBroker } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker, writeConfig } from '../helpers/childBroker';
import { connectBytes } from '../helpers/packets';
import { drainPublishes, RawClient, sleep, waitFor } from '../helpers/rawClient';

jest.setTimeout(120_000);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** A QoS 1 round trip every 20 ms on a `$` topic (so the attacker's `#` does not see it); reports the longest one. */
async function canary(url: string) {
  const sub = await mqtt.connectAsync(url, { clientId: 'canary-sub', reconnectPeriod: 0 });
  const pub = await mqtt.connectAsync(url, { clientId: 'canary-pub', reconnectPeriod: 0 });
  await sub.subscribeAsync('$canary/rt', { qos: 1 });
  let longest = 0;
  let seq = 0;
  let running = true;
  const waiting = new Map<number, number>();
  sub.on('message', (_t, p) => {
    const sent = waiting.get(Number(p.toString()));
    if (sent !== undefined) longest = Math.max(longest, Date.now() - sent);
    waiting.delete(Number(p.toString()));
  });
  const loop = (async () => {
    while (running) {
      waiting.set(seq, Date.now());
      await pub.publishAsync('$canary/rt', String(seq++), { qos: 1 });
      await sleep(20);
    }
  })();
  return {
    async stop(): Promise<{ longest: number; lost: number }> {
      running = false;
      await loop;
      await waitFor(() => waiting.size === 0, 'the canary to drain', 10_000).catch(() => undefined);
      const lost = waiting.size;
      for (const sent of waiting.values()) longest = Math.max(longest, Date.now() - sent);
      await sub.endAsync();
      await pub.endAsync();
      return { longest, lost };
    },
  };
}

describe('in a broker process of its own (memory measured)', () => {
  let dir: string;
  let broker: ChildBroker;
  beforeAll(async () => {
    dir = tempDir('mqlog-unbounded-');
    broker = await spawnBroker(['start', '--config', writeConfig(dir, brokerConfig(`${dir}/data`))]);
  });
  afterAll(async () => {
    broker.proc.kill('SIGKILL');
    await broker.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test('one SUBSCRIBE of 20,000 `#` filters over 1,000 retained messages: 1,000 filters answered (mqtt.maxFiltersPerSubscribe), each retained message sent once, memory bounded, the canary unharmed', async () => {
    const setter = await RawClient.connect(broker.port);
    await setter.handshake('ub-setter');
    for (let i = 0; i < 1000; i++) setter.send({ cmd: 'publish', topic: `ub/r/${i}`, payload: Buffer.alloc(64, 1), qos: 0, retain: true, dup: false });
    setter.send({ cmd: 'publish', topic: 'ub/last', payload: Buffer.from('x'), qos: 1, retain: true, dup: false, messageId: 1 });
    await setter.nextCmd('puback');
    setter.destroy();
    const before = rssMb(broker.proc.pid!);
    const c = await canary(`mqtt://127.0.0.1:${broker.port}`);

    const attacker = await RawClient.connect(broker.port);
    await attacker.handshake('ub-attacker');
    const subscribe = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 20_000 }, () => ({ topic: '#', qos: 1 as const })) });
    expect(subscribe.length).toBeGreaterThan(80_000);
    attacker.send(subscribe);
    const suback = await attacker.nextCmd<ISubackPacket>('suback', 20_000);
    expect(suback.granted.length).toBe(20_000); // one code per filter [MQTT-3.8.4-5]
    expect(suback.granted.slice(0, 1000).every((g) => g === 1)).toBe(true);
    expect(suback.granted.slice(1000).every((g) => g === 0x80)).toBe(true);
    const got = await drainPublishes(attacker, 1500);
    expect(got.length).toBe(1001); // each retained message once, not once per filter
    expect(new Set(got.map((p) => p.topic)).size).toBe(1001);
    attacker.destroy();

    const canaryResult = await c.stop();
    expect(canaryResult.lost).toBe(0);
    expect(canaryResult.longest).toBeLessThan(3000);
    expect(rssMb(broker.proc.pid!) - before).toBeLessThan(150);
  });

  test('before authentication no client makes the broker buffer more than mqtt.maxPacketSizeBeforeConnect: 50 sockets announcing 268 MB are closed at once', async () => {
    const before = rssMb(broker.proc.pid!);
    const sockets = await Promise.all(
      Array.from({ length: 50 }, () =>
        new Promise<RawClient>((resolve) => {
          void RawClient.connect(broker.port).then((c) => {
            c.send(Buffer.concat([Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(60_000, 1)]));
            resolve(c);
          });
        }),
      ),
    );
    for (const s of sockets) expect(await s.waitClosed(3000)).toBe(true);
    expect(rssMb(broker.proc.pid!) - before).toBeLessThan(30);
    // A CONNECT just over the limit is refused the same way; after CONNACK the post-handshake limit (1 MiB) applies.
    const big = await RawClient.connect(broker.port);
    big.send(connectBytes({ clientId: 'c'.repeat(65_530) }));
    expect(await big.waitClosed(3000)).toBe(true);
    const ok = await RawClient.connect(broker.port);
    await ok.handshake('ub-big-publish');
    ok.send({ cmd: 'publish', topic: 'ub/big', payload: Buffer.alloc(500_000, 2), qos: 1, retain: false, dup: false, messageId: 1 });
    await ok.nextCmd('puback');
    ok.destroy();
  });
});

describe('limits (in process)', () => {
  let broker: TestBroker;
  afterEach(async () => {
    await broker.stop();
    broker.cleanup();
  });

  function rawFrom(localAddress: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ port: broker.ports.tcp!, host: '127.0.0.1', localAddress });
      s.once('connect', () => resolve(RawClient.wrap(s)));
      s.once('error', reject);
    });
  }

  test('limits.maxConnectionsPerIp and limits.maxConnections: sockets past them are closed before anything is read, and counted', async () => {
    broker = await startBroker({ limits: { maxConnections: 25, maxConnectionsPerIp: 20 } });
    const open: RawClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await rawFrom('127.0.0.1');
      expect((await c.handshake(`cl-a-${i}`)).returnCode).toBe(0);
      open.push(c);
    }
    const over = await rawFrom('127.0.0.1');
    over.send(connectBytes({ clientId: 'cl-a-over' }));
    expect(await over.waitClosed(3000)).toBe(true);
    expect(over.packets).toEqual([]);
    for (let i = 0; i < 5; i++) {
      const c = await rawFrom('127.0.0.2');
      expect((await c.handshake(`cl-b-${i}`)).returnCode).toBe(0);
      open.push(c);
    }
    const total = await rawFrom('127.0.0.3');
    expect(await total.waitClosed(3000)).toBe(true);
    expect(broker.node.limits.count('limits.maxConnectionsPerIp')).toBe(1);
    expect(broker.node.limits.count('limits.maxConnections')).toBe(1);
    const metrics = await api<string>(apiBase(broker.ports.api), 'GET', '/metrics');
    expect(metrics.body).toMatch(/^mqlog_limit_hits_total\{limit="limits.maxConnections"\} 1$/m);
    // A slot freed is a slot taken again.
    open.pop()!.destroy();
    await waitFor(() => broker.node.connectionCount === 24, 'the closed connection to be gone');
    const again = await rawFrom('127.0.0.3');
    expect((await again.handshake('cl-c-0')).returnCode).toBe(0);
    for (const c of [...open, again]) c.destroy();
  });

  test('mqtt.maxSubscriptionsPerClient and mqtt.maxFiltersPerSubscribe: filters past them get 0x80; a repeated filter is one subscription', async () => {
    broker = await startBroker({ mqtt: { maxSubscriptionsPerClient: 5, maxFiltersPerSubscribe: 4 } });
    const c = await RawClient.connect(broker.ports.tcp!);
    await c.handshake('subs-limit');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['a', 'b', 'a', 'c', 'd'].map((topic) => ({ topic, qos: 1 as const })) });
    expect((await c.nextCmd<ISubackPacket>('suback')).granted).toEqual([1, 1, 1, 1, 0x80]);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: ['a', 'd', 'e', 'f'].map((topic) => ({ topic, qos: 0 as const })) });
    expect((await c.nextCmd<ISubackPacket>('suback')).granted).toEqual([0, 0, 0, 0x80]);
    expect(broker.node.limits.count('mqtt.maxSubscriptionsPerClient')).toBe(1);
    expect(broker.node.limits.count('mqtt.maxFiltersPerSubscribe')).toBe(1);
    c.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['a'] });
    await c.nextCmd('unsuback');
    c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'f', qos: 0 }] });
    expect((await c.nextCmd<ISubackPacket>('suback')).granted).toEqual([0]);
    c.destroy();
  });

  test('mqtt.maxRetainedMessages and mqtt.maxRetainedBytes: a retained PUBLISH for a new topic past them is delivered but not retained; replacing and clearing still work', async () => {
    broker = await startBroker({ mqtt: { maxRetainedMessages: 3, maxRetainedBytes: 400 } });
    const p = await RawClient.connect(broker.ports.tcp!);
    await p.handshake('ret-limit-pub');
    const sub = await RawClient.connect(broker.ports.tcp!);
    await sub.handshake('ret-limit-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rl/#', qos: 1 }] });
    await sub.nextCmd('suback');
    const publish = async (topic: string, payload: Buffer, id: number) => {
      p.send({ cmd: 'publish', topic, payload, qos: 1, retain: true, dup: false, messageId: id });
      await p.next((x) => x.cmd === 'puback' && x.messageId === id);
      expect((await sub.nextCmd<IPublishPacket>('publish')).topic).toBe(topic); // delivered either way
    };
    await publish('rl/1', Buffer.from('one'), 1);
    await publish('rl/2', Buffer.from('two'), 2);
    await publish('rl/3', Buffer.from('three'), 3);
    await publish('rl/4', Buffer.from('four'), 4); // a fourth topic: not retained
    await publish('rl/1', Buffer.from('one again'), 5); // replacing: retained
    await publish('rl/2', Buffer.alloc(390, 1), 6); // past the byte limit: not retained, rl/2 keeps 'two'
    await publish('rl/3', Buffer.alloc(0), 7); // clearing: always
    expect([...broker.node.retained.keys()].sort()).toEqual(['rl/1', 'rl/2']);
    expect(broker.node.retained.get('rl/1')!.message.payload.toString()).toBe('one again');
    expect(broker.node.retained.get('rl/2')!.message.payload.toString()).toBe('two');
    expect(broker.node.limits.count('mqtt.maxRetainedMessages')).toBe(1);
    expect(broker.node.limits.count('mqtt.maxRetainedBytes')).toBe(1);
    p.destroy();
    sub.destroy();
  });

  test('mqtt.sessionExpiryMs: a persistent session offline past its expiry is discarded by an event in the log; its subscriptions deliver nothing more', async () => {
    broker = await startBroker({ mqtt: { sessionExpiryMs: 1000 }, cluster: { heartbeatIntervalMs: 200, nodeTimeoutMs: 1000 } });
    const c = await RawClient.connect(broker.ports.tcp!);
    await c.handshake('expiring', { clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'exp/#', qos: 1 }] });
    await c.nextCmd('suback');
    c.send({ cmd: 'disconnect' });
    await c.waitClosed();
    await waitFor(() => !broker.node.sessions.state.has('expiring'), 'the session to expire', 10_000);
    expect(broker.node.stats.sessionsExpired).toBe(1);
    const p = await RawClient.connect(broker.ports.tcp!);
    await p.handshake('exp-pub');
    p.send({ cmd: 'publish', topic: 'exp/lost', payload: Buffer.from('nobody'), qos: 1, retain: false, dup: false, messageId: 1 });
    await p.nextCmd('puback');
    const back = await RawClient.connect(broker.ports.tcp!);
    const connack = await back.handshake('expiring', { clean: false });
    expect(connack.sessionPresent).toBe(false);
    // Nothing queued: the first thing it gets is what it subscribes to now.
    back.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'exp/after', qos: 1 }] });
    await back.nextCmd('suback');
    p.send({ cmd: 'publish', topic: 'exp/after', payload: Buffer.from('sentinel'), qos: 1, retain: false, dup: false, messageId: 2 });
    expect((await back.nextCmd<IPublishPacket>('publish')).payload.toString()).toBe('sentinel');
    for (const x of [p, back]) x.destroy();
  });
});
