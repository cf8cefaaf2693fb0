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
import { emptyRetained, foldRetained, RetainedRecord, retainedMatching, RetainedState } from '../../projections/RetainedProjection';
import { OutboundEntry } from '../../projections/SessionProjection';
import { Channel, ChannelContext, OpenedSession } from '../channel/Channel';
import { Effect } from '../channel/effects';
import { BrokerConfig } from '../config';
import { decodeEvent, decodePublishedForDelivery } from '../events/codec';
import { ClientConnected, ClientDisconnected, DisconnectReason, MessageOrigin, MessagePublished, MessageSource, publishedEvent, QoS, WillMessage } from '../events/types';
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
      try {
        await writeSnapshots(this.eventLog, this.streams, this.sessions, true, this.config.snapshots.everyEvents);
      } catch (err) {
        this.log.warn({ err }, 'final snapshot failed');
      }
    }
    for (const t of this.tails) t.close();
    this.tails.length = 0;
    await this.access.close();
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
              throw new Error(`cannot decode ${stream}/0 offset ${r.offset}: ${(err as Error).message}`);
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
      if (this.membership.isCoordinator(now)) await this.closeFailedSessions(false);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'heartbeat or failed-node check failed; will retry');
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
    this.log.error({ err }, `${what} stopped`);
    // An embedding application may listen; without a listener an 'error' event would throw.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // ---------------------------------------------------------------------------
  // Connections

  private accept(transport: Transport): void {
    if (this.stopping) {
      transport.destroy();
      return;
    }
    const connectionId = `${this.nodeId}/${this.epoch}/${++this.connectionCounter}`;
    const channel = new Channel(this.ctx, connectionId, transport.remoteAddress);
    const conn = new Connection(transport, channel, this, this.config.mqtt.maxPacketSize, this.config.mqtt.maxSocketBufferBytes);
    this.connections.add(conn);
    if (this.paused) transport.pause();
  }

  private tick(): void {
    if (this.paused) return;
    const now = Date.now();
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
        const allowed = decision.result === 'allow' && acl !== null;
        // The audit trail records every CONNECT decision: who, from where, by whom, why. Never the password.
        const event = {
          type: 'access.decided' as const,
          clientId: request.clientId,
          username: identity?.username ?? request.username,
          ip: request.ip,
          action: 'connect' as const,
          topic: null,
          allowed,
          code: allowed ? 0 : decision.code ?? ConnackCode.NotAuthorized,
          source: decision.source,
          reason: decision.reason ?? '',
          nodeId: this.nodeId,
          timestamp: this.clock.now(),
        };
        this.eventLog.submit(recordsFor([event], this.streams), (err) => {
          if (err) this.log.warn({ err: err.message }, 'could not record an access decision');
        });
        if (!allowed) {
          this.log.info({ clientId: request.clientId, username: request.username, ip: request.ip, code: event.code, source: decision.source, reason: decision.reason }, 'connection refused');
        }
        conn.run(conn.channel.authenticated(allowed, event.code, allowed ? { acl: acl!, identity: identity! } : undefined));
      },
      (err: Error) => {
        this.log.error({ err, clientId: request.clientId }, 'authentication failed; refusing the connection');
        conn.run(conn.channel.authenticated(false, ConnackCode.ServerUnavailable));
      },
    );
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
    this.open(conn).catch((err: Error) => {
      this.log.error({ err, clientId: conn.channel.clientId }, 'could not open the session');
      conn.run(conn.channel.close(null, `session could not be opened: ${err.message}`));
    });
  }

  private async open(conn: Connection): Promise<void> {
    const ch = conn.channel;
    const clientId = ch.clientId;
    const existing = this.byClientId.get(clientId);
    if (existing && existing !== conn) existing.run(existing.channel.takenOver()); // [MQTT-3.1.4-2]
    this.byClientId.set(clientId, conn);
    const prior = this.sessions.state.get(clientId);
    // Session present only when a persistent session is resumed [MQTT-3.2.2-1..3].
    const sessionPresent = !ch.cleanSession && prior !== undefined && !prior.cleanSession;
    const [position] = await this.eventLog.append(recordsFor([ch.connectedEvent(sessionPresent)], this.streams));
    await this.sessions.folded(position.partition, position.offset);
    const rec = this.sessions.state.get(clientId);
    if (!rec || rec.connectionId !== ch.connectionId) {
      conn.run(ch.close(null, 'superseded by a newer connection while opening'));
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

  sendRetained(conn: Connection, effect: Extract<Effect, { type: 'send-retained' }>): void {
    for (const sub of effect.subscriptions) {
      for (const entry of retainedMatching(this.retained, sub.filter)) {
        const m = entry.message;
        if (!conn.channel.acl.mayRead(m.topic)) continue;
        conn.deliver({
          topic: m.topic,
          payload: m.payload,
          qos: Math.min(m.qos, sub.qos) as QoS,
          retain: true, // [MQTT-3.3.1-8]
          ref: { source: MessageSource.Retained, partition: entry.partition, offset: entry.offset },
        });
      }
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
    this.connections.delete(conn);
    const clientId = conn.channel.clientId;
    const wasCurrent = clientId !== '' && this.byClientId.get(clientId) === conn;
    if (wasCurrent) {
      this.byClientId.delete(clientId);
      this.routes.removeClient(clientId);
    }
    if (conn.channel.session) this.stats.clientsConnected--;
    if (reason === DisconnectReason.ProtocolError || (reason === null && conn.channel.session === null && detail !== 'connection closed by client')) {
      this.stats.protocolErrors++;
      this.log.warn({ clientId: clientId || undefined, remote: conn.transport.remoteAddress, detail }, 'connection closed');
    } else {
      this.log.info({ clientId, remote: conn.transport.remoteAddress, reason: reason === null ? undefined : DisconnectReason[reason], detail }, 'client disconnected');
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
      this.position[partition] = r.offset + 1;
      if (!r.key || !r.value) continue;
      const local = r.local as MessagePublished | undefined;
      const topic = local !== undefined ? local.topic : r.key.toString('utf8');
      this.stats.messagesScanned++;
      const matches = this.routes.match(topic, partition, r.offset, this.matchScratch);
      if (matches.size === 0) continue; // skipped by key, never decoded
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
