/**
 * The wall clock read once per event-loop turn. Every publish, delivery and
 * acknowledgement carries a timestamp, and Date.now() per event was a visible
 * share of the publish path; events of one turn are written in the same group
 * commit anyway, so they share its time (a long turn under load stamps its last
 * events a few ms early, never out of order).
 */
export class TurnClock {
  private cached = 0;

  private readonly expire = (): void => {
    this.cached = 0;
  };

  readonly now = (): number => {
    if (this.cached === 0) {
      this.cached = Date.now();
      setImmediate(this.expire);
    }
    return this.cached;
  };
}
