/**
 * Clients and sessions (GET /api/v1/clients, /api/v1/clients/:id, its event
 * history, kick, discard), subscriptions (GET /api/v1/subscriptions). Clients
 * are the session projection's: every client the cluster knows, connected or
 * holding a persistent session.
 */
import { NotFound, Route } from '../ApiServer';
import type { ClientEventHistory, Management } from '../Management';
import { boolParam, intParam, page, searchParam } from './paging';
import { BadRequest } from '../../history/HistoryQuery';
import { DISCONNECT_REASON_NAMES, DisconnectReason } from '../../events/types';

const LIST_QUERY = { search: 'substring of client id, user name or address', connected: 'true or false', node: 'node id', page: 'page number (from 1)', limit: 'page size (1..1000)' };

/** `history`: where a client's events are read (the archive when history comes from Elasticsearch); default the log. */
export function clientRoutes(m: Management, history?: (clientId: string, limit: number) => Promise<ClientEventHistory>): Route[] {
  const known = (id: string) => {
    const c = m.client(id);
    if (!c) throw new NotFound(`no client '${id.slice(0, 80)}'`);
    return c;
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/clients',
      summary: 'Clients and sessions, with paging and search',
      query: LIST_QUERY,
      handle(req) {
        const search = searchParam(req.query);
        const connected = boolParam(req.query, 'connected');
        const node = req.query.get('node');
        const all = m
          .clients()
          .filter((c) => search === null || c.clientId.includes(search) || (c.username ?? '').includes(search) || c.address.includes(search))
          .filter((c) => connected === null || c.connected === connected)
          .filter((c) => !node || c.node === node)
          .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
        return { status: 200, json: page(all, req.query) };
      },
    },
    { method: 'GET', path: '/api/v1/clients/:id', summary: "A client's details: subscriptions, in-flight and queued counts, lag, protocol", handle: (req) => ({ status: 200, json: known(req.params[0]) }) },
    {
      method: 'GET',
      path: '/api/v1/clients/:id/events',
      summary: "A client's event history from the log: connects, disconnects with reason, subscribes, unsubscribes, refused logins, drops",
      query: { limit: 'most recent events (1..1000, default 200)' },
      async handle(req) {
        const limit = intParam(req.query, 'limit', 200, 1, 1000);
        if (history) return { status: 200, json: { clientId: req.params[0], ...(await history(req.params[0], limit)) } };
        const h = await m.clientHistory(req.params[0], limit);
        return { status: 200, json: { clientId: req.params[0], source: 'log', ...h, events: h.events.map(historyJson) } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/clients/:id/kick',
      summary: "End a client's connection wherever it is connected (its will is published); 202 when another node holds it",
      async handle(req) {
        const id = req.params[0];
        const done = await m.kick(id, req.actor!, req.ip);
        if (done === 'not-connected') throw new NotFound(`client '${id.slice(0, 80)}' is not connected`);
        return { status: done === 'kicked' ? 200 : 202, json: { clientId: id, kicked: done === 'kicked', forwarded: done === 'forwarded' } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/sessions/:id',
      summary: 'Discard a persistent session (the client is kicked first when connected here)',
      async handle(req) {
        const id = req.params[0];
        if (!m.client(id)) throw new NotFound(`no session '${id.slice(0, 80)}'`);
        if (!(await m.discardSession(id))) throw new BadRequest(`session '${id.slice(0, 80)}' is connected to another node: kick it there first`);
        await m.audit(req.actor!, req.ip, 'session.discard', id, '');
        return { status: 200, json: { clientId: id, discarded: true } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/subscriptions',
      summary: 'Subscriptions of every session, with paging and search by filter or client id',
      query: { search: 'substring of the filter', client: 'client id', page: 'page number', limit: 'page size (1..1000)' },
      handle(req) {
        const search = searchParam(req.query);
        const client = req.query.get('client');
        const all = m
          .subscriptions()
          .filter((s) => search === null || s.filter.includes(search))
          .filter((s) => !client || s.clientId === client)
          .sort((a, b) => (a.filter < b.filter ? -1 : a.filter > b.filter ? 1 : a.clientId < b.clientId ? -1 : 1));
        return { status: 200, json: page(all, req.query) };
      },
    },
  ];
}

/** An event as JSON for the history view: buffers become sizes, never raw bytes. */
function historyJson(e: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (Buffer.isBuffer(v)) out[`${k}Size`] = v.length;
    else if (k === 'will' && v) out.will = { topic: (v as { topic: string }).topic };
    else out[k] = v;
  }
  if ((e as { type?: string }).type === 'client.disconnected') out.reasonName = DISCONNECT_REASON_NAMES[(e as { reason: DisconnectReason }).reason] ?? 'unknown';
  return out;
}
