/**
 * The archive's indices: one per day per family (messages; session and
 * authentication events), named by the event's UTC date, created from index
 * templates so every index gets the same mappings. Retention deletes whole
 * days, which is cheap and needs no ILM (absent from minimal distributions).
 */
import { Client } from '@elastic/elasticsearch';

export type IndexFamily = 'messages' | 'events';

export function indexFor(prefix: string, family: IndexFamily, timestamp: number): string {
  const d = new Date(timestamp);
  const day = `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${prefix}-${family}-${day}`;
}

export function indexPattern(prefix: string, family: IndexFamily): string {
  return `${prefix}-${family}-*`;
}

const LOG_POSITION = { properties: { stream: { type: 'keyword' }, partition: { type: 'integer' }, offset: { type: 'long' }, index: { type: 'integer' } } } as const;

const COMMON = {
  kind: { type: 'keyword' },
  client_id: { type: 'keyword' },
  username: { type: 'keyword' },
  remote_address: { type: 'keyword' },
  node: { type: 'keyword' },
  timestamp: { type: 'date', format: 'epoch_millis' },
  log: LOG_POSITION,
} as const;

const MAPPINGS: Record<IndexFamily, Record<string, unknown>> = {
  messages: {
    ...COMMON,
    topic: { type: 'keyword' },
    // Every ancestor of the topic ("a", "a/b", "a/b/c"): prefix queries are term queries.
    topic_path: { type: 'keyword' },
    qos: { type: 'byte' },
    retain: { type: 'boolean' },
    origin: { type: 'keyword' },
    payload: { type: 'text' },
    payload_base64: { type: 'binary' },
    payload_encoding: { type: 'keyword' },
    payload_size: { type: 'integer' },
  },
  events: {
    ...COMMON,
    connection_id: { type: 'keyword' },
    reason: { type: 'keyword' },
    will_published: { type: 'boolean' },
    clean_session: { type: 'boolean' },
    session_present: { type: 'boolean' },
    keepalive: { type: 'integer' },
    protocol_version: { type: 'byte' },
    filters: { type: 'keyword' },
    granted: { type: 'integer' },
    action: { type: 'keyword' },
    topic: { type: 'keyword' },
    allowed: { type: 'boolean' },
    code: { type: 'integer' },
    source: { type: 'keyword' },
    count: { type: 'integer' },
    target: { type: 'keyword' },
    detail: { type: 'text' },
  },
};

/** Creates or updates the index templates (idempotent). */
export async function putIndexTemplates(client: Client, prefix: string, replicas: number): Promise<void> {
  for (const family of ['messages', 'events'] as const) {
    await client.indices.putIndexTemplate({
      name: `${prefix}-${family}`,
      index_patterns: [indexPattern(prefix, family)],
      priority: 200,
      template: {
        settings: { number_of_shards: 1, number_of_replicas: replicas },
        // Fields not listed are kept in _source but not indexed: no mapping explosions.
        mappings: { dynamic: false, properties: MAPPINGS[family] as never },
      },
    });
  }
}

/** Deletes the daily indices older than `retentionDays` (0: none). Returns the names deleted. */
export async function deleteExpiredIndices(client: Client, prefix: string, retentionDays: number, now = Date.now()): Promise<string[]> {
  if (retentionDays <= 0) return [];
  const cutoff = indexFor(prefix, 'messages', now - retentionDays * 86_400_000).slice(-10);
  const found = await client.indices.get({ index: `${indexPattern(prefix, 'messages')},${indexPattern(prefix, 'events')}`, allow_no_indices: true, ignore_unavailable: true });
  const expired = Object.keys(found).filter((name) => {
    const day = /-(\d{4}\.\d{2}\.\d{2})$/.exec(name)?.[1];
    return day !== undefined && day < cutoff;
  });
  if (expired.length > 0) await client.indices.delete({ index: expired.join(',') });
  return expired;
}
