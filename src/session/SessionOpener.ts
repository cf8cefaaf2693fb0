/**
 * Opening a session, once its client is authenticated: take over another
 * connection of the same client id on this node [MQTT-3.1.4-2] (unless it is
 * another user's), append the connect, wait until it is folded (the fold
 * decides ownership cluster-wide), read back the messages still in flight,
 * add the routes and open the channel. A resumed persistent session then reads
 * its offline backlog from the log, page by page (LogPages).
 */
import { resumes } from '../../projections/SessionProjection';
import { DisconnectReason, MessageSource } from '../events/types';
import { decodeEvent } from '../events/codec';
import { EventLog } from '../log/EventLog';
import { Logger } from '../logger';
import { LocalRoutes } from '../router/LocalRoutes';
import { ConnectRefusal } from '../protocol/ConnectRefusal';
import { OutboundEntry } from '../../projections/SessionProjection';
import { connectRefused } from '../../projections/sessionOwnership';
import type { OpenedSession } from '../channel/Channel';
import type { Appender } from '../node/Appender';
import type { Connection } from '../node/Connection';
import type { ConnectionRegistry } from '../node/ConnectionRegistry';
import type { SessionFolder } from '../node/SessionFolder';
import type { StreamLayout } from '../node/streams';
import { Delivery, InflightEntry } from './Session';

export interface SessionOpenerDeps {
  registry: ConnectionRegistry;
  sessions: SessionFolder;
  routes: LocalRoutes;
  appender: Appender;
  log: EventLog;
  streams: StreamLayout;
  logger: Logger;
  allowSessionTakeoverByOtherUser: boolean;
  /** A connection refused because its client id names another user's session: counted and recorded. */
  refusedForOwner(conn: Connection): void;
  /** A session opened (stats). */
  opened(conn: Connection): void;
}

export class SessionOpener {
  constructor(private readonly deps: SessionOpenerDeps) {}

  async open(conn: Connection): Promise<void> {
    const { registry, sessions, routes } = this.deps;
    const ch = conn.channel;
    const clientId = ch.clientId;
    const existing = registry.current(clientId);
    if (existing && existing !== conn) {
      // Another connection of this client id on this node, perhaps not folded yet: its user owns it.
      if (!this.deps.allowSessionTakeoverByOtherUser && existing.channel.username !== ch.username) {
        this.refuse(conn, 'not-authorized');
        return;
      }
      existing.run(existing.channel.takenOver()); // [MQTT-3.1.4-2]
    }
    registry.setCurrent(clientId, conn);
    const prior = sessions.state.get(clientId);
    // Session present only when a persistent session is resumed [MQTT-3.2.2-1..3].
    // Whether the session continues, by the fold's own rule (3.1.1 persistent into persistent; MQTT 5 Clean Start 0).
    const sessionPresent = prior !== undefined && resumes(prior, ch);
    const [position] = await this.deps.appender.append([ch.connectedEvent(sessionPresent)]);
    await sessions.folded(position.partition, position.offset);
    const rec = sessions.state.get(clientId);
    if (!rec || rec.connectionId !== ch.connectionId) {
      // Another user's connect for this client id won the race (on another node): the folds refused ours.
      if (rec && connectRefused(rec.username, ch.connectedEvent(false))) this.refuse(conn, 'not-authorized');
      else conn.run(ch.close(null, 'superseded by a newer connection while opening'));
      return;
    }
    const outbound: OpenedSession['outbound'] = [];
    for (const entry of rec.outbound.values()) {
      const message = entry.released ? null : await this.readDelivery(entry);
      if (!entry.released && !message) {
        this.deps.logger.warn({ clientId, packetId: entry.packetId, ref: entry.ref }, 'in-flight message no longer in the log; not resent');
        continue;
      }
      const inflight: InflightEntry = { qos: entry.qos, ref: entry.ref, released: entry.released };
      if (entry.shared !== undefined) inflight.shared = entry.shared;
      if (message && entry.shared !== undefined) message.shared = entry.shared;
      outbound.push({ packetId: entry.packetId, entry: inflight, message });
    }
    if (conn.isClosed) {
      // The client went away while its session was opening: record that, with its will.
      conn.run(ch.end(DisconnectReason.ConnectionLost, 'connection closed while opening', true, rec.served));
      return;
    }
    // Routes first, then the channel: both in this synchronous block, so no message slips between.
    // A `since` subscription whose feed had not caught up keeps its route held and its feed continues.
    const feeds: NonNullable<OpenedSession['feeds']> = [];
    for (const [filter, sub] of rec.subscriptions) {
      routes.add(clientId, filter, sub.qos, sub.since, sub.options, sub.feed !== undefined);
      if (sub.feed) feeds.push({ filter, qos: sub.qos, ...(sub.options ? { options: sub.options } : {}), from: 'from' in sub.feed ? sub.feed.from : sub.feed.since });
    }
    this.deps.opened(conn);
    const backlogFrom = sessionPresent && rec.subscriptions.size > 0 ? rec.served : null;
    conn.runSafely(ch.opened({ sessionPresent, outbound, inbound: rec.inbound, backlogFrom, feeds }, conn.room()));
    this.deps.logger.info(
      { clientId, remote: conn.transport.remoteAddress, transport: conn.transport.kind, cleanSession: ch.cleanSession, sessionPresent },
      'client connected',
    );
  }

  private refuse(conn: Connection, refusal: ConnectRefusal): void {
    this.deps.refusedForOwner(conn);
    conn.run(conn.channel.sessionRefused(refusal));
  }

  private async readDelivery(entry: OutboundEntry): Promise<Delivery | null> {
    const streams = this.deps.streams;
    const stream = entry.ref.source === MessageSource.Retained ? streams.retained : streams.messages;
    const [record] = await this.deps.log.read(stream, entry.ref.partition, entry.ref.offset, { maxRecords: 1 });
    if (!record || record.offset !== entry.ref.offset || !record.value) return null;
    const event = decodeEvent(record.value);
    if (event.type !== 'message.published') return null;
    const d: Delivery = { topic: event.topic, payload: event.payload, qos: entry.qos, retain: entry.ref.source === MessageSource.Retained, ref: entry.ref };
    if (event.properties) d.props = event.properties;
    return d;
  }
}
