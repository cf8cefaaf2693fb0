/**
 * Kafka-specific: a record Kafka refuses for good fails only its own append,
 * not the others batched with it.
 */
import { KafkaEventLog } from '../../src/log/kafka/KafkaEventLog';
import { kafkaBrokers } from '../helpers/kafka';

jest.setTimeout(60_000);

test('a record Kafka refuses for good fails only its own append', async () => {
  const log = new KafkaEventLog({ brokers: await kafkaBrokers(), clientId: 'refusal', replicationFactor: 1, minInsyncReplicas: 1 });
  const stream = `refusal-${Date.now()}`;
  await log.open([{ name: stream, partitions: 1, compacted: false }]);
  try {
    const ok1 = log.append([{ stream, key: null, value: Buffer.from('before'), partition: 0 }]);
    // Larger than Kafka's default message.max.bytes (about 1 MB): refused whatever the retries.
    const tooBig = log.append([{ stream, key: null, value: Buffer.alloc(2 * 1024 * 1024, 1), partition: 0 }]);
    const ok2 = log.append([{ stream, key: null, value: Buffer.from('after'), partition: 0 }]);
    await expect(tooBig).rejects.toThrow(/refused/);
    const [p1] = await ok1;
    const [p2] = await ok2;
    const records = await log.read(stream, 0, 0);
    expect(records.map((r) => r.value!.toString())).toEqual(['before', 'after']);
    expect([p1.offset, p2.offset]).toEqual([records[0].offset, records[1].offset]);
  } finally {
    await log.close();
  }
});

test('appends of one turn larger than a produce request are split over several requests, none refused', async () => {
  const log = new KafkaEventLog({ brokers: await kafkaBrokers(), clientId: 'split', replicationFactor: 1, minInsyncReplicas: 1, maxRequestBytes: 64 * 1024 });
  const stream = `split-${Date.now()}`;
  await log.open([{ name: stream, partitions: 1, compacted: false }]);
  try {
    // 3 MB in one turn: three times Kafka's default max.message.bytes.
    const appends = Array.from({ length: 300 }, (_, i) => log.append([{ stream, key: null, value: Buffer.alloc(10_000, i % 256), partition: 0 }]));
    const positions = await Promise.all(appends);
    expect(positions.map(([p]) => p.offset)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  } finally {
    await log.close();
  }
});
