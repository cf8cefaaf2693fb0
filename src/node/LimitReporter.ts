/**
 * Limits that were hit: counted per limit for the metrics, and logged at most
 * once per interval per limit (the first hit at once, then a summary of how many
 * followed), so a client hammering a limit cannot flood the broker's own log.
 */
import { LimitName } from '../channel/limits';
import { Logger } from '../logger';

interface Window {
  /** Hits since the last line was logged. */
  suppressed: number;
  lastDetail: string;
  timer: NodeJS.Timeout | null;
}

export class LimitReporter {
  /** Hits per limit since start (metrics). */
  readonly totals = new Map<LimitName, number>();
  private readonly windows = new Map<LimitName, Window>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  hit(limit: LimitName, detail: string, context: Record<string, unknown> = {}): void {
    this.totals.set(limit, (this.totals.get(limit) ?? 0) + 1);
    const window = this.windows.get(limit);
    if (window) {
      window.suppressed++;
      window.lastDetail = detail;
      return;
    }
    this.log.warn({ limit, detail, ...context, total: this.totals.get(limit) }, `limit ${limit} hit`);
    const next: Window = { suppressed: 0, lastDetail: detail, timer: null };
    next.timer = setTimeout(() => {
      this.windows.delete(limit);
      if (next.suppressed > 0) {
        this.log.warn({ limit, times: next.suppressed, last: next.lastDetail, total: this.totals.get(limit), intervalMs: this.intervalMs }, `limit ${limit} hit again`);
      }
    }, this.intervalMs);
    next.timer.unref();
    this.windows.set(limit, next);
  }

  count(limit: LimitName): number {
    return this.totals.get(limit) ?? 0;
  }

  close(): void {
    for (const w of this.windows.values()) if (w.timer) clearTimeout(w.timer);
    this.windows.clear();
  }
}
