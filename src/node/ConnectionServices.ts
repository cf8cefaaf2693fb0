/**
 * What a connection's effects ask of the node (ConnectionHost), each handed to
 * the piece whose job it is: authentication, session opening, pages of the
 * log, routes, retained delivery, ingest control, limits and reports.
 */
import { RetainedState } from '../../projections/RetainedProjection';
import { Effect } from '../channel/effects';
import type { LimitName } from '../channel/limits';
import { sendRetained } from '../delivery/RetainedDelivery';
import { SessionPages } from '../delivery/SessionPages';
import { DisconnectReason, DropReason, QoS } from '../events/types';
import { SinceFeeds } from '../delivery/SinceFeed';
import { SharedHandOff } from './SharedHandOff';
import type { Delivery } from '../session/Session';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { Logger } from '../logger';
import { LocalRoutes } from '../router/LocalRoutes';
import { SessionOpener } from '../session/SessionOpener';
import { Appender } from './Appender';
import { ConnectDecisions } from './ConnectDecisions';
import { Connection, ConnectionHost, ConnectionLimits } from './Connection';
import { ConnectionRegistry } from './ConnectionRegistry';
import { ConnectionReports } from './ConnectionReports';
import { IngestControl } from './IngestControl';
import { LimitReporter } from './LimitReporter';
import { NodeHealth } from './NodeHealth';
import { Stats } from './Stats';

export interface ConnectionServicesDeps {
  log: Logger;
  appender: Appender;
  ingest: IngestControl;
  decisions: ConnectDecisions;
  opener: SessionOpener;
  pages: SessionPages;
  sinceFeeds: SinceFeeds;
  handOff: SharedHandOff;
  routes: LocalRoutes;
  retained: RetainedState;
  registry: ConnectionRegistry;
  reports: ConnectionReports;
  limits: LimitReporter;
  stats: Stats;
  health: NodeHealth;
  /** mqtt.maxQueuedMessages: the most retained messages one SUBSCRIBE brings. */
  maxQueuedMessages: number;
  connectionLimits: ConnectionLimits;
  fail(what: string, err: unknown): void;
}

export class ConnectionServices implements ConnectionHost {
  readonly log: Logger;
  readonly appender: Appender;
  readonly connectionLimits: ConnectionLimits;

  constructor(private readonly d: ConnectionServicesDeps) {
    this.log = d.log;
    this.appender = d.appender;
    this.connectionLimits = d.connectionLimits;
  }

  get failed(): boolean {
    return this.d.health.failed;
  }

  readonly turnBudgetSpent = (): boolean => this.d.ingest.turnBudgetSpent();

  get deliveryBehind(): boolean {
    return this.d.ingest.deliveryBehind;
  }

  pausedForDelivery(conn: Connection): void {
    this.d.ingest.pausedForDelivery(conn);
  }

  resumeNextTurn(conn: Connection): void {
    this.d.ingest.resumeNextTurn(conn);
  }

  authenticate(conn: Connection, effect: Extract<Effect, { type: 'authenticate' }>): void {
    this.d.decisions.authenticate(conn, effect);
  }

  reauthenticate(conn: Connection, effect: Extract<Effect, { type: 'reauthenticate' }>): void {
    this.d.decisions.reauthenticate(conn, effect);
  }

  authAnswer(conn: Connection, effect: Extract<Effect, { type: 'auth-answer' }>): void {
    this.d.decisions.authAnswer(conn, effect);
  }

  openSession(conn: Connection): void {
    if (this.d.health.failed) return;
    this.d.opener.open(conn).catch((err: Error) => {
      if (err instanceof UndecodableRecord) this.d.fail('reading an offline queue', err);
      this.log.error({ err, clientId: conn.channel.clientId }, 'could not open the session');
      conn.run(conn.channel.close(null, `session could not be opened: ${err.message}`));
    });
  }

  readLog(conn: Connection, effect: Extract<Effect, { type: 'read-log' }>): void {
    this.d.pages.read(conn, effect);
  }

  routeAdd(conn: Connection, effect: Extract<Effect, { type: 'route-add' }>): void {
    for (const r of effect.routes) this.d.routes.add(conn.channel.clientId, r.filter, r.qos, r.since, r.options, r.held);
  }

  routeRemove(conn: Connection, effect: Extract<Effect, { type: 'route-remove' }>): void {
    for (const f of effect.filters) this.d.routes.remove(conn.channel.clientId, f);
  }

  sendRetained(conn: Connection, effect: Extract<Effect, { type: 'send-retained' }>): void {
    const limit = this.d.maxQueuedMessages;
    if (!sendRetained(this.d.retained, conn, effect.subscriptions, limit)) {
      this.d.limits.hit('mqtt.maxQueuedMessages', `a SUBSCRIBE matched more retained messages than one session queue holds (${limit})`, { clientId: conn.channel.clientId });
    }
  }

  sharedRelease(conn: Connection, effect: Extract<Effect, { type: 'shared-release' }>): void {
    const { clientId, connectionId } = conn.channel;
    const all = this.d.routes.shared.of(clientId);
    // A copy: the routes go with the connection while the log is read.
    const released = new Map(effect.filters === null ? all : effect.filters.flatMap((f) => (all.has(f) ? [[f, all.get(f)!] as const] : [])));
    this.d.handOff.connectionEnded(clientId, connectionId, released, effect.from, effect.to);
  }

  sinceFeed(conn: Connection, effect: Extract<Effect, { type: 'since-feed' }>): void {
    const maxQueued = this.d.maxQueuedMessages;
    this.d.sinceFeeds.start(
      {
        channel: conn.channel,
        get isClosed() {
          return conn.isClosed;
        },
        // Half the queue at most, and nothing while the session reads its own backlog from the log.
        room: () => {
          const s = conn.channel.session;
          return s && s.cursor === null ? Math.max(0, Math.floor(maxQueued / 2) - s.queued) : 0;
        },
        deliver: (d: Delivery) => conn.run(conn.channel.deliver(d, conn.room())),
        progress: (filter: string, next: number[] | null) => conn.channel.feedProgress(filter, next),
      },
      effect,
    );
  }

  dropped(conn: Connection, count: number, reason: DropReason, detail: string): void {
    this.d.reports.report(conn, count, reason, detail);
  }

  limitHit(conn: Connection, limit: LimitName, detail: string): void {
    this.d.limits.hit(limit, detail, { clientId: conn.channel.clientId || undefined, remote: conn.transport.remoteAddress });
  }

  closed(conn: Connection, reason: DisconnectReason | null, detail: string): void {
    if (this.d.registry.remove(conn)) this.d.routes.removeClient(conn.channel.clientId);
    if (conn.channel.session) this.d.stats.clientsConnected--;
    this.d.reports.closed(conn, reason, detail);
  }

  countIn(bytes: number): void {
    this.d.stats.bytesReceived += bytes;
  }

  countOut(bytes: number): void {
    this.d.stats.bytesSent += bytes;
  }

  countPublishOut(qos: QoS): void {
    this.d.stats.publishOut[qos]++;
  }
}
