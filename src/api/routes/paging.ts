/** Paging and search parameters shared by the list routes: `page` (from 1), `limit` (1..1000), `search` (substring). */
import { BadRequest } from '../../history/HistoryQuery';

export const MAX_PAGE_SIZE = 1000;

export function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new BadRequest(`${name} must be an integer from ${min} to ${max}`);
  const n = Number(raw);
  if (n < min || n > max) throw new BadRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

export function page<T>(items: T[], query: URLSearchParams): { items: T[]; total: number; page: number; limit: number } {
  const limit = intParam(query, 'limit', 100, 1, MAX_PAGE_SIZE);
  const p = intParam(query, 'page', 1, 1, 1_000_000);
  return { items: items.slice((p - 1) * limit, p * limit), total: items.length, page: p, limit };
}

/** The `search` parameter, at most 256 characters (it is matched as a plain substring, never a pattern). */
export function searchParam(query: URLSearchParams): string | null {
  const s = query.get('search');
  if (s === null || s === '') return null;
  if (s.length > 256) throw new BadRequest('search is at most 256 characters');
  return s;
}

export function boolParam(query: URLSearchParams, name: string): boolean | null {
  const raw = query.get(name);
  if (raw === null || raw === '') return null;
  if (raw !== 'true' && raw !== 'false') throw new BadRequest(`${name} must be true or false`);
  return raw === 'true';
}
