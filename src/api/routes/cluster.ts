/**
 * The node and cluster views: overview (and its live stream of server-sent
 * events), nodes, busiest topics, dropped messages, the operators' audit trail.
 */
import { ServerResponse } from 'http';
import { Route } from '../ApiServer';
import type { Management } from '../Management';
import { intParam } from './paging';

/** Overview events per second on GET /api/v1/stream, and streams open at once. */
export const STREAM_INTERVAL_MS = 1000;
export const MAX_STREAMS = 64;

export function clusterRoutes(m: Management): Route[] {
  let streams = 0;
  return [
    { method: 'GET', path: '/api/v1/overview', summary: "This node's counts and counters (connections, sessions, messages, bytes, health)", handle: () => ({ status: 200, json: m.overview() }) },
    {
      method: 'GET',
      path: '/api/v1/stream',
      summary: `Server-sent events: the overview every ${STREAM_INTERVAL_MS} ms (event: overview)`,
      handle() {
        if (streams >= MAX_STREAMS) return { status: 429, json: { error: `at most ${MAX_STREAMS} live streams at once` } };
        return {
          status: 200,
          stream(res: ServerResponse) {
            streams++;
            res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
            const send = () => res.write(`event: overview\ndata: ${JSON.stringify(m.overview())}\n\n`);
            send();
            const timer = setInterval(send, STREAM_INTERVAL_MS);
            res.on('close', () => {
              clearInterval(timer);
              streams--;
            });
          },
        };
      },
    },
    { method: 'GET', path: '/api/v1/nodes', summary: 'Nodes: status, uptime, version, log positions, health', handle: async () => ({ status: 200, json: { nodes: await m.nodes() } }) },
    {
      method: 'GET',
      path: '/api/v1/topics',
      summary: 'The busiest topics by messages per second over the last minute',
      query: { limit: 'how many (1..1000, default 20)' },
      handle: (req) => ({ status: 200, json: { topics: m.topics(intParam(req.query, 'limit', 20, 1, 1000)) } }),
    },
    { method: 'GET', path: '/api/v1/drops', summary: 'Dropped messages: counters by reason and the most recent drops', handle: () => ({ status: 200, json: m.drops() }) },
    {
      method: 'GET',
      path: '/api/v1/audit',
      summary: 'What operators did through the API, from the log',
      query: { limit: 'most recent actions (1..10000, default 200)' },
      handle: async (req) => ({ status: 200, json: { actions: await m.auditTrail(intParam(req.query, 'limit', 200, 1, 10_000)) } }),
    },
  ];
}
