/**
 * The MQTT 3.1/3.1.1 state machine of one connection. It takes packets, timer
 * ticks and answers from the node, and returns effects in the broker's terms;
 * it never touches a socket, the log or the clock (`ChannelContext` supplies
 * time and positions, the caller tells it how much its socket can still take),
 * so every rule can be tested without I/O. The protocol codec turns its effects
 * for the client into bytes.
 *
 * Packet handlers live in ./handlers, one per packet type.
 */
import { Packet } from 'mqtt-packet';
import {
  AccessDecided,
  ClientConnected,
  ClientDisconnected,
  DisconnectReason,
  MessageDelivered,
  MessageOrigin,
  MessagePublished,
  Positions,
  ProtocolLevel,
  publishedEvent,
  QoS,
  SubscriptionOptions,
  WillMessage,
} from '../events/types';
import { ConnectRefusal, connectRefusalText } from '../protocol/ConnectRefusal';
import { ProtocolViolation } from '../protocol/ProtocolViolation';
import { publishSize } from '../protocol/PublishEncoder';
import { encodePublish5, PublishProperties } from '../protocol/v5/Mqtt5Encoder';
import { publishPropertiesFor } from '../protocol/v5/messageProperties';
import { Delivery, InflightEntry, QueueWatch, Session } from '../session/Session';
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import type { ClientIdentity } from '../../auth/types';
import { Effect } from './effects';
import { MqttSettings } from './MqttSettings';
import { V5Session } from './V5Session';
import type { Properties } from '../protocol/v5/properties';
import { handleAuth } from './handlers/auth';
import { handleConnect } from './handlers/connect';
import { handleDisconnect } from './handlers/disconnect';
import { handlePuback, handlePubcomp, handlePubrec } from './handlers/outboundAcks';
import { handlePingreq } from './handlers/pingreq';
import { handlePublish } from './handlers/publish';
import { handlePubrel } from './handlers/pubrel';
import { handleSubscribe } from './handlers/subscribe';
import { handleUnsubscribe } from './handlers/unsubscribe';

export interface ChannelContext {
  readonly nodeId: string;
  readonly settings: MqttSettings;
  now(): number;
  /** The node's delivery position in the message stream. */
  position(): Positions;
  /** A client id for a client that sent a zero-length one [MQTT-3.1.3-6]. */
  newClientId(): string;
  /** A PUBLISH its rules refuse: dropped and counted ('ignore'), or the connection also ends ('disconnect'). */
  readonly aclDenyAction: 'ignore' | 'disconnect';
  /** How many subscriptions the session of `clientId` holds (mqtt.maxSubscriptionsPerClient). */
  subscriptionCount(clientId: string): number;
  isSubscribed(clientId: string, filter: string): boolean;
  /**
   * Whether a retained message of `bytes` (topic and payload) for `topic` fits the
   * retained store's limits: replacing a topic's message always does.
   */
  retainedRoom(topic: string, bytes: number): true | 'mqtt.maxRetainedMessages' | 'mqtt.maxRetainedBytes';
  /** Told when a session's queue starts or stops holding deliveries (the node's delivery lag). */
  readonly queueWatch: QueueWatch | null;
}

/**
 * `challenged`: MQTT 5 enhanced authentication sent the client a challenge
 * (AUTH 0x18) before the CONNACK and awaits its answer; `authenticating` is the
 * node deciding (the credentials, or an answer to a challenge).
 */
export type ChannelState = 'new' | 'authenticating' | 'challenged' | 'opening' | 'connected' | 'closed';

/** What a resumed (or new) session brings when the node has opened it. */
export interface OpenedSession {
  sessionPresent: boolean;
  /** Open outbound exchanges in their original order, with the message for those not yet released. */
  outbound: Array<{ packetId: number; entry: InflightEntry; message: Delivery | null }>;
  inbound: Iterable<number>;
  /** A persistent session with subscriptions reads its offline backlog from here (null: none). */
  backlogFrom: Positions | null;
  /** `since` subscriptions whose feed had not caught up: each continues (their routes are held). */
  feeds?: Array<{ filter: string; qos: QoS; options?: SubscriptionOptions; from: number | Positions }>;
}

/**
 * What authentication settled on, for `Channel.authenticated` and
 * `Channel.reauthenticated`; `authData`: the server's last enhanced
 * authentication message (SCRAM's server-final), for the CONNACK or AUTH 0x00.
 */
export type AuthOutcome = { allowed: true; acl: ConnectionAcl; identity: ClientIdentity; authData?: Buffer | null } | { allowed: false; refusal: ConnectRefusal };

/** Session expiry interval value (MQTT 5) meaning "never". */
export const NEVER_EXPIRES = 0xffffffff;

/** The expiry (seconds) of a persistent MQTT 3.1.1 session: mqtt.sessionExpiryMs rounded up, or never. */
export function persistentSessionExpiry(settings: MqttSettings): number {
  return settings.sessionExpiryMs === 0 ? NEVER_EXPIRES : Math.ceil(settings.sessionExpiryMs / 1000);
}

/** MQTT 5 DISCONNECT reason codes for the server's own reasons to end a connection (table 3-10). */
const SERVER_DISCONNECT_CODES: Partial<Record<DisconnectReason, number>> = {
  [DisconnectReason.KeepaliveTimeout]: 0x8d,
  [DisconnectReason.Takeover]: 0x8e,
  [DisconnectReason.ProtocolError]: 0x82,
  [DisconnectReason.ServerShutdown]: 0x8b,
  [DisconnectReason.NotAuthorized]: 0x87,
  [DisconnectReason.Kicked]: 0x98,
};

/** How a connection refused after authentication is closed (the node logs those where it decided). */
export const REFUSED_DETAIL = 'connection refused:';

/** The longest UTF-8 string of the protocol (a property such as Response Information). */
const MAX_STRING_BYTES = 65_535;

/**
 * What a timer tick of a connection with nothing due returns: one shared, frozen
 * array, since the node ticks every connection every second and an idle fleet
 * would otherwise make an empty array per connection per second.
 */
const NOTHING_DUE = Object.freeze([]) as unknown as Effect[];

/** Packets a client may pipeline behind CONNECT before the CONNACK [MQTT 3.1.4]. */
const MAX_EARLY_PACKETS = 1000;

export class Channel {
  state: ChannelState = 'new';
  clientId = '';
  username: string | null = null;
  protocolVersion: ProtocolLevel = 4;
  cleanSession = true;
  keepalive = 0;
  will: WillMessage | null = null;
  /** MQTT 5: what the connection agreed on (null for 3.1/3.1.1). */
  v5: V5Session | null = null;
  session: Session | null = null;
  private rules: ConnectionAcl = ConnectionAcl.allowAll();
  /** Who authentication says this client is (groups and superuser included); set once authenticated. */
  identity: ClientIdentity | null = null;
  /**
   * Until the CONNACK, when the connection was accepted (the CONNECT deadline counts
   * from it); from then on, when the client was last heard from (keepalive
   * [MQTT-3.1.2-24]). One field for both: an idle connection is counted in bytes.
   */
  private heardAt: number;
  /** Packets pipelined behind CONNECT, until the CONNACK (rarely any). */
  private early: Packet[] | null = null;

  constructor(
    readonly ctx: ChannelContext,
    readonly connectionId: string,
    readonly remoteAddress: string,
    /**
     * The node was full (limits.maxConnections) when this connection came and
     * mqtt.serverReference names another server: its CONNECT is answered with
     * CONNACK 0x9C (Use another server) naming it, and nothing else is done.
     */
    readonly redirected = false,
  ) {
    this.heardAt = ctx.now();
  }

  get settings(): MqttSettings {
    return this.ctx.settings;
  }

  /** This connection's access rules, compiled when it was authenticated. */
  get acl(): ConnectionAcl {
    return this.rules;
  }

  /** The access rules were compiled again (a reload). */
  rulesReloaded(acl: ConnectionAcl): void {
    this.rules = acl;
  }

  /** Counts as having heard from the client now (reading from it was paused by the broker, not by it). */
  touch(now: number): void {
    if (this.state === 'connected') this.heardAt = now;
  }

  /** Handles one decoded packet from the client; `room` is what its socket can still take (bytes). */
  handle(packet: Packet, room = Infinity): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state === 'connected') this.heardAt = this.ctx.now();
    switch (this.state) {
      case 'new':
        // The first packet from a client MUST be CONNECT [MQTT-3.1.0-1].
        if (packet.cmd !== 'connect') return this.close(null, `${packet.cmd} before CONNECT [MQTT-3.1.0-1]`);
        return handleConnect(this, packet);
      case 'challenged':
        // Nothing but AUTH or DISCONNECT until the CONNACK [MQTT-3.1.2-30].
        if (packet.cmd === 'auth') return handleAuth(this, packet);
        if (packet.cmd === 'disconnect') return this.close(null, 'client disconnected during enhanced authentication');
        return this.violation(new ProtocolViolation(`${packet.cmd} during enhanced authentication [MQTT-3.1.2-30]`, 'protocol-error', 0x82));
      case 'authenticating':
      case 'opening':
        if (packet.cmd === 'connect') return this.violation(new ProtocolViolation('second CONNECT [MQTT-3.1.0-2]'));
        if ((this.early?.length ?? 0) >= MAX_EARLY_PACKETS) return this.violation(new ProtocolViolation('too many packets before CONNACK'));
        (this.early ??= []).push(packet);
        return [];
      case 'connected':
        return this.dispatch(packet, room);
    }
  }

  private dispatch(packet: Packet, room: number): Effect[] {
    switch (packet.cmd) {
      case 'connect':
        // Closed without a DISCONNECT, as Mosquitto does (MQTT 5 makes one optional here) [MQTT-3.1.0-2].
        return this.end(DisconnectReason.ProtocolError, 'second CONNECT [MQTT-3.1.0-2]', true, undefined, undefined, true);
      case 'publish':
        return handlePublish(this, packet);
      case 'puback':
        return handlePuback(this, packet, room);
      case 'pubrec':
        return handlePubrec(this, packet);
      case 'pubrel':
        return handlePubrel(this, packet);
      case 'pubcomp':
        return handlePubcomp(this, packet, room);
      case 'subscribe':
        return handleSubscribe(this, packet);
      case 'unsubscribe':
        return handleUnsubscribe(this, packet);
      case 'pingreq':
        return handlePingreq();
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'auth':
        return handleAuth(this, packet);
      default:
        return this.violation(new ProtocolViolation(`unexpected ${packet.cmd} from a client`));
    }
  }

  /**
   * The node's answer to an `authenticate` effect: a refusal is a CONNACK with
   * its reason, then close; an acceptance opens the session with the access
   * rules and user name authentication settled on.
   */
  authenticated(outcome: AuthOutcome): Effect[] {
    if (this.state !== 'authenticating') return [];
    if (!outcome.allowed) return this.refuse(outcome.refusal);
    this.rules = outcome.acl;
    this.identity = outcome.identity;
    this.username = outcome.identity.username;
    if (this.v5) this.v5.authData = outcome.authData ?? null;
    this.state = 'opening';
    return [{ type: 'open-session' }];
  }

  /**
   * The node's challenge in an enhanced authentication exchange: AUTH 0x18 to
   * the client [MQTT-4.12.0-2]. Before the CONNACK the connection then reads the
   * client's answer; once connected it is a re-authentication's challenge.
   */
  challenged(data: Buffer): Effect[] {
    const v5 = this.v5;
    const method = v5?.authMethod ?? null;
    if (!v5 || method === null) return [];
    const auth: Effect = { type: 'auth', reasonCode: 0x18, method, data };
    if (this.state === 'authenticating') {
      this.state = 'challenged';
      return [auth, { type: 'await-auth' }];
    }
    if (this.state !== 'connected' || v5.reauth?.step !== 'pending') return [];
    v5.reauth.step = 'challenged';
    return [auth];
  }

  /**
   * The node's decision on a re-authentication: AUTH 0x00 with the server's
   * last message and the rules compiled again (the user stays the one the
   * connection authenticated as); a refusal ends the connection with DISCONNECT
   * 0x87 [MQTT-4.12.1-2] (0x86, Bad User Name or Password, is a CONNACK code only).
   */
  reauthenticated(outcome: AuthOutcome): Effect[] {
    const v5 = this.v5;
    if (this.state !== 'connected' || !v5 || v5.reauth === null || v5.authMethod === null) return [];
    v5.reauth = null;
    if (!outcome.allowed) return this.end(DisconnectReason.NotAuthorized, `re-authentication failed: ${connectRefusalText(outcome.refusal)}`, true, undefined, 0x87);
    this.rules = outcome.acl;
    this.identity = outcome.identity;
    return [{ type: 'auth', reasonCode: 0x00, method: v5.authMethod, data: outcome.authData ?? null }];
  }

  /** The PUBACK of an inbound QoS 1 PUBLISH left: one less counted against the receive maximum. */
  pubackSent(): void {
    if (this.v5 && this.v5.inboundQos1 > 0) this.v5.inboundQos1--;
  }

  /**
   * MQTT 5: as many QoS 1 and 2 PUBLISHes are unacknowledged as the announced
   * Receive Maximum, some of them QoS 1 waiting only for the log. The
   * connection reads nothing more from the client until a PUBACK leaves (TCP
   * flow control), so a client that bursts past the window (mqtt.js does not
   * count the server's receive maximum) is slowed, not disconnected; one whose
   * window is full of QoS 2 exchanges it does not release gets 0x93 [MQTT-3.3.4-7].
   */
  get inboundWindowFull(): boolean {
    const v5 = this.v5;
    return v5 !== null && v5.inboundQos1 > 0 && v5.inboundQos1 + (this.session?.inbound.size ?? 0) >= this.settings.receiveMaximum;
  }

  /**
   * Why this connection's will may not be published under `acl`, or null. Checked
   * when the client is authenticated (a refused will is CONNACK 5, as Mosquitto
   * does) and again when the will is published (the rules may have been reloaded).
   */
  willRefused(acl: ConnectionAcl, will: WillMessage | null = this.will): string | null {
    if (!will || acl.mayPublish(will.topic)) return null;
    return `will topic ${will.topic.slice(0, 200)} refused by the access rules`;
  }

  /** The session could not be opened for this client (another user's session won a race): refused, closed. */
  sessionRefused(refusal: ConnectRefusal): Effect[] {
    if (this.state !== 'opening') return [];
    return this.refuse(refusal);
  }

  /** A CONNACK refusing the CONNECT, then close (logged where it was decided, not as a protocol error). */
  refuse(refusal: ConnectRefusal): Effect[] {
    return [this.refusalConnack(refusal), ...this.close(null, `${REFUSED_DETAIL} ${refusal}`)];
  }

  /**
   * The CONNACK of a refusal; an MQTT 5 one says why in words the refusal's code
   * already gives (never the decision's own reason: a wrong password and an
   * unknown user read the same), unless the client asked for no problem
   * information, and a redirection names the other server.
   */
  private refusalConnack(refusal: ConnectRefusal): Effect {
    const v5 = this.v5;
    if (!v5) return { type: 'connack', refusal, sessionPresent: false };
    const props: Properties = {};
    if (v5.requestProblemInformation) props.reasonString = connectRefusalText(refusal);
    if (refusal === 'use-another-server' && this.settings.serverReference) props.serverReference = this.settings.serverReference;
    return { type: 'connack', refusal, sessionPresent: false, v5: props };
  }

  /** The audit event of a publish or subscription the access rules refused. */
  deniedEvent(action: 'publish' | 'subscribe', topic: string): AccessDecided {
    return {
      type: 'access.decided',
      clientId: this.clientId,
      username: this.username,
      ip: this.remoteAddress.replace(/:\d+$/, ''),
      action,
      topic,
      allowed: false,
      code: 0,
      source: 'acl',
      reason: `${action} to ${topic} refused by the access rules`,
      nodeId: this.ctx.nodeId,
      timestamp: this.ctx.now(),
    };
  }

  /** The event that records this connection; the node appends it when it opens the session. */
  connectedEvent(sessionPresent: boolean): ClientConnected {
    return {
      type: 'client.connected',
      clientId: this.clientId,
      connectionId: this.connectionId,
      nodeId: this.ctx.nodeId,
      protocolVersion: this.protocolVersion,
      cleanSession: this.cleanSession,
      keepalive: this.keepalive,
      // MQTT 5 shape (seconds): a 3.1.1 session ends with its connection when clean, after mqtt.sessionExpiryMs otherwise.
      sessionExpiry: this.v5 ? this.v5.sessionExpiryInterval : this.cleanSession ? 0 : persistentSessionExpiry(this.settings),
      will: this.will,
      username: this.username,
      remoteAddress: this.remoteAddress,
      sessionPresent,
      position: this.ctx.position(),
      timestamp: this.ctx.now(),
      foreignTakeover: this.settings.allowSessionTakeoverByOtherUser,
    };
  }

  /**
   * The node has made the connection durable and loaded the session: CONNACK,
   * resend what was in flight [MQTT-4.4.0-1], read the offline backlog from the
   * log, then handle pipelined packets.
   */
  opened(opened: OpenedSession, room = Infinity): Effect[] {
    if (this.state !== 'opening') return [];
    this.state = 'connected';
    // Keepalive counts from here: at most the time the CONNECT took to answer later than from the CONNECT itself, never earlier.
    this.heardAt = this.ctx.now();
    // MQTT 5: never more in flight than the client's receive maximum [MQTT-3.3.4-9].
    const window = this.v5 ? Math.min(this.settings.maxInflight, this.v5.receiveMaximum) : this.settings.maxInflight;
    const session = new Session(this.clientId, window, this.settings.maxQueuedMessages, this.ctx.queueWatch);
    session.progress(this.ctx.now());
    this.session = session;
    const effects: Effect[] = [{ type: 'connack', refusal: null, sessionPresent: opened.sessionPresent, ...(this.v5 ? { v5: this.connackProperties(this.v5) } : {}) }, { type: 'accepted' }];
    for (const id of opened.inbound) session.inbound.add(id);
    for (const { packetId, entry, message } of opened.outbound) {
      session.inflight.set(packetId, entry);
      session.noteUsedPacketId(packetId);
      if (entry.released) effects.push({ type: 'ack', kind: 'pubrel', packetId });
      else if (message) effects.push({ type: 'publish', delivery: message, qos: entry.qos, packetId, dup: true });
    }
    if (opened.backlogFrom) session.resumeFrom(opened.backlogFrom, this.ctx.position());
    this.pump(room, effects);
    for (const f of opened.feeds ?? []) {
      session.feedStarted(f.filter);
      effects.push({ type: 'since-feed', ...f });
    }
    const early = this.early ?? [];
    this.early = null;
    for (const p of early) {
      if (this.state !== 'connected') break;
      effects.push(...this.dispatch(p, room));
    }
    return effects;
  }

  /** What the server tells a v5 client in CONNACK (section 3.2.2.3). */
  private connackProperties(v5: V5Session): Properties {
    const props: Properties = {
      receiveMaximum: this.settings.receiveMaximum,
      topicAliasMaximum: v5.topicAliasMaximum,
      maximumPacketSize: this.settings.maxPacketSize,
      retainAvailable: this.settings.retainAvailable ? 1 : 0,
      wildcardSubscriptionAvailable: 1,
      subscriptionIdentifiersAvailable: 1,
      sharedSubscriptionAvailable: 1,
    };
    if (v5.assignedClientId) props.assignedClientIdentifier = v5.assignedClientId;
    // Enhanced authentication: the method again [MQTT-4.12.0-5] and the server's last message (SCRAM's proof).
    if (v5.authMethod !== null) {
      props.authenticationMethod = v5.authMethod;
      if (v5.authData) props.authenticationData = v5.authData;
      v5.authData = null;
    }
    // Response Information only when asked for [MQTT-3.1.2-28] and configured (a template; %c is the client id).
    const template = this.settings.responseInformation;
    if (v5.requestResponseInformation && template !== '') {
      const info = template.replace(/%c/g, this.clientId);
      if (Buffer.byteLength(info) <= MAX_STRING_BYTES) props.responseInformation = info;
    }
    if (v5.serverKeepAlive !== null) props.serverKeepAlive = v5.serverKeepAlive;
    // The interval granted (the server may grant less than asked, section 3.2.2.3.2): said always, it costs 5 bytes.
    props.sessionExpiryInterval = v5.sessionExpiryInterval;
    return props;
  }

  /** A message routed to this session (live or retained); `room` as for `handle`. */
  deliver(d: Delivery, room = Infinity): Effect[] {
    const session = this.session;
    if (this.state !== 'connected' || !session) return [];
    if (room > 0 && session.takesDirectly(d)) return this.pump(room, [], d);
    const taken = session.enqueue(d, this.ctx.position, this.ctx.now());
    if (taken === 'lagging') return [];
    if (taken === 'full') {
      const detail = `queue full (mqtt.maxQueuedMessages ${this.settings.maxQueuedMessages}): retained message not sent`;
      return [{ type: 'dropped', count: 1, reason: 'queue_full', detail }, { type: 'limit', limit: 'mqtt.maxQueuedMessages', detail }];
    }
    return this.pump(room);
  }

  /** The socket has room again. */
  drained(room: number): Effect[] {
    if (this.state !== 'connected' || !this.session) return [];
    this.session.progress(this.ctx.now());
    return this.pump(room);
  }

  /**
   * A page read from the log. When it reached the node's current position the
   * session takes live deliveries again, in this same step, so none slips between.
   */
  pageRead(deliveries: Delivery[], next: number[], complete: boolean, room = Infinity): Effect[] {
    const session = this.session;
    if (this.state !== 'connected' || !session) return [];
    const now = this.ctx.position();
    const atLive = complete && now.every((o, p) => next[p] >= o);
    session.addPage(deliveries, next, atLive, this.ctx.now());
    return this.pump(room);
  }

  /** A `since` feed read the log up to `next` (its page is delivered), or caught up (`next` null). */
  feedProgress(filter: string, next: number[] | null): void {
    if (!this.session) return;
    if (next === null) this.session.feedEnded(filter);
    else this.session.feedProgress(filter, next);
  }

  /** Reading the page failed: the session asks again at its next pump. */
  pageFailed(): void {
    if (this.session) this.session.reading = false;
  }

  /**
   * Sends what the in-flight window and the socket's `room` allow, after
   * `effects` (and `first` before the queue). QoS 2 is recorded before it is sent; QoS 1 alongside.
   * Messages wait in the session queue beyond that; past the queue bound they
   * are read back from the log (Session.enqueue).
   */
  pump(room: number, effects: Effect[] = [], first?: Delivery): Effect[] {
    const session = this.session;
    if (!session) return effects;
    let d: Delivery | undefined;
    let sent = false;
    const v5 = this.v5;
    // `first`: a delivery that takes the queue's place (Session.takesDirectly), sent before anything queued.
    while (room > 0 && (d = first ?? session.take()) !== undefined) {
      first = undefined;
      sent = true;
      let props: PublishProperties | undefined;
      if (v5) {
        const now = this.ctx.now();
        // An expired message is not delivered [MQTT-3.3.2-5]; one larger than the client takes is dropped [MQTT-3.1.2-25].
        if (d.props?.expiresAt !== undefined && d.props.expiresAt <= now) {
          effects.push({ type: 'dropped', count: 1, reason: 'expired', detail: 'message expiry interval passed before delivery' });
          continue;
        }
        props = publishPropertiesFor(d.props, now, d.subscriptionIds);
        if (v5.maximumPacketSize !== Infinity && encodePublish5(d, d.qos, 1, false, props).length > v5.maximumPacketSize) {
          effects.push({ type: 'dropped', count: 1, reason: 'too_large', detail: `larger than the client's maximum packet size (${v5.maximumPacketSize} bytes)` });
          continue;
        }
      }
      // Server-to-client topic aliases when the client allows them: the topic once, then the alias alone.
      const alias = v5 ? v5.outboundAlias(d.topic) : null;
      if (alias) {
        // A copy then extended, not `{ ...props, topicAlias }`: on V8 11 a spread copy given more
        // properties gets hidden classes of its own, per message.
        const aliased: PublishProperties = props ? Object.assign({}, props) : {};
        aliased.topicAlias = alias.alias;
        if (alias.known) aliased.topicOmitted = true;
        props = aliased;
      }
      room -= publishSize(d, d.qos);
      // Per delivery on the hot path: literals of one shape, optional fields assigned after (a
      // conditional spread allocates a temporary and copies through the slow path each time).
      if (d.qos === 0) {
        const publish0: Extract<Effect, { type: 'publish' }> = { type: 'publish', delivery: d, qos: 0, packetId: 0, dup: false };
        if (props) publish0.v5 = props;
        effects.push(publish0);
        continue;
      }
      const packetId = session.allocatePacketId();
      const qos = d.qos;
      const entry: InflightEntry = { qos, ref: d.ref, released: false };
      if (d.shared) entry.shared = d.shared;
      session.inflight.set(packetId, entry);
      const publish: Extract<Effect, { type: 'publish' }> = { type: 'publish', delivery: d, qos, packetId, dup: false };
      if (props) publish.v5 = props;
      const delivered: MessageDelivered = { type: 'message.delivered', clientId: this.clientId, packetId, qos, ref: d.ref, timestamp: this.ctx.now() };
      if (d.shared !== undefined) delivered.shared = d.shared;
      const events = [delivered];
      // A QoS 2 message is only sent once its delivery is durable, so a restart resends it with the
      // same packet id and DUP set instead of as a new message the client would deliver twice.
      // QoS 1 goes out first: its bytes are written in this tick before the node encodes the record.
      if (qos === 2) effects.push({ type: 'append', events, then: [publish] });
      else effects.push(publish, { type: 'append', events });
    }
    if (sent && room > 0) session.progress(this.ctx.now());
    if (session.wantsPage()) {
      session.reading = true;
      effects.push({ type: 'read-log', from: session.cursor!, limit: session.pageLimit, offlineUntil: session.offlineUntil });
    }
    return effects;
  }

  /** Checks keepalive [MQTT-3.1.2-24] and the CONNECT deadline. */
  tick(now: number): Effect[] {
    if (this.state === 'closed') return NOTHING_DUE;
    if (this.state !== 'connected') {
      // The whole handshake, an enhanced authentication exchange included, within mqtt.connectTimeoutMs.
      if (now - this.heardAt > this.settings.connectTimeoutMs) {
        const detail = this.state === 'new' ? 'no CONNECT in time' : this.state === 'challenged' ? 'authentication challenge not answered in time' : 'CONNECT not answered in time';
        return [{ type: 'limit', limit: 'mqtt.connectTimeoutMs', detail }, ...this.close(null, detail)];
      }
      return NOTHING_DUE;
    }
    // A re-authentication, too, is over within mqtt.connectTimeoutMs, or it failed [MQTT-4.12.1-2].
    const reauth = this.v5?.reauth;
    if (reauth && now - reauth.since > this.settings.connectTimeoutMs) {
      const detail = 're-authentication not completed in time';
      return [{ type: 'limit', limit: 'mqtt.connectTimeoutMs', detail }, ...this.end(DisconnectReason.NotAuthorized, detail, true, undefined, 0x87)];
    }
    if (this.keepalive > 0 && now - this.heardAt > this.keepalive * 1500) {
      return this.end(DisconnectReason.KeepaliveTimeout, `keepalive ${this.keepalive}s expired`, true);
    }
    return NOTHING_DUE;
  }

  /** The network connection closed under us. */
  connectionLost(detail = 'connection closed by client'): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state !== 'connected') return this.close(null, detail);
    return this.end(DisconnectReason.ConnectionLost, detail, true);
  }

  /** The same client id connected elsewhere: close this one without its will (as Mosquitto does). */
  takenOver(): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state !== 'connected') return this.close(null, 'taken over before CONNACK');
    return this.end(DisconnectReason.Takeover, 'session taken over by a new connection', false);
  }

  /** An operator ended the connection (API kick): like a lost connection, the will is published. */
  kicked(): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state !== 'connected') return this.close(null, 'kicked by an operator before CONNACK');
    return this.end(DisconnectReason.Kicked, 'kicked by an operator', true);
  }

  /**
   * The broker is stopping; the session continues when the client reconnects, so
   * no will. With `serverReference` (another node of the cluster), an MQTT 5
   * client is told to use that server (DISCONNECT 0x9C with a Server Reference)
   * rather than that this one is shutting down (0x8B).
   */
  shutdown(serverReference: string | null = null): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state !== 'connected') return this.close(null, 'server shutdown');
    if (serverReference !== null && this.v5) return this.end(DisconnectReason.ServerShutdown, 'server shutdown: use another server', false, undefined, 0x9c, false, serverReference);
    return this.end(DisconnectReason.ServerShutdown, 'server shutdown', false);
  }

  /** A protocol violation: a CONNACK where the spec asks for one, the will if connected, then close. */
  violation(err: ProtocolViolation): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state === 'connected') return this.end(DisconnectReason.ProtocolError, err.message, true, undefined, err.reasonCode ?? 0x82);
    const effects: Effect[] = [];
    // Before the CONNACK: the CONNECT itself, or what a client sent during its enhanced authentication.
    const unanswered = this.state === 'new' || this.state === 'challenged';
    if (err.refusal !== undefined && unanswered) effects.push(this.refusalConnack(err.refusal));
    else if (unanswered && err.reasonCode !== undefined) {
      // Only the v5 reader gives reason codes: this was a v5 CONNECT, answered as v5.
      this.v5 ??= new V5Session({}, this.settings.maxTopicAlias);
      // A v5 CONNECT that breaks a rule is answered with a CONNACK saying which, then closed [MQTT-4.13.1-1].
      effects.push({ type: 'connack', refusal: err.reasonCode === 0x81 ? 'malformed' : 'protocol-error', sessionPresent: false });
    }
    return [...effects, ...this.close(null, err.message)];
  }

  /** Ends a connected session: the will if asked and present [MQTT-3.1.2-8], the disconnect event, close. */
  /** `quiet`: no DISCONNECT to an MQTT 5 client (it sent one, or the spec lets the server just close). */
  end(reason: DisconnectReason, detail: string, publishWill: boolean, served?: Positions, reasonCode?: number, quiet = false, serverReference?: string): Effect[] {
    let will = publishWill ? this.will : null;
    this.will = null;
    const now = this.ctx.now();
    const events: Array<MessagePublished | ClientDisconnected | AccessDecided> = [];
    if (will && this.willRefused(this.rules, will) !== null) {
      // The rules changed since CONNECT (a reload): the will is dropped, and the refusal recorded.
      events.push(this.deniedEvent('publish', will.topic));
      will = null;
    }
    // MQTT 5 Will Delay Interval: the will waits with the session (at most until the session would expire) [MQTT-3.1.3-9].
    let willDueAt: number | undefined;
    if (will && this.v5 && (will.delayMs ?? 0) > 0 && this.v5.sessionExpiryInterval > 0) {
      willDueAt = now + Math.min(will.delayMs!, this.v5.sessionExpiryInterval * 1000);
      will = null;
    }
    if (will) {
      events.push(
        publishedEvent({
          topic: will.topic,
          payload: will.payload,
          qos: will.qos,
          retain: will.retain,
          publisherId: this.clientId,
          origin: MessageOrigin.Will,
          nodeId: this.ctx.nodeId,
          timestamp: now,
          username: this.username,
          remoteAddress: this.remoteAddress,
          ...(will.properties || will.expirySeconds !== undefined ? { properties: { ...will.properties, ...(will.expirySeconds !== undefined ? { expiresAt: now + will.expirySeconds * 1000 } : {}) } } : {}),
        }),
      );
    }
    const position = this.ctx.position();
    const servedUpTo = served ?? (this.session ? this.session.servedFloor(position) : position);
    events.push({
      type: 'client.disconnected',
      clientId: this.clientId,
      connectionId: this.connectionId,
      nodeId: this.ctx.nodeId,
      reason,
      willPublished: will !== null,
      servedUpTo,
      timestamp: now,
      ...(this.v5 ? { sessionExpiry: this.v5.sessionExpiryInterval } : {}),
      ...(willDueAt !== undefined ? { willDueAt } : {}),
      // `since` feeds that had not caught up: a resumed session continues them from here.
      ...(this.session ? { feeds: this.session.feedFloors() } : {}),
    });
    // Messages named for this connection's shared subscriptions that it never got go to other members
    // (what it had in flight follows once the disconnect is folded: SharedHandOff).
    const effects: Effect[] = [{ type: 'append', events }, { type: 'shared-release', from: servedUpTo, to: position, filters: null }];
    // MQTT 5: the server says why it ends the connection [MQTT-3.14.2-1]; not when the client did.
    const code = this.v5 && !quiet ? (reasonCode ?? SERVER_DISCONNECT_CODES[reason]) : undefined;
    if (code !== undefined) {
      effects.push({ type: 'disconnect', reasonCode: code, ...(this.v5!.requestProblemInformation ? { reasonString: detail.slice(0, 200) } : {}), ...(serverReference ? { serverReference } : {}) });
    }
    return [...effects, ...this.close(reason, detail)];
  }

  close(reason: DisconnectReason | null, detail: string): Effect[] {
    this.state = 'closed';
    this.early = null;
    this.session?.close();
    return [{ type: 'close', reason, detail }];
  }
}
