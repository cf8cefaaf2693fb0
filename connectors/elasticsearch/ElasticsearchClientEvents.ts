/**
 * A client's event history from the Elasticsearch archive (GET
 * /api/v1/clients/:id/events when history comes from Elasticsearch): the
 * archived session and access events of one client id, oldest first, in the
 * same shape as the log's answer (`type`, `clientId`, `timestamp`, and the
 * event's fields; a disconnect's reason as `reasonName`).
 */
import { Client, errors } from '@elastic/elasticsearch';
import { Unavailable } from '../../src/api/ApiServer';
import type { ClientEventHistory } from '../../src/api/Management';
import { indexPattern } from './ArchiveIndices';

/** Archived event kinds that belong in a client's history. */
const KINDS = ['client.connected', 'client.disconnected', 'client.subscribed', 'client.unsubscribed', 'access.decided', 'message.dropped', 'session.expired'];

export function elasticsearchClientEvents(client: Client, indexPrefix: string): (clientId: string, limit: number) => Promise<ClientEventHistory> {
  return async (clientId, limit) => {
    const res = await client
      .search<Record<string, unknown>>({
        index: indexPattern(indexPrefix, 'events'),
        ignore_unavailable: true,
        allow_no_indices: true,
        size: limit + 1,
        query: { bool: { filter: [{ term: { client_id: clientId } }, { terms: { kind: KINDS } }] } },
        sort: [{ timestamp: 'desc' }, { 'log.partition': 'desc' }, { 'log.offset': 'desc' }],
        track_total_hits: false,
      })
      .catch((err: Error) => {
        if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || (err instanceof errors.ResponseError && (err.statusCode ?? 500) >= 500)) {
          throw new Unavailable(`Elasticsearch is unavailable for client history: ${err.message}`);
        }
        throw err;
      });
    const hits = res.hits.hits.map((h) => h._source!).filter(Boolean);
    const truncated = hits.length > limit;
    const events = hits
      .slice(0, limit)
      .reverse()
      .map((doc) => {
        const { kind, client_id: _id, reason, log: _log, ...rest } = doc as { kind: string; client_id: string; reason?: string; log?: unknown };
        return { ...rest, type: kind, clientId, ...(kind === 'client.disconnected' ? { reasonName: reason } : reason !== undefined ? { reason } : {}) };
      });
    return { source: 'elasticsearch', events, scanned: hits.length, truncated };
  };
}
