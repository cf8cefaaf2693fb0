/**
 * What a node does for the cluster (one node is the whole cluster on the
 * embedded log): its heartbeat; as coordinator, closing the sessions of failed
 * nodes, expiring persistent sessions and writing session snapshots; and acting
 * on what the session fold says other nodes did (a takeover of a local
 * connection, the will of a failed connection this node recorded).
 */
import { endsWithConnection } from '../../projections/SessionProjection';
import { BrokerEvent, ClientConnected, ClientDisconnected, DisconnectReason, MessageOrigin, publishedEvent, SessionExpired, WillMessage } from '../events/types';
import { EventLog } from '../log/EventLog';
import { Logger } from '../logger';
import { NEVER_EXPIRES } from '../channel/Channel';
import type { Appender } from './Appender';
import type { ConnectionRegistry } from './ConnectionRegistry';
import type { Membership } from './Membership';
import type { RefusedLoginAudit } from './RefusedLoginAudit';
import type { SessionFolder } from './SessionFolder';
import { writeSnapshots } from './Snapshots';
import type { Stats } from './Stats';
import type { StreamLayout } from './streams';
import type { TurnClock } from './TurnClock';

/** Session expiries appended per cluster tick at most (the rest follow at the next). */
const EXPIRIES_PER_TICK = 1000;

export interface ClusterDutiesDeps {
  nodeId: () => string;
  /** Shared-subscription messages of connections that end, hands on (SharedHandOff). */
  handOff: { watchFolds(): void };
  membership: Membership;
  sessions: SessionFolder;
  registry: ConnectionRegistry;
  appender: Appender;
  log: EventLog;
  streams: StreamLayout;
  stats: Stats;
  audit: RefusedLoginAudit;
  clock: TurnClock;
  logger: Logger;
  snapshots: { everyEvents: number; intervalMs: number };
  /** The node's health state, carried by its heartbeat (other nodes' API shows it). */
  health: () => string;
}

export class ClusterDuties {
  /** Connections whose session expiry is being appended (not yet folded). */
  private readonly expiring = new Set<string>();
  private lastSnapshot = Date.now();

  constructor(private readonly deps: ClusterDutiesDeps) {}

  /** Folds of other nodes' doings act on this node's connections from here on. */
  watchFolds(): void {
    this.deps.sessions.onConnected = (e) => this.onSessionConnected(e);
    this.deps.sessions.onDisconnected = (e, will) => this.onSessionDisconnected(e, will);
    this.deps.handOff.watchFolds();
  }

  async heartbeat(): Promise<void> {
    await this.deps.appender.append([this.deps.membership.heartbeat(Date.now(), this.deps.health())]);
  }

  /** Every cluster.heartbeatIntervalMs: the heartbeat, and the coordinator's duties. */
  async tick(): Promise<void> {
    const now = Date.now();
    try {
      await this.heartbeat();
      if (this.deps.membership.isCoordinator(now)) {
        await this.closeFailedSessions(false);
        await this.publishDueWills(now);
        await this.expireSessions(now);
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'heartbeat or failed-node check failed; will retry');
    }
  }

  /**
   * Records a `node failure` disconnect for sessions still connected on nodes
   * that failed; with `own`, also for this node's leftovers from an unclean stop
   * (kill -9). Their wills follow once the disconnect is folded.
   */
  async closeFailedSessions(own: boolean): Promise<void> {
    const { membership } = this.deps;
    const events = membership.failedNodeDisconnects(this.deps.sessions.state, this.deps.clock.now(), own);
    if (events.length === 0) return;
    try {
      await this.deps.appender.append(events);
    } catch (err) {
      for (const e of events) membership.settled(e.connectionId);
      throw err;
    }
  }

  /**
   * MQTT 5 delayed wills that are due (the session did not reconnect in time):
   * the will and a `session.will` that takes it from the session, in one append,
   * by the coordinator, so it is published once, also after a restart.
   */
  private async publishDueWills(now: number): Promise<void> {
    const events: BrokerEvent[] = [];
    for (const rec of this.deps.sessions.state.values()) {
      const will = rec.will;
      if (rec.connected || !will || rec.willDueAt === undefined || rec.willDueAt > now || this.expiring.has(`will:${rec.connectionId}`)) continue;
      const properties = will.properties || will.expirySeconds !== undefined ? { ...will.properties, ...(will.expirySeconds !== undefined ? { expiresAt: now + will.expirySeconds * 1000 } : {}) } : undefined;
      events.push(
        publishedEvent({ topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, publisherId: rec.clientId, origin: MessageOrigin.Will, nodeId: this.deps.nodeId(), timestamp: now, username: rec.username, ...(properties ? { properties } : {}) }),
        { type: 'session.will', clientId: rec.clientId, connectionId: rec.connectionId, nodeId: this.deps.nodeId(), timestamp: now },
      );
      if (events.length >= 2 * EXPIRIES_PER_TICK) break;
    }
    if (events.length === 0) return;
    const keys = events.filter((e) => e.type === 'session.will').map((e) => `will:${(e as { connectionId: string }).connectionId}`);
    for (const k of keys) this.expiring.add(k);
    try {
      await this.deps.appender.append(events);
    } finally {
      for (const k of keys) this.expiring.delete(k);
    }
  }

  /**
   * Persistent sessions disconnected for longer than their expiry are discarded
   * by a `session.expired` event (the coordinator writes them; every node folds
   * them). The expiry each session got when it connected is in its connect event.
   */
  private async expireSessions(now: number): Promise<void> {
    const events: SessionExpired[] = [];
    for (const rec of this.deps.sessions.state.values()) {
      if (rec.connected || endsWithConnection(rec) || rec.disconnectedAt === null || rec.sessionExpiry === NEVER_EXPIRES) continue;
      if (rec.disconnectedAt + rec.sessionExpiry * 1000 > now || this.expiring.has(rec.connectionId)) continue;
      events.push({ type: 'session.expired', clientId: rec.clientId, connectionId: rec.connectionId, nodeId: this.deps.nodeId(), timestamp: this.deps.clock.now() });
      if (events.length >= EXPIRIES_PER_TICK) break;
    }
    if (events.length === 0) return;
    for (const e of events) this.expiring.add(e.connectionId);
    try {
      await this.deps.appender.append(events);
      this.deps.stats.sessionsExpired += events.length;
      this.deps.logger.info({ sessions: events.length, first: this.deps.audit.field(events[0].clientId) }, 'persistent sessions expired (mqtt.sessionExpiryMs)');
    } finally {
      for (const e of events) this.expiring.delete(e.connectionId);
    }
  }

  /** A connect was folded: a connection of this node for the same client that is now older is taken over. */
  private onSessionConnected(event: ClientConnected): void {
    const local = this.deps.registry.current(event.clientId);
    if (local && local.channel.state === 'connected' && local.channel.connectionId !== event.connectionId) {
      this.deps.logger.info({ clientId: event.clientId, byNode: event.nodeId }, 'session taken over by another node');
      local.run(local.channel.takenOver());
    }
  }

  /** A disconnect took effect. If it is this node's record of a failure, publish the will, once. */
  private onSessionDisconnected(event: ClientDisconnected, will: WillMessage | null): void {
    this.deps.membership.settled(event.connectionId);
    if (event.nodeId !== this.deps.nodeId() || event.reason !== DisconnectReason.NodeFailure || !will) return;
    const published = publishedEvent({
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      retain: will.retain,
      publisherId: event.clientId,
      origin: MessageOrigin.Will,
      nodeId: this.deps.nodeId(),
      timestamp: this.deps.clock.now(),
    });
    this.deps.appender.append([published]).catch((err: Error) => this.deps.logger.error({ err, clientId: event.clientId }, 'could not publish the will of a failed connection'));
  }

  /** Session snapshots: one writer per cluster is enough (snapshots at the same offset are identical). */
  async snapshotIfDue(force: boolean): Promise<void> {
    if (!force && !this.deps.membership.isCoordinator(Date.now())) return;
    const intervalDue = Date.now() - this.lastSnapshot >= this.deps.snapshots.intervalMs;
    try {
      const written = await writeSnapshots(this.deps.log, this.deps.streams, this.deps.sessions, force || intervalDue, this.deps.snapshots.everyEvents);
      if (written > 0 || intervalDue) this.lastSnapshot = Date.now();
      if (written > 0) this.deps.logger.debug({ partitions: written }, 'session snapshot written');
    } catch (err) {
      this.deps.logger.warn({ err }, 'session snapshot failed; will retry');
    }
  }
}
