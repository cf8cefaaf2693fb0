/**
 * The MQTT 3.1/3.1.1 state machine of one connection. It takes packets, timer
 * ticks and answers from the node, and returns effects; it never touches a
 * socket, the log or the clock directly (`ChannelContext` supplies time and
 * positions), so every rule can be tested without I/O.
 *
 * Packet handlers live in ./handlers, one per packet type.
 */
import { Packet } from 'mqtt-packet';
import {
  AccessDecided,
  ClientConnected,
  ClientDisconnected,
  DisconnectReason,
  MessageOrigin,
  MessagePublished,
  Positions,
  ProtocolLevel,
  publishedEvent,
  WillMessage,
} from '../events/types';
import { ConnackCode, ProtocolViolation } from '../protocol/ProtocolViolation';
import { Delivery, InflightEntry, Session } from '../session/Session';
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import type { ClientIdentity } from '../../auth/types';
import { Effect } from './effects';
import { MqttSettings } from './MqttSettings';
import { handleConnect } from './handlers/connect';
import { handleDisconnect } from './handlers/disconnect';
import { handlePuback, handlePubcomp, handlePubrec } from './handlers/outboundAcks';
import { handlePingreq } from './handlers/pingreq';
import { handlePublish } from './handlers/publish';
import { handlePubrel } from './handlers/pubrel';
import { handleSubscribe } from './handlers/subscribe';
import { handleUnsubscribe } from './handlers/unsubscribe';
import { sendPublish } from './publishPacket';

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
}

/** How much the connection can still take: deliveries wait in the session queue beyond it. */
export interface ChannelOutput {
  room(): number;
}

const UNBOUNDED: ChannelOutput = { room: () => Infinity };

export type ChannelState = 'new' | 'authenticating' | 'opening' | 'connected' | 'closed';

/** What a resumed (or new) session brings when the node has opened it. */
export interface OpenedSession {
  sessionPresent: boolean;
  /** Open outbound exchanges in their original order, with the message for those not yet released. */
  outbound: Array<{ packetId: number; entry: InflightEntry; message: Delivery | null }>;
  inbound: Iterable<number>;
}

/** Session expiry interval value (MQTT 5) meaning "never". */
export const NEVER_EXPIRES = 0xffffffff;

/** The expiry (seconds) of a persistent MQTT 3.1.1 session: mqtt.sessionExpiryMs rounded up, or never. */
export function persistentSessionExpiry(settings: MqttSettings): number {
  return settings.sessionExpiryMs === 0 ? NEVER_EXPIRES : Math.ceil(settings.sessionExpiryMs / 1000);
}

/** How a connection refused after authentication is closed (the node logs those where it decided). */
export const REFUSED_DETAIL = 'connection refused with CONNACK';

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
  session: Session | null = null;
  /** This connection's access rules, compiled when it was authenticated. */
  acl: ConnectionAcl = ConnectionAcl.allowAll();
  /** Who authentication says this client is (groups and superuser included); set once authenticated. */
  identity: ClientIdentity | null = null;
  lastActivity: number;
  readonly createdAt: number;
  /** Packets pipelined behind CONNECT, until the CONNACK (rarely any). */
  private early: Packet[] | null = null;
  /** Where the channel's bytes go; its room bounds what pump() sends before the socket drains. */
  output: ChannelOutput = UNBOUNDED;

  constructor(
    readonly ctx: ChannelContext,
    readonly connectionId: string,
    readonly remoteAddress: string,
  ) {
    this.createdAt = this.lastActivity = ctx.now();
  }

  get settings(): MqttSettings {
    return this.ctx.settings;
  }

  /** Handles one decoded packet from the client. */
  handle(packet: Packet): Effect[] {
    if (this.state === 'closed') return [];
    this.lastActivity = this.ctx.now();
    switch (this.state) {
      case 'new':
        // The first packet from a client MUST be CONNECT [MQTT-3.1.0-1].
        if (packet.cmd !== 'connect') return this.close(null, `${packet.cmd} before CONNECT [MQTT-3.1.0-1]`);
        return handleConnect(this, packet);
      case 'authenticating':
      case 'opening':
        if (packet.cmd === 'connect') return this.violation(new ProtocolViolation('second CONNECT [MQTT-3.1.0-2]'));
        if ((this.early?.length ?? 0) >= MAX_EARLY_PACKETS) return this.violation(new ProtocolViolation('too many packets before CONNACK'));
        (this.early ??= []).push(packet);
        return [];
      case 'connected':
        return this.dispatch(packet);
    }
  }

  private dispatch(packet: Packet): Effect[] {
    switch (packet.cmd) {
      case 'connect':
        return this.violation(new ProtocolViolation('second CONNECT [MQTT-3.1.0-2]'));
      case 'publish':
        return handlePublish(this, packet);
      case 'puback':
        return handlePuback(this, packet);
      case 'pubrec':
        return handlePubrec(this, packet);
      case 'pubrel':
        return handlePubrel(this, packet);
      case 'pubcomp':
        return handlePubcomp(this, packet);
      case 'subscribe':
        return handleSubscribe(this, packet);
      case 'unsubscribe':
        return handleUnsubscribe(this, packet);
      case 'pingreq':
        return handlePingreq();
      case 'disconnect':
        return handleDisconnect(this);
      default:
        return this.violation(new ProtocolViolation(`unexpected ${packet.cmd} from a client`));
    }
  }

  /**
   * The node's answer to an `authenticate` effect: CONNACK 4 (bad user name or
   * password), 5 (not authorized) or 3 (a back end unavailable) and close; or
   * open the session with the access rules and user name authentication settled on.
   */
  authenticated(allowed: boolean, refusalCode: number = ConnackCode.NotAuthorized, grant?: { acl: ConnectionAcl; identity: ClientIdentity }): Effect[] {
    if (this.state !== 'authenticating') return [];
    if (!allowed) {
      return [{ type: 'send', packet: { cmd: 'connack', returnCode: refusalCode, sessionPresent: false } }, ...this.close(null, `${REFUSED_DETAIL} ${refusalCode}`)];
    }
    if (grant) {
      this.acl = grant.acl;
      this.identity = grant.identity;
      this.username = grant.identity.username;
    }
    this.state = 'opening';
    return [{ type: 'open-session' }];
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

  /** The session could not be opened for this client (another user's session won a race): CONNACK `code`, close. */
  sessionRefused(code: number): Effect[] {
    if (this.state !== 'opening') return [];
    return [{ type: 'send', packet: { cmd: 'connack', returnCode: code, sessionPresent: false } }, ...this.close(null, `${REFUSED_DETAIL} ${code}`)];
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
      sessionExpiry: this.cleanSession ? 0 : persistentSessionExpiry(this.settings),
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
   * The node has made the connection durable and loaded the session: send CONNACK,
   * resend what was in flight [MQTT-4.4.0-1], then handle pipelined packets.
   */
  opened(opened: OpenedSession): Effect[] {
    if (this.state !== 'opening') return [];
    this.state = 'connected';
    const session = new Session(this.clientId, this.settings.maxInflight, this.settings.maxQueuedMessages);
    this.session = session;
    const effects: Effect[] = [
      { type: 'send', packet: { cmd: 'connack', returnCode: ConnackCode.Accepted, sessionPresent: opened.sessionPresent } },
      { type: 'accepted' },
    ];
    for (const id of opened.inbound) session.inbound.add(id);
    for (const { packetId, entry, message } of opened.outbound) {
      session.inflight.set(packetId, entry);
      session.noteUsedPacketId(packetId);
      if (entry.released) effects.push({ type: 'send', packet: { cmd: 'pubrel', messageId: packetId } });
      else if (message) effects.push(sendPublish(message, entry.qos, packetId, true));
    }
    const early = this.early ?? [];
    this.early = null;
    for (const p of early) {
      if (this.state !== 'connected') break;
      effects.push(...this.dispatch(p));
    }
    return effects;
  }

  /** A message routed to this session (live or retained). */
  deliver(d: Delivery): Effect[] {
    const session = this.session;
    if (this.state !== 'connected' || !session) return [];
    const taken = session.enqueue(d, this.ctx.position);
    if (taken === 'lagging') return [];
    if (taken === 'full') {
      const reason = `queue full (mqtt.maxQueuedMessages ${this.settings.maxQueuedMessages}): retained message not sent`;
      return [{ type: 'dropped', count: 1, reason }, { type: 'limit', limit: 'mqtt.maxQueuedMessages', detail: reason }];
    }
    return this.pump();
  }

  /** The offline backlog is read from `from`; messages from the node's position on come after it. */
  beginBacklog(from: Positions): void {
    this.session?.beginBacklog(from, this.ctx.position());
  }

  endBacklog(backlog: Delivery[]): Effect[] {
    const session = this.session;
    if (this.state !== 'connected' || !session) return [];
    const dropped = session.endBacklog(backlog);
    const effects = this.pump();
    if (dropped > 0) {
      const reason = `offline queue full (${this.settings.maxQueuedMessages} messages)`;
      effects.push({ type: 'dropped', count: dropped, reason }, { type: 'limit', limit: 'mqtt.maxQueuedMessages', detail: `${dropped} messages: ${reason}` });
    }
    return effects;
  }

  /**
   * A page read from the log. When it reached the node's current position the
   * session takes live deliveries again, in this same step, so none slips between.
   */
  caughtUp(deliveries: Delivery[], next: number[], complete: boolean): Effect[] {
    const session = this.session;
    if (this.state !== 'connected' || !session) return [];
    const now = this.ctx.position();
    const atLive = complete && now.every((o, p) => next[p] >= o);
    session.addFromLog(deliveries, next, atLive);
    return this.pump();
  }

  catchUpFailed(): void {
    if (this.session) this.session.reading = false;
  }

  /** Sends what the in-flight window allows, after `effects`. QoS 2 is recorded before it is sent; QoS 1 alongside. */
  pump(effects: Effect[] = []): Effect[] {
    const session = this.session;
    if (!session) return effects;
    // Messages wait in the session queue while the socket has no room; past the
    // queue bound they are read back from the log (Session.enqueue).
    let room = this.output.room();
    let d: Delivery | undefined;
    while (room > 0 && (d = session.take()) !== undefined) {
      if (d.qos === 0) {
        const send = sendPublish(d, 0, 0, false);
        room -= send.type === 'send' && send.bytes ? send.bytes.length : 0;
        effects.push(send);
        continue;
      }
      const packetId = session.allocatePacketId();
      const qos = d.qos;
      session.inflight.set(packetId, { qos, ref: d.ref, released: false });
      const send = sendPublish(d, qos, packetId, false);
      room -= send.type === 'send' && send.bytes ? send.bytes.length : 0;
      const events = [
        { type: 'message.delivered' as const, clientId: this.clientId, packetId, qos, ref: d.ref, timestamp: this.ctx.now() },
      ];
      // A QoS 2 message is only sent once its delivery is durable, so a restart resends it with the
      // same packet id and DUP set instead of as a new message the client would deliver twice.
      // QoS 1 goes out first: its bytes are written in this tick before the node encodes the record.
      if (qos === 2) effects.push({ type: 'append', events, then: [send] });
      else effects.push(send, { type: 'append', events });
    }
    if (session.wantsCatchUp()) {
      session.reading = true;
      effects.push({ type: 'catch-up', from: session.lagFrom!, limit: session.pageSize });
    }
    return effects;
  }

  /** Checks keepalive [MQTT-3.1.2-24] and the CONNECT deadline. */
  tick(now: number): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state !== 'connected') {
      if (now - this.createdAt > this.settings.connectTimeoutMs) {
        const detail = this.state === 'new' ? 'no CONNECT in time' : 'CONNECT not answered in time';
        return [{ type: 'limit', limit: 'mqtt.connectTimeoutMs', detail }, ...this.close(null, detail)];
      }
      return [];
    }
    if (this.keepalive > 0 && now - this.lastActivity > this.keepalive * 1500) {
      return this.end(DisconnectReason.KeepaliveTimeout, `keepalive ${this.keepalive}s expired`, true);
    }
    return [];
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

  /** The broker is stopping; the session continues when the client reconnects, so no will. */
  shutdown(): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state !== 'connected') return this.close(null, 'server shutdown');
    return this.end(DisconnectReason.ServerShutdown, 'server shutdown', false);
  }

  /** A protocol violation: CONNACK where the spec asks for one, the will if connected, then close. */
  violation(err: ProtocolViolation): Effect[] {
    if (this.state === 'closed') return [];
    if (this.state === 'connected') return this.end(DisconnectReason.ProtocolError, err.message, true);
    const effects: Effect[] = [];
    if (err.connackCode !== undefined && this.state === 'new') {
      effects.push({ type: 'send', packet: { cmd: 'connack', returnCode: err.connackCode, sessionPresent: false } });
    }
    return [...effects, ...this.close(null, err.message)];
  }

  /** Ends a connected session: the will if asked and present [MQTT-3.1.2-8], the disconnect event, close. */
  end(reason: DisconnectReason, detail: string, publishWill: boolean, served?: Positions): Effect[] {
    let will = publishWill ? this.will : null;
    this.will = null;
    const now = this.ctx.now();
    const events: Array<MessagePublished | ClientDisconnected | AccessDecided> = [];
    if (will && this.willRefused(this.acl, will) !== null) {
      // The rules changed since CONNECT (a reload): the will is dropped, and the refusal recorded.
      events.push(this.deniedEvent('publish', will.topic));
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
        }),
      );
    }
    events.push({
      type: 'client.disconnected',
      clientId: this.clientId,
      connectionId: this.connectionId,
      nodeId: this.ctx.nodeId,
      reason,
      willPublished: will !== null,
      servedUpTo: served ?? (this.session ? this.session.servedFloor(this.ctx.position()) : this.ctx.position()),
      timestamp: now,
    });
    return [{ type: 'append', events }, ...this.close(reason, detail)];
  }

  close(reason: DisconnectReason | null, detail: string): Effect[] {
    this.state = 'closed';
    this.early = null;
    return [{ type: 'close', reason, detail }];
  }
}
