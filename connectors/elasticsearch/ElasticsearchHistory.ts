/** History answered from the Elasticsearch archive: the same query, the same page shape as the log's. */
import { Client, errors, estypes } from '@elastic/elasticsearch';
import { Unavailable } from '../../src/api/ApiServer';
import { HistoryMessage, HistoryPage, HistoryProperties, OriginName, pageOf } from '../../src/history/HistoryMessage';
import { encodeCursor, HistoryQuery } from '../../src/history/HistoryQuery';
import { HistorySource } from '../../src/history/HistorySource';
import { QoS } from '../../src/events/types';
import { indexPattern } from './ArchiveIndices';
import { topicQuery } from './topicQuery';

interface MessageDoc {
  topic: string;
  client_id: string;
  username: string | null;
  remote_address: string;
  qos: QoS;
  retain: boolean;
  origin: OriginName;
  payload?: string;
  payload_base64?: string;
  payload_encoding: 'utf8' | 'base64';
  payload_size: number;
  node: string;
  timestamp: number;
  log: { stream: string; partition: number; offset: number };
  /** Stored, not indexed (the index maps no dynamic fields). */
  properties?: HistoryProperties;
}

export class ElasticsearchHistory implements HistorySource {
  readonly name = 'elasticsearch' as const;

  constructor(
    private readonly client: Client,
    private readonly indexPrefix: string,
  ) {}

  async query(q: HistoryQuery): Promise<HistoryPage> {
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (q.topic !== null) filter.push(topicQuery(q.topic));
    if (q.from !== null || q.to !== null) filter.push({ range: { timestamp: { ...(q.from !== null ? { gte: q.from } : {}), ...(q.to !== null ? { lt: q.to } : {}) } } });
    if (q.clientId !== null) filter.push({ term: { client_id: q.clientId } });
    if (q.username !== null) filter.push({ term: { username: q.username } });
    const must: estypes.QueryDslQueryContainer[] = q.text !== null ? [{ match: { payload: { query: q.text, operator: 'and' } } }] : [];
    const res = await this.client
      .search<MessageDoc>({
      index: indexPattern(this.indexPrefix, 'messages'),
      ignore_unavailable: true,
      allow_no_indices: true,
      size: q.limit + 1,
      query: { bool: { filter, must } },
      sort: [{ timestamp: 'asc' }, { 'log.partition': 'asc' }, { 'log.offset': 'asc' }],
      ...(q.after ? { search_after: [q.after.timestamp, q.after.partition, q.after.offset] } : {}),
      track_total_hits: false,
    })
      .catch((err: Error) => {
        if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || (err instanceof errors.ResponseError && (err.statusCode ?? 500) >= 500)) {
          throw new Unavailable(`Elasticsearch is unavailable for history queries: ${err.message}`);
        }
        throw err;
      });
    return pageOf(
      res.hits.hits.map((h) => toMessage(h._source!)),
      q.limit,
    );
  }
}

function toMessage(d: MessageDoc): HistoryMessage {
  return {
    topic: d.topic,
    payload: d.payload_encoding === 'utf8' ? (d.payload ?? '') : (d.payload_base64 ?? ''),
    payloadEncoding: d.payload_encoding,
    payloadSize: d.payload_size,
    qos: d.qos,
    retain: d.retain,
    clientId: d.client_id,
    username: d.username,
    remoteAddress: d.remote_address,
    nodeId: d.node,
    origin: d.origin,
    timestamp: new Date(d.timestamp).toISOString(),
    partition: d.log.partition,
    offset: d.log.offset,
    cursor: encodeCursor({ timestamp: d.timestamp, partition: d.log.partition, offset: d.log.offset }),
    ...(d.properties ? { properties: d.properties } : {}),
  };
}
