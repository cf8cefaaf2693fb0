/**
 * The archiver: a log consumer that bulk-indexes every published message and
 * every session and authentication event into Elasticsearch.
 *
 * - Positions are committed (consumer group `archive.group`) only after a bulk
 *   succeeded, so a crash re-indexes at most the last batch; document ids are
 *   log positions and the bulk uses `create`, so a re-indexed record finds its
 *   document already there (409) and no duplicate appears.
 * - While Elasticsearch is away the tail simply waits (the handler's promise
 *   holds the next batch back) and retries with backoff; nothing is skipped and
 *   the lag grows until it is back.
 */
import { Client, errors } from '@elastic/elasticsearch';
import { decodeEvents } from '../../src/events/codec';
import { EventLog, LogRecord, TailHandle } from '../../src/log/EventLog';
import { Logger } from '../../src/logger';
import { StreamLayout } from '../../src/node/streams';
import { archiveDocument, ArchiveDocument } from './ArchiveDocument';
import { deleteExpiredIndices, putIndexTemplates } from './ArchiveIndices';
import { ElasticsearchSettings } from './ElasticsearchSettings';

export interface ArchiverOptions {
  log: EventLog;
  streams: StreamLayout;
  client: Client;
  settings: ElasticsearchSettings;
  /** Consumer group the positions are committed under. */
  group: string;
  /** Documents per bulk request. */
  batchSize: number;
  logger: Logger;
}

export interface ArchiverStatus {
  running: boolean;
  /** Records in the log not yet archived (summed over partitions; refreshed every few seconds). */
  lag: number;
  indexed: number;
  /** Records already in the index when (re-)indexed: re-runs after a crash. */
  duplicates: number;
  /** Documents Elasticsearch refused outright (logged with their position). */
  rejected: number;
  /** Whether the last bulk request failed to reach Elasticsearch. */
  elasticsearchDown: boolean;
  positions: Record<string, number[]>;
}

class ArchiverClosed extends Error {}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
const LAG_REFRESH_MS = 2000;
const RETENTION_CHECK_MS = 3600_000;

export class Archiver {
  private readonly tails: TailHandle[] = [];
  private readonly positions = new Map<string, number[]>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private started = false;
  private indexed = 0;
  private duplicates = 0;
  private rejected = 0;
  private down = false;
  private lag = 0;
  /** Pending retry sleeps, cut short by close(). */
  private readonly wakers = new Set<() => void>();

  constructor(private readonly o: ArchiverOptions) {}

  /** Starts in the background: a missing Elasticsearch delays archiving, never the caller. */
  start(): void {
    void this.run().catch((err: Error) => {
      if (!(err instanceof ArchiverClosed)) this.o.logger.error({ err }, 'archiver stopped');
    });
  }

  private async run(): Promise<void> {
    const { settings, client, logger } = this.o;
    await this.retrying('putting the index templates', () => putIndexTemplates(client, settings.indexPrefix, settings.replicas));
    for (const stream of [this.o.streams.messages, this.o.streams.sessions, this.o.streams.audit]) {
      const n = this.o.log.partitionCount(stream);
      const at: number[] = [];
      for (let p = 0; p < n; p++) {
        const committed = await this.o.log.committedPosition(this.o.group, stream, p);
        at.push(committed ?? (await this.o.log.startOffset(stream, p)));
      }
      this.positions.set(stream, at);
    }
    if (this.closed) throw new ArchiverClosed();
    for (const [stream, at] of this.positions) {
      at.forEach((from, p) => {
        this.tails.push(
          this.o.log.tail(stream, p, from, (records) => this.archive(stream, p, records), {
            onError: (err) => {
              if (!this.closed) logger.error({ err, stream, partition: p }, 'archiver tail failed');
            },
          }),
        );
      });
    }
    this.started = true;
    logger.info({ group: this.o.group, positions: Object.fromEntries(this.positions), indexPrefix: settings.indexPrefix }, 'archiver started');
    await this.refreshLag();
    this.timers.push(setInterval(() => void this.refreshLag().catch(() => undefined), LAG_REFRESH_MS));
    void this.enforceRetention();
    this.timers.push(setInterval(() => void this.enforceRetention(), RETENTION_CHECK_MS));
    for (const t of this.timers) t.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakers) wake();
    for (const t of this.timers) clearInterval(t);
    for (const t of this.tails) t.close();
    this.tails.length = 0;
  }

  status(): ArchiverStatus {
    return {
      running: this.started && !this.closed,
      lag: this.lag,
      indexed: this.indexed,
      duplicates: this.duplicates,
      rejected: this.rejected,
      elasticsearchDown: this.down,
      positions: Object.fromEntries(this.positions),
    };
  }

  /** Records not yet archived, computed now. */
  async refreshLag(): Promise<number> {
    let lag = 0;
    for (const [stream, at] of this.positions) {
      for (let p = 0; p < at.length; p++) lag += Math.max(0, (await this.o.log.endOffset(stream, p)) - at[p]);
    }
    this.lag = lag;
    return lag;
  }

  private async archive(stream: string, partition: number, records: LogRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += this.o.batchSize) {
      const chunk = records.slice(i, i + this.o.batchSize);
      const docs: ArchiveDocument[] = [];
      for (const r of chunk) {
        if (!r.value) continue;
        try {
          const events = decodeEvents(r.value);
          events.forEach((event, index) => {
            const doc = archiveDocument(this.o.settings.indexPrefix, event, { stream, partition, offset: r.offset, index });
            if (doc) docs.push(doc);
          });
        } catch (err) {
          this.rejected++;
          this.o.logger.error({ err, stream, partition, offset: r.offset }, 'undecodable log record not archived');
        }
      }
      if (docs.length > 0) await this.bulk(docs);
      const next = chunk[chunk.length - 1].offset + 1;
      await this.retrying('committing the archive position', () => this.o.log.commitPosition(this.o.group, stream, partition, next));
      this.positions.get(stream)![partition] = next;
    }
  }

  /** Indexes until every document is in (or refused for good); retries what failed transiently. */
  private async bulk(docs: ArchiveDocument[]): Promise<void> {
    let pending = docs;
    let delay = RETRY_MIN_MS;
    while (pending.length > 0) {
      if (this.closed) throw new ArchiverClosed();
      const operations: unknown[] = [];
      for (const d of pending) operations.push({ create: { _index: d.index, _id: d.id } }, d.body);
      let retry: ArchiveDocument[] = [];
      try {
        const res = await this.o.client.bulk({ operations, refresh: false });
        this.recovered();
        res.items.forEach((item, i) => {
          const result = item.create!;
          const status = result.status;
          if (status >= 200 && status < 300) this.indexed++;
          else if (status === 409) this.duplicates++;
          else if (status === 429 || status >= 500) retry.push(pending[i]);
          else {
            this.rejected++;
            this.o.logger.error({ id: pending[i].id, index: pending[i].index, status, error: result.error }, 'Elasticsearch refused an archive document');
          }
        });
      } catch (err) {
        this.failed(err as Error);
        retry = pending;
      }
      pending = retry;
      if (pending.length > 0) {
        await this.sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = RETRY_MIN_MS;
    for (;;) {
      if (this.closed) throw new ArchiverClosed();
      try {
        const v = await fn();
        this.recovered();
        return v;
      } catch (err) {
        this.failed(err as Error, what);
        await this.sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private failed(err: Error, what = 'indexing'): void {
    if (this.down) return;
    this.down = true;
    const unreachable = err instanceof errors.ConnectionError || err instanceof errors.TimeoutError;
    this.o.logger.warn(
      { err: unreachable ? err.message : err, nodes: this.o.settings.nodes, what },
      unreachable ? 'Elasticsearch unreachable; the archive waits and retries (the lag grows, nothing is skipped)' : 'archiving failed; retrying',
    );
  }

  private recovered(): void {
    if (!this.down) return;
    this.down = false;
    this.o.logger.info({ nodes: this.o.settings.nodes }, 'Elasticsearch reachable again; archiving resumes');
  }

  private async enforceRetention(): Promise<void> {
    try {
      const deleted = await deleteExpiredIndices(this.o.client, this.o.settings.indexPrefix, this.o.settings.retentionDays);
      if (deleted.length > 0) this.o.logger.info({ deleted, retentionDays: this.o.settings.retentionDays }, 'expired archive indices deleted');
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'archive retention check failed; will retry');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
