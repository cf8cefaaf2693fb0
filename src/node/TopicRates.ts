/**
 * Messages per topic over the last minute, for GET /api/v1/topics (the busiest
 * topics). Counted in 10-second buckets; each bucket holds at most MAX_TOPICS
 * topics, the rest is counted under OTHER, so a client publishing to ever new
 * topics cannot grow it.
 */
const BUCKET_MS = 10_000;
const BUCKETS = 6;
export const MAX_TOPICS = 10_000;
export const OTHER = '(other topics)';

export class TopicRates {
  private buckets: Array<Map<string, number>> = [new Map()];
  private bucketStart: number;

  constructor(private readonly now: () => number = Date.now) {
    this.bucketStart = now();
  }

  count(topic: string): void {
    const current = this.buckets[0];
    const n = current.get(topic);
    if (n !== undefined) current.set(topic, n + 1);
    else if (current.size < MAX_TOPICS) current.set(topic, 1);
    else current.set(OTHER, (current.get(OTHER) ?? 0) + 1);
  }

  /** Called from the node's one-second tick. */
  rotate(): void {
    const t = this.now();
    if (t - this.bucketStart < BUCKET_MS) return;
    this.bucketStart = t;
    this.buckets.unshift(new Map());
    if (this.buckets.length > BUCKETS) this.buckets.pop();
  }

  /** The busiest topics, messages per second over the buckets kept (the current one included). */
  busiest(limit: number): Array<{ topic: string; messagesPerSecond: number }> {
    const totals = new Map<string, number>();
    for (const b of this.buckets) for (const [topic, n] of b) totals.set(topic, (totals.get(topic) ?? 0) + n);
    const seconds = Math.max(1, ((this.buckets.length - 1) * BUCKET_MS + (this.now() - this.bucketStart)) / 1000);
    return [...totals]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([topic, n]) => ({ topic, messagesPerSecond: Math.round((n / seconds) * 100) / 100 }));
  }
}
