/**
 * Every event the broker appends to its log. This module is the one definition
 * of each event's shape; `codec.ts` is the one encoder and decoder.
 *
 * Events are facts, never commands: projections fold them deterministically, so
 * anything a fold needs (timestamps, positions, the node that acted) travels in
 * the event itself rather than being read from the clock or the environment.
 */

export type QoS = 0 | 1 | 2;

/** SUBACK return code for a refused filter [MQTT-3.9.3-2]. */
export const SUBACK_FAILURE = 0x80;
export type GrantedQoS = QoS | typeof SUBACK_FAILURE;

/**
 * A position in the message stream: for each partition, the next offset not yet
 * handled. Message partitions are fixed when the log is created, so a vector is
 * enough and compares cheaply.
 */
export type Positions = readonly number[];

/** Protocol levels: 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1, 5 = MQTT 5. */
export type ProtocolLevel = 3 | 4 | 5;

/**
 * MQTT 5 message properties kept with a message (in the log, the archive and
 * history) and passed on to MQTT 5 subscribers [MQTT-3.3.2-17, MQTT-3.3.2-18,
 * MQTT-3.3.2-20]. Absent for MQTT 3.1.1 publishers.
 */
export interface MessageProperties {
  payloadFormatIndicator?: 0 | 1;
  /** When the message expires (ms since the epoch): publish time + Message Expiry Interval. */
  expiresAt?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** In order; names may repeat. */
  userProperties?: Array<[string, string]>;
}

export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 will properties (expiry measured from when the will is published). */
  properties?: MessageProperties;
  /** MQTT 5 Will Delay Interval, ms (0: at once). */
  delayMs?: number;
  /** MQTT 5 Message Expiry Interval of the will, seconds (its expiresAt is set when it is published). */
  expirySeconds?: number;
}

/** Why a connection ended. Numeric values are part of the encoding: append only. */
export enum DisconnectReason {
  /** The client sent DISCONNECT. */
  Normal = 0,
  /** Nothing received for 1.5 x keepalive [MQTT-3.1.2-24]. */
  KeepaliveTimeout = 1,
  /** The same client id connected again [MQTT-3.1.4-2]. */
  Takeover = 2,
  /** The client broke the protocol; the connection was closed. */
  ProtocolError = 3,
  /** The broker is shutting down. */
  ServerShutdown = 4,
  /** The network connection closed without DISCONNECT. */
  ConnectionLost = 5,
  /** The node holding the connection stopped without a clean shutdown (recorded by another node, or by itself on restart). */
  NodeFailure = 6,
  /** The client did what its access rules forbid and the broker is configured to disconnect it for that. */
  NotAuthorized = 7,
  /** An operator ended the connection through the API. */
  Kicked = 8,
}

/** Names of the disconnect reasons for people and indexes (the archive, the API). */
export const DISCONNECT_REASON_NAMES: Readonly<Record<DisconnectReason, string>> = {
  [DisconnectReason.Normal]: 'normal',
  [DisconnectReason.KeepaliveTimeout]: 'keepalive_timeout',
  [DisconnectReason.Takeover]: 'takeover',
  [DisconnectReason.ProtocolError]: 'protocol_error',
  [DisconnectReason.ServerShutdown]: 'server_shutdown',
  [DisconnectReason.ConnectionLost]: 'connection_lost',
  [DisconnectReason.NodeFailure]: 'node_failure',
  [DisconnectReason.NotAuthorized]: 'not_authorized',
  [DisconnectReason.Kicked]: 'kicked',
};

/** Where a published message came from. Numeric values are part of the encoding. */
export enum MessageOrigin {
  Client = 0,
  Will = 1,
  System = 2,
  Api = 3,
  Replay = 4,
}

/** Where a delivered message can be read back from when it must be redelivered. */
export enum MessageSource {
  /** The message stream (routed live or from an offline queue). */
  Messages = 0,
  /** The retained stream (sent because a subscription matched a retained message). */
  Retained = 1,
}

export interface MessageRef {
  source: MessageSource;
  partition: number;
  offset: number;
}

export type AckKind = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

/**
 * Direction of an acknowledgement, seen from the broker: `in` was received from
 * the client, `out` was sent to it.
 */
export type AckDirection = 'in' | 'out';

export interface ClientConnected {
  type: 'client.connected';
  clientId: string;
  /** Unique per network connection; lets folds tell two connections of one client apart. */
  connectionId: string;
  nodeId: string;
  protocolVersion: ProtocolLevel;
  cleanSession: boolean;
  keepalive: number;
  /** Seconds the session outlives the connection (MQTT 5 shape); 3.1.1: 0 when clean, infinite otherwise. */
  sessionExpiry: number;
  will: WillMessage | null;
  username: string | null;
  remoteAddress: string;
  /** What CONNACK told the client [MQTT-3.2.2-1..3]. */
  sessionPresent: boolean;
  /** The node's delivery position when the connection was accepted. */
  position: Positions;
  timestamp: number;
  /**
   * Whether this connect may take over a session whose owner (the user name that
   * holds it) is another user (`mqtt.allowSessionTakeoverByOtherUser`). When not,
   * the folds ignore such a connect and the node refuses it with CONNACK 5.
   * Records written before format version 3 read as true (the rule then).
   */
  foreignTakeover: boolean;
}

/**
 * A persistent session that stayed disconnected past its expiry is discarded
 * (`mqtt.sessionExpiryMs` for MQTT 3.1.1 sessions; MQTT 5's session expiry
 * interval). Written by the coordinator node; a reconnect in between wins, as
 * the connection id no longer matches.
 */
export interface SessionExpired {
  type: 'session.expired';
  clientId: string;
  /** The connection whose end started the expiry clock. */
  connectionId: string;
  nodeId: string;
  timestamp: number;
}

export interface ClientDisconnected {
  type: 'client.disconnected';
  clientId: string;
  connectionId: string;
  nodeId: string;
  reason: DisconnectReason;
  willPublished: boolean;
  /**
   * Every message before this position has been handled for the session
   * (sent, or recorded as delivered); an offline queue starts here.
   */
  servedUpTo: Positions;
  timestamp: number;
  /** MQTT 5: the session expiry interval (seconds) as it stands at the end (a DISCONNECT may change it). */
  sessionExpiry?: number;
  /**
   * MQTT 5 Will Delay Interval: when the will is due (ms since the epoch); the
   * session keeps it until then, a reconnect in time cancels it [MQTT-3.1.3-9],
   * and the coordinator publishes it when due (`session.will`).
   */
  willDueAt?: number;
  /**
   * Subscriptions that start in the past whose feed from the log had not
   * caught up when the connection ended, with where it continues (format 6):
   * a resumed session goes on from there. Undefined when not known (a failed
   * node's connection): the session keeps what it knew.
   */
  feeds?: SinceFeedProgress[];
}

/** Where the feed of a subscription that starts in the past continues. */
export interface SinceFeedProgress {
  filter: string;
  from: Positions;
}

/** A delayed will was published (by the coordinator, when it was due): the session no longer holds it. */
export interface SessionWillPublished {
  type: 'session.will';
  clientId: string;
  /** The connection whose will it was. */
  connectionId: string;
  nodeId: string;
  timestamp: number;
}

/** MQTT 5 subscription options [MQTT-3.8.3.1] and identifier; absent for MQTT 3.1.1. */
export interface SubscriptionOptions {
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** Subscription Identifier, 0 when none. */
  subscriptionId: number;
}

export interface SubscriptionRequest {
  filter: string;
  requestedQos: QoS;
  /** Granted QoS or 0x80 for a refused filter. */
  granted: GrantedQoS;
  options?: SubscriptionOptions;
  /** MQTT 5 user property `since` (format 6): a new subscription that starts in the past, at this time (ms since the epoch). */
  since?: number;
}

export interface Subscribed {
  type: 'client.subscribed';
  clientId: string;
  packetId: number;
  subscriptions: SubscriptionRequest[];
  /** Messages from this position on are candidates for the new subscriptions. */
  position: Positions;
  timestamp: number;
}

export interface Unsubscribed {
  type: 'client.unsubscribed';
  clientId: string;
  packetId: number;
  filters: string[];
  timestamp: number;
}

export interface MessagePublished {
  type: 'message.published';
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Client id of the publisher (for a will: the client whose will it was). */
  publisherId: string;
  /** The publisher's packet identifier (0 for QoS 0 and for broker-originated messages). */
  packetId: number;
  origin: MessageOrigin;
  nodeId: string;
  timestamp: number;
  /** The publisher's authenticated username, for the audit trail (null: none, or broker-originated). */
  username: string | null;
  /** The publisher's address ('' when the broker originated the message). */
  remoteAddress: string;
  /**
   * Deliver to this client id's session only (a replay aimed at one client);
   * null: to every matching subscription.
   */
  target: string | null;
  /** MQTT 5 properties; absent for MQTT 3.1.1 publishers and the broker's own messages. */
  properties?: MessageProperties;
  /**
   * The member of each shared-subscription group this message goes to, chosen
   * once by the node that appended it (format 6): every node reads the same
   * choice from the log, so a message reaches one member of a group however
   * membership changes meanwhile (docs/mqtt5.md). Absent when no group matched.
   */
  shared?: SharedAssignment[];
}

/** One shared-subscription group's member for one message. */
export interface SharedAssignment {
  /** The full `$share/<group>/<filter>`. */
  shareFilter: string;
  clientId: string;
  /** The member's connection: only that connection takes it; if it is gone, its node hands the message on. */
  connectionId: string;
  /** The node holding that connection, which delivers it or hands it on. */
  nodeId: string;
  /**
   * No member was connected: the message is kept for this offline persistent
   * member's session (its last connection named), like the rest of its offline
   * queue, and delivered when it resumes; never handed on.
   */
  parked?: true;
}

/** The fields of a `message.published` that are often left at their defaults. */
export type PublishedDefaults = 'packetId' | 'username' | 'remoteAddress' | 'target';

/** A `message.published` with the audit fields defaulted (broker-originated messages: wills, API, replay). */
export function publishedEvent(fields: Omit<MessagePublished, 'type' | PublishedDefaults> & Partial<Pick<MessagePublished, PublishedDefaults>>): MessagePublished {
  return { type: 'message.published', packetId: 0, username: null, remoteAddress: '', target: null, ...fields };
}

/**
 * A message the broker publishes again (a replay, or a shared-subscription
 * message handed to another member): origin replay (the archive keeps only the
 * original), never retained, stamped when it is published again.
 */
export function republishedEvent(fields: Omit<MessagePublished, 'type' | 'origin' | 'retain' | PublishedDefaults> & Partial<Pick<MessagePublished, PublishedDefaults>>): MessagePublished {
  return publishedEvent({ ...fields, origin: MessageOrigin.Replay, retain: false });
}

/** A QoS 1 or 2 PUBLISH the broker sent (or will send) to a session under `packetId`. */
export interface MessageDelivered {
  type: 'message.delivered';
  clientId: string;
  packetId: number;
  qos: 1 | 2;
  ref: MessageRef;
  timestamp: number;
  /** The shared subscription (`$share/...`) it was delivered for (format 6): a QoS 1 one goes to another member if this session ends or goes offline unacknowledged. */
  shared?: string;
}

export interface Acknowledged {
  type: 'message.acknowledged';
  clientId: string;
  packetId: number;
  kind: AckKind;
  direction: AckDirection;
  timestamp: number;
}

export type AccessAction = 'connect' | 'publish' | 'subscribe';

/**
 * An access decision, for the audit trail: every CONNECT (allowed or refused,
 * by whom and why) and every refused publish or subscription. Never holds a password.
 */
export interface AccessDecided {
  type: 'access.decided';
  clientId: string;
  username: string | null;
  ip: string;
  action: AccessAction;
  /** The topic or filter, for publish and subscribe. */
  topic: string | null;
  allowed: boolean;
  /** CONNACK code of a refused CONNECT (0 otherwise). */
  code: number;
  /** The authenticator or rule source that decided. */
  source: string;
  reason: string;
  nodeId: string;
  timestamp: number;
}

/** A node is alive. Nodes that stop sending these are considered failed. */
export interface NodeHeartbeat {
  type: 'node.heartbeat';
  nodeId: string;
  startedAt: number;
  timestamp: number;
  /** The node's mqlog version and health (healthy, degraded, failed) when it sent this; null in records before format 4. */
  version: string | null;
  health: string | null;
  /** Where MQTT clients reach the node (cluster.advertisedAddress, host:port), when it says (format 6). */
  advertisedAddress?: string;
}

/**
 * Why a message was not delivered to a session. Values are part of the
 * encoding (by position): append only. Bounded on purpose: metrics label by it.
 */
export const DROP_REASONS = ['queue_full', 'acl_denied', 'expired', 'too_large', 'retention', 'log_congested', 'no_shared_member'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Messages one client lost, and why: the first drop of a burst at once, then at
 * most one event per second per connection with the count (so a client that
 * cannot keep up costs the log one record a second, not one per message).
 */
export interface MessagesDropped {
  type: 'message.dropped';
  clientId: string;
  count: number;
  reason: DropReason;
  detail: string;
  nodeId: string;
  timestamp: number;
}

/**
 * Something an operator did through the API (publish, kick, discard a session,
 * delete a retained message, add an admin or API key): the audit trail covers
 * operators too. Never holds a password or a key.
 */
export interface OperatorAction {
  type: 'operator.action';
  /** Admin user name, or `key:<name>` for an API key. */
  actor: string;
  ip: string;
  action: string;
  /** What it acted on (client id, topic, user name), '' when nothing in particular. */
  target: string;
  detail: string;
  nodeId: string;
  timestamp: number;
}

export type BrokerEvent =
  | SessionWillPublished
  | OperatorAction
  | MessagesDropped
  | NodeHeartbeat
  | AccessDecided
  | ClientConnected
  | ClientDisconnected
  | Subscribed
  | Unsubscribed
  | MessagePublished
  | MessageDelivered
  | Acknowledged
  | SessionExpired;

export type BrokerEventType = BrokerEvent['type'];

/** Events that belong to one client's session, keyed (and partitioned) by client id. */
export type SessionEvent = Exclude<BrokerEvent, MessagePublished | NodeHeartbeat | OperatorAction>;

export function isSessionEvent(event: BrokerEvent): event is SessionEvent {
  return event.type !== 'message.published' && event.type !== 'node.heartbeat' && event.type !== 'operator.action';
}
