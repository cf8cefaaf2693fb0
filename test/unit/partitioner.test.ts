import { murmur2, partitionForKey } from '../../src/log/partitioner';

describe('murmur2 partitioner', () => {
  // Vectors from Kafka's UtilsTest.testMurmur2 (org.apache.kafka.common.utils).
  test.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('murmur2(%s) = %d as in Kafka', (key, expected) => {
    expect(murmur2(Buffer.from(key))).toBe(expected);
  });

  test('keyless records and single-partition streams go to partition 0', () => {
    expect(partitionForKey(null, 8)).toBe(0);
    expect(partitionForKey(Buffer.from('x'), 1)).toBe(0);
  });

  test('partitions stay in range', () => {
    for (let i = 0; i < 1000; i++) {
      const p = partitionForKey(Buffer.from(`topic/${i}`), 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
    }
  });
});
