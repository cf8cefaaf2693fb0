/**
 * The one append path: every event the node writes goes through here, whether
 * a client's channel produced it (in the connection's order) or the node itself
 * (heartbeats, session expiries, access decisions, the wills of failed
 * connections). It maps events to records (EventRouting), counts what the
 * metrics count, sheds QoS 0 publishes while the log is congested, and counts
 * each append against the turn's budget (IngestControl).
 */
import { BrokerEvent } from '../events/types';
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
    private readonly shed: (count: number, reason: string) => void,
  ) {}

  /**
   * Appends a connection's events; `done` is called once they are durable (or
   * failed), in submission order. While the log is congested QoS 0 publishes
   * (at most once) are shed, counted; the rest waits.
   */
  submit(events: BrokerEvent[], done: (err: Error | null) => void): void {
    const counted = events.length;
    for (const e of events) {
      if (e.type === 'message.published') this.stats.messagesReceived++;
      else if (e.type === 'access.decided' && e.action === 'publish') this.stats.publishDenied++;
    }
    if (this.log.congested) {
      const kept = events.filter((e) => e.type !== 'message.published' || e.qos > 0);
      if (kept.length < events.length) this.shed(events.length - kept.length, 'log congested: QoS 0 publish shed');
      events = kept;
    }
    this.ingest.countEvents(Math.max(1, counted));
    if (events.length) this.log.submit(recordsFor(events, this.streams), done);
    else queueMicrotask(() => done(null));
  }

  /** Appends the node's own events; resolves once they are durable, with where each record landed. */
  append(events: BrokerEvent[]): Promise<RecordPosition[]> {
    this.ingest.countEvents(events.length);
    return this.log.append(recordsFor(events, this.streams));
  }
}
