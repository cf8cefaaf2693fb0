/**
 * Whether the node's delivery keeps up with its ingest. A single event loop
 * both reads publishers and delivers to subscribers; publishers that are paced
 * only by their own QoS 1 window can make it take in far more than it delivers
 * (a subscriber's in-flight window refills once per round trip, a turn of the
 * loop, while every turn reads whole socket buffers from every publisher).
 * Then the subscriber falls further behind by the second.
 *
 * So the node watches the sessions that have deliveries waiting. While one that
 * keeps up (it took something within `progressMs`) has had a message waiting
 * longer than `maxLagMs`, or has more than a quarter of its queue bound waiting
 * (ingest can outrun a time bound: a queue fills in less than `maxLagMs`), the
 * node is behind: it stops reading from clients that only publish (TCP
 * backpressure, as a single-loop broker has), until every such session is
 * within half of both again. A session that does not keep up (no
 * progress, or messages waiting longer than `slowMs`) holds nobody back: its
 * queue is bounded, and past that it reads the log at its own pace.
 */
import { QueueWatch, Session } from '../session/Session';

export interface DeliveryLagSettings {
  /** mqtt.maxDeliveryLagMs: the longest a keeping-up subscriber's messages wait before the node stops reading publishers. */
  maxLagMs: number;
  /** mqtt.slowSubscriberMs: a subscriber whose messages wait longer than this is slow, not the node: it no longer counts. */
  slowMs: number;
  /** mqtt.maxQueuedMessages: a session's queue bound. */
  maxQueued: number;
}

export class DeliveryLag implements QueueWatch {
  /** Sessions with deliveries waiting. */
  private readonly waiting = new Set<Session>();
  /** Whether the node is behind now (set by `check`). */
  behind = false;
  /** How long a session may go without taking anything and still count as keeping up. */
  private readonly progressMs: number;

  constructor(private readonly settings: DeliveryLagSettings) {
    this.progressMs = Math.max(4 * settings.maxLagMs, 50);
  }

  queueing(session: Session): void {
    this.waiting.add(session);
  }

  drained(session: Session): void {
    this.waiting.delete(session);
  }

  /** Sessions with deliveries waiting right now. */
  get sessionsWaiting(): number {
    return this.waiting.size;
  }

  /**
   * Decides whether the node is behind: true from when a keeping-up session's
   * oldest message waited longer than maxLagMs until all are within half of it.
   * Returns the decision (also kept in `behind`).
   */
  check(now: number): boolean {
    const limit = this.behind ? this.settings.maxLagMs / 2 : this.settings.maxLagMs;
    const queueLimit = this.behind ? this.settings.maxQueued / 8 : this.settings.maxQueued / 4;
    let behind = false;
    for (const s of this.waiting) {
      const since = s.oldestQueuedAt;
      if (since === null) continue;
      const lag = now - since;
      if ((lag <= limit && s.queued <= queueLimit) || lag > this.settings.slowMs) continue;
      if (now - s.progressAt > this.progressMs) continue; // not taking anything: the client, not the node
      behind = true;
      break;
    }
    this.behind = behind;
    return behind;
  }

  /** The longest a keeping-up session's message has waited (ms), for the metrics. */
  lagMs(now: number): number {
    let lag = 0;
    for (const s of this.waiting) {
      const since = s.oldestQueuedAt;
      if (since === null || now - s.progressAt > this.progressMs) continue;
      const l = now - since;
      if (l <= this.settings.slowMs && l > lag) lag = l;
    }
    return lag;
  }
}
