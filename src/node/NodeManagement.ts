/**
 * The node's side of the management API (src/api/Management): clients and
 * sessions from the session projection (cluster-wide) with live detail for the
 * connections on this node, retained messages from the retained projection,
 * nodes from the membership fold, per-client history and the operators' audit
 * trail read back from the log. Every change goes through the log: a publish
 * or a retained delete is a `message.published`, a discarded session a
 * `session.expired`, and each operator write an `operator.action`.
 */
import { AccessControl } from '../../auth/AccessControl';
import { RetainedEntry, RetainedState } from '../../projections/RetainedProjection';
import { SessionRecord } from '../../projections/SessionProjection';
import type { Actor } from '../api/ApiAccess';
import type { ApiPublish, ClientDetails, ClientSummary, Management, NodeSummary, Overview, RetainedSummary } from '../api/Management';
import { BrokerConfig } from '../config';
import { decodeEvents } from '../events/codec';
import { BrokerEvent, MessageOrigin, OperatorAction, publishedEvent } from '../events/types';
import { EventLog, LogRecord } from '../log/EventLog';
import { topicLimitError, topicNameError } from '../protocol/topics';
import { LocalRoutes } from '../router/LocalRoutes';
import { Appender } from './Appender';
import type { Connection } from './Connection';
import { ConnectionRegistry } from './ConnectionRegistry';
import { ConnectionReports } from './ConnectionReports';
import { Membership } from './Membership';
import { SessionFolder } from './SessionFolder';
import { Stats } from './Stats';
import { StreamLayout } from './streams';
import { TopicRates } from './TopicRates';
import type { SysSources } from './SysTopics';
import { VERSION } from '../version';

/** The most session-stream records one history request scans (newest first). */
export const HISTORY_SCAN_LIMIT = 200_000;
const PAGE = 2000;

export interface NodeManagementParts {
  nodeId: () => string;
  config: BrokerConfig;
  log: EventLog;
  streams: StreamLayout;
  sessions: SessionFolder;
  retained: RetainedState;
  routes: LocalRoutes;
  registry: ConnectionRegistry;
  appender: Appender;
  stats: Stats;
  reports: ConnectionReports;
  membership: Membership;
  access: AccessControl;
  topics: TopicRates;
  position: number[];
  health: () => { state: string };
  deliveryLagMs: () => number;
}

const HISTORY_TYPES = new Set<BrokerEvent['type']>(['client.connected', 'client.disconnected', 'client.subscribed', 'client.unsubscribed', 'access.decided', 'message.dropped', 'session.expired']);

export class NodeManagement implements Management {
  constructor(private readonly p: NodeManagementParts) {}

  get nodeId(): string {
    return this.p.nodeId();
  }

  overview(): Overview {
    const s = this.p.stats;
    return {
      nodeId: this.nodeId,
      timestamp: Date.now(),
      uptimeMs: Date.now() - s.startedAt,
      connections: this.p.registry.size,
      sessions: this.p.sessions.state.size,
      subscriptions: this.p.routes.size,
      retained: this.p.retained.size,
      messagesReceived: s.messagesReceived,
      messagesSent: s.publishOut[0] + s.publishOut[1] + s.publishOut[2],
      messagesDropped: s.publishDropped,
      bytesReceived: s.bytesReceived,
      bytesSent: s.bytesSent,
      health: this.p.health().state,
      nodes: this.p.membership.liveNodeIds(Date.now()).map((nodeId) => {
        if (nodeId === this.nodeId) return { nodeId, connections: this.p.registry.size, messagesReceived: s.messagesReceived, messagesSent: s.publishOut[0] + s.publishOut[1] + s.publishOut[2] };
        const figure = (name: string) => Number(this.p.retained.get(`$SYS/brokers/${nodeId}/${name}`)?.message.payload.toString() ?? 0) || 0;
        return { nodeId, connections: figure('clients/connected'), messagesReceived: figure('publish/messages/received'), messagesSent: figure('publish/messages/sent') };
      }),
    };
  }

  clients(): ClientSummary[] {
    return [...this.p.sessions.state.values()].map((rec) => this.summary(rec));
  }

  client(clientId: string): ClientDetails | null {
    const rec = this.p.sessions.state.get(clientId);
    if (!rec) return null;
    const conn = this.live(rec);
    const session = conn?.channel.session ?? null;
    return {
      ...this.summary(rec),
      keepalive: conn ? conn.channel.keepalive : null,
      subscriptionList: [...rec.subscriptions].map(([filter, s]) => ({ filter, qos: s.qos })),
      inflight: rec.outbound.size,
      inboundPending: rec.inbound.size,
      queued: session ? session.queued : null,
      lagMs: session ? lagOf(session.oldestQueuedAt) : null,
      transport: conn ? conn.transport.kind : null,
      hasWill: rec.will !== null,
    };
  }

  /** Open connections by transport (tcp, tls, ws, wss). */
  connectionsByTransport(): Map<string, number> {
    const out = new Map<string, number>();
    for (const conn of this.p.registry) out.set(conn.transport.kind, (out.get(conn.transport.kind) ?? 0) + 1);
    return out;
  }

  /** The message stream's end offset per partition (what is appended; `position` is what this node has read). */
  messageEndOffsets(): Promise<number[]> {
    return Promise.all(this.p.position.map((_, i) => this.p.log.endOffset(this.p.streams.messages, i)));
  }

  /** Sessions in the projection, connected and not. */
  sessionCounts(): { connected: number; disconnected: number } {
    let connected = 0;
    for (const rec of this.p.sessions.state.values()) if (rec.connected) connected++;
    return { connected, disconnected: this.p.sessions.state.size - connected };
  }

  /** What the `$SYS` topics read. */
  sysSources(): SysSources {
    const p = this.p;
    return {
      ...{ nodeId: p.nodeId, stats: p.stats, retained: p.retained, subscriptions: () => p.routes.size, sessionCounts: () => this.sessionCounts() },
      coordinator: () => p.membership.isCoordinator(Date.now()),
      liveNodes: () => p.membership.liveNodeIds(Date.now()),
    };
  }

  /**
   * Kicks a client wherever it is connected: here at once; on another node by
   * an `operator.action` of kind `client.kick` in the audit stream, which the
   * node holding the connection acts on (it tails that stream: kickFromLog).
   */
  async kick(clientId: string, actor: Actor, ip: string): Promise<'kicked' | 'forwarded' | 'not-connected'> {
    const conn = this.p.registry.current(clientId);
    if (conn && conn.channel.state === 'connected') {
      conn.run(conn.channel.kicked());
      await this.audit(actor, ip, 'client.kick', clientId, `on ${this.nodeId}`);
      return 'kicked';
    }
    const rec = this.p.sessions.state.get(clientId);
    if (!rec || !rec.connected || rec.nodeId === this.nodeId) return 'not-connected';
    await this.audit(actor, ip, 'client.kick', clientId, `forwarded to ${rec.nodeId}`);
    return 'forwarded';
  }

  /** The audit stream's tail: a kick forwarded to this node ends the connection it names. */
  kickFromLog(records: readonly LogRecord[]): void {
    for (const r of records) {
      // An undecodable record stops the tail and fails the node, named, as every tail does.
      if (r.value) this.kickNamed(decodeEvents(r.value));
    }
  }

  private kickNamed(events: readonly BrokerEvent[]): void {
    for (const e of events) {
      if (e.type !== 'operator.action' || e.action !== 'client.kick' || e.nodeId === this.nodeId || e.detail !== `forwarded to ${this.nodeId}`) continue;
      const conn = this.p.registry.current(e.target);
      if (conn && conn.channel.state === 'connected') conn.run(conn.channel.kicked());
    }
  }

  async discardSession(clientId: string): Promise<boolean> {
    const conn = this.p.registry.current(clientId);
    if (conn) {
      conn.run(conn.channel.kicked());
      await conn.settled();
      // Its disconnect is folded from the log tail: wait (bounded) until the projection shows it.
      for (let i = 0; i < 200 && this.p.sessions.state.get(clientId)?.connected; i++) await new Promise((r) => setTimeout(r, 10));
    }
    const rec = this.p.sessions.state.get(clientId);
    if (!rec) return false;
    if (rec.connected) return false; // connected on another node: it must be kicked there first
    await this.p.appender.append([{ type: 'session.expired', clientId, connectionId: rec.connectionId, nodeId: this.nodeId, timestamp: Date.now() }]);
    return true;
  }

  subscriptions(): Array<{ clientId: string; filter: string; qos: 0 | 1 | 2 }> {
    const out: Array<{ clientId: string; filter: string; qos: 0 | 1 | 2 }> = [];
    for (const rec of this.p.sessions.state.values()) for (const [filter, s] of rec.subscriptions) out.push({ clientId: rec.clientId, filter, qos: s.qos });
    return out;
  }

  retained(): RetainedSummary[] {
    return [...this.p.retained.keys()].sort().map((t) => retainedSummary(this.p.retained.get(t)!));
  }

  retainedMessage(topic: string): RetainedSummary | null {
    const e = this.p.retained.get(topic);
    return e ? retainedSummary(e) : null;
  }

  async deleteRetained(topic: string, actor: Actor, ip: string): Promise<boolean> {
    if (!this.p.retained.get(topic)) return false;
    // An empty retained payload clears the topic [MQTT-3.3.1-10]; through the log, so every node forgets it.
    await this.p.appender.append([this.apiMessage({ topic, payload: Buffer.alloc(0), qos: 0, retain: true }, actor, ip), this.action(actor, ip, 'retained.delete', topic, '')]);
    return true;
  }

  async nodes(): Promise<NodeSummary[]> {
    const now = Date.now();
    const self = this.nodeId;
    const ends = await this.messageEndOffsets();
    return [...this.p.membership.nodes.values()]
      .map((n) => {
        const me = n.nodeId === self;
        return {
          nodeId: n.nodeId,
          self: me,
          live: this.p.membership.isLive(n.nodeId, now),
          startedAt: n.startedAt,
          uptimeMs: now - n.startedAt,
          lastHeartbeat: n.lastHeartbeat,
          version: me ? VERSION : n.version,
          health: me ? this.p.health() : n.health === null ? null : { state: n.health, reasons: [] as string[], asOf: n.lastHeartbeat },
          connections: me ? this.p.registry.size : null,
          logEnd: me ? ends : null,
          logPosition: me ? [...this.p.position] : null,
          advertisedAddress: n.advertisedAddress,
        };
      })
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  }

  topics(limit: number): Array<{ topic: string; messagesPerSecond: number }> {
    return this.p.topics.busiest(limit);
  }

  async publishRefusal(messages: ApiPublish[], actor: Actor, ip: string): Promise<string | null> {
    const mqtt = this.p.config.mqtt;
    const acl = await this.p.access.acl.compile({ clientId: `api:${actor.name}`, username: actor.name, ip, groups: [], superuser: false });
    for (const m of messages) {
      const bad = topicNameError(m.topic) ?? topicLimitError(m.topic, mqtt)?.detail ?? null;
      if (bad) return `topic '${m.topic.slice(0, 80)}': ${bad}`;
      if (m.payload.length + m.topic.length > mqtt.maxPacketSize) return `message to '${m.topic.slice(0, 80)}' larger than mqtt.maxPacketSize (${mqtt.maxPacketSize} bytes)`;
      if (!acl.mayPublish(m.topic)) return `the access rules refuse '${actor.name}' publishing to '${m.topic.slice(0, 80)}'`;
      if (m.retain && m.payload.length > 0 && this.p.retained.room(m.topic, m.topic.length + m.payload.length, mqtt) !== true) return `no room for another retained message (mqtt.maxRetainedMessages / maxRetainedBytes)`;
    }
    return null;
  }

  async publish(messages: ApiPublish[], actor: Actor, ip: string): Promise<void> {
    const events: BrokerEvent[] = messages.map((m) => this.apiMessage(m, actor, ip));
    const topics = [...new Set(messages.map((m) => m.topic))];
    events.push(this.action(actor, ip, 'publish', topics.length === 1 ? topics[0] : '', `${messages.length} message(s) to ${topics.length} topic(s)`));
    await this.p.appender.append(events);
  }

  async clientHistory(clientId: string, limit: number): Promise<{ events: BrokerEvent[]; scanned: number; truncated: boolean }> {
    const stream = this.p.streams.sessions;
    const key = Buffer.from(clientId, 'utf8');
    const partition = this.p.log.partitionFor(stream, key);
    const start = await this.p.log.startOffset(stream, partition);
    const end = await this.p.log.endOffset(stream, partition);
    const from = Math.max(start, end - HISTORY_SCAN_LIMIT);
    const found: BrokerEvent[] = [];
    let scanned = 0;
    for (let next = from; next < end; ) {
      const records = await this.p.log.read(stream, partition, next, { endOffset: end, maxRecords: PAGE });
      if (records.length === 0) break;
      for (const r of records) {
        scanned++;
        if (!r.key || !r.value || !r.key.equals(key)) continue;
        for (const e of decodeEvents(r.value)) {
          if (HISTORY_TYPES.has(e.type) && 'clientId' in e && e.clientId === clientId) found.push(e);
        }
      }
      next = records[records.length - 1].offset + 1;
    }
    return { events: found.slice(-limit), scanned, truncated: from > start || found.length > limit };
  }

  drops(): ReturnType<Management['drops']> {
    return { byReason: { ...this.p.stats.dropsByReason }, total: this.p.stats.publishDropped, recent: this.p.reports.recent() };
  }

  async audit(actor: Actor, ip: string, action: string, target: string, detail: string): Promise<void> {
    await this.p.appender.append([this.action(actor, ip, action, target, detail)]);
  }

  async auditTrail(limit: number): Promise<OperatorAction[]> {
    const stream = this.p.streams.audit;
    const start = await this.p.log.startOffset(stream, 0);
    const end = await this.p.log.endOffset(stream, 0);
    const out: OperatorAction[] = [];
    for (let next = Math.max(start, end - limit); next < end; ) {
      const records = await this.p.log.read(stream, 0, next, { endOffset: end, maxRecords: PAGE });
      if (records.length === 0) break;
      for (const r of records) if (r.value) for (const e of decodeEvents(r.value)) if (e.type === 'operator.action') out.push(e);
      next = records[records.length - 1].offset + 1;
    }
    return out;
  }

  private live(rec: SessionRecord): Connection | undefined {
    const conn = this.p.registry.current(rec.clientId);
    return conn && conn.channel.connectionId === rec.connectionId ? conn : undefined;
  }

  private summary(rec: SessionRecord): ClientSummary {
    const conn = this.live(rec);
    return {
      clientId: rec.clientId,
      username: rec.username,
      connected: rec.connected,
      node: rec.nodeId,
      address: conn ? conn.transport.remoteAddress : '',
      protocolVersion: rec.protocolVersion,
      cleanSession: rec.cleanSession,
      connectedAt: rec.connectedAt,
      disconnectedAt: rec.disconnectedAt,
      subscriptions: rec.subscriptions.size,
    };
  }

  private apiMessage(m: ApiPublish, actor: Actor, ip: string) {
    return publishedEvent({ topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, publisherId: `api:${actor.name}`, origin: MessageOrigin.Api, nodeId: this.nodeId, timestamp: Date.now(), username: actor.name, remoteAddress: ip });
  }

  private action(actor: Actor, ip: string, action: string, target: string, detail: string): OperatorAction {
    return { type: 'operator.action', actor: actor.name, ip, action, target, detail, nodeId: this.nodeId, timestamp: Date.now() };
  }
}

const lagOf = (since: number | null): number => (since === null ? 0 : Math.max(0, Date.now() - since));

function retainedSummary(e: RetainedEntry): RetainedSummary {
  const m = e.message;
  const text = m.payload.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8').equals(m.payload);
  return { topic: m.topic, qos: m.qos, payload: utf8 ? text : m.payload.toString('base64'), payloadEncoding: utf8 ? 'utf8' : 'base64', size: m.payload.length, publisherId: m.publisherId, timestamp: m.timestamp };
}
