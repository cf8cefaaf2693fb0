'use strict';
// Checks which kafkajs operations work against a given Kafka version, on a real
// 1-broker (or --brokers N) KRaft cluster started with ./lib.cjs.
//
//   node scripts/kafka/kafkajs-compat.cjs --version 4.0.0 [--brokers 1] [--port 19500] [--kafkajs /tmp/kjs/node_modules/kafkajs]
//
// Prints one line per operation (ok / FAIL + error) and a JSON summary at the end.
// kafkajs is taken from --kafkajs, else from the repo's node_modules.
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const lib = require('./lib.cjs');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

function kafkajsVersion(kjsPath) {
  let d = path.dirname(require.resolve(kjsPath, { paths: [process.cwd(), path.join(__dirname, '..', '..')] }));
  for (let i = 0; i < 5; i++, d = path.dirname(d)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8'));
      if (pkg.name === 'kafkajs') return pkg.version;
    } catch {}
  }
  return '?';
}

async function main() {
  const version = arg('version', lib.DEFAULT_VERSION);
  const brokers = Number(arg('brokers', '1'));
  const port = Number(arg('port', '19500'));
  const kjsPath = arg('kafkajs', 'kafkajs');
  let kafkajs;
  try {
    kafkajs = require(require.resolve(kjsPath, { paths: [process.cwd(), path.join(__dirname, '..', '..')] }));
  } catch (err) {
    console.error(`cannot load kafkajs (${kjsPath}): ${err.message}\n(npm i kafkajs@2.2.4 in a scratch dir and pass --kafkajs DIR/node_modules/kafkajs)`);
    process.exit(2);
  }
  const { Kafka, logLevel } = kafkajs;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kafkajs-compat-${version}-`));
  const results = [];
  const record = async (name, fn) => {
    const t0 = Date.now();
    try {
      const detail = await fn();
      results.push({ op: name, ok: true, detail });
      console.log(`ok    ${name}${detail !== undefined ? `  ${JSON.stringify(detail)}` : ''}  (${Date.now() - t0} ms)`);
    } catch (err) {
      let msg = `${err.name}: ${err.message}${err.type ? ` [${err.type}]` : ''}`;
      const inner = err.partitions || err.errors || (err.cause ? [err.cause] : null);
      if (Array.isArray(inner) && inner.length) {
        msg += ` <- ${inner.map((e) => (e && e.error ? `p${e.partition}: ${e.error.name}: ${e.error.message}` : `${e && e.name}: ${e && e.message}`)).join('; ')}`;
      }
      results.push({ op: name, ok: false, error: msg });
      console.log(`FAIL  ${name}  ${msg}  (${Date.now() - t0} ms)`);
    }
  };

  const cluster = await lib.startKafka({ brokers, dir, port, version, quiet: true });
  console.log(`Kafka ${version}, ${brokers} broker(s), kafkajs ${kafkajsVersion(kjsPath)}, ${cluster.bootstrap}`);
  const kafka = new Kafka({
    clientId: 'compat',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 200 },
    connectionTimeout: 5000,
    requestTimeout: 10000,
  });
  const admin = kafka.admin();
  const topic = 'compat-compact';
  const plain = 'compat-plain';
  const rf = Math.min(3, brokers);
  try {
    await record('admin.connect (ApiVersions)', () => admin.connect());
    await record('admin.createTopics (cleanup.policy=compact)', () =>
      admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic, numPartitions: 2, replicationFactor: rf, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'min.compaction.lag.ms', value: '0' }] },
          { topic: plain, numPartitions: 1, replicationFactor: rf },
        ],
      }),
    );
    await record('admin.listTopics', async () => (await admin.listTopics()).filter((t) => t.startsWith('compat')).sort());
    await record('admin.fetchTopicMetadata', async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length);
    await record('admin.describeConfigs (topic)', async () => {
      const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['cleanup.policy'] }] });
      return r.resources[0].configEntries.map((e) => `${e.configName}=${e.configValue}`);
    });
    await record('admin.alterConfigs (topic retention.ms)', () =>
      admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] }),
    );
    await record('admin.createPartitions', () => admin.createPartitions({ topicPartitions: [{ topic: plain, count: 2 }] }));

    const t0 = Date.now();
    const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await record('producer.connect (idempotent)', () => idem.connect());
    await record('producer.send idempotent acks=-1 (InitProducerId+Produce)', async () => {
      const r = await idem.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}`, headers: { h: 'x' } })),
      });
      return r.map((x) => `${x.partition}@${x.baseOffset}`);
    });
    await record('producer.send idempotent gzip', () =>
      idem.send({ topic, acks: -1, compression: kafkajs.CompressionTypes.GZIP, messages: [{ key: 'gz', value: 'gzipped' }] }),
    );
    await idem.disconnect().catch(() => {});
    const plainProducer = kafka.producer();
    await record('producer.send plain acks=1', async () => {
      await plainProducer.connect();
      return (await plainProducer.send({ topic: plain, acks: 1, messages: [{ value: 'a' }, { value: 'b' }] })).map((x) => x.baseOffset);
    });
    await plainProducer.disconnect().catch(() => {});
    const txp = kafka.producer({ transactionalId: 'compat-tx', idempotent: true, maxInFlightRequests: 1 });
    await record('transactional producer send+commit', async () => {
      await txp.connect();
      const tx = await txp.transaction();
      await tx.send({ topic: plain, messages: [{ value: 'tx' }] });
      await tx.commit();
    });
    await txp.disconnect().catch(() => {});

    const consumer = kafka.consumer({ groupId: 'compat-group', sessionTimeout: 10000, heartbeatInterval: 1000, retry: { retries: 3 } });
    await record('consumer group join + consume 11 messages', async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let n = 0;
      const crashes = [];
      const started = Date.now();
      const done = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${n} of 11 messages within 60 s; crashes: ${crashes.join(' | ')}`)), 60000);
        consumer.on(consumer.events.CRASH, (e) => {
          crashes.push(`${e.payload.error.name}: ${e.payload.error.message}${e.payload.restart ? ' (kafkajs restarts the consumer)' : ''}`);
          if (!e.payload.restart) { clearTimeout(timer); reject(e.payload.error); }
        });
        consumer.run({
          autoCommit: false,
          eachMessage: async ({ topic: t, partition, message }) => {
            n++;
            await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            if (n === 11) { clearTimeout(timer); resolve(crashes.length ? `${n} after ${Date.now() - started} ms and ${crashes.length} consumer crash(es)/restarts: ${crashes.join(' | ')}` : n); }
          },
        }).catch(reject);
      });
      return done;
    });
    await consumer.disconnect().catch(() => {});
    await record('admin.fetchOffsets (committed, OffsetFetch)', async () =>
      (await admin.fetchOffsets({ groupId: 'compat-group', topics: [topic] }))[0].partitions.map((p) => `${p.partition}:${p.offset}`).sort(),
    );
    await record('admin.describeGroups', async () => (await admin.describeGroups(['compat-group'])).groups.map((g) => `${g.groupId}:${g.state}`));
    await record('admin.listGroups', async () => (await admin.listGroups()).groups.map((g) => g.groupId));
    await record('admin.fetchTopicOffsets (ListOffsets latest/earliest)', async () =>
      (await admin.fetchTopicOffsets(topic)).map((p) => `${p.partition}:${p.low}-${p.high}`).sort(),
    );
    await record('admin.fetchTopicOffsetsByTimestamp (ListOffsets by time)', async () =>
      (await admin.fetchTopicOffsetsByTimestamp(topic, t0)).map((p) => `${p.partition}:${p.offset}`).sort(),
    );
    await record('admin.resetOffsets + setOffsets', async () => {
      await admin.resetOffsets({ groupId: 'compat-group', topic, earliest: true });
      await admin.setOffsets({ groupId: 'compat-group', topic, partitions: [{ partition: 0, offset: '1' }] });
    });
    await record('admin.deleteGroups', () => admin.deleteGroups(['compat-group']));
    await record('admin.deleteTopicRecords (DeleteRecords)', async () => {
      const low = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0);
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] });
      return `p0 ${low.low}-${low.high} -> deleted before 1`;
    });
    await record('admin.deleteTopics', () => admin.deleteTopics({ topics: [plain] }));
  } finally {
    await admin.disconnect().catch(() => {});
    await lib.stopKafka({ dir, remove: true, quiet: true, timeoutMs: 10000 });
  }
  const failed = results.filter((r) => !r.ok);
  console.log(JSON.stringify({ version, ok: results.length - failed.length, failed: failed.length, results }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
