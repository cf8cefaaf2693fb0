/**
 * A message-history query (`GET /api/v1/messages`, `mqlog audit`): one shape and
 * one validation for every source (the embedded log's time index and
 * Elasticsearch), so the same query answers the same on both.
 */
import { topicFilterError } from '../protocol/topics';

/** Where a page ended: results are ordered by (timestamp, partition, offset). */
export interface HistoryCursor {
  timestamp: number;
  partition: number;
  offset: number;
}

export interface HistoryQuery {
  /** An MQTT topic filter (`+` and `#` allowed); null: every topic. */
  topic: string | null;
  /** Publish time range in ms since the epoch: from inclusive, to exclusive. */
  from: number | null;
  to: number | null;
  clientId: string | null;
  username: string | null;
  /** Full text on the payload: every word must occur (case-insensitive). */
  text: string | null;
  limit: number;
  /** Continue after this position (stable paging). */
  after: HistoryCursor | null;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** Input the API answers with a 400 and this message. */
export class BadRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

/**
 * A point in time: epoch milliseconds, or an ISO 8601 date/time
 * (`2026-11-23`, `2026-11-23T10:00:00Z`).
 */
export function parseTime(value: string, name: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw new BadRequest(`'${name}' must be epoch milliseconds or an ISO 8601 time (e.g. 2026-11-23T10:00:00Z), got '${value}'`);
}

/** Checks an MQTT topic filter for a query or replay. */
export function checkFilter(filter: string, name = 'topic'): string {
  const error = topicFilterError(filter);
  if (error) throw new BadRequest(`'${name}' is not a valid MQTT topic filter: ${error}`);
  return filter;
}

/** Checks that a time range is the right way round. */
export function checkRange(from: number | null, to: number | null): void {
  if (from !== null && to !== null && from >= to) {
    throw new BadRequest(`empty time range: 'from' (${new Date(from).toISOString()}) must be before 'to' (${new Date(to).toISOString()})`);
  }
}

export function encodeCursor(c: HistoryCursor): string {
  return Buffer.from(`${c.timestamp}.${c.partition}.${c.offset}`).toString('base64url');
}

export function decodeCursor(text: string): HistoryCursor {
  const parts = Buffer.from(text, 'base64url').toString('utf8').split('.');
  const [timestamp, partition, offset] = parts.map(Number);
  if (parts.length !== 3 || ![timestamp, partition, offset].every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new BadRequest(`'after' is not a cursor returned by this API: '${text}'`);
  }
  return { timestamp, partition, offset };
}

const PARAMS = new Set(['topic', 'from', 'to', 'clientId', 'username', 'text', 'limit', 'after']);

/** Builds a query from URL parameters, refusing unknown or malformed ones. */
export function parseHistoryQuery(params: URLSearchParams): HistoryQuery {
  for (const name of params.keys()) {
    if (!PARAMS.has(name)) throw new BadRequest(`unknown parameter '${name}' (known: ${[...PARAMS].join(', ')})`);
  }
  const one = (name: string): string | null => {
    const all = params.getAll(name);
    if (all.length > 1) throw new BadRequest(`'${name}' given ${all.length} times`);
    return all.length === 1 && all[0] !== '' ? all[0] : null;
  };
  const topic = one('topic');
  const from = one('from');
  const to = one('to');
  const limitText = one('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`'limit' must be an integer from 1 to ${MAX_LIMIT}, got '${limitText}'`);
  }
  const query: HistoryQuery = {
    topic: topic === null ? null : checkFilter(topic),
    from: from === null ? null : parseTime(from, 'from'),
    to: to === null ? null : parseTime(to, 'to'),
    clientId: one('clientId'),
    username: one('username'),
    text: one('text'),
    limit,
    after: null,
  };
  const after = one('after');
  if (after !== null) query.after = decodeCursor(after);
  checkRange(query.from, query.to);
  if (query.text !== null && textTerms(query.text).length === 0) throw new BadRequest(`'text' holds no words to search for`);
  return query;
}

/**
 * The words of a text, lower-cased: runs of letters, digits and underscores, as
 * Elasticsearch's standard analyzer splits plain text. Both sources match a
 * `text` query when every one of its words is among the payload's words.
 */
export function textTerms(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
}

/** Orders positions as results are ordered. */
export function compareCursor(a: HistoryCursor, b: HistoryCursor): number {
  return a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset;
}
