/** Retained messages: list (paging, search by topic), get one, delete one (through the log, cluster-wide). */
import { NotFound, Route } from '../ApiServer';
import type { Management } from '../Management';
import { page, searchParam } from './paging';

export function retainedRoutes(m: Management): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/retained',
      summary: 'Retained messages, with paging and search by topic',
      query: { search: 'substring of the topic', page: 'page number', limit: 'page size (1..1000)' },
      handle(req) {
        const search = searchParam(req.query);
        return { status: 200, json: page(m.retained().filter((r) => search === null || r.topic.includes(search)), req.query) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/retained/:topic',
      summary: 'One retained message (the topic URL-encoded)',
      handle(req) {
        const r = m.retainedMessage(req.params[0]);
        if (!r) throw new NotFound(`no retained message on '${req.params[0].slice(0, 80)}'`);
        return { status: 200, json: r };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/retained/:topic',
      summary: 'Delete a retained message (the topic URL-encoded)',
      async handle(req) {
        if (!(await m.deleteRetained(req.params[0], req.actor!, req.ip))) throw new NotFound(`no retained message on '${req.params[0].slice(0, 80)}'`);
        return { status: 200, json: { topic: req.params[0], deleted: true } };
      },
    },
  ];
}
