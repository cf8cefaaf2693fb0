/**
 * The broker-level connector contract: a connector named by its configuration
 * `type` in `auth.connectors` and `acl.connectors`, behind a running broker,
 * decides real MQTT logins and subscriptions. Run unchanged for every back end
 * that answers both questions (MySQL, PostgreSQL, Redis, HTTP).
 */
import { IConnackPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import type { ConnectorConfig } from '../../src/config';
import { startBroker, TestBroker } from '../helpers/broker';
import { RawClient, sleep } from '../helpers/rawClient';
import { SeededRule } from './aclSource.contract';
import { SeedUser } from './authenticator.contract';

export interface BrokerConnectorFixture {
  /** Seeds users and rules (replacing earlier ones) and returns a connector configuration on that back end. */
  seed(users: SeedUser[], rules: SeededRule[]): Promise<ConnectorConfig>;
  /** A configuration whose back end cannot be reached (a closed port). */
  unreachable(): Promise<ConnectorConfig>;
  cleanup(): Promise<void>;
}

const USERS: SeedUser[] = [
  { username: 'alice', password: 'wonder-land!' },
  { username: 'carol', password: 'c4rol' },
];

const RULES: SeededRule[] = [
  { username: 'alice', rule: { permission: 'allow', action: 'all', topic: 'sensors/%u/#' } },
  // Rules apply in order, first match decides: the narrower deny comes first.
  { username: 'alice', rule: { permission: 'deny', action: 'subscribe', topic: 'fleet/secret/#' } },
  { username: 'alice', rule: { permission: 'allow', action: 'subscribe', topic: 'fleet/#' } },
  { username: 'carol', rule: { permission: 'allow', action: 'publish', topic: '#' } },
];

async function brokerWith(connector: ConnectorConfig): Promise<TestBroker> {
  return startBroker({
    auth: { allowAnonymous: false, connectors: [connector], timeoutMs: 2000 },
    acl: { default: 'deny', connectors: [connector] },
  });
}

async function login(broker: TestBroker, username: string, password: string): Promise<{ client: RawClient; ack: IConnackPacket }> {
  const client = await RawClient.connect(broker.ports.tcp!);
  const ack = await client.handshake(`${username}-${Math.random().toString(36).slice(2)}`, { username, password: Buffer.from(password) });
  return { client, ack };
}

export function describeBrokerConnectorContract(type: string, fixture: BrokerConnectorFixture): void {
  describe(`connector "${type}" through the broker`, () => {
    let broker: TestBroker | null = null;
    const clients: RawClient[] = [];
    const track = (c: { client: RawClient; ack: IConnackPacket }) => {
      clients.push(c.client);
      return c;
    };

    afterEach(async () => {
      for (const c of clients.splice(0)) c.destroy();
      await broker?.stop();
      broker?.cleanup();
      broker = null;
    });
    afterAll(() => fixture.cleanup());

    test('a good login gets CONNACK 0; a bad password and an unknown user get CONNACK 4', async () => {
      const config = await fixture.seed(USERS, RULES);
      expect(config.type).toBe(type);
      broker = await brokerWith(config);
      expect(track(await login(broker, 'alice', 'wonder-land!')).ack.returnCode).toBe(0);
      expect(track(await login(broker, 'alice', 'wonder-land')).ack.returnCode).toBe(4);
      expect(track(await login(broker, 'mallory', 'wonder-land!')).ack.returnCode).toBe(4);
    });

    test('rules from the back end decide subscriptions (SUBACK 0x80) and deliveries, with %u substituted', async () => {
      broker = await brokerWith(await fixture.seed(USERS, RULES));
      const alice = track(await login(broker, 'alice', 'wonder-land!')).client;
      alice.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: 'sensors/alice/#', qos: 1 },
          { topic: 'sensors/bob/#', qos: 1 },
          { topic: 'fleet/secret/#', qos: 1 },
          { topic: 'fleet/#', qos: 1 },
        ],
      });
      expect((await alice.nextCmd<ISubackPacket>('suback')).granted).toEqual([1, 128, 128, 1]);
      // carol may publish anywhere; alice's `fleet/#` must still not carry fleet/secret/… to her.
      const carol = track(await login(broker, 'carol', 'c4rol')).client;
      for (const [i, topic] of ['fleet/secret/codes', 'fleet/truck-1', 'sensors/alice/t'].entries()) {
        carol.send({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 1, messageId: i + 1, retain: false, dup: false });
        await carol.next((p) => p.cmd === 'puback' && p.messageId === i + 1);
      }
      const got = new Set<string>();
      for (let i = 0; i < 2; i++) got.add((await alice.nextCmd<IPublishPacket>('publish')).topic);
      expect([...got].sort()).toEqual(['fleet/truck-1', 'sensors/alice/t']);
      // Nothing else came: the next message alice gets is a sentinel published after them.
      carol.send({ cmd: 'publish', topic: 'sensors/alice/sentinel', payload: Buffer.from('s'), qos: 1, messageId: 8, retain: false, dup: false });
      await carol.next((p) => p.cmd === 'puback' && p.messageId === 8);
      expect((await alice.nextCmd<IPublishPacket>('publish')).topic).toBe('sensors/alice/sentinel');
      // alice may not publish outside sensors/alice/#: acknowledged, dropped and counted.
      const denied = broker.node.stats.publishDenied;
      alice.send({ cmd: 'publish', topic: 'sensors/bob/t', payload: Buffer.from('x'), qos: 1, messageId: 9, retain: false, dup: false });
      await alice.next((p) => p.cmd === 'puback' && p.messageId === 9);
      expect(broker.node.stats.publishDenied).toBe(denied + 1);
    });

    test('a back end that is down gets CONNACK 3 (server unavailable), never an open door', async () => {
      broker = await brokerWith(await fixture.unreachable());
      const { client, ack } = track(await login(broker, 'alice', 'wonder-land!'));
      expect(ack.returnCode).toBe(3);
      expect(await client.waitClosed()).toBe(true);
    });
  });
}
