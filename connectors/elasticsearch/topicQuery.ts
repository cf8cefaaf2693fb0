/**
 * An MQTT topic filter as an Elasticsearch query on the archived `topic`
 * keyword, with the same matching rules as the broker's router: `+` one level,
 * `#` this level and everything below [MQTT-4.7.1-2, MQTT-4.7.1-3], and no `$`
 * topics for a filter starting with a wildcard [MQTT-4.7.2-1]. The literal
 * levels before the first wildcard narrow the search through `topic_path`.
 */
import { estypes } from '@elastic/elasticsearch';
import { isWildcardFilter } from '../../src/protocol/topics';

const REGEX_SPECIAL = /[.?+*|{}[\]()"\\#@&<>~^$-]/g;

export function topicRegexp(filter: string): string {
  const levels = filter.split('/');
  const multi = levels[levels.length - 1] === '#';
  const exact = (multi ? levels.slice(0, -1) : levels).map((l) => (l === '+' ? '[^/]*' : l.replace(REGEX_SPECIAL, (c) => `\\${c}`)));
  if (!multi) return exact.join('/');
  return exact.length === 0 ? '.*' : `${exact.join('/')}(/.*)?`;
}

export function topicQuery(filter: string): estypes.QueryDslQueryContainer {
  if (!isWildcardFilter(filter)) return { term: { topic: filter } };
  const levels = filter.split('/');
  const literal: string[] = [];
  for (const l of levels) {
    if (l === '+' || l === '#') break;
    literal.push(l);
  }
  const filters: estypes.QueryDslQueryContainer[] = [{ regexp: { topic: { value: topicRegexp(filter), flags: 'NONE' } } }];
  if (literal.length > 0) filters.push({ term: { topic_path: literal.join('/') } });
  const mustNot: estypes.QueryDslQueryContainer[] = literal.length === 0 ? [{ prefix: { topic: '$' } }] : [];
  return { bool: { filter: filters, must_not: mustNot } };
}
