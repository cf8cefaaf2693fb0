/**
 * The broker killed at each named crash point of a flush (BatchJournal) while a
 * publisher sends retained QoS 2 messages: a message, its retained record and
 * the PUBREC event of its exchange are in three partitions, and a crash between
 * their writes once kept one without the others. After a restart the publisher
 * resends what was not acknowledged, as the spec has it [MQTT-4.4.0-1]; then
 * every message is delivered exactly once, in order, and the retained message
 * is the last one. Nothing acknowledged is lost and no QoS 2 message is
 * delivered twice.
 */
import { rmSync } from 'fs';
import { IPublishPacket } from 'mqtt-packet';
import { tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker, writeConfig, killIfRunning } from '../helpers/childBroker';
import { drainPublishes, RawClient } from '../helpers/rawClient';

jest.setTimeout(120_000);

const TOTAL = 24;
let dir: string;
let broker: ChildBroker | null = null;

beforeEach(() => {
  dir = tempDir('mqlog-crashpoints-');
});

afterEach(async () => {
  await killIfRunning(broker);
  broker = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Where the publisher stands in the QoS 2 exchange of message k. */
type Step = { k: number; phase: 'publish' | 'pubrel' };

/** Publishes k = from..TOTAL, each a full QoS 2 exchange, until the connection drops; returns where it stopped. */
async function publishFrom(c: RawClient, step: Step): Promise<Step | null> {
  let { k, phase } = step;
  try {
    for (; k <= TOTAL; k++, phase = 'publish') {
      if (phase === 'publish') {
        c.send({ cmd: 'publish', topic: 'cp/r', payload: Buffer.from(String(k)), qos: 2, retain: true, dup: step.k === k && step.phase === 'publish' && k !== 1, messageId: k });
        await c.next((p) => p.cmd === 'pubrec' && p.messageId === k, 10_000);
        phase = 'pubrel';
      }
      c.send({ cmd: 'pubrel', messageId: k });
      await c.next((p) => p.cmd === 'pubcomp' && p.messageId === k, 10_000);
    }
    return null;
  } catch {
    return { k, phase };
  }
}

test.each([
  ['file-log.between-partition-writes', 5],
  ['file-log.between-partition-writes', 12],
  ['file-log.before-commit', 6],
  ['file-log.after-commit', 7],
  ['file-log.before-write', 9],
])('killed at %s (occurrence %i) mid-stream: every retained QoS 2 message once, the retained one the last', async (point, nth) => {
  const configFile = writeConfig(dir, brokerConfig(`${dir}/data`));
  broker = await spawnBroker(['start', '--config', configFile], 20_000, { MQLOG_TEST_CRASH_AT: `${point}:${nth}`, MQLOG_TEST_CRASH_ARM: 'SIGUSR2' });
  const sub = await RawClient.connect(broker.port);
  await sub.handshake('cp-sub', { clean: false });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cp/#', qos: 2 }] });
  await sub.nextCmd('suback');
  sub.send({ cmd: 'disconnect' });
  await sub.waitClosed();

  let pub = await RawClient.connect(broker.port);
  await pub.handshake('cp-pub', { clean: false });
  broker.proc.kill('SIGUSR2'); // from here on the flushes are counted
  const stopped = await publishFrom(pub, { k: 1, phase: 'publish' });
  expect(stopped).not.toBeNull(); // the crash came mid-stream
  expect(await broker.exited).toBe('SIGKILL');

  broker = await spawnBroker(['start', '--config', configFile]);
  pub = await RawClient.connect(broker.port);
  const connack = await pub.handshake('cp-pub', { clean: false });
  expect(connack.sessionPresent).toBe(true);
  // Resend what was not acknowledged: the PUBLISH (with DUP) before its PUBREC, else the PUBREL.
  expect(await publishFrom(pub, stopped!)).toBeNull();
  pub.send({ cmd: 'disconnect' });

  const back = await RawClient.connect(broker.port);
  await back.handshake('cp-sub', { clean: false });
  const got = await drainPublishes(back, 1500);
  expect(got.map((p) => p.payload.toString())).toEqual(Array.from({ length: TOTAL }, (_, i) => String(i + 1)));
  back.destroy();

  const fresh = await RawClient.connect(broker.port);
  await fresh.handshake('cp-fresh');
  fresh.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cp/#', qos: 1 }] });
  const retained = await fresh.nextCmd<IPublishPacket>('publish');
  expect({ retain: retained.retain, payload: retained.payload.toString() }).toEqual({ retain: true, payload: String(TOTAL) });
  fresh.destroy();
});
