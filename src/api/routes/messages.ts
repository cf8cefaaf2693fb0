/** GET /api/v1/messages: message history (see docs/history.md for the parameters). */
import { parseHistoryQuery } from '../../history/HistoryQuery';
import { HistorySource } from '../../history/HistorySource';
import { Route } from '../ApiServer';

export function messagesRoute(history: HistorySource): Route {
  return {
    method: 'GET',
    path: '/api/v1/messages',
    summary: 'Message history (docs/history.md): topic or filter, from, to, client, limit, cursor',
    query: { topic: 'topic or filter', from: 'ISO-8601 time or duration', to: 'ISO-8601 time', client: 'publisher client id', limit: 'page size', cursor: 'next page' },
    async handle(req) {
      const page = await history.query(parseHistoryQuery(req.query));
      return { status: 200, json: { source: history.name, ...page } };
    },
  };
}
