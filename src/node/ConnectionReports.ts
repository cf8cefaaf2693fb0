/**
 * What the node says about its connections: messages dropped for a session
 * (counted, and logged at once then at most once a second per connection),
 * messages retention deleted before a session read them, and how each
 * connection ended. Client ids in these lines are cut short like in the audit
 * trail (a refused client's id is the client's to choose).
 */
import { DisconnectReason } from '../events/types';
import { Logger } from '../logger';
import { REFUSED_DETAIL } from '../channel/Channel';
import type { Connection } from './Connection';
import { truncateField } from './RefusedLoginAudit';
import type { Stats } from './Stats';

const FIELD = 256;

export class ConnectionReports {
  private readonly drops = new Map<Connection | null, { count: number; reason: string }>();

  constructor(
    private readonly stats: Stats,
    private readonly log: Logger,
  ) {}

  /** Counts dropped messages (`conn` null: the node's own, e.g. QoS 0 shed while the log is congested). */
  report(conn: Connection | null, count: number, reason: string): void {
    this.stats.publishDropped += count;
    const pending = this.drops.get(conn);
    if (pending) {
      pending.count += count;
      return;
    }
    const clientId = conn ? truncateField(conn.channel.clientId, FIELD) : undefined;
    this.log.warn({ clientId, count, reason, totalDropped: this.stats.publishDropped }, 'messages dropped');
    const next = { count: 0, reason };
    this.drops.set(conn, next);
    setTimeout(() => {
      this.drops.delete(conn);
      if (next.count > 0) this.log.warn({ clientId, count: next.count, reason: next.reason, totalDropped: this.stats.publishDropped }, 'messages dropped');
    }, 1000).unref();
  }

  /** Messages the log's retention deleted before this session read them. */
  expired(conn: Connection, count: number): void {
    this.stats.messagesExpiredUnread += count;
    const session = conn.channel.session;
    if (session) session.expiredUnread += count;
    this.report(conn, count, 'deleted by log retention before the session read them');
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
}
