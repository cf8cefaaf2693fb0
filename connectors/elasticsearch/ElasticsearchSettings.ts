/** How mqlog reaches Elasticsearch and lays out its archive (config key `elasticsearch`). */
import { Client } from '@elastic/elasticsearch';

export interface ElasticsearchSettings {
  /** Node URLs, e.g. ["http://127.0.0.1:9200"]; empty: no Elasticsearch. */
  nodes: string[];
  /** Index names start with this: <prefix>-messages-YYYY.MM.DD and <prefix>-events-YYYY.MM.DD. */
  indexPrefix: string;
  /** Daily indices older than this many days are deleted by the archiver (0 keeps everything). */
  retentionDays: number;
  /** Replicas per index (0 on a single Elasticsearch node keeps the cluster green). */
  replicas: number;
  username: string;
  password: string;
  requestTimeoutMs: number;
}

export function elasticsearchClient(s: ElasticsearchSettings): Client {
  return new Client({
    nodes: s.nodes,
    requestTimeout: s.requestTimeoutMs,
    // The archiver has its own retry loop (it never gives up); queries fail fast.
    maxRetries: 0,
    auth: s.username ? { username: s.username, password: s.password } : undefined,
  });
}
