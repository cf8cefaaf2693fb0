/**
 * What the node says about its connections: messages dropped for a session
 * (counted by reason, kept in a short recent list, logged and appended to the
 * log as `message.dropped` at once then at most once a second per connection),
 * messages retention deleted before a session read them, and how each
 * connection ended. Client ids in these lines are cut short like in the audit
 * trail (a refused client's id is the client's to choose).
 */
import { DisconnectReason, DropReason, MessagesDropped } from '../events/types';
import { Logger } from '../logger';
import { REFUSED_DETAIL } from '../channel/Channel';
import type { Connection } from './Connection';
import { truncateField } from './RefusedLoginAudit';
import type { Stats } from './Stats';

const FIELD = 256;
/** Drops kept for GET /api/v1/drops (newest last). */
export const RECENT_DROPS = 200;

export interface RecentDrop {
  timestamp: number;
  /** '' for the node's own (QoS 0 shed while the log is congested). */
  clientId: string;
  count: number;
  reason: DropReason;
  detail: string;
}

export class ConnectionReports {
  private readonly pending = new Map<Connection | null, { count: number; reason: DropReason; detail: string }>();
  private readonly recentDrops: RecentDrop[] = [];

  constructor(
    private readonly stats: Stats,
    private readonly log: Logger,
    /** Appends a client's drop event (per-client history); failures are the log's to report. */
    private readonly record: (event: MessagesDropped) => void = () => undefined,
    private readonly nodeId: () => string = () => '',
  ) {}

  /** Counts dropped messages (`conn` null: the node's own, e.g. QoS 0 shed while the log is congested). */
  report(conn: Connection | null, count: number, reason: DropReason, detail: string): void {
    this.stats.dropped(reason, count);
    const pending = this.pending.get(conn);
    if (pending) {
      pending.count += count;
      return;
    }
    this.announce(conn, count, reason, detail);
    const next = { count: 0, reason, detail };
    this.pending.set(conn, next);
    setTimeout(() => {
      this.pending.delete(conn);
      if (next.count > 0) this.announce(conn, next.count, next.reason, next.detail);
    }, 1000).unref();
  }

  /** The most recent drops, oldest first. */
  recent(): readonly RecentDrop[] {
    return this.recentDrops;
  }

  /** Messages the log's retention deleted before this session read them. */
  expired(conn: Connection, count: number): void {
    this.stats.messagesExpiredUnread += count;
    const session = conn.channel.session;
    if (session) session.expiredUnread += count;
    this.report(conn, count, 'retention', 'deleted by log retention before the session read them');
  }

  closed(conn: Connection, reason: DisconnectReason | null, detail: string): void {
    const clientId = conn.channel.clientId ? truncateField(conn.channel.clientId, FIELD) : undefined;
    const remote = conn.transport.remoteAddress;
    if (reason === null && detail.startsWith(REFUSED_DETAIL)) {
      // Logged once, bounded per address, where the refusal was decided (ConnectDecisions).
      this.log.debug({ clientId, remote, detail }, 'connection closed');
    } else if (reason === DisconnectReason.ProtocolError || (reason === null && conn.channel.session === null && detail !== 'connection closed by client')) {
      this.stats.protocolErrors++;
      this.log.warn({ clientId, remote, detail }, 'connection closed');
    } else {
      this.log.info({ clientId, remote, reason: reason === null ? undefined : DisconnectReason[reason], detail }, 'client disconnected');
    }
  }

  private announce(conn: Connection | null, count: number, reason: DropReason, detail: string): void {
    const fullId = conn ? conn.channel.clientId : '';
    const clientId = truncateField(fullId, FIELD);
    const timestamp = Date.now();
    this.log.warn({ clientId: clientId || undefined, count, reason, detail, totalDropped: this.stats.publishDropped }, 'messages dropped');
    this.recentDrops.push({ timestamp, clientId, count, reason, detail });
    if (this.recentDrops.length > RECENT_DROPS) this.recentDrops.shift();
    if (fullId) this.record({ type: 'message.dropped', clientId: fullId, count, reason, detail, nodeId: this.nodeId(), timestamp });
  }
}
