/**
 * Attack: one anonymous CONNECT with the will flag and will QoS 3, then the
 * socket dropped. It once got CONNACK 0, published its will and wrote a record
 * the broker's own decoder refused: no retained message was delivered after,
 * and the node never started again on that data. Now the CONNECT is malformed
 * [MQTT-3.1.2-14]: the connection is closed without a CONNACK, nothing reaches
 * the log, and the broker serves and restarts as before.
 */
import { rmSync } from 'fs';
import { IPublishPacket } from 'mqtt-packet';
import { tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker, writeConfig, killIfRunning } from '../helpers/childBroker';
import { connectBytes } from '../helpers/packets';
import { RawClient } from '../helpers/rawClient';

jest.setTimeout(60_000);

let dir: string;
let broker: ChildBroker | null = null;

beforeEach(() => {
  dir = tempDir('mqlog-willqos3-');
});
afterEach(async () => {
  await killIfRunning(broker);
  rmSync(dir, { recursive: true, force: true });
});

/** Will flag, will QoS 3, will retain, clean session. */
const WILL_QOS3 = 0x04 | 0x18 | 0x20 | 0x02;

async function expectRetainedThenSentinel(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  await c.handshake('wq3-check');
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'kept/#', qos: 1 }, { topic: 'poison/#', qos: 1 }] });
  await c.nextCmd('suback');
  const first = await c.nextCmd<IPublishPacket>('publish');
  expect({ topic: first.topic, retain: first.retain, payload: first.payload.toString() }).toEqual({ topic: 'kept/r', retain: true, payload: 'still here' });
  // The will never published: the next message on poison/# is the sentinel.
  const p = await RawClient.connect(port);
  await p.handshake('wq3-sentinel');
  p.send({ cmd: 'publish', topic: 'poison/sentinel', payload: Buffer.from('s'), qos: 1, retain: false, dup: false, messageId: 1 });
  await p.nextCmd('puback');
  const next = await c.nextCmd<IPublishPacket>('publish');
  expect(next.topic).toBe('poison/sentinel');
  p.destroy();
  c.destroy();
}

test.each([
  ['the socket dropped', false],
  ['a clean DISCONNECT', true],
])('[MQTT-3.1.2-14] an anonymous CONNECT with will QoS 3 and %s: closed without CONNACK, no will, no record; retained delivery and restarts unharmed', async (_what, disconnect) => {
  const configFile = writeConfig(dir, brokerConfig(`${dir}/data`));
  broker = await spawnBroker(['start', '--config', configFile]);
  const setter = await RawClient.connect(broker.port);
  await setter.handshake('wq3-setter');
  setter.send({ cmd: 'publish', topic: 'kept/r', payload: Buffer.from('still here'), qos: 1, retain: true, dup: false, messageId: 1 });
  await setter.nextCmd('puback');
  setter.destroy();

  const attacker = await RawClient.connect(broker.port);
  attacker.send(connectBytes({ clientId: 'wq3', flags: WILL_QOS3, willTopic: 'poison/will', willPayload: Buffer.from('boom') }));
  if (disconnect) attacker.send(Buffer.from([0xe0, 0x00]));
  expect(await attacker.waitClosed(5000)).toBe(true);
  expect(attacker.packets.filter((p) => p.cmd === 'connack')).toEqual([]);
  await expectRetainedThenSentinel(broker.port);

  // A clean restart and a kill -9 restart on the same data both start and serve.
  broker.proc.kill('SIGTERM');
  expect(await broker.exited).toBe(0);
  broker = await spawnBroker(['start', '--config', configFile]);
  await expectRetainedThenSentinel(broker.port);
  broker.proc.kill('SIGKILL');
  await broker.exited;
  broker = await spawnBroker(['start', '--config', configFile]);
  await expectRetainedThenSentinel(broker.port);
});
