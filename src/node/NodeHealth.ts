/**
 * The node's health, for `/api/v1/status`, the metrics and the supervisor:
 *
 * - `healthy`: serving, everything acknowledged is durable and delivered.
 * - `degraded`: serving, but something it depends on is slow or away (the log is
 *   congested or the disk is full, so acknowledgements wait; Elasticsearch is
 *   down, so archiving waits). It recovers by itself.
 * - `failed`: it met something it cannot serve correctly past (an undecodable
 *   record, an uncaught exception, a failed fsync): it acknowledges nothing more,
 *   says exactly why, and exits for its supervisor to restart it.
 */
export type HealthState = 'healthy' | 'degraded' | 'failed';

export interface HealthReport {
  state: HealthState;
  /** Why the node is degraded (each condition) or failed (the one cause). */
  reasons: string[];
  /** When the node failed (ISO time), if it did. */
  failedAt: string | null;
}

export class NodeHealth {
  private failure: { reason: string; at: Date } | null = null;

  get failed(): boolean {
    return this.failure !== null;
  }

  /** Records the failure; false when the node had already failed (the first cause is kept). */
  fail(reason: string): boolean {
    if (this.failure) return false;
    this.failure = { reason, at: new Date() };
    return true;
  }

  /** The report, given the degrading conditions that hold now (each a reason). */
  report(degraded: readonly string[]): HealthReport {
    if (this.failure) return { state: 'failed', reasons: [this.failure.reason], failedAt: this.failure.at.toISOString() };
    return { state: degraded.length > 0 ? 'degraded' : 'healthy', reasons: [...degraded], failedAt: null };
  }
}

/** 0 healthy, 1 degraded, 2 failed: the mqlog_node_health gauge. */
export function healthGauge(state: HealthState): number {
  return state === 'healthy' ? 0 : state === 'degraded' ? 1 : 2;
}
