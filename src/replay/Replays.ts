/** The replays of this node: started, watched and cancelled by id. */
import { randomBytes } from 'crypto';
import { Logger } from '../logger';
import { ReplayContext, ReplayJob, ReplayStatus } from './ReplayJob';
import { ReplayRequest } from './ReplayRequest';

/** Finished replays kept for status queries. */
const KEEP_FINISHED = 100;
const PROGRESS_LOG_MS = 2000;

/** Limits on replays (api.replay): how many run at once, and how much of the log one may scan. */
export interface ReplayLimits {
  maxConcurrent: number;
  maxRecords: number;
}

/** A replay refused by a limit: the API answers 429 (too many at once) or 400 (too large a range). */
export class ReplayRefused extends Error {
  constructor(
    message: string,
    readonly limit: 'api.replay.maxConcurrent' | 'api.replay.maxRecords',
  ) {
    super(message);
    this.name = 'ReplayRefused';
  }
}

export class Replays {
  private readonly jobs = new Map<string, ReplayJob>();

  constructor(
    private readonly ctx: ReplayContext,
    private readonly log: Logger,
    private readonly limits: ReplayLimits = { maxConcurrent: Infinity, maxRecords: Infinity },
  ) {}

  /** Replays running now (preparing included). */
  get running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.status().state === 'running') n++;
    return n;
  }

  /** Starts a replay; resolves once its range is known (an empty range is already finished). */
  async start(request: ReplayRequest): Promise<ReplayJob> {
    if (this.running >= this.limits.maxConcurrent) {
      throw new ReplayRefused(`${this.running} replays are running, the most api.replay.maxConcurrent allows: wait for one to finish or cancel one`, 'api.replay.maxConcurrent');
    }
    const id = randomBytes(6).toString('hex');
    const job = new ReplayJob(id, request, this.ctx, this.limits.maxRecords);
    this.jobs.set(id, job);
    this.prune();
    await job.ready;
    if (job.tooLarge) {
      this.jobs.delete(id);
      throw new ReplayRefused(`the range holds ${job.status().total} log records, more than api.replay.maxRecords (${this.limits.maxRecords}) allows one replay: narrow the time range or positions`, 'api.replay.maxRecords');
    }
    this.log.info({ replay: id, topic: request.topic, target: request.target, total: job.status().total }, 'replay started');
    const timer = setInterval(() => {
      const s = job.status();
      this.log.info({ replay: id, scanned: s.scanned, total: s.total, replayed: s.replayed, progress: s.progress }, 'replay progress');
    }, PROGRESS_LOG_MS);
    timer.unref();
    void job.done.then(() => {
      clearInterval(timer);
      const s = job.status();
      const level = s.state === 'failed' ? 'error' : 'info';
      this.log[level]({ replay: id, state: s.state, replayed: s.replayed, scanned: s.scanned, error: s.error }, 'replay finished');
    });
    return job;
  }

  get(id: string): ReplayJob | undefined {
    return this.jobs.get(id);
  }

  list(): ReplayStatus[] {
    return [...this.jobs.values()].map((j) => j.status());
  }

  /** Cancels every running replay and waits for them to stop. */
  async close(): Promise<void> {
    const jobs = [...this.jobs.values()];
    for (const j of jobs) j.cancel();
    await Promise.all(jobs.map((j) => j.done));
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.status().state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.id);
  }
}
