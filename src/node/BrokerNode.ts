/**
 * A broker node. It keeps no state of its own: sessions and retained messages
 * are projections folded from the log, local routes mirror the subscriptions of
 * the clients on its sockets, and every message is delivered from the log tail.
 *
 *   socket → Connection (decoder → Channel) → append → log
 *   log tail: sessions → SessionFolder, retained → RetainedProjection,
 *             messages → LocalRoutes → Connection.deliver → socket
 */
import { randomUUID } from 'crypto';
import { EventEmitter } from 'events';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { AccessControl } from '../../auth/AccessControl';
import { accessControlFromConfig } from '../../auth/fromConfig';
import { emptyRetained, foldRetained, RetainedEntry, RetainedRecord, retainedBytes, retainedMatching, RetainedState } from '../../projections/RetainedProjection';
import { OutboundEntry } from '../../projections/SessionProjection';
import { connectRefused } from '../../projections/sessionOwnership';
import { Channel, ChannelContext, NEVER_EXPIRES, OpenedSession, REFUSED_DETAIL } from '../channel/Channel';
import { Effect } from '../channel/effects';
import { BrokerConfig } from '../config';
import { decodeEvent, decodePublishedForDelivery } from '../events/codec';
import { AccessDecided, ClientConnected, ClientDisconnected, SessionExpired, DisconnectReason, MessageOrigin, MessagePublished, MessageSource, publishedEvent, QoS, WillMessage } from '../events/types';
import { EventLog, LogRecord, TailHandle } from '../log/EventLog';
import { Logger } from '../logger';
import { ConnackCode } from '../protocol/ProtocolViolation';
import { Delivery } from '../session/Session';
import { Listener, Transport } from '../transports/Transport';
import { TcpListener } from '../transports/TcpListener';
import { TlsListener } from '../transports/TlsListener';
import { WebSocketListener } from '../transports/WebSocketListener';
import { TurnClock } from './TurnClock';
import { Connection, ConnectionHost } from './Connection';
import { recordsFor } from './EventRouting';
import { LocalRoutes } from './LocalRoutes';
import { Membership } from './Membership';
import { scanBacklog } from './OfflineBacklog';
import { SessionFolder } from './SessionFolder';
import { restoreSnapshots, writeSnapshots } from './Snapshots';
import { OperatorServices } from './OperatorServices';
import { Stats } from './Stats';
import { HealthReport, NodeHealth } from './NodeHealth';
import { checkFailedRecord, writeFailedRecord } from './FailedRecordMarker';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { DecodeError } from '../events/binary';
import { LimitReporter } from './LimitReporter';
import { RefusedLoginAudit } from './RefusedLoginAudit';
import type { LimitName } from '../channel/limits';
import { StreamLayout, streamLayout, streamSpecs } from './streams';

export interface BrokerNodeOptions {
  config: BrokerConfig;
  log: EventLog;
  logger: Logger;
  /** Authentication and access rules; default: built from the configuration. */
  access?: AccessControl;
}

export interface ListeningPorts {
  tcp?: number;
  tls?: number;
  ws?: number;
  wss?: number;
  /** The HTTP API and metrics. */
  api?: number;
}

const TICK_MS = 1000;
/** Session expiries appended per cluster tick at most (the rest follow at the next). */
const EXPIRIES_PER_TICK = 1000;
/** Retained-index nodes one SUBSCRIBE may visit per message a session queue holds (the walk's budget). */
const RETAINED_VISITS_PER_QUEUED = 8;
/** Events one event-loop turn appends before the connections adding more wait for the next turn. */
const TURN_EVENT_BUDGET = 2000;

export class BrokerNode extends EventEmitter implements ConnectionHost {
  readonly config: BrokerConfig;
  readonly log: Logger;
  readonly eventLog: EventLog;
  readonly stats = new Stats();
  readonly streams: StreamLayout;
  nodeId = '';
  readonly sessions: SessionFolder;
  retained: RetainedState = emptyRetained();
  /** Next message-stream offset to deliver, per partition. */
  readonly position: number[] = [];
  readonly routes = new LocalRoutes();
  /** The current connection of each client id on this node. */
  private readonly byClientId = new Map<string, Connection>();
  private readonly connections = new Set<Connection>();
  /** Open connections per client IP address (limits.maxConnectionsPerIp). */
  private readonly connectionsPerIp = new Map<string, number>();
  /** Limits hit: counted for the metrics, logged at most once per interval. */
  readonly limits: LimitReporter;
  /** healthy / degraded / failed (NodeHealth). */
  readonly health = new NodeHealth();
  /** Connections whose session expiry is being appended (not yet folded). */
  private readonly expiring = new Set<string>();
  /** Bounds what refused logins cost the audit trail and the log. */
  readonly audit: RefusedLoginAudit;
  private readonly tails: TailHandle[] = [];
  private servers: Listener[] = [];
  private timers: NodeJS.Timeout[] = [];
  readonly access: AccessControl;
  private readonly ctx: ChannelContext;
  private connectionCounter = 0;
  private readonly epoch = Date.now().toString(36);
  /** Stamps every event this node writes, so events of one client never go back in time (TurnClock). */
  private readonly clock = new TurnClock();
  private stopping = false;
  private started = false;
  private lastSnapshot = Date.now();
  private readonly matchScratch = new Map<string, QoS>();
  private readonly dropReports = new Map<Connection, { count: number; reason: string }>();
  /** Appends made in this event-loop turn, and the connections paused for exceeding the budget. */
  private turnEvents = 0;
  private readonly turnPaused = new Set<Connection>();
  private readonly membership: Membership;
  private readonly startedAt = Date.now();
  /** Reading from client sockets is paused while the log is congested. */
  private paused = false;
  /** The HTTP API, replays and (when configured) the archiver; set once started. */
  operator: OperatorServices | null = null;

  constructor(options: BrokerNodeOptions) {
    super();
    this.config = options.config;
    this.log = options.logger;
    this.eventLog = options.log;
    this.access = options.access ?? accessControlFromConfig(options.config, this.log.child({ component: 'auth' }));
    this.streams = streamLayout(options.config.log.streamPrefix);
    this.sessions = new SessionFolder(this.streams.sessions, options.config.log.sessionPartitions);
    this.audit = new RefusedLoginAudit(options.config.auth.audit);
    this.limits = new LimitReporter(this.log.child({ component: 'limits' }), options.config.limits.logIntervalMs);
    this.membership = new Membership(() => this.nodeId, this.startedAt, options.config.cluster, this.log);
    const node = this;
    this.ctx = {
      get nodeId() {
        return node.nodeId;
      },
      settings: options.config.mqtt,
      now: this.clock.now,
      position: () => [...node.position],
      newClientId: () => `auto-${randomUUID()}`,
      aclDenyAction: options.config.acl.denyAction,
      subscriptionCount: (clientId) => node.routes.countOf(clientId),
      isSubscribed: (clientId, filter) => node.routes.has(clientId, filter),
      retainedRoom: (topic, bytes) => {
        const mqtt = node.config.mqtt;
        const old = node.retained.get(topic);
        if (!old && node.retained.size >= mqtt.maxRetainedMessages) return 'mqtt.maxRetainedMessages';
        if (node.retained.bytes - (old ? retainedBytes(old.message) : 0) + bytes > mqtt.maxRetainedBytes) return 'mqtt.maxRetainedBytes';
        return true;
      },
    };
  }

  // ---------------------------------------------------------------------------
  // Lifecycle

  /** Rebuilds the projections from the log, then opens the listeners. */
  async start(): Promise<ListeningPorts> {
    const t0 = Date.now();
    this.nodeId = this.config.nodeId || this.persistentNodeId();
    const c = this.config.log;
    await this.eventLog.open(
      streamSpecs({
        prefix: c.streamPrefix,
        messagePartitions: c.messagePartitions,
        sessionPartitions: c.sessionPartitions,
        messageRetentionMs: c.messageRetentionMs,
        messageRetentionBytes: c.messageRetentionBytes,
        sessionRetentionMs: c.sessionRetentionMs,
      }),
    );
    // A failure on a record is remembered: refuse to start while that record is still bad.
    await checkFailedRecord(this.config.dataDir, this.eventLog);
    this.eventLog.onFailure = (err) => this.fail('the log cannot make appends durable', err);
    const restored = await restoreSnapshots(this.eventLog, this.streams, this.sessions);
    await this.catchUpSessions();
    const replayed = this.sessions.folds;
    await this.catchUpCompacted(this.streams.retained, (r) => foldRetained(this.retained, r));
    await this.catchUpCompacted(this.streams.nodes, (r) => {
      if (r.value) this.membership.fold(decodeEvent(r.value));
    });
    // From here on, folds of other nodes' doings act on this node's connections.
    this.sessions.onConnected = (e) => this.onSessionConnected(e);
    this.sessions.onDisconnected = (e, will) => this.onSessionDisconnected(e, will);
    for (let p = 0; p < c.messagePartitions; p++) this.position[p] = await this.eventLog.endOffset(this.streams.messages, p);
    for (let p = 0; p < c.messagePartitions; p++) {
      this.tails.push(
        this.eventLog.tail(this.streams.messages, p, this.position[p], (records) => this.onMessages(p, records), {
          onError: (err) => this.fatal('message tail', err),
        }),
      );
    }
    await this.eventLog.append(recordsFor([this.membership.heartbeat(Date.now())], this.streams));
    await this.closeFailedSessions(true);
    this.log.info(
      {
        nodeId: this.nodeId,
        sessions: this.sessions.state.size,
        retained: this.retained.size,
        snapshots: restored.length,
        replayedSessionEvents: replayed,
        ms: Date.now() - t0,
      },
      'projections rebuilt from the log',
    );
    const ports = await this.openListeners();
    this.operator = new OperatorServices({ config: this.config, log: this.eventLog, streams: this.streams, nodeId: this.nodeId, logger: this.log, node: this });
    await this.operator.start();
    if (this.operator.apiPort !== null) ports.api = this.operator.apiPort;
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => void this.snapshotIfDue(false), Math.min(this.config.snapshots.intervalMs, 5000)));
    this.timers.push(setInterval(() => void this.clusterTick(), this.config.cluster.heartbeatIntervalMs));
    for (const t of this.timers) t.unref();
    this.started = true;
    this.log.info({ nodeId: this.nodeId, ports }, 'mqlog node started');
    return ports;
  }

  /** Stops listening, ends every connection (no wills: sessions continue), snapshots and closes the log. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // Stop accepting first; a server only reports closed once its connections are gone, so wait for that last.
    const listenersClosed = Promise.all(this.servers.map((l) => l.close()));
    this.servers = [];
    const conns = [...this.connections];
    for (const conn of conns) conn.run(conn.channel.shutdown());
    await Promise.all(conns.map((conn) => conn.settled()));
    for (const conn of conns) conn.transport.destroy();
    await listenersClosed;
    await this.operator?.close();
    if (this.started) {
      this.recordSuppressedLogins(Date.now(), true);
      try {
        await writeSnapshots(this.eventLog, this.streams, this.sessions, true, this.config.snapshots.everyEvents);
      } catch (err) {
        this.log.warn({ err }, 'final snapshot failed');
      }
    }
    for (const t of this.tails) t.close();
    this.tails.length = 0;
    await this.access.close();
    this.limits.close();
    await this.eventLog.close();
    this.log.info({ nodeId: this.nodeId }, 'mqlog node stopped');
  }

  private persistentNodeId(): string {
    const dir = this.config.dataDir;
    const file = join(dir, 'node-id');
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (id) return id;
    } catch {
      // first start: make one below
    }
    mkdirSync(dir, { recursive: true });
    const id = `node-${randomUUID().slice(0, 8)}`;
    writeFileSync(file, `${id}\n`);
    return id;
  }

  private async catchUpSessions(): Promise<void> {
    const partitions = this.config.log.sessionPartitions;
    const waits: Array<Promise<void>> = [];
    for (let p = 0; p < partitions; p++) {
      const end = await this.eventLog.endOffset(this.streams.sessions, p);
      let failed: (err: Error) => void = () => undefined;
      const failure = new Promise<void>((_, reject) => (failed = reject));
      this.tails.push(
        this.eventLog.tail(this.streams.sessions, p, this.sessions.nextOffset[p], (records) => this.sessions.apply(p, records), {
          onError: (err) => {
            failed(err);
            if (this.started) this.fatal('session tail', err);
          },
        }),
      );
      if (end > 0) waits.push(Promise.race([this.sessions.folded(p, end - 1), failure]));
    }
    await Promise.all(waits);
  }

  /** Folds a compacted stream from its start, then keeps folding its tail. */
  private async catchUpCompacted(stream: string, fold: (record: RetainedRecord) => void): Promise<void> {
    const end = await this.eventLog.endOffset(stream, 0);
    let next = await this.eventLog.startOffset(stream, 0);
    let failed: (err: Error) => void = () => undefined;
    const failure = new Promise<void>((_, reject) => (failed = reject));
    let caughtUp: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (caughtUp = resolve));
    this.tails.push(
      this.eventLog.tail(
        stream,
        0,
        next,
        (records) => {
          for (const r of records) {
            try {
              fold(r);
            } catch (err) {
              throw UndecodableRecord.at(stream, 0, r.offset, err);
            }
            next = r.offset + 1;
          }
          if (next >= end) caughtUp();
        },
        {
          onError: (err) => {
            failed(err);
            if (this.started) this.fatal(`${stream} tail`, err);
          },
        },
      ),
    );
    if (next >= end) return;
    await Promise.race([done, failure]);
  }

  /**
   * Records a `node failure` disconnect for sessions still connected on nodes
   * that failed; with `own`, also for this node's leftovers from an unclean stop
   * (kill -9). Their wills follow once the disconnect is folded (onSessionDisconnected).
   */
  private async closeFailedSessions(own: boolean): Promise<void> {
    const events = this.membership.failedNodeDisconnects(this.sessions.state, this.clock.now(), own);
    if (events.length === 0) return;
    try {
      await this.eventLog.append(recordsFor(events, this.streams));
    } catch (err) {
      for (const e of events) this.membership.settled(e.connectionId);
      throw err;
    }
  }

  private async clusterTick(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    try {
      await this.eventLog.append(recordsFor([this.membership.heartbeat(now)], this.streams));
      if (this.membership.isCoordinator(now)) {
        await this.closeFailedSessions(false);
        await this.expireSessions(now);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'heartbeat or failed-node check failed; will retry');
    }
  }

  /**
   * Persistent sessions disconnected for longer than their expiry are discarded
   * by a `session.expired` event (the coordinator writes them; every node folds
   * them). The expiry each session got when it connected is in its connect event.
   */
  private async expireSessions(now: number): Promise<void> {
    const events: SessionExpired[] = [];
    for (const rec of this.sessions.state.values()) {
      if (rec.connected || rec.cleanSession || rec.disconnectedAt === null || rec.sessionExpiry === NEVER_EXPIRES) continue;
      if (rec.disconnectedAt + rec.sessionExpiry * 1000 > now || this.expiring.has(rec.connectionId)) continue;
      events.push({ type: 'session.expired', clientId: rec.clientId, connectionId: rec.connectionId, nodeId: this.nodeId, timestamp: this.clock.now() });
      if (events.length >= EXPIRIES_PER_TICK) break;
    }
    if (events.length === 0) return;
    for (const e of events) this.expiring.add(e.connectionId);
    try {
      await this.eventLog.append(recordsFor(events, this.streams));
      this.stats.sessionsExpired += events.length;
      this.log.info({ sessions: events.length, first: this.audit.field(events[0].clientId) }, 'persistent sessions expired (mqtt.sessionExpiryMs)');
    } finally {
      for (const e of events) this.expiring.delete(e.connectionId);
    }
  }

  /** A connect was folded: a connection of this node for the same client that is now older is taken over. */
  private onSessionConnected(event: ClientConnected): void {
    const local = this.byClientId.get(event.clientId);
    if (local && local.channel.state === 'connected' && local.channel.connectionId !== event.connectionId) {
      this.log.info({ clientId: event.clientId, byNode: event.nodeId }, 'session taken over by another node');
      local.run(local.channel.takenOver());
    }
  }

  /** A disconnect took effect. If it is this node's record of a failure, publish the will, once. */
  private onSessionDisconnected(event: ClientDisconnected, will: WillMessage | null): void {
    this.membership.settled(event.connectionId);
    if (event.nodeId !== this.nodeId || event.reason !== DisconnectReason.NodeFailure || !will) return;
    const published = publishedEvent({
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      retain: will.retain,
      publisherId: event.clientId,
      origin: MessageOrigin.Will,
      nodeId: this.nodeId,
      timestamp: this.clock.now(),
    });
    this.eventLog.append(recordsFor([published], this.streams)).catch((err: Error) => this.log.error({ err, clientId: event.clientId }, 'could not publish the will of a failed connection'));
  }

  private async openListeners(): Promise<ListeningPorts> {
    const l = this.config.listeners;
    const onConnection = (t: Transport) => this.accept(t);
    const made: Array<[keyof ListeningPorts, Listener]> = [];
    if (l.tcp.enabled) made.push(['tcp', new TcpListener(l.tcp, onConnection)]);
    if (l.tls.enabled) made.push(['tls', new TlsListener({ ...l.tls, caFile: l.tls.caFile || undefined }, onConnection)]);
    const maxPayload = this.config.mqtt.maxPacketSize;
    if (l.ws.enabled) made.push(['ws', new WebSocketListener({ host: l.ws.host, port: l.ws.port, path: l.ws.path, maxPayload }, onConnection)]);
    if (l.wss.enabled) {
      const tls = { keyFile: l.wss.keyFile, certFile: l.wss.certFile, caFile: l.wss.caFile || undefined, requireClientCert: l.wss.requireClientCert };
      made.push(['wss', new WebSocketListener({ host: l.wss.host, port: l.wss.port, path: l.wss.path, maxPayload, tls }, onConnection)]);
    }
    const ports: ListeningPorts = {};
    try {
      for (const [kind, listener] of made) {
        ports[kind] = await listener.listen();
        this.servers.push(listener);
      }
    } catch (err) {
      await Promise.all(this.servers.map((x) => x.close()));
      this.servers = [];
      throw err;
    }
    return ports;
  }

  private fatal(what: string, err: Error): void {
    this.fail(`${what} stopped`, err);
  }

  /** True once the node failed: it acknowledges nothing more (ConnectionHost). */
  get failed(): boolean {
    return this.health.failed;
  }

  /**
   * The node met something it cannot serve correctly past. It stops taking
   * anything in (no new connections, no reading from clients, no
   * acknowledgement of what is still in flight), logs exactly why (the record,
   * when a record was the cause, is also kept in <dataDir>/failed-record.json so
   * the next start refuses until it is repaired) and emits 'failed': the CLI
   * exits non-zero for its supervisor. Only the first cause counts.
   */
  fail(what: string, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!this.health.fail(`${what}: ${error.message}`)) return;
    const bad = error instanceof UndecodableRecord ? error : null;
    const record = bad ? { stream: bad.stream, partition: bad.partition, offset: bad.offset } : undefined;
    this.log.fatal({ err: error, record }, `node failed (${what}): acknowledging nothing more; exiting for the supervisor`);
    for (const conn of this.connections) conn.transport.pause();
    if (record) {
      try {
        writeFailedRecord(this.config.dataDir, { ...record, detail: bad!.detail, at: new Date().toISOString() });
      } catch (markErr) {
        this.log.error({ err: markErr }, 'could not write the failed-record marker');
      }
    }
    // An embedding application may listen; without a listener nothing else is to be done here.
    if (this.listenerCount('failed') > 0) this.emit('failed', error);
  }

  /** healthy, degraded (with why) or failed (with the cause): GET /api/v1/status and the metrics. */
  healthReport(): HealthReport {
    const degraded: string[] = [];
    if (this.eventLog.congested) degraded.push(this.eventLog.congestion ?? 'the log is congested: acknowledgements wait until it drains');
    const archiver = this.operator?.archiver?.status();
    if (archiver?.elasticsearchDown) degraded.push('Elasticsearch is unreachable: archiving waits');
    return this.health.report(degraded);
  }

  // ---------------------------------------------------------------------------
  // Connections

  private accept(transport: Transport): void {
    if (this.stopping || this.health.failed) {
      transport.destroy();
      return;
    }
    // Limits are checked before anything is read: a refused socket costs nothing more.
    const limits = this.config.limits;
    if (this.connections.size >= limits.maxConnections) {
      this.limits.hit('limits.maxConnections', `${this.connections.size} connections open`, { remote: transport.remoteAddress });
      transport.destroy();
      return;
    }
    const fromIp = this.connectionsPerIp.get(transport.ip) ?? 0;
    if (fromIp >= limits.maxConnectionsPerIp) {
      this.limits.hit('limits.maxConnectionsPerIp', `${fromIp} connections open from ${transport.ip}`, { remote: transport.remoteAddress });
      transport.destroy();
      return;
    }
    this.connectionsPerIp.set(transport.ip, fromIp + 1);
    const connectionId = `${this.nodeId}/${this.epoch}/${++this.connectionCounter}`;
    const channel = new Channel(this.ctx, connectionId, transport.remoteAddress);
    const mqtt = this.config.mqtt;
    const conn = new Connection(transport, channel, this, { beforeConnect: Math.min(mqtt.maxPacketSizeBeforeConnect, mqtt.maxPacketSize), afterConnect: mqtt.maxPacketSize }, mqtt.maxSocketBufferBytes);
    this.connections.add(conn);
    if (this.paused) transport.pause();
  }

  limitHit(conn: Connection, limit: LimitName, detail: string): void {
    this.limits.hit(limit, detail, { clientId: conn.channel.clientId || undefined, remote: conn.transport.remoteAddress });
  }

  private tick(): void {
    const now = Date.now();
    this.recordSuppressedLogins(now);
    if (this.paused) return;
    for (const conn of this.connections) conn.run(conn.channel.tick(now));
  }

  append(conn: Connection, effect: Extract<Effect, { type: 'append' }>, then: Effect[] | undefined): void {
    let events = effect.events;
    for (const e of events) {
      if (e.type === 'message.published') this.stats.messagesReceived++;
      else if (e.type === 'access.decided' && e.action === 'publish') this.stats.publishDenied++;
    }
    if (this.eventLog.congested) {
      // The log is not keeping up: QoS 0 (at most once) is shed, counted; the rest waits.
      const kept = events.filter((e) => e.type !== 'message.published' || e.qos > 0);
      if (kept.length < events.length) this.dropped(conn, events.length - kept.length, 'log congested: QoS 0 publish shed');
      events = kept;
      this.applyBackpressure();
    }
    if (this.turnEvents === 0) setImmediate(this.endTurn);
    this.turnEvents += Math.max(1, effect.events.length);
    if (events.length) this.eventLog.submit(recordsFor(events, this.streams), (err) => conn.appended(err, then));
    else queueMicrotask(() => conn.appended(null, then));
  }

  /**
   * A turn takes about TURN_EVENT_BUDGET appended events; connections with more to
   * decode continue next turn. Node reads a busy socket many times per turn, and
   * without a budget a flood of publishes makes one turn (its batch, its memory,
   * everyone's latency) arbitrarily large. Paused publishers feel it as TCP flow
   * control: what they sent has been consumed by the broker.
   */
  readonly turnBudgetSpent = (): boolean => this.turnEvents >= TURN_EVENT_BUDGET;

  resumeNextTurn(conn: Connection): void {
    this.turnPaused.add(conn);
    if (this.turnEvents === 0) setImmediate(this.endTurn);
  }

  private readonly endTurn = (): void => {
    this.turnEvents = 0;
    if (this.turnPaused.size === 0) return;
    const paused = [...this.turnPaused];
    this.turnPaused.clear();
    if (this.paused) return; // the log is congested: applyBackpressure resumes them
    for (const c of paused) if (!c.isClosed) c.continueReading();
  };

  /**
   * Stops reading from every client until the log drains: QoS 1/2 publishers get
   * no acknowledgement until their message is durable, and the broker's memory stays
   * bounded. Keepalive is not enforced meanwhile (clients' pings wait in our sockets).
   */
  private applyBackpressure(): void {
    if (this.paused) return;
    this.paused = true;
    for (const conn of this.connections) conn.transport.pause();
    this.log.warn({ connections: this.connections.size }, 'log congested: reading from clients paused');
    const check = setInterval(() => {
      if (this.eventLog.congested && !this.stopping) return;
      clearInterval(check);
      this.paused = false;
      const now = Date.now();
      for (const conn of this.connections) {
        conn.channel.lastActivity = now;
        conn.continueReading();
      }
      this.log.info('log drained: reading from clients resumed');
    }, 100);
    check.unref();
  }

  authenticate(conn: Connection, effect: Extract<Effect, { type: 'authenticate' }>): void {
    const t = conn.transport;
    const request = { ...effect.request, ip: t.ip, transport: t.kind, certificate: t.certificate };
    this.access.connect(request).then(
      ({ decision, identity, acl }) => {
        let allowed = decision.result === 'allow' && acl !== null;
        if (decision.source === 'rate limiter') this.limits.hit('auth.rateLimit', decision.reason ?? 'locked out', { remote: t.remoteAddress });
        let code = allowed ? 0 : decision.code ?? ConnackCode.NotAuthorized;
        let source = decision.source;
        let reason = decision.reason ?? '';
        // A will must be publishable by its client: checked here, as Mosquitto does.
        const willRefused = allowed ? conn.channel.willRefused(acl!) : null;
        if (willRefused !== null) {
          allowed = false;
          code = ConnackCode.NotAuthorized;
          source = 'acl';
          reason = willRefused;
        }
        // Identity owns the session: another user's client id is refused (the folds enforce it too).
        const username = identity?.username ?? request.username;
        const ownerConflict = allowed ? this.sessionOwnerConflict(request.clientId, username) : null;
        if (ownerConflict !== null) {
          allowed = false;
          code = ConnackCode.NotAuthorized;
          source = 'session';
          reason = ownerConflict;
          this.stats.sessionTakeoversRefused++;
        }
        this.recordConnectDecision(conn, request.clientId, identity?.username ?? request.username, allowed, code, source, reason);
        conn.run(conn.channel.authenticated(allowed, code, allowed ? { acl: acl!, identity: identity! } : undefined));
      },
      (err: Error) => {
        this.log.error({ err, clientId: this.audit.field(request.clientId) }, 'authentication failed; refusing the connection');
        conn.run(conn.channel.authenticated(false, ConnackCode.ServerUnavailable));
      },
    );
  }

  /**
   * Why `username` may not connect as `clientId`: its session belongs to another
   * user name and `mqtt.allowSessionTakeoverByOtherUser` is off. Null otherwise.
   */
  private sessionOwnerConflict(clientId: string, username: string | null): string | null {
    if (this.config.mqtt.allowSessionTakeoverByOtherUser) return null;
    const owner = this.sessions.state.get(clientId)?.username;
    if (!connectRefused(owner, { username, foreignTakeover: false })) return null;
    return `client id ${this.audit.field(clientId)} names a session of another user`;
  }

  /**
   * The audit trail records every CONNECT decision: who, from where, by whom, why,
   * never the password. Refused ones are bounded (RefusedLoginAudit): fields cut
   * short, and a limited number of records per address and window.
   */
  private recordConnectDecision(conn: Connection, clientId: string, username: string | null, allowed: boolean, code: number, source: string, reason: string): void {
    const ip = conn.transport.ip;
    if (!allowed && !this.audit.admit(ip, Date.now())) {
      this.limits.hit('auth.audit.refusedLoginsPerIp', `refused logins from ${ip} past ${this.audit.settings.refusedLoginsPerIp} per window are counted, not recorded`);
      return;
    }
    const event: AccessDecided = {
      type: 'access.decided',
      clientId: this.audit.field(clientId),
      username: this.audit.field(username),
      ip,
      action: 'connect',
      topic: null,
      allowed,
      code,
      source,
      reason: this.audit.field(reason),
      nodeId: this.nodeId,
      timestamp: this.clock.now(),
    };
    this.eventLog.submit(recordsFor([event], this.streams), (err) => {
      if (err) this.log.warn({ err: err.message }, 'could not record an access decision');
    });
    if (!allowed) this.log.info({ clientId: event.clientId, username: event.username, ip, code, source, reason: event.reason }, 'connection refused');
  }

  /** One record per address whose refused logins were counted rather than recorded. */
  private recordSuppressedLogins(now: number, all = false): void {
    for (const s of this.audit.takeEnded(now, all)) {
      const event: AccessDecided = {
        type: 'access.decided',
        clientId: '',
        username: null,
        ip: s.ip,
        action: 'connect',
        topic: null,
        allowed: false,
        code: ConnackCode.NotAuthorized,
        source: 'audit',
        reason: `${s.count} more refused logins from ${s.ip} within ${s.windowMs} ms not recorded one by one`,
        nodeId: this.nodeId,
        timestamp: this.clock.now(),
      };
      this.eventLog.submit(recordsFor([event], this.streams), (err) => {
        if (err) this.log.warn({ err: err.message }, 'could not record an access decision');
      });
    }
  }

  /** Re-reads users and rules files and compiles every connected client's rules again (SIGHUP). */
  async reloadAccess(): Promise<void> {
    this.access.reload();
    for (const conn of this.connections) {
      const ch = conn.channel;
      if (ch.state !== 'connected' || !ch.identity) continue;
      try {
        ch.acl = await this.access.acl.compile(ch.identity);
      } catch (err) {
        this.log.warn({ clientId: ch.clientId, err: (err as Error).message }, 'could not reload the access rules of a client; keeping the old ones');
      }
    }
    this.log.info({ connections: this.connections.size }, 'access rules reloaded');
  }

  openSession(conn: Connection): void {
    if (this.health.failed) return;
    this.open(conn).catch((err: Error) => {
      if (err instanceof UndecodableRecord) this.fail('reading an offline queue', err);
      this.log.error({ err, clientId: conn.channel.clientId }, 'could not open the session');
      conn.run(conn.channel.close(null, `session could not be opened: ${err.message}`));
    });
  }

  private async open(conn: Connection): Promise<void> {
    const ch = conn.channel;
    const clientId = ch.clientId;
    const existing = this.byClientId.get(clientId);
    if (existing && existing !== conn) {
      // Another connection of this client id on this node, perhaps not folded yet: its user owns it.
      if (!this.config.mqtt.allowSessionTakeoverByOtherUser && existing.channel.username !== ch.username) {
        this.stats.sessionTakeoversRefused++;
        this.recordConnectDecision(conn, clientId, ch.username, false, ConnackCode.NotAuthorized, 'session', `client id ${this.audit.field(clientId)} names a session of another user`);
        conn.run(ch.sessionRefused(ConnackCode.NotAuthorized));
        return;
      }
      existing.run(existing.channel.takenOver()); // [MQTT-3.1.4-2]
    }
    this.byClientId.set(clientId, conn);
    const prior = this.sessions.state.get(clientId);
    // Session present only when a persistent session is resumed [MQTT-3.2.2-1..3].
    const sessionPresent = !ch.cleanSession && prior !== undefined && !prior.cleanSession;
    const [position] = await this.eventLog.append(recordsFor([ch.connectedEvent(sessionPresent)], this.streams));
    await this.sessions.folded(position.partition, position.offset);
    const rec = this.sessions.state.get(clientId);
    if (!rec || rec.connectionId !== ch.connectionId) {
      if (rec && connectRefused(rec.username, ch.connectedEvent(false))) {
        // Another user's connect for this client id won the race (on another node): the folds refused ours.
        this.stats.sessionTakeoversRefused++;
        this.recordConnectDecision(conn, clientId, ch.username, false, ConnackCode.NotAuthorized, 'session', `client id ${this.audit.field(clientId)} names a session of another user`);
        conn.run(ch.sessionRefused(ConnackCode.NotAuthorized));
      } else {
        conn.run(ch.close(null, 'superseded by a newer connection while opening'));
      }
      return;
    }
    const outbound: OpenedSession['outbound'] = [];
    for (const entry of rec.outbound.values()) {
      const message = entry.released ? null : await this.readDelivery(entry);
      if (!entry.released && !message) {
        this.log.warn({ clientId, packetId: entry.packetId, ref: entry.ref }, 'in-flight message no longer in the log; not resent');
        continue;
      }
      outbound.push({ packetId: entry.packetId, entry: { qos: entry.qos, ref: entry.ref, released: entry.released }, message });
    }
    if (conn.isClosed) {
      // The client went away while its session was opening: record that, with its will.
      conn.run(ch.end(DisconnectReason.ConnectionLost, 'connection closed while opening', true, rec.served));
      return;
    }
    // Routes first, then the channel: both in this synchronous block, so no message slips between.
    for (const [filter, sub] of rec.subscriptions) this.routes.add(clientId, filter, sub.qos, sub.since);
    this.stats.clientConnected();
    conn.runSafely(ch.opened({ sessionPresent, outbound, inbound: rec.inbound }));
    this.log.info(
      { clientId, remote: conn.transport.remoteAddress, transport: conn.transport.kind, cleanSession: ch.cleanSession, sessionPresent },
      'client connected',
    );
    if (!sessionPresent || rec.subscriptions.size === 0 || conn.isClosed) return;
    const upTo = [...this.position];
    ch.beginBacklog(rec.served);
    const scan = await scanBacklog(this.eventLog, this.streams.messages, rec.subscriptions, rec.served, upTo, { includeQos0: false, limit: Infinity, mayRead: (t) => ch.acl.mayRead(t), clientId });
    if (scan.expired > 0) this.log.warn({ clientId, expired: scan.expired }, 'offline messages deleted by retention before the session returned');
    if (!conn.isClosed) conn.runSafely(ch.endBacklog(scan.deliveries));
  }

  /** A connected session reads its next page of messages from the log (it fell behind). */
  catchUp(conn: Connection, effect: Extract<Effect, { type: 'catch-up' }>): void {
    const ch = conn.channel;
    const upTo = [...this.position];
    scanBacklog(this.eventLog, this.streams.messages, this.routes.routesOf(ch.clientId), effect.from, upTo, { includeQos0: true, limit: effect.limit, mayRead: (t) => ch.acl.mayRead(t), clientId: ch.clientId }).then(
      (scan) => {
        if (scan.expired > 0) this.dropped(conn, scan.expired, 'deleted by retention before a slow subscriber read them');
        if (!conn.isClosed) conn.runSafely(ch.caughtUp(scan.deliveries, scan.next, scan.complete));
      },
      (err: Error) => {
        if (err instanceof UndecodableRecord) {
          this.fail('reading a session from the log', err);
          return;
        }
        this.log.error({ err, clientId: ch.clientId }, 'reading a session from the log failed; will retry');
        ch.catchUpFailed();
        setTimeout(() => conn.runSafely(ch.pump()), 1000).unref();
      },
    );
  }

  private async readDelivery(entry: OutboundEntry): Promise<Delivery | null> {
    const stream = entry.ref.source === MessageSource.Retained ? this.streams.retained : this.streams.messages;
    const [record] = await this.eventLog.read(stream, entry.ref.partition, entry.ref.offset, { maxRecords: 1 });
    if (!record || record.offset !== entry.ref.offset || !record.value) return null;
    const event = decodeEvent(record.value);
    if (event.type !== 'message.published') return null;
    return { topic: event.topic, payload: event.payload, qos: entry.qos, retain: entry.ref.source === MessageSource.Retained, ref: entry.ref };
  }

  routeAdd(conn: Connection, effect: Extract<Effect, { type: 'route-add' }>): void {
    for (const r of effect.routes) this.routes.add(conn.channel.clientId, r.filter, r.qos, r.since);
  }

  routeRemove(conn: Connection, effect: Extract<Effect, { type: 'route-remove' }>): void {
    for (const f of effect.filters) this.routes.remove(conn.channel.clientId, f);
  }

  /**
   * The retained messages matching a SUBSCRIBE's new subscriptions [MQTT-3.3.1-6]:
   * each once, at the highest QoS of the filters it matches in this SUBSCRIBE
   * (overlapping filters are one delivery, as for live messages). What one
   * SUBSCRIBE may bring is bounded by the session queue (`mqtt.maxQueuedMessages`)
   * and the walk over the retained store by a visit budget; what does not fit is
   * counted as a limit hit.
   */
  sendRetained(conn: Connection, effect: Extract<Effect, { type: 'send-retained' }>): void {
    const limit = this.config.mqtt.maxQueuedMessages;
    let budget = RETAINED_VISITS_PER_QUEUED * limit;
    const chosen = new Map<string, { entry: RetainedEntry; qos: QoS }>();
    let truncated = false;
    for (const sub of effect.subscriptions) {
      const match = retainedMatching(this.retained, sub.filter, limit, budget);
      budget -= RETAINED_VISITS_PER_QUEUED * match.entries.length + 1;
      truncated ||= match.truncated;
      for (const entry of match.entries) {
        const qos = Math.min(entry.message.qos, sub.qos) as QoS;
        const prev = chosen.get(entry.message.topic);
        if (prev === undefined) {
          if (chosen.size >= limit) {
            truncated = true;
            break;
          }
          chosen.set(entry.message.topic, { entry, qos });
        } else if (qos > prev.qos) prev.qos = qos;
      }
      if (budget <= 0) {
        truncated = true;
        break;
      }
    }
    if (truncated) this.limits.hit('mqtt.maxQueuedMessages', `a SUBSCRIBE matched more retained messages than one session queue holds (${limit})`, { clientId: conn.channel.clientId });
    for (const { entry, qos } of chosen.values()) {
      const m = entry.message;
      if (!conn.channel.acl.mayRead(m.topic)) continue;
      conn.deliver({
        topic: m.topic,
        payload: m.payload,
        qos,
        retain: true, // [MQTT-3.3.1-8]
        ref: { source: MessageSource.Retained, partition: entry.partition, offset: entry.offset },
      });
    }
  }

  /** Counts dropped messages; logs the first drop of a connection at once, then at most once a second. */
  dropped(conn: Connection, count: number, reason: string): void {
    this.stats.publishDropped += count;
    const report = this.dropReports.get(conn);
    if (report) {
      report.count += count;
      return;
    }
    this.log.warn({ clientId: conn.channel.clientId, count, reason, totalDropped: this.stats.publishDropped }, 'messages dropped for a session');
    const next = { count: 0, reason };
    this.dropReports.set(conn, next);
    setTimeout(() => {
      this.dropReports.delete(conn);
      if (next.count > 0) {
        this.log.warn({ clientId: conn.channel.clientId, count: next.count, reason: next.reason, totalDropped: this.stats.publishDropped }, 'messages dropped for a session');
      }
    }, 1000).unref();
  }

  closed(conn: Connection, reason: DisconnectReason | null, detail: string): void {
    if (this.connections.delete(conn)) {
      const ip = conn.transport.ip;
      const fromIp = (this.connectionsPerIp.get(ip) ?? 1) - 1;
      if (fromIp > 0) this.connectionsPerIp.set(ip, fromIp);
      else this.connectionsPerIp.delete(ip);
    }
    const clientId = conn.channel.clientId;
    const wasCurrent = clientId !== '' && this.byClientId.get(clientId) === conn;
    if (wasCurrent) {
      this.byClientId.delete(clientId);
      this.routes.removeClient(clientId);
    }
    if (conn.channel.session) this.stats.clientsConnected--;
    if (reason === null && detail.startsWith(REFUSED_DETAIL)) {
      // Logged once, bounded per address, where the refusal was decided (recordConnectDecision).
      this.log.debug({ clientId: this.audit.field(clientId), remote: conn.transport.remoteAddress, detail }, 'connection closed');
    } else if (reason === DisconnectReason.ProtocolError || (reason === null && conn.channel.session === null && detail !== 'connection closed by client')) {
      this.stats.protocolErrors++;
      this.log.warn({ clientId: clientId ? this.audit.field(clientId) : undefined, remote: conn.transport.remoteAddress, detail }, 'connection closed');
    } else {
      this.log.info({ clientId: this.audit.field(clientId), remote: conn.transport.remoteAddress, reason: reason === null ? undefined : DisconnectReason[reason], detail }, 'client disconnected');
    }
  }

  countIn(bytes: number): void {
    this.stats.bytesReceived += bytes;
  }

  countOut(bytes: number): void {
    this.stats.bytesSent += bytes;
  }

  // ---------------------------------------------------------------------------
  // Delivery from the log

  private onMessages(partition: number, records: LogRecord[]): void {
    for (const r of records) {
      try {
        this.deliverRecord(partition, r);
      } catch (err) {
        throw err instanceof DecodeError ? UndecodableRecord.at(this.streams.messages, partition, r.offset, err) : err;
      }
    }
  }

  /** One message-stream record: to every local session whose subscriptions match. */
  private deliverRecord(partition: number, r: LogRecord): void {
    this.position[partition] = r.offset + 1;
    if (!r.key || !r.value) return;
    const local = r.local as MessagePublished | undefined;
    const topic = local !== undefined ? local.topic : r.key.toString('utf8');
    this.stats.messagesScanned++;
    const matches = this.routes.match(topic, partition, r.offset, this.matchScratch);
    if (matches.size === 0) return; // skipped by key, never decoded
    this.stats.messagesRouted++;
    // Appended by this process: the event itself; otherwise decode what delivery needs.
    const event = local ?? decodePublishedForDelivery(r.value);
    const ref = { source: MessageSource.Messages, partition, offset: r.offset };
    // One Delivery per QoS, shared by the subscribers that get it, so its PUBLISH is encoded once.
    const byQos: Array<Delivery | undefined> = [];
    for (const clientId of matches.keys()) {
      if (event.target !== null && event.target !== clientId) continue; // aimed at one client (a replay)
      const conn = this.byClientId.get(clientId);
      if (!conn) continue;
      // A wildcard subscription must not carry topics the client may not read.
      const acl = conn.channel.acl;
      if (!acl.unrestricted && !acl.mayRead(topic)) continue;
      this.stats.messagesSent++;
      // Delivered at the lower of the two QoS, retain flag cleared [MQTT-3.3.1-9, MQTT-3.8.4-6].
      const qos = Math.min(event.qos, matches.get(clientId)!) as QoS;
      const d = (byQos[qos] ??= { topic, payload: event.payload, qos, retain: false, ref });
      conn.deliver(d);
    }
  }

  private async snapshotIfDue(force: boolean): Promise<void> {
    if (this.stopping) return;
    // One writer per cluster is enough: snapshots at the same offset are identical.
    if (!force && !this.membership.isCoordinator(Date.now())) return;
    const intervalDue = Date.now() - this.lastSnapshot >= this.config.snapshots.intervalMs;
    try {
      const written = await writeSnapshots(this.eventLog, this.streams, this.sessions, force || intervalDue, this.config.snapshots.everyEvents);
      if (written > 0 || intervalDue) this.lastSnapshot = Date.now();
      if (written > 0) this.log.debug({ partitions: written }, 'session snapshot written');
    } catch (err) {
      this.log.warn({ err }, 'session snapshot failed; will retry');
    }
  }

  /** Test and tooling hook: write snapshots of every changed partition now. */
  snapshotNow(): Promise<void> {
    return this.snapshotIfDue(true);
  }

  /** Number of open network connections. */
  get connectionCount(): number {
    return this.connections.size;
  }
}
