/**
 * Kafka failing under mqlog: unreachable at start, a broker restart, and one of
 * three brokers killed. Each case has its own real Kafka cluster (its own ports
 * and directory), started and stopped here.
 */
import { rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import mqtt from 'mqtt';
import { IPublishPacket } from 'mqtt-packet';
import pino from 'pino';
import { TestBroker, tempDir } from '../helpers/broker';
import { brokerConfig, ChildBroker, spawnBroker } from '../helpers/childBroker';
import { kafkaNodeConfig, startKafkaNode, uniquePrefix } from '../helpers/cluster';
import { kafkaLib } from '../helpers/kafka';
import { RawClient, sleep, waitFor } from '../helpers/rawClient';
import { collect } from '../helpers/suite';

jest.setTimeout(240_000);

const root = tempDir('mqlog-kafkafail-');
const clusters: string[] = [];

async function kafkaCluster(name: string, brokers: number, port: number): Promise<{ dir: string; bootstrap: string[] }> {
  const dir = join(root, name);
  clusters.push(dir);
  const { bootstrap } = await kafkaLib.startKafka({ brokers, dir, port, quiet: true });
  return { dir, bootstrap: bootstrap.split(',') };
}

// Below the kernel's ephemeral range (32768+): a port picked there can be taken
// by any outgoing connection between a broker's stop and its restart.
function freeKafkaPort(brokers: number): Promise<number> {
  return kafkaLib.findFreePortBase(brokers, { min: 31200, max: 31800 });
}

afterAll(async () => {
  for (const dir of clusters) await kafkaLib.stopKafka({ dir, rm: true }).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

test('Kafka unreachable at start: a clear error, retries with backoff, and the node starts once Kafka is there', async () => {
  const port = await freeKafkaPort(1);
  const file = join(root, 'unreachable.json');
  writeFileSync(file, JSON.stringify({ ...brokerConfig(join(root, 'unreachable-data')), ...kafkaNodeConfig([`127.0.0.1:${port}`], uniquePrefix('unreach'), 'unreach-a') }));
  // spawnBroker resolves once the node is up, which it cannot be before Kafka is.
  const started = spawnBroker(['start', '--config', file], 120_000);
  await sleep(6000);
  const { bootstrap } = await kafkaCluster('late', 1, port);
  expect(bootstrap).toEqual([`127.0.0.1:${port}`]);
  const child: ChildBroker = await started;
  const out = child.output();
  const retries = out.split('\n').filter((l) => l.includes('Kafka unreachable; retrying'));
  expect(retries.length).toBeGreaterThanOrEqual(2);
  const delays = retries.map((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs);
  expect(delays[1]).toBeGreaterThan(delays[0]);
  expect(JSON.parse(retries[0]).brokers).toEqual([`127.0.0.1:${port}`]);
  const c = await RawClient.connect(child.port);
  expect((await c.handshake('after-kafka-came')).returnCode).toBe(0);
  c.destroy();
  child.proc.kill('SIGTERM');
  expect(await child.exited).toBe(0);
});

describe('a Kafka broker restart', () => {
  let node: TestBroker;
  let kafkaDir: string;

  afterAll(async () => {
    await node?.stop();
    node?.cleanup();
  });

  test('QoS 1 waits for Kafka (no PUBACK), QoS 0 is shed and counted, and everything resumes without a node restart', async () => {
    const cluster = await kafkaCluster('restart', 1, await freeKafkaPort(1));
    kafkaDir = cluster.dir;
    // MQLOG_TEST_LOG_FILE=path: the node's log (debug) with the test's steps, for a timeline when this fails.
    const dbgFile = process.env.MQLOG_TEST_LOG_FILE;
    const dbg = dbgFile ? pino({ level: 'debug' }, pino.destination({ dest: dbgFile, sync: true })) : undefined;
    const mark = (msg: string) => dbg?.info({ step: true }, `TEST ${msg}`);
    node = await startKafkaNode(cluster.bootstrap, uniquePrefix('restart'), 'restart-a', {
      log: { kafka: { maxBufferedBytes: 64 * 1024, requestTimeoutMs: 3000 } },
    }, dbg ? { logger: dbg } : {});
    const sub = await mqtt.connectAsync(node.url, { clientId: 'kr-sub', reconnectPeriod: 0 });
    const got = collect(sub);
    sub.on('message', (topic, payload) => {
      if (topic !== 'kr/qos0') mark(`subscriber got ${topic} ${payload.toString()}`);
    });
    await sub.subscribeAsync('kr/#', { qos: 1 });
    const pub = await mqtt.connectAsync(node.url, { clientId: 'kr-pub', reconnectPeriod: 0, keepalive: 0 });
    await pub.publishAsync('kr/before', 'before', { qos: 1 });
    await waitFor(() => got.length === 1, 'delivery before the restart', 10_000);

    mark('killing broker');
    await kafkaLib.killBroker({ dir: kafkaDir, broker: 1 });
    mark('killed broker');
    let acked = false;
    const during = pub.publishAsync('kr/during', 'during', { qos: 1 }).then(() => {
      acked = true;
      mark('during acked');
    });
    const dropsBefore = node.node.stats.publishDropped;
    const big = Buffer.alloc(8 * 1024, 7);
    for (let i = 0; i < 40; i++) pub.publish('kr/qos0', big, { qos: 0 });
    await sleep(4000);
    expect(acked).toBe(false); // not durable, so not acknowledged
    expect(node.node.stats.publishDropped).toBeGreaterThan(dropsBefore); // QoS 0 shed past the buffer bound

    mark('restarting broker');
    await kafkaLib.restartBroker({ dir: kafkaDir, broker: 1 });
    mark('broker restarted');
    // Two steps that fail apart: the append reaching Kafka (PUBACK), then the tail reading it back.
    await waitFor(() => acked, 'the PUBACK of the held message after the restart', 60_000);
    await during;
    await waitFor(() => got.some((g) => g.payload === 'during'), 'the held message after the restart', 60_000);
    await pub.publishAsync('kr/after', 'after', { qos: 1 });
    await waitFor(() => got.some((g) => g.payload === 'after'), 'delivery after the restart', 30_000);
    expect(got.filter((g) => g.topic !== 'kr/qos0').map((g) => g.payload)).toEqual(['before', 'during', 'after']);
    await sub.endAsync();
    await pub.endAsync();
  });
});

describe('three Kafka brokers, one killed', () => {
  let node: TestBroker;
  let other: TestBroker;

  afterAll(async () => {
    for (const n of [node, other]) {
      await n?.stop();
      n?.cleanup();
    }
  });

  test('nothing acknowledged is lost while a broker dies and comes back', async () => {
    const cluster = await kafkaCluster('three', 3, await freeKafkaPort(3));
    const prefix = uniquePrefix('three');
    const opts = { log: { kafka: { replicationFactor: 3, minInsyncReplicas: 2 } } };
    node = await startKafkaNode(cluster.bootstrap, prefix, 'three-a', opts);
    other = await startKafkaNode(cluster.bootstrap, prefix, 'three-b', opts);
    const sub = await RawClient.connect(other.ports.tcp!);
    await sub.handshake('three-sub', { clean: false });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'three/#', qos: 1 }] });
    await sub.nextCmd('suback', 10_000);
    const received = new Set<number>();
    void (async () => {
      for (;;) {
        try {
          const p = await sub.nextCmd<IPublishPacket>('publish', 120_000);
          received.add(Number(p.payload.toString()));
          sub.send({ cmd: 'puback', messageId: p.messageId });
        } catch {
          return;
        }
      }
    })();
    const pub = await mqtt.connectAsync(node.url, { clientId: 'three-pub', reconnectPeriod: 0 });
    const acked = new Set<number>();
    let running = true;
    const flow = (async () => {
      for (let i = 0; running; i++) {
        await pub.publishAsync(`three/${i % 4}`, String(i), { qos: 1 });
        acked.add(i);
      }
    })();
    await sleep(1500);
    await kafkaLib.killBroker({ dir: cluster.dir, broker: 2 });
    await sleep(4000);
    await kafkaLib.restartBroker({ dir: cluster.dir, broker: 2 });
    await sleep(1500);
    running = false;
    await flow;
    await pub.endAsync();
    // Publishing stalls while Kafka moves the dead broker's partition leaders; what matters is what was acknowledged.
    expect(acked.size).toBeGreaterThan(20);
    await waitFor(() => [...acked].every((i) => received.has(i)), 'every acknowledged message at the subscriber', 60_000);
    sub.destroy();
  });
});
