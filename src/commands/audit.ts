/**
 * `mqlog audit`: message history from a node's API (which answers from
 * Elasticsearch or from the log), as a table or as JSON lines.
 */
import { HistoryMessage, HistoryPage } from '../history/HistoryMessage';
import { ApiTarget, callApi } from './ApiClient';

export interface AuditOptions {
  topic?: string;
  from?: string;
  to?: string;
  clientId?: string;
  username?: string;
  text?: string;
  limit?: string;
  after?: string;
  /** Follow the cursors to the last page. */
  all: boolean;
  json: boolean;
}

export async function audit(target: ApiTarget, o: AuditOptions, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const params = new URLSearchParams();
  const set = (name: string, v: string | undefined) => v !== undefined && params.set(name, v);
  set('topic', o.topic);
  set('from', o.from);
  set('to', o.to);
  set('clientId', o.clientId);
  set('username', o.username);
  set('text', o.text);
  set('limit', o.limit);
  set('after', o.after);
  let total = 0;
  let first = true;
  for (;;) {
    const page = await callApi<HistoryPage & { source: string }>(target, 'GET', `/api/v1/messages?${params}`);
    if (first && !o.json) out(header());
    first = false;
    for (const m of page.messages) out(o.json ? JSON.stringify(m) : row(m));
    total += page.messages.length;
    if (!page.next) break;
    if (!o.all) {
      err(`more messages follow: add --after ${page.next} (or --all)`);
      break;
    }
    params.set('after', page.next);
  }
  if (!o.json) err(`${total} message(s)`);
  return 0;
}

const COLUMNS: Array<[string, number]> = [
  ['TIME', 24],
  ['TOPIC', 28],
  ['CLIENT', 16],
  ['USER', 10],
  ['QOS', 3],
  ['R', 1],
  ['SIZE', 6],
];

function cell(v: string, width: number): string {
  return v.length > width ? `${v.slice(0, width - 1)}…` : v.padEnd(width);
}

function header(): string {
  return [...COLUMNS.map(([name, w]) => cell(name, w)), 'PAYLOAD'].join(' ');
}

function row(m: HistoryMessage): string {
  const payload = m.payloadEncoding === 'utf8' ? JSON.stringify(m.payload) : `base64:${m.payload}`;
  const values = [m.timestamp, m.topic, m.clientId, m.username ?? '-', String(m.qos), m.retain ? 'r' : '-', String(m.payloadSize)];
  return [...values.map((v, i) => cell(v, COLUMNS[i][1])), payload.length > 80 ? `${payload.slice(0, 79)}…` : payload].join(' ');
}
