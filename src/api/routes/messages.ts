/** GET /api/v1/messages: message history (see docs/history.md for the parameters). */
import { parseHistoryQuery } from '../../history/HistoryQuery';
import { HistorySource } from '../../history/HistorySource';
import { Route } from '../ApiServer';

export function messagesRoute(history: HistorySource): Route {
  return {
    method: 'GET',
    path: '/api/v1/messages',
    async handle(req) {
      const page = await history.query(parseHistoryQuery(req.query));
      return { status: 200, json: { source: history.name, ...page } };
    },
  };
}
