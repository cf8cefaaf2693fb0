/**
 * The one append path: every event the node writes goes through here, whether
 * a client's channel produced it (in the connection's order) or the node itself
 * (heartbeats, session expiries, access decisions, the wills of failed
 * connections). It maps events to records (EventRouting), counts what the
 * metrics count, sheds QoS 0 publishes while the log is congested, and counts
 * each append against the turn's budget (IngestControl).
 */
import { AccessDecided, BrokerEvent, DropReason, MessagePublished } from '../events/types';
import { EventLog, RecordPosition } from '../log/EventLog';
import { recordsFor } from './EventRouting';
import { IngestControl } from './IngestControl';
import { Stats } from './Stats';
import { StreamLayout } from './streams';

export class Appender {
  constructor(
    private readonly log: EventLog,
    private readonly streams: StreamLayout,
    private readonly stats: Stats,
    private readonly ingest: IngestControl,
    /** Told of QoS 0 publishes shed because the log is congested. */
    private readonly shed: (count: number, reason: DropReason, detail: string) => void,
    /** Told of each append once durable: milliseconds it took, records in it (metrics). */
    private readonly appended: (ms: number, records: number) => void = () => undefined,
    /** Names the shared-subscription members of a message before it is appended (SharedGroups.assignTo). */
    private readonly assignShared: (e: MessagePublished) => void = () => undefined,
  ) {}

  /**
   * Appends a connection's events; `done` is called once they are durable (or
   * failed), in submission order. While the log is congested QoS 0 publishes
   * (at most once) are shed, counted; the rest waits.
   */
  submit(events: BrokerEvent[], done: (err: Error | null) => void): void {
    const counted = events.length;
    for (const e of events) {
      if (e.type === 'message.published') {
        this.stats.received(e.qos);
        this.assignShared(e);
      } else if (e.type === 'access.decided') this.countDecision(e);
    }
    if (this.log.congested) {
      const kept = events.filter((e) => e.type !== 'message.published' || e.qos > 0);
      if (kept.length < events.length) this.shed(events.length - kept.length, 'log_congested', 'log congested: QoS 0 publish shed');
      events = kept;
    }
    this.ingest.countEvents(Math.max(1, counted));
    if (!events.length) return queueMicrotask(() => done(null));
    const records = recordsFor(events, this.streams);
    const started = performance.now();
    this.log.submit(records, (err) => {
      this.appended(performance.now() - started, records.length);
      done(err);
    });
  }

  /** Appends the node's own events; resolves once they are durable, with where each record landed. */
  append(events: BrokerEvent[]): Promise<RecordPosition[]> {
    this.ingest.countEvents(events.length);
    for (const e of events) {
      if (e.type === 'access.decided') this.countDecision(e);
      else if (e.type === 'message.published') this.assignShared(e);
    }
    return this.log.append(recordsFor(events, this.streams));
  }

  private countDecision(e: AccessDecided): void {
    if (e.action === 'connect') this.stats.authDecided(e.source, e.allowed);
    else if (e.action === 'publish' && !e.allowed) {
      this.stats.publishDenied++;
      this.stats.dropped('acl_denied', 1);
    }
  }
}
