/**
 * One replay: reads the range in publish-time order (per-topic log order) and
 * appends the matching messages again, marked as replays (MessageOrigin.Replay,
 * retain cleared) so they are neither archived again nor stored as retained.
 * Appends go in batches, each awaited: the log's own pace is the limit.
 */
import { MessagePublished, republishedEvent } from '../events/types';
import { EventLog } from '../log/EventLog';
import { rangeForTimes, rangeSize, ScanProgress, ScanRange, scanMessages } from '../history/MessageScan';
import { topicMatches } from '../protocol/topics';
import { ReplayRequest } from './ReplayRequest';

export type ReplayState = 'running' | 'completed' | 'cancelled' | 'failed';

export interface ReplayStatus {
  id: string;
  state: ReplayState;
  topic: string;
  target: ReplayRequest['target'];
  /** Records in the range (the scan's total). */
  total: number;
  scanned: number;
  /** Messages published again. */
  replayed: number;
  /** Matching messages left out: with the prefix their topic would exceed mqtt.maxTopicLength or maxTopicLevels. */
  skipped: number;
  /** Percent of the range scanned. */
  progress: number;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** Set when the range held nothing to replay. */
  note: string | null;
}

export interface ReplayContext {
  log: EventLog;
  messagesStream: string;
  nodeId: string;
  /** Appends replayed messages (encoded and routed as every published message). */
  append(events: MessagePublished[]): Promise<void>;
  /** Why a replayed topic (prefix + original) may not be published, or null: the MQTT topic limits. */
  topicRefused(topic: string): string | null;
}

const BATCH = 500;

export class ReplayJob {
  private state: ReplayState = 'running';
  private total = 0;
  /** Updated by the scan as it reads, so progress moves even through records that do not match. */
  private readonly scan: ScanProgress = { scanned: 0 };
  private replayed = 0;
  /** Matching messages not replayed: prefix and topic together exceed the topic limits. */
  private skipped = 0;
  private error: string | null = null;
  private note: string | null = null;
  private readonly startedAt = new Date();
  private finishedAt: Date | null = null;
  private cancelRequested = false;
  private range: ScanRange | null = null;
  /** Resolves once the range is known (so an empty range is reported at once). */
  readonly ready: Promise<void>;
  /** Resolves when the job has stopped, whatever the outcome. */
  readonly done: Promise<void>;

  constructor(
    readonly id: string,
    readonly request: ReplayRequest,
    private readonly ctx: ReplayContext,
    /** The most log records the range may hold (api.replay.maxRecords); a larger range is not run. */
    private readonly maxRecords = Infinity,
  ) {
    const prepared = this.prepare();
    this.ready = prepared;
    this.done = prepared.then(() => this.run());
  }

  /** The range held more records than the job may scan: it did not run. */
  get tooLarge(): boolean {
    return this.total > this.maxRecords;
  }

  cancel(): boolean {
    if (this.state !== 'running') return false;
    this.cancelRequested = true;
    return true;
  }

  get topicPrefix(): string | null {
    const t = this.request.target;
    return t.type === 'prefix' ? (t.prefix ?? `replay/${this.id}/`) : null;
  }

  status(): ReplayStatus {
    return {
      id: this.id,
      state: this.state,
      topic: this.request.topic,
      target: this.request.target.type === 'prefix' ? { type: 'prefix', prefix: this.topicPrefix } : this.request.target,
      total: this.total,
      scanned: this.scan.scanned,
      replayed: this.replayed,
      skipped: this.skipped,
      progress: this.total === 0 ? 100 : Math.floor((this.scan.scanned / this.total) * 1000) / 10,
      startedAt: this.startedAt.toISOString(),
      finishedAt: this.finishedAt ? this.finishedAt.toISOString() : null,
      error: this.error,
      note: this.note,
    };
  }

  private async prepare(): Promise<void> {
    try {
      const r = this.request;
      if (r.positions) {
        const n = this.ctx.log.partitionCount(this.ctx.messagesStream);
        const start: number[] = new Array<number>(n).fill(0);
        const end: number[] = new Array<number>(n).fill(0);
        for (const [p, [from, to]] of r.positions) {
          start[p] = Math.max(from, await this.ctx.log.startOffset(this.ctx.messagesStream, p));
          end[p] = Math.min(to, await this.ctx.log.endOffset(this.ctx.messagesStream, p));
        }
        this.range = { start, end };
      } else {
        this.range = await rangeForTimes(this.ctx.log, this.ctx.messagesStream, r.from, r.to);
      }
      this.total = rangeSize(this.range);
      if (this.total === 0) this.finish('completed', null, 'the range holds no messages');
      else if (this.total > this.maxRecords) this.finish('failed', `the range holds ${this.total} records, more than ${this.maxRecords}`);
    } catch (err) {
      this.finish('failed', (err as Error).message);
    }
  }

  private async run(): Promise<void> {
    if (this.state !== 'running' || !this.range) return;
    const r = this.request;
    const prefix = this.topicPrefix;
    const target = r.target.type === 'client' ? r.target.clientId : null;
    let batch: MessagePublished[] = [];
    try {
      await scanMessages(
        this.ctx.log,
        this.ctx.messagesStream,
        this.range,
        { topic: (t) => topicMatches(r.topic, t), from: r.from, to: r.to },
        async ({ event }) => {
          const topic = prefix === null ? event.topic : prefix + event.topic;
          if (this.ctx.topicRefused(topic) !== null) {
            this.skipped++;
            return !this.cancelRequested;
          }
          batch.push(
            republishedEvent({
              topic,
              payload: event.payload,
              qos: event.qos,
              publisherId: event.publisherId,
              nodeId: this.ctx.nodeId,
              timestamp: Date.now(),
              username: event.username,
              remoteAddress: event.remoteAddress,
              target,
            }),
          );
          if (batch.length >= BATCH) {
            await this.ctx.append(batch);
            this.replayed += batch.length;
            batch = [];
          }
          return !this.cancelRequested;
        },
        this.scan,
      );
      if (batch.length > 0 && !this.cancelRequested) {
        await this.ctx.append(batch);
        this.replayed += batch.length;
      }
      if (!this.cancelRequested) this.scan.scanned = this.total;
      if (this.cancelRequested) this.finish('cancelled', null);
      else this.finish('completed', null, this.replayed === 0 ? `no message in the range matched '${r.topic}'` : null);
    } catch (err) {
      this.finish('failed', (err as Error).message);
    }
  }

  private finish(state: ReplayState, error: string | null, note: string | null = null): void {
    this.state = state;
    this.error = error;
    this.note = note;
    this.finishedAt = new Date();
  }
}
