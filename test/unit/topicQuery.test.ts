/** MQTT filters as Elasticsearch queries: regex escaping and the $-topic rule. */
import { topicQuery, topicRegexp } from '../../connectors/elasticsearch/topicQuery';
import { topicPath } from '../../connectors/elasticsearch/ArchiveDocument';

test.each([
  ['a/b', 'a/b'],
  ['a/+/c', 'a/[^/]*/c'],
  ['a/#', 'a(/.*)?'],
  ['#', '.*'],
  ['+/#', '[^/]*(/.*)?'],
  ['a.b/c*d/(x)', 'a\\.b/c\\*d/\\(x\\)'],
  ['price/$/€', 'price/\\$/€'],
])('filter %s is the regexp %s', (filter, regexp) => {
  expect(topicRegexp(filter)).toBe(regexp);
});

test('a filter starting with a wildcard excludes $ topics [MQTT-4.7.2-1]; literal levels narrow by topic_path', () => {
  expect(topicQuery('+/x')).toEqual({ bool: { filter: [{ regexp: { topic: { value: '[^/]*/x', flags: 'NONE' } } }], must_not: [{ prefix: { topic: '$' } }] } });
  expect(topicQuery('a/b/#')).toEqual({ bool: { filter: [{ regexp: { topic: { value: 'a/b(/.*)?', flags: 'NONE' } } }, { term: { topic_path: 'a/b' } }], must_not: [] } });
  expect(topicQuery('a/b')).toEqual({ term: { topic: 'a/b' } });
});

test('topic_path holds every ancestor of a topic', () => {
  expect(topicPath('a/b/c')).toEqual(['a', 'a/b', 'a/b/c']);
  expect(topicPath('/x')).toEqual(['', '/x']);
  expect(topicPath('solo')).toEqual(['solo']);
});
