/**
 * scripts/kafka (lib.cjs + the kafka.mjs CLI) against real Kafka brokers: a
 * 1-node cluster whose data survives a SIGKILL + restart, and a 3-node cluster
 * that keeps producing and consuming with one node killed. Ports are picked at
 * random in a range no other suite uses, run dirs are fresh temp dirs, and
 * afterAll stops every JVM and removes the dirs even when a test fails.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, existsSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Kafka, logLevel, Admin, Producer, Consumer, KafkaMessage } from 'kafkajs';
import lib = require('../../scripts/kafka/lib.cjs');

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'scripts', 'kafka.mjs');

const dirs: string[] = [];
const clients: Array<Admin | Producer | Consumer> = [];

function newDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `mqlog-kafka-test-${tag}-`));
  dirs.push(d);
  return d;
}

function client(bootstrap: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 15000,
    retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
  });
}

function track<T extends Admin | Producer | Consumer>(c: T): T {
  clients.push(c);
  return c;
}

/** Reads `count` messages of `topic` from the beginning with a fresh consumer group. */
async function consumeAll(kafka: Kafka, topic: string, count: number, timeoutMs = 60_000): Promise<string[]> {
  const consumer = track(kafka.consumer({ groupId: `g-${topic}-${Date.now()}`, sessionTimeout: 10_000, heartbeatInterval: 1000 }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${values.length} of ${count} messages of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) {
          clearTimeout(timer);
          reject(e.payload.error);
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
            values.push(message.value!.toString());
            await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            if (values.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return values;
}

/**
 * Creates a topic and waits until every partition has a leader and a full ISR.
 * Not `createTopics({ waitForLeaders: true })`: on a multi-node cluster kafkajs
 * then asks a node whose metadata has not caught up yet and gives up on its
 * UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this topic-partition").
 */
async function createTopic(admin: Admin, topic: string, replicationFactor: number, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 1, replicationFactor, configEntries }] });
  const deadline = Date.now() + 30_000;
  let last = 'no metadata yet';
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const parts = md.topics[0].partitions;
      if (parts.length === 1 && parts.every((p) => p.leader >= 0 && p.isr.length === replicationFactor)) return;
      last = JSON.stringify(parts);
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic} not ready in 30 s: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(async () => {
  for (const c of clients) await c.disconnect().catch(() => undefined);
  for (const dir of dirs) {
    await lib.stopKafka({ dir, remove: true, quiet: true, timeoutMs: 5000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one broker: create, produce, consume; data survives SIGKILL + restart', async () => {
  const dir = newDir('1');
  const port = await lib.findFreePortBase(1, { min: 29100, max: 29900 });
  const cluster = await lib.startKafka({ brokers: 1, dir, port, quiet: true });
  expect(cluster.bootstrap).toBe(`127.0.0.1:${port}`);
  expect(cluster.brokers).toHaveLength(1);
  const pid = cluster.brokers[0].pid;
  expect(pid).toBeGreaterThan(0);

  // Idempotent: a second start finds the running broker (and so does the CLI).
  const again = await lib.startKafka({ dir, quiet: true });
  expect(again.bootstrap).toBe(cluster.bootstrap);
  expect(again.brokers[0].pid).toBe(pid);
  const viaCli = cli('start', '--dir', dir, '--quiet');
  expect(viaCli.stderr).toBe('');
  expect(viaCli.status).toBe(0);
  expect(viaCli.stdout.trim()).toBe(cluster.bootstrap);
  const status = JSON.parse(cli('status', '--dir', dir).stdout);
  expect(status).toMatchObject({ running: true, bootstrap: cluster.bootstrap, brokers: [{ id: 1, pid, alive: true, answering: true }] });

  const kafka = client(cluster.bootstrap, 'kafka-script-1');
  const admin = track(kafka.admin());
  await admin.connect();
  const topic = 'survives-restart';
  await createTopic(admin, topic, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  const producer = track(kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  expect(await consumeAll(kafka, topic, 5)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  await producer.disconnect();
  await admin.disconnect();

  const killed = await lib.killBroker({ dir, broker: 1, quiet: true });
  expect(killed.pid).toBe(pid);
  const down = await lib.kafkaStatus({ dir });
  expect(down.brokers[0]).toMatchObject({ alive: false, answering: false });
  await expect(lib.metadataRequest(port, { timeoutMs: 1000 })).rejects.toThrow();

  const restarted = await lib.restartBroker({ dir, broker: 1, quiet: true });
  expect(restarted.port).toBe(port);
  expect(restarted.pid).not.toBe(pid);

  const kafka2 = client(cluster.bootstrap, 'kafka-script-1b');
  const admin2 = track(kafka2.admin());
  await admin2.connect();
  const offsets = await admin2.fetchTopicOffsets(topic);
  expect(offsets).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '5' })]);
  const cfg = await admin2.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }] });
  expect(cfg.resources[0].configEntries[0]).toMatchObject({ configName: 'cleanup.policy', configValue: 'compact' });
  await admin2.disconnect();
  expect(await consumeAll(kafka2, topic, 5)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);

  const stopped = cli('stop', '--dir', dir);
  expect(stopped.status).toBe(0);
  expect((await lib.kafkaStatus({ dir })).brokers[0].alive).toBe(false);
  // stop is idempotent
  expect(cli('stop', '--dir', dir).status).toBe(0);
  await lib.stopKafka({ dir, remove: true, quiet: true });
  expect(existsSync(dir)).toBe(false);
});

test('three brokers: RF 3 topic keeps working with one broker killed, and it rejoins', async () => {
  const dir = newDir('3');
  const port = await lib.findFreePortBase(3, { min: 29100, max: 29900 });
  const cluster = await lib.startKafka({ brokers: 3, dir, port, quiet: true });
  expect(cluster.bootstrap).toBe(`127.0.0.1:${port},127.0.0.1:${port + 1},127.0.0.1:${port + 2}`);
  expect(cluster.brokers.map((b) => b.id)).toEqual([1, 2, 3]);
  // Every node sees all three.
  for (const b of cluster.brokers) {
    const md = await lib.metadataRequest(b.port);
    expect(md.brokers.map((x) => x.id).sort()).toEqual([1, 2, 3]);
  }

  const kafka = client(cluster.bootstrap, 'kafka-script-3');
  const admin = track(kafka.admin());
  await admin.connect();
  const topic = 'replicated';
  await createTopic(admin, topic, 3);
  const producer = track(kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `a${i}` })) });

  // Kill the partition leader: the hardest case.
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  const partition = md.topics[0].partitions[0];
  expect(partition.replicas.sort()).toEqual([1, 2, 3]);
  const victim = partition.leader;
  await lib.killBroker({ dir, broker: victim, quiet: true });
  const status = await lib.kafkaStatus({ dir });
  expect(status.brokers.filter((b) => b.alive).map((b) => b.id)).toHaveLength(2);

  await producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `b${i}` })) });
  const during = await consumeAll(kafka, topic, 10, 90_000);
  expect(during).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
  const newLeader = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions[0].leader;
  expect(newLeader).not.toBe(victim);

  // Bring it back (same data dir and port) and check the cluster is whole again.
  const back = await lib.restartBroker({ dir, broker: victim, quiet: true });
  expect(back.port).toBe(port + victim - 1);
  for (const b of cluster.brokers) {
    const m = await lib.metadataRequest(b.port);
    expect(m.brokers.map((x) => x.id).sort()).toEqual([1, 2, 3]);
  }
  await producer.send({ topic, acks: -1, messages: [{ value: 'c0' }] });
  expect(await consumeAll(kafka, topic, 11, 90_000)).toHaveLength(11);
  await producer.disconnect();
  await admin.disconnect();

  const res = await lib.stopKafka({ dir, remove: true, quiet: true });
  expect([...res.stopped, ...res.killed].sort()).toEqual([1, 2, 3]);
  expect(existsSync(dir)).toBe(false);
});
