/**
 * A broker node: the composition root. It keeps no state of its own —
 * sessions and retained messages are projections folded from the log, local
 * routes mirror the subscriptions of the clients on its sockets, and every
 * message is delivered from the log tail — and it does no job itself: it wires
 * the pieces and carries their effects to each other.
 *
 *   socket → Connection (decoder → Channel) → Appender → log
 *   log tails: sessions → SessionFolder, retained → RetainedProjection,
 *              messages → LiveFanOut → DeliveryCore → Connection → socket
 */
import { EventEmitter } from 'events';
import { AccessControl } from '../../auth/AccessControl';
import { accessControlFromConfig } from '../../auth/fromConfig';
import { emptyRetained, foldRetained, RetainedState } from '../../projections/RetainedProjection';
import { Channel, ChannelContext } from '../channel/Channel';
import { BrokerConfig } from '../config';
import { DeliveryLag } from '../delivery/DeliveryLag';
import { LiveFanOut } from '../delivery/LiveFanOut';
import { SessionPages } from '../delivery/SessionPages';
import { SinceFeeds } from '../delivery/SinceFeed';
import { decodeEvent } from '../events/codec';
import { EventLog } from '../log/EventLog';
import { Logger } from '../logger';
import { LocalRoutes } from '../router/LocalRoutes';
import { SessionOpener } from '../session/SessionOpener';
import { Transport } from '../transports/Transport';
import { Appender } from './Appender';
import { ClusterDuties } from './ClusterDuties';
import { ConnectDecisions } from './ConnectDecisions';
import { Connection } from './Connection';
import { ConnectionServices } from './ConnectionServices';
import { ConnectionRegistry } from './ConnectionRegistry';
import { ConnectionReports } from './ConnectionReports';
import { checkFailedRecord } from './FailedRecordMarker';
import { failNode } from './NodeFailure';
import { IngestControl } from './IngestControl';
import { LimitReporter } from './LimitReporter';
import { ListeningPorts, Listeners } from './Listeners';
import { Membership } from './Membership';
import { HealthReport, NodeHealth } from './NodeHealth';
import { reloadAccess } from './AccessReload';
import { NodeManagement } from './NodeManagement';
import { NodeMetrics } from './NodeMetrics';
import { SharedGroups } from './SharedGroups';
import { SharedHandOff } from './SharedHandOff';
import { ConnectionIds } from './ConnectionIds';
import { SysTopics } from './SysTopics';
import { nodeChannelContext } from './NodeChannelContext';
import { TopicRates } from './TopicRates';
import { OperatorServices } from './OperatorServices';
import { ProjectionTails } from './ProjectionTails';
import { RefusedLoginAudit } from './RefusedLoginAudit';
import { SessionFolder } from './SessionFolder';
import { restoreSnapshots, writeSnapshots } from './Snapshots';
import { Stats } from './Stats';
import { StreamLayout, streamLayout, streamSpecs } from './streams';
import { TurnClock } from './TurnClock';
import { persistentNodeId } from './NodeIdentity';

export type { ListeningPorts };

export interface BrokerNodeOptions {
  config: BrokerConfig;
  log: EventLog;
  logger: Logger;
  /** Authentication and access rules; default: built from the configuration. */
  access?: AccessControl;
}

const TICK_MS = 1000;

export class BrokerNode extends EventEmitter {
  readonly config: BrokerConfig;
  readonly log: Logger;
  readonly eventLog: EventLog;
  readonly stats = new Stats();
  /** Prometheus metrics (GET /metrics). */
  readonly metrics = new NodeMetrics();
  /** What the management API reads and does (clients, retained, nodes, history, publish). */
  readonly management: NodeManagement;
  private readonly topicRates = new TopicRates();
  private readonly sharedGroups: SharedGroups;
  private readonly sys: SysTopics;
  readonly streams: StreamLayout;
  nodeId = '';
  readonly sessions: SessionFolder;
  readonly retained: RetainedState = emptyRetained();
  /** Next message-stream offset to deliver, per partition. */
  readonly position: number[] = [];
  readonly routes = new LocalRoutes();
  readonly access: AccessControl;
  readonly health = new NodeHealth();
  /** Limits hit: counted for the metrics, logged at most once per interval. */
  readonly limits: LimitReporter;
  readonly appender: Appender;
  /** The HTTP API, replays and (when configured) the archiver; set once started. */
  operator: OperatorServices | null = null;
  private readonly registry: ConnectionRegistry;
  private readonly deliveryLag: DeliveryLag;
  private readonly ingest: IngestControl;
  private readonly clock = new TurnClock();
  private readonly membership: Membership;
  private readonly decisions: ConnectDecisions;
  private readonly opener: SessionOpener;
  private readonly cluster: ClusterDuties;
  private readonly fanOut: LiveFanOut;
  private readonly pages: SessionPages;
  private readonly drops: ConnectionReports;
  private readonly services: ConnectionServices;
  private readonly projections: ProjectionTails;
  private readonly servers = new Listeners();
  private readonly ctx: ChannelContext;
  private timers: NodeJS.Timeout[] = [];
  private readonly connectionIds = new ConnectionIds(() => this.nodeId);
  private stopping = false;
  private started = false;

  constructor(options: BrokerNodeOptions) {
    super();
    const config = (this.config = options.config);
    const mqtt = config.mqtt;
    this.log = options.logger;
    this.eventLog = options.log;
    this.access = options.access ?? accessControlFromConfig(config, this.log.child({ component: 'auth' }));
    this.streams = streamLayout(config.log.streamPrefix);
    this.sessions = new SessionFolder(this.streams.sessions, config.log.sessionPartitions);
    this.limits = new LimitReporter(this.log.child({ component: 'limits' }), config.limits.logIntervalMs);
    this.sharedGroups = SharedGroups.following(this.sessions, (topic, n) => this.limits.hit('shared.maxGroupsPerMessage', `a message matched ${n} shared-subscription groups; the first 64 get it`, { topic: topic.slice(0, 200) }));
    this.registry = new ConnectionRegistry(config.limits);
    this.deliveryLag = new DeliveryLag({ maxLagMs: mqtt.maxDeliveryLagMs, slowMs: mqtt.slowSubscriberMs, maxQueued: mqtt.maxQueuedMessages });
    this.ingest = new IngestControl(this.eventLog, this.deliveryLag, () => this.registry, this.log);
    this.drops = new ConnectionReports(this.stats, this.log, (event) => void this.appender.append([event]).catch(() => undefined), () => this.nodeId);
    this.appender = new Appender(this.eventLog, this.streams, this.stats, this.ingest, (count, reason, detail) => this.drops.report(null, count, reason, detail), (ms, n) => this.metrics.appended(ms, n), (e) => this.sharedGroups.assignTo(e));
    const handOff = new SharedHandOff({ sessions: this.sessions, log: this.eventLog, messages: this.streams.messages, groups: this.sharedGroups, appender: this.appender, nodeId: () => this.nodeId, connectionIds: this.connectionIds, position: () => [...this.position], counted: (n, none) => this.stats.sharedHandOff(n, none), failed: (what, err) => this.fail(what, err) });
    this.membership = new Membership(() => this.nodeId, Date.now(), config.cluster, this.log);
    const audit = new RefusedLoginAudit(config.auth.audit);
    const common = { sessions: this.sessions, appender: this.appender, stats: this.stats, logger: this.log, nodeId: () => this.nodeId };
    this.decisions = new ConnectDecisions({ ...common, access: this.access, audit, limits: this.limits, clock: this.clock, allowSessionTakeoverByOtherUser: mqtt.allowSessionTakeoverByOtherUser });
    const opened = () => this.stats.clientConnected();
    const refusedForOwner = (conn: Connection) => this.decisions.refusedForOwner(conn);
    this.opener = new SessionOpener({ ...common, registry: this.registry, routes: this.routes, log: this.eventLog, streams: this.streams, allowSessionTakeoverByOtherUser: mqtt.allowSessionTakeoverByOtherUser, refusedForOwner, opened });
    this.cluster = new ClusterDuties({ ...common, handOff, membership: this.membership, registry: this.registry, log: this.eventLog, streams: this.streams, audit, clock: this.clock, snapshots: config.snapshots, health: () => this.healthReport().state });
    this.fanOut = new LiveFanOut(this.streams.messages, this.routes, (clientId) => this.registry.current(clientId), this.position, this.stats, this.topicRates, handOff);
    const expired = (reader: unknown, count: number) => this.drops.expired(reader as Connection, count);
    this.pages = new SessionPages(this.eventLog, this.streams.messages, this.routes, () => [...this.position], expired, (err) => this.fail('reading a session from the log', err), this.log, this.stats);
    const { appender, ingest, decisions, opener, pages, routes, retained, registry, drops: reports, limits, stats, health } = this;
    const fail = (what: string, err: unknown) => this.fail(what, err);
    // One object for every connection (idle memory per connection counts).
    const connectionLimits = { beforeConnect: Math.min(mqtt.maxPacketSizeBeforeConnect, mqtt.maxPacketSize), afterConnect: mqtt.maxPacketSize, maxSocketBufferBytes: mqtt.maxSocketBufferBytes };
    const sinceFeeds = new SinceFeeds(this.eventLog, this.streams.messages, this.routes, () => [...this.position], (err) => fail('a since subscription stopped reading the log', err));
    this.services = new ConnectionServices({ log: this.log, appender, ingest, decisions, opener, pages, sinceFeeds, handOff, routes, retained, registry, reports, limits, stats, health, maxQueuedMessages: mqtt.maxQueuedMessages, fail, connectionLimits });
    this.projections = new ProjectionTails(this.eventLog, (what, err) => this.fail(`${what} stopped`, err));
    this.management = new NodeManagement({
      ...{ config, log: this.eventLog, streams: this.streams, sessions: this.sessions, retained: this.retained, routes: this.routes, registry: this.registry, appender: this.appender },
      ...{ stats: this.stats, reports: this.drops, membership: this.membership, access: this.access, topics: this.topicRates, position: this.position },
      nodeId: () => this.nodeId,
      health: () => this.healthReport(),
      deliveryLagMs: () => this.deliveryLag.lagMs(Date.now()),
    });
    this.sys = new SysTopics(this.management.sysSources());
    this.ctx = nodeChannelContext({ nodeId: () => this.nodeId, config, now: this.clock.now, position: this.position, routes: this.routes, retained: this.retained, queueWatch: this.deliveryLag });
  }

  /** Rebuilds the projections from the log, then opens the listeners. */
  async start(): Promise<ListeningPorts> {
    const t0 = Date.now();
    this.nodeId = this.config.nodeId || persistentNodeId(this.config.dataDir);
    const c = this.config.log;
    await this.eventLog.open(streamSpecs({ ...c, prefix: c.streamPrefix }));
    // A failure on a record is remembered: refuse to start while that record is still bad.
    await checkFailedRecord(this.config.dataDir, this.eventLog);
    this.eventLog.onFailure = (err) => this.fail('the log cannot make appends durable', err);
    const restored = await restoreSnapshots(this.eventLog, this.streams, this.sessions);
    await this.projections.sessions(this.streams.sessions, c.sessionPartitions, this.sessions);
    const replayed = this.sessions.folds;
    await this.projections.compacted(this.streams.retained, (r) => foldRetained(this.retained, r));
    await this.projections.compacted(this.streams.nodes, (r) => r.value && this.membership.fold(decodeEvent(r.value)));
    this.projections.startServing();
    this.cluster.watchFolds();
    for (let p = 0; p < c.messagePartitions; p++) this.position[p] = await this.eventLog.endOffset(this.streams.messages, p);
    for (let p = 0; p < c.messagePartitions; p++) {
      this.projections.add(this.eventLog.tail(this.streams.messages, p, this.position[p], (records) => this.fanOut.onRecords(p, records), { onError: (err) => this.fail('message tail stopped', err) }));
    }
    const auditEnd = await this.eventLog.endOffset(this.streams.audit, 0);
    this.projections.add(this.eventLog.tail(this.streams.audit, 0, auditEnd, (records) => this.management.kickFromLog(records), { onError: (err) => this.fail('audit tail stopped', err) }));
    await this.cluster.heartbeat();
    await this.cluster.closeFailedSessions(true);
    this.metrics.rebuilt(Date.now() - t0);
    this.log.info({ nodeId: this.nodeId, sessions: this.sessions.state.size, retained: this.retained.size, snapshots: restored.length, replayedSessionEvents: replayed, ms: Date.now() - t0 }, 'projections rebuilt from the log');
    const ports = await this.servers.open(this.config, (t) => this.accept(t));
    this.operator = new OperatorServices({ config: this.config, log: this.eventLog, streams: this.streams, nodeId: this.nodeId, logger: this.log, node: this });
    await this.operator.start();
    if (this.operator.apiPort !== null) ports.api = this.operator.apiPort;
    this.every(TICK_MS, () => this.tick());
    this.every(Math.min(this.config.snapshots.intervalMs, 5000), () => void (this.stopping || this.cluster.snapshotIfDue(false)));
    this.every(this.config.cluster.heartbeatIntervalMs, () => void (this.stopping || this.cluster.tick()));
    if (this.config.sys.enabled) this.every(this.config.sys.intervalMs, () => this.stopping || void this.appender.append(this.sys.messages(Date.now())).catch(() => undefined));
    this.started = true;
    this.log.info({ nodeId: this.nodeId, ports }, 'mqlog node started');
    return ports;
  }

  /** Stops listening, ends every connection (no wills: sessions continue), snapshots and closes the log. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    // Stop accepting first; a server only reports closed once its connections are gone, so wait for that last.
    const listenersClosed = this.servers.close();
    const conns = [...this.registry, ...this.registry.redirected];
    const redirect = this.membership.redirectTarget(Date.now());
    for (const conn of conns) conn.run(conn.channel.shutdown(redirect?.(conn.channel.clientId) ?? null));
    await Promise.all(conns.map((conn) => conn.settled()));
    for (const conn of conns) conn.transport.destroy();
    await listenersClosed;
    await this.operator?.close();
    if (this.started) {
      this.decisions.recordSuppressed(Date.now(), true);
      await writeSnapshots(this.eventLog, this.streams, this.sessions, true, this.config.snapshots.everyEvents).catch((err: unknown) => this.log.warn({ err }, 'final snapshot failed'));
    }
    this.projections.close();
    await this.access.close();
    this.limits.close();
    this.ingest.close();
    await this.eventLog.close();
    this.log.info({ nodeId: this.nodeId }, 'mqlog node stopped');
  }

  /**
   * The node met something it cannot serve correctly past: it stops taking
   * anything in, says exactly why and emits 'failed' (the CLI exits non-zero for
   * its supervisor). See NodeFailure. Only the first cause counts.
   */
  fail(what: string, err: unknown): void {
    const error = failNode(this.health, what, err, { logger: this.log, dataDir: this.config.dataDir, connections: this.registry });
    if (error && this.listenerCount('failed') > 0) this.emit('failed', error);
  }

  get failed(): boolean {
    return this.health.failed;
  }

  /** healthy, degraded (with why) or failed (with the cause): GET /api/v1/status and the metrics. */
  healthReport(): HealthReport {
    const degraded: string[] = [];
    if (this.eventLog.congested) degraded.push(this.eventLog.congestion ?? 'the log is congested: acknowledgements wait until it drains');
    if (this.operator?.archiver?.status().elasticsearchDown) degraded.push('Elasticsearch is unreachable: archiving waits');
    return this.health.report(degraded);
  }

  /** The longest a keeping-up subscriber's message has waited (ms), and how often publishers were held for delivery. */
  deliveryLagReport(): { lagMs: number; sessionsWaiting: number; pauses: number } {
    return { lagMs: this.deliveryLag.lagMs(Date.now()), sessionsWaiting: this.deliveryLag.sessionsWaiting, pauses: this.ingest.deliveryPauses };
  }

  /** Re-reads users and rules files and compiles every connected client's rules again (SIGHUP). */
  reloadAccess(): Promise<void> {
    return reloadAccess(this.access, this.registry, this.log);
  }

  /** Test and tooling hook: write snapshots of every changed partition now. */
  snapshotNow(): Promise<void> {
    return this.cluster.snapshotIfDue(true);
  }

  /** Number of open network connections. */
  get connectionCount(): number {
    return this.registry.size;
  }

  private every(ms: number, task: () => void): void {
    const t = setInterval(task, ms);
    t.unref();
    this.timers.push(t);
  }

  private accept(transport: Transport): void {
    if (this.stopping || this.health.failed) return transport.destroy();
    // Limits are checked before anything is read: a refused socket costs nothing more, unless it is to be redirected.
    const { refused, redirected } = this.registry.admission(transport.ip, this.config.mqtt.serverReference !== '');
    if (refused) {
      this.limits.hit(refused.limit, refused.detail, { remote: transport.remoteAddress });
      if (!redirected) return transport.destroy();
    }
    const channel = new Channel(this.ctx, this.connectionIds.next(), transport.remoteAddress, redirected);
    const conn = new Connection(transport, channel, this.services);
    if (redirected) return this.registry.addRedirected(conn);
    this.registry.add(conn);
    if (this.ingest.holding) transport.pause();
  }

  private tick(): void {
    const now = Date.now();
    this.decisions.recordSuppressed(now);
    this.topicRates.rotate();
    if (!this.ingest.holding) this.registry.tick(now);
  }
}
