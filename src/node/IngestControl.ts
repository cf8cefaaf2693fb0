/**
 * When the node reads from its clients. Three reasons to stop, one place:
 *
 * - The turn budget. Node reads a busy socket many times per event-loop turn;
 *   without a bound a flood of publishes makes one turn (its batch, its memory,
 *   everyone's latency) arbitrarily large. A turn takes about TURN_EVENT_BUDGET
 *   events; a connection with more to decode continues next turn.
 * - The log is congested (Kafka slow or away, the disk full): every client waits
 *   until it drains, so memory stays bounded and nothing is acknowledged early.
 * - Delivery is behind ingest (DeliveryLag): clients that only publish wait
 *   until the subscribers that keep up are within the lag bound again.
 *
 * In each case TCP flow control does the waiting on the client's side: what a
 * client sent has been consumed by the broker, and nothing is lost.
 */
import { DeliveryLag } from '../delivery/DeliveryLag';
import { EventLog } from '../log/EventLog';
import { Logger } from '../logger';
import type { Connection } from './Connection';

/** Events one event-loop turn appends before the connections adding more wait for the next turn. */
const TURN_EVENT_BUDGET = 2000;
/** How often the node looks again while it holds clients back. */
const RECHECK_MS = 5;

export class IngestControl {
  private turnEvents = 0;
  private readonly turnPaused = new Set<Connection>();
  private readonly deliveryPaused = new Set<Connection>();
  /** Reading from every client is paused while the log is congested. */
  private logPaused = false;
  private recheck: NodeJS.Timeout | null = null;
  private logCheck: NodeJS.Timeout | null = null;
  /** Times reading from publishers was paused because delivery was behind (metrics). */
  deliveryPauses = 0;

  constructor(
    private readonly log: EventLog,
    private readonly delivery: DeliveryLag,
    private readonly connections: () => Iterable<Connection>,
    private readonly logger: Logger,
  ) {}

  /** True once this event-loop turn has taken its share of appends. */
  readonly turnBudgetSpent = (): boolean => this.turnEvents >= TURN_EVENT_BUDGET;

  /** Appends of this turn: the first schedules the end of the turn. */
  countEvents(n: number): void {
    if (this.turnEvents === 0) setImmediate(this.endTurn);
    this.turnEvents += n;
    if (this.log.congested) this.holdForLog();
  }

  /** Calls `conn.continueReading()` at the start of the next event-loop turn. */
  resumeNextTurn(conn: Connection): void {
    this.turnPaused.add(conn);
    if (this.turnEvents === 0) setImmediate(this.endTurn);
  }

  /** Whether delivery is behind ingest now (decided at the end of each turn). */
  get deliveryBehind(): boolean {
    return this.delivery.behind;
  }

  /** A connection paused itself because delivery is behind (Connection.data). */
  pausedForDelivery(conn: Connection): void {
    this.deliveryPaused.add(conn);
    this.scheduleRecheck();
  }

  /** Whether a new connection should start paused. */
  get holding(): boolean {
    return this.logPaused;
  }

  private readonly endTurn = (): void => {
    this.turnEvents = 0;
    this.checkDelivery();
    if (this.turnPaused.size === 0) return;
    const paused = [...this.turnPaused];
    this.turnPaused.clear();
    if (this.logPaused) return; // the log is congested: holdForLog resumes them
    for (const c of paused) if (!c.isClosed && !this.deliveryPaused.has(c)) c.continueReading();
  };

  /** Decides whether delivery is behind; resumes the publishers it held once it is not. */
  private checkDelivery(): void {
    const wasBehind = this.delivery.behind;
    const behind = this.delivery.check(Date.now());
    if (behind && !wasBehind) this.deliveryPauses++;
    if (behind) {
      this.scheduleRecheck();
      return;
    }
    if (this.deliveryPaused.size === 0 || this.logPaused) return;
    const paused = [...this.deliveryPaused];
    this.deliveryPaused.clear();
    for (const c of paused) if (!c.isClosed) c.continueReading();
  }

  /** While clients are held back for delivery, the decision is made again every few ms even if nothing else happens. */
  private scheduleRecheck(): void {
    if (this.recheck) return;
    this.recheck = setTimeout(() => {
      this.recheck = null;
      this.checkDelivery();
    }, RECHECK_MS);
    this.recheck.unref();
  }

  /**
   * Stops reading from every client until the log drains: QoS 1/2 publishers get
   * no acknowledgement until their message is durable, and the broker's memory stays
   * bounded. Keepalive is not enforced meanwhile (clients' pings wait in our sockets).
   */
  private holdForLog(): void {
    if (this.logPaused) return;
    this.logPaused = true;
    let n = 0;
    for (const conn of this.connections()) {
      conn.transport.pause();
      n++;
    }
    this.logger.warn({ connections: n, why: this.log.congestion ?? 'log congested' }, 'log congested: reading from clients paused');
    const check = setInterval(() => {
      if (this.log.congested) return;
      clearInterval(check);
      this.logCheck = null;
      this.logPaused = false;
      const now = Date.now();
      for (const conn of this.connections()) {
        conn.channel.touch(now);
        if (!this.deliveryPaused.has(conn)) conn.continueReading();
      }
      this.logger.info('log drained: reading from clients resumed');
    }, 100);
    check.unref();
    this.logCheck = check;
  }

  close(): void {
    if (this.recheck) clearTimeout(this.recheck);
    if (this.logCheck) clearInterval(this.logCheck);
  }
}
