/**
 * What the management routes need from a node, in the API's terms. The node's
 * side (src/node/NodeManagement) reads projections and the log; the routes only
 * validate requests and shape answers.
 */
import type { BrokerEvent, DropReason, OperatorAction, QoS } from '../events/types';
import type { Actor } from './ApiAccess';

export interface ClientSummary {
  clientId: string;
  username: string | null;
  connected: boolean;
  node: string;
  /** ip:port of the current or last connection ('' when unknown: another node's client after a restart). */
  address: string;
  protocolVersion: number;
  cleanSession: boolean;
  connectedAt: number;
  disconnectedAt: number | null;
  subscriptions: number;
}

export interface ClientDetails extends ClientSummary {
  keepalive: number | null;
  subscriptionList: Array<{ filter: string; qos: QoS }>;
  /** Outbound QoS 1/2 exchanges not yet acknowledged, and inbound QoS 2 awaiting PUBREL (projection). */
  inflight: number;
  inboundPending: number;
  /** Live on this node only (null elsewhere). */
  queued: number | null;
  lagMs: number | null;
  transport: string | null;
  hasWill: boolean;
}

export interface RetainedSummary {
  topic: string;
  qos: QoS;
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
  size: number;
  publisherId: string;
  timestamp: number;
}

export interface NodeSummary {
  nodeId: string;
  self: boolean;
  live: boolean;
  startedAt: number;
  uptimeMs: number;
  lastHeartbeat: number;
  version: string | null;
  health: unknown;
  connections: number | null;
  /** Message-stream end offsets (what is appended) and this node's read position, per partition. */
  logEnd: number[] | null;
  logPosition: number[] | null;
  /** Where MQTT clients reach the node (cluster.advertisedAddress), or null. */
  advertisedAddress: string | null;
}

export interface ApiPublish {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
}

export interface Overview {
  nodeId: string;
  timestamp: number;
  uptimeMs: number;
  connections: number;
  sessions: number;
  subscriptions: number;
  retained: number;
  messagesReceived: number;
  messagesSent: number;
  messagesDropped: number;
  bytesReceived: number;
  bytesSent: number;
  health: string;
  /** Every live node's connections and message totals (this node's live; the others' from their \$SYS/brokers/<node>/ figures). */
  nodes: Array<{ nodeId: string; connections: number; messagesReceived: number; messagesSent: number }>;
}

/** A client's event history, oldest first: from the log (events as they are) or the archive (their documents). */
export interface ClientEventHistory {
  source: 'log' | 'elasticsearch';
  events: Array<Record<string, unknown>>;
  scanned: number;
  truncated: boolean;
}

export interface Management {
  readonly nodeId: string;
  overview(): Overview;
  clients(): ClientSummary[];
  client(clientId: string): ClientDetails | null;
  /** Ends the client's connection, on this node or (through the log) on the node that holds it; recorded in the audit trail. */
  kick(clientId: string, actor: Actor, ip: string): Promise<'kicked' | 'forwarded' | 'not-connected'>;
  /** Discards a persistent session (kicking it first when connected here); false when there is none. */
  discardSession(clientId: string): Promise<boolean>;
  subscriptions(): Array<{ clientId: string; filter: string; qos: QoS }>;
  retained(): RetainedSummary[];
  retainedMessage(topic: string): RetainedSummary | null;
  /** Clears a retained message through the log (cluster-wide); false when there was none. */
  deleteRetained(topic: string, actor: Actor, ip: string): Promise<boolean>;
  nodes(): Promise<NodeSummary[]>;
  topics(limit: number): Array<{ topic: string; messagesPerSecond: number }>;
  /** Refusal message, or null when `actor` may publish these (topic rules, size, the access rules). */
  publishRefusal(messages: ApiPublish[], actor: Actor, ip: string): Promise<string | null>;
  /** Appends the messages (origin api); resolves once durable. */
  publish(messages: ApiPublish[], actor: Actor, ip: string): Promise<void>;
  /** One client's session events from the log, oldest first (at most `limit`, the newest). */
  clientHistory(clientId: string, limit: number): Promise<{ events: BrokerEvent[]; scanned: number; truncated: boolean }>;
  drops(): { byReason: Record<DropReason, number>; total: number; recent: ReadonlyArray<{ timestamp: number; clientId: string; count: number; reason: DropReason; detail: string }> };
  /** Appends an operator action to the audit stream; resolves once durable. */
  audit(actor: Actor, ip: string, action: string, target: string, detail: string): Promise<void>;
  /** Operator actions, oldest first (the newest `limit`). */
  auditTrail(limit: number): Promise<OperatorAction[]>;
}
