import { topicFilterError, topicMatches, topicNameError } from '../../src/protocol/topics';
import { TopicTrie } from '../../src/router/TopicTrie';

describe('topic names and filters', () => {
  test('[MQTT-4.7.3-1] empty names and filters are invalid', () => {
    expect(topicNameError('')).toMatch(/MQTT-4.7.3-1/);
    expect(topicFilterError('')).toMatch(/MQTT-4.7.3-1/);
  });
  test('[MQTT-3.3.2-2] a topic name may not contain wildcards', () => {
    expect(topicNameError('a/+/b')).toMatch(/MQTT-3.3.2-2/);
    expect(topicNameError('a/#')).toMatch(/MQTT-3.3.2-2/);
    expect(topicNameError('a/b c/$d')).toBeNull();
  });
  test('[MQTT-4.7.3-2] U+0000 is refused', () => {
    expect(topicNameError('a\u0000b')).toMatch(/MQTT-4.7.3-2/);
    expect(topicFilterError('a/\u0000')).toMatch(/MQTT-4.7.3-2/);
  });
  test('[MQTT-4.7.1-2] "#" only as the whole last level', () => {
    expect(topicFilterError('#')).toBeNull();
    expect(topicFilterError('a/#')).toBeNull();
    expect(topicFilterError('a/#/b')).toMatch(/MQTT-4.7.1-2/);
    expect(topicFilterError('a#')).toMatch(/MQTT-4.7.1-2/);
  });
  test('[MQTT-4.7.1-3] "+" only as a whole level', () => {
    expect(topicFilterError('+/a/+')).toBeNull();
    expect(topicFilterError('a+')).toMatch(/MQTT-4.7.1-3/);
    expect(topicFilterError('a/b+/c')).toMatch(/MQTT-4.7.1-3/);
  });
});

const cases: Array<[string, string, boolean]> = [
  ['a/b', 'a/b', true],
  ['a/+', 'a/b', true],
  ['a/+', 'a/b/c', false],
  ['a/#', 'a', true],
  ['a/#', 'a/b/c', true],
  ['#', 'a/b', true],
  ['+/+', 'a/b', true],
  ['+/+', '/b', true],
  ['/+', '/b', true],
  ['+', '/b', false],
  ['+/#', 'a', true],
  ['a/+/c', 'a//c', true],
  ['#', '$SYS/x', false],
  ['+/x', '$SYS/x', false],
  ['$SYS/#', '$SYS/x', true],
  ['$SYS/+', '$SYS/x', true],
  ['TopicA/#', 'TopicA', true],
  ['A', 'a', false],
];

describe('matching', () => {
  test.each(cases)('[MQTT-4.7.1-1..3, MQTT-4.7.2-1] filter %s vs topic %s -> %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
    const trie = new TopicTrie<number>();
    trie.add(filter, 'c1', 1);
    const hits: string[] = [];
    trie.match(topic, (sub, _v, f) => hits.push(`${sub}:${f}`));
    expect(hits).toEqual(expected ? [`c1:${filter}`] : []);
  });

  test('the trie agrees with the reference matcher on many filters at once', () => {
    const trie = new TopicTrie<number>();
    const filters = cases.map((c) => c[0]);
    filters.forEach((f, i) => trie.add(f, `s${i}`, i));
    for (const [, topic] of cases) {
      const got = new Set<string>();
      trie.match(topic, (sub) => got.add(sub));
      const want = new Set(filters.map((f, i) => (topicMatches(f, topic) ? `s${i}` : '')).filter(Boolean));
      expect(got).toEqual(want);
    }
  });

  test('add, replace, remove and prune', () => {
    const trie = new TopicTrie<number>();
    expect(trie.add('a/+', 'c', 1)).toBe(true);
    expect(trie.add('a/+', 'c', 2)).toBe(false);
    expect(trie.get('a/+', 'c')).toBe(2);
    expect(trie.size).toBe(1);
    expect(trie.remove('a/+', 'c')).toBe(true);
    expect(trie.remove('a/+', 'c')).toBe(false);
    expect(trie.size).toBe(0);
    expect([...trie.entries()]).toEqual([]);
    trie.add('/x', 'd', 0);
    trie.add('y/#', 'e', 1);
    expect([...trie.entries()].map((e) => e.filter).sort()).toEqual(['/x', 'y/#']);
  });
});
