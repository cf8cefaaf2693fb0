/** The replays of this node: started, watched and cancelled by id. */
import { randomBytes } from 'crypto';
import { Logger } from '../logger';
import { ReplayContext, ReplayJob, ReplayStatus } from './ReplayJob';
import { ReplayRequest } from './ReplayRequest';

/** Finished replays kept for status queries. */
const KEEP_FINISHED = 100;
const PROGRESS_LOG_MS = 2000;

export class Replays {
  private readonly jobs = new Map<string, ReplayJob>();

  constructor(
    private readonly ctx: ReplayContext,
    private readonly log: Logger,
  ) {}

  /** Starts a replay; resolves once its range is known (an empty range is already finished). */
  async start(request: ReplayRequest): Promise<ReplayJob> {
    const id = randomBytes(6).toString('hex');
    const job = new ReplayJob(id, request, this.ctx);
    this.jobs.set(id, job);
    this.prune();
    await job.ready;
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
