/**
 * Sessions, folded from the session stream: who is connected where, what each
 * session is subscribed to, which QoS 1/2 exchanges are open in each direction,
 * and the message-stream position up to which each session has been served.
 *
 * `foldSession(state, event)` is the whole projection. It is deterministic: it
 * reads nothing but its arguments. For speed it updates `state` in place and
 * returns it; whoever folds owns the state and keeps no older copy.
 */
import { BinaryReader, BinaryWriter, DecodeError } from '../src/events/binary';
import { readMessageProperties, readSubscriptionOptions, writeMessageProperties, writeSubscriptionOptions } from '../src/events/codec';
import {
  MessageRef,
  MessageSource,
  Positions,
  ProtocolLevel,
  QoS,
  SessionEvent,
  SUBACK_FAILURE,
  SubscriptionOptions,
  WillMessage,
} from '../src/events/types';
import { maxPositions } from './positions';
import { SubscriptionMap } from './SubscriptionMap';
import { connectRefused } from './sessionOwnership';

export interface StoredSubscription {
  qos: QoS;
  /** Messages before this position predate the subscription. */
  since: Positions;
  /** MQTT 5 subscription options (absent for 3.1.1). */
  options?: SubscriptionOptions;
  /**
   * A subscription that starts in the past (`since`) whose feed from the log
   * has not caught up: a resumed session continues it from these positions, or
   * from this time when no position was recorded (then what was fed may come again).
   */
  feed?: { from: Positions } | { since: number };
}

export interface OutboundEntry {
  packetId: number;
  qos: 1 | 2;
  ref: MessageRef;
  /** PUBREC received and PUBREL sent: only PUBCOMP is awaited. */
  released: boolean;
  /** The shared subscription (`$share/...`) it was delivered for. */
  shared?: string;
}

export interface SessionRecord {
  clientId: string;
  connected: boolean;
  connectionId: string;
  nodeId: string;
  protocolVersion: ProtocolLevel;
  cleanSession: boolean;
  sessionExpiry: number;
  will: WillMessage | null;
  username: string | null;
  subscriptions: SubscriptionMap<StoredSubscription>;
  /** Open outbound exchanges in the order they were started (the resend order [MQTT-4.4.0-1]). */
  outbound: Map<number, OutboundEntry>;
  /** Inbound QoS 2 packet ids whose PUBREC was sent and PUBREL is awaited [MQTT-4.3.3-2]. */
  inbound: Set<number>;
  /** Every message before this position has been handled for the session. */
  served: number[];
  /** Number of connections this session has had; a takeover makes a newer generation. */
  generation: number;
  connectedAt: number;
  disconnectedAt: number | null;
  /** MQTT 5: a delayed will waits in `will` until this time (ms since the epoch). */
  willDueAt?: number;
}

export type SessionsState = Map<string, SessionRecord>;

/**
 * The outbound and inbound exchanges of every session that has none open (most
 * sessions, most of the time): one shared empty Map and Set instead of a hash
 * table each per session. The fold gives a session its own before the first
 * exchange and goes back to the shared ones once the last closes; writing to
 * these throws, so a missed copy cannot leak one session's state into another's.
 */
class SharedEmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('the shared empty outbound map is read-only');
  }
}
class SharedEmptySet<T> extends Set<T> {
  override add(): this {
    throw new Error('the shared empty inbound set is read-only');
  }
}
const NO_OUTBOUND: Map<number, OutboundEntry> = new SharedEmptyMap();
const NO_INBOUND: Set<number> = new SharedEmptySet();

function ownOutbound(rec: SessionRecord): Map<number, OutboundEntry> {
  if (rec.outbound === NO_OUTBOUND) rec.outbound = new Map();
  return rec.outbound;
}

function ownInbound(rec: SessionRecord): Set<number> {
  if (rec.inbound === NO_INBOUND) rec.inbound = new Set();
  return rec.inbound;
}

function deleteOutbound(rec: SessionRecord, packetId: number): void {
  if (rec.outbound.delete(packetId) && rec.outbound.size === 0) rec.outbound = NO_OUTBOUND;
}

export function emptySessions(): SessionsState {
  return new Map();
}

/**
 * Whether a session ends with its connection: a clean 3.1.1 session [MQTT-3.1.2-6],
 * an MQTT 5 session whose expiry interval is 0 [MQTT-3.1.2-23].
 */
export function endsWithConnection(rec: Pick<SessionRecord, 'protocolVersion' | 'cleanSession' | 'sessionExpiry'>): boolean {
  return rec.protocolVersion === 5 ? rec.sessionExpiry === 0 : rec.cleanSession;
}

/** Whether a connect takes over the existing session: 3.1.1 persistent into persistent; MQTT 5 Clean Start 0 resumes any that exists [MQTT-3.1.2-4]. */
export function resumes(prev: SessionRecord, event: { cleanSession: boolean; protocolVersion: ProtocolLevel }): boolean {
  if (event.cleanSession) return false;
  if (event.protocolVersion === 5) return prev.connected || !endsWithConnection(prev);
  return !prev.cleanSession;
}

export function foldSession(state: SessionsState, event: SessionEvent): SessionsState {
  switch (event.type) {
    case 'client.connected': {
      const prev = state.get(event.clientId);
      if (prev !== undefined && connectRefused(prev.username, event)) return state;
      // Only a persistent session survives into a persistent connection [MQTT-3.1.2-4, MQTT-3.1.2-6].
      const resume = prev !== undefined && resumes(prev, event);
      const record: SessionRecord = {
        clientId: event.clientId,
        connected: true,
        connectionId: event.connectionId,
        nodeId: event.nodeId,
        protocolVersion: event.protocolVersion,
        cleanSession: event.cleanSession,
        sessionExpiry: event.sessionExpiry,
        will: event.will,
        username: event.username,
        subscriptions: resume ? prev.subscriptions : new SubscriptionMap(),
        outbound: resume ? prev.outbound : NO_OUTBOUND,
        inbound: resume ? prev.inbound : NO_INBOUND,
        // The connect's position itself: this node's is frozen and shared (copied on first write, see message.delivered).
        served: resume ? prev.served : (event.position as number[]),
        generation: (prev?.generation ?? 0) + 1,
        connectedAt: event.timestamp,
        disconnectedAt: null,
      };
      state.set(event.clientId, record);
      return state;
    }
    case 'client.disconnected': {
      const rec = state.get(event.clientId);
      // A disconnect of an older connection (already taken over) changes nothing.
      if (!rec || rec.connectionId !== event.connectionId || !rec.connected) return state;
      // MQTT 5: the DISCONNECT may have changed the expiry interval [MQTT-3.14.2-2].
      if (event.sessionExpiry !== undefined) rec.sessionExpiry = event.sessionExpiry;
      if (endsWithConnection(rec)) {
        state.delete(event.clientId); // [MQTT-3.1.2-6, MQTT-3.1.2-23]
        return state;
      }
      rec.connected = false;
      // An offline member does not keep the group's QoS 1 messages it did not acknowledge: they are
      // handed to another member (by the node that recorded this disconnect), so they leave the session
      // here on every node; QoS 2 ones stay with it, as the spec asks (MQTT 5 section 4.8.2).
      for (const e of rec.outbound.values()) if (e.shared !== undefined && e.qos === 1) deleteOutbound(rec, e.packetId);
      // A delayed will stays with the session until due or cancelled by a reconnect [MQTT-3.1.3-9].
      if (event.willDueAt !== undefined && rec.will !== null) rec.willDueAt = event.willDueAt;
      else rec.will = null;
      rec.served = maxPositions(rec.served, event.servedUpTo);
      rec.disconnectedAt = event.timestamp;
      // `since` feeds that had not caught up continue from where they were when it resumes; the others are done.
      if (event.feeds !== undefined) {
        for (const [filter, sub] of rec.subscriptions) {
          const f = event.feeds.find((x) => x.filter === filter);
          // An empty position: the feed had not read a page yet, it starts over from its time.
          if (f) {
            if (f.from.length) sub.feed = { from: f.from };
          } else delete sub.feed;
        }
      }
      return state;
    }
    case 'client.subscribed': {
      const rec = state.get(event.clientId);
      if (!rec) return state;
      for (const s of event.subscriptions) {
        if (s.granted === SUBACK_FAILURE) continue;
        const existing = rec.subscriptions.get(s.filter);
        // A repeated subscription replaces the QoS without interrupting the flow [MQTT-3.8.4-3].
        // `since` is never written to, so the subscriptions of one event share its position.
        const stored: StoredSubscription = { qos: s.granted, since: existing ? existing.since : event.position };
        if (s.options) stored.options = s.options;
        // A new `since` subscription is fed from the log first; an existing one keeps its flow [MQTT-3.8.4-3].
        const feed = existing ? existing.feed : s.since !== undefined ? { since: s.since } : undefined;
        if (feed) stored.feed = feed;
        rec.subscriptions.set(s.filter, stored);
      }
      return state;
    }
    case 'client.unsubscribed': {
      const rec = state.get(event.clientId);
      if (!rec) return state;
      for (const f of event.filters) rec.subscriptions.delete(f);
      return state;
    }
    case 'message.delivered': {
      const rec = state.get(event.clientId);
      if (!rec) return state;
      const outbound = ownOutbound(rec);
      outbound.delete(event.packetId);
      const entry: OutboundEntry = { packetId: event.packetId, qos: event.qos, ref: event.ref, released: false };
      if (event.shared !== undefined) entry.shared = event.shared;
      outbound.set(event.packetId, entry);
      if (event.ref.source === MessageSource.Messages) {
        const p = event.ref.partition;
        if (p >= rec.served.length || rec.served[p] < event.ref.offset + 1) {
          // Until its first delivery a session may share its connect's position (frozen): copied on first write.
          if (Object.isFrozen(rec.served)) rec.served = [...rec.served];
          while (rec.served.length <= p) rec.served.push(0);
          rec.served[p] = event.ref.offset + 1;
        }
      }
      return state;
    }
    case 'message.acknowledged': {
      const rec = state.get(event.clientId);
      if (!rec) return state;
      if (event.direction === 'in') {
        if (event.kind === 'puback' || event.kind === 'pubcomp') deleteOutbound(rec, event.packetId);
        else if (event.kind === 'pubrec') {
          const entry = rec.outbound.get(event.packetId);
          if (entry) entry.released = true;
        } else if (event.kind === 'pubrel') {
          if (rec.inbound.delete(event.packetId) && rec.inbound.size === 0) rec.inbound = NO_INBOUND;
        }
      } else if (event.kind === 'pubrec') {
        ownInbound(rec).add(event.packetId);
      }
      return state;
    }
    case 'session.expired': {
      const rec = state.get(event.clientId);
      // A reconnect since the expiry was decided makes a newer connection: it wins.
      if (rec && !rec.connected && rec.connectionId === event.connectionId) state.delete(event.clientId);
      return state;
    }
    case 'session.will': {
      const rec = state.get(event.clientId);
      if (rec && !rec.connected && rec.connectionId === event.connectionId) {
        rec.will = null;
        delete rec.willDueAt;
      }
      return state;
    }
    case 'access.decided':
    case 'message.dropped':
      return state; // audit only
    default: {
      const unknown: never = event;
      throw new Error(`session fold: unknown event ${JSON.stringify(unknown)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Snapshots: the state of one session-stream partition at an offset.

/**
 * Version 2 added MQTT 5 subscription options and will properties; version 3 the
 * shared subscription of an open outbound exchange and the pending `since` feed
 * of a subscription. Older snapshots stay readable.
 */
const SNAPSHOT_VERSION = 3;

export interface SessionsSnapshot {
  /** The next session-stream offset to fold after restoring this snapshot. */
  nextOffset: number;
  sessions: SessionRecord[];
}

function writeRef(w: BinaryWriter, ref: MessageRef): void {
  w.u8(ref.source).varuint(ref.partition).varuint(ref.offset);
}

export function encodeSessionsSnapshot(snapshot: SessionsSnapshot): Buffer {
  const w = new BinaryWriter(4096);
  w.u8(SNAPSHOT_VERSION).varuint(snapshot.nextOffset).varuint(snapshot.sessions.length);
  for (const s of snapshot.sessions) {
    w.string(s.clientId)
      .bool(s.connected)
      .string(s.connectionId)
      .string(s.nodeId)
      .u8(s.protocolVersion)
      .bool(s.cleanSession)
      .varuint(s.sessionExpiry)
      .optionalString(s.username)
      .varuintArray(s.served)
      .varuint(s.generation)
      .varuint(s.connectedAt)
      .varuint(s.disconnectedAt === null ? 0 : s.disconnectedAt + 1);
    if (s.will) {
      w.u8(1).string(s.will.topic).u8(s.will.qos).bool(s.will.retain).bytes(s.will.payload);
      writeMessageProperties(w, s.will.properties);
      w.varuint(s.will.delayMs ?? 0).varuint(s.will.expirySeconds ?? 0).varuint(s.willDueAt ?? 0);
    } else w.u8(0);
    w.varuint(s.subscriptions.size);
    for (const [filter, sub] of s.subscriptions) {
      w.string(filter).u8(sub.qos).varuintArray(sub.since);
      writeSubscriptionOptions(w, sub.options);
      if (sub.feed === undefined) w.u8(0);
      else if ('from' in sub.feed) w.u8(2).varuintArray(sub.feed.from);
      else w.u8(1).varuint(sub.feed.since);
    }
    w.varuint(s.outbound.size);
    for (const e of s.outbound.values()) {
      w.varuint(e.packetId).u8(e.qos).bool(e.released);
      writeRef(w, e.ref);
      w.optionalString(e.shared ?? null);
    }
    w.varuintArray([...s.inbound]);
  }
  return w.finish();
}

/** A byte of a snapshot that must be one of `allowed` (a snapshot is read back from disk: untrusted). */
function oneOf<T extends number>(r: BinaryReader, allowed: readonly T[], what: string): T {
  const v = r.u8(what);
  if (!allowed.includes(v as T)) throw new DecodeError(`invalid ${what} ${v} in a session snapshot`);
  return v as T;
}

export function decodeSessionsSnapshot(buf: Buffer): SessionsSnapshot {
  const r = new BinaryReader(buf);
  const version = r.u8('snapshot version');
  if (version < 1 || version > SNAPSHOT_VERSION) throw new DecodeError(`unsupported session snapshot version ${version}`);
  const nextOffset = r.varuint('offset');
  const count = r.varuint('session count');
  if (count > r.remaining) throw new DecodeError(`session count ${count} exceeds the snapshot`);
  const sessions: SessionRecord[] = [];
  for (let i = 0; i < count; i++) {
    const clientId = r.string('client id');
    const connected = r.bool();
    const connectionId = r.string();
    const nodeId = r.string();
    const protocolVersion = oneOf<ProtocolLevel>(r, [3, 4, 5], 'protocol version');
    const cleanSession = r.bool();
    const sessionExpiry = r.varuint();
    const username = r.optionalString();
    const served = r.varuintArray();
    const generation = r.varuint();
    const connectedAt = r.varuint();
    const disc = r.varuint();
    let willDueAt = 0;
    const will: WillMessage | null =
      oneOf(r, [0, 1], 'will flag') === 1 ? { topic: r.string(), qos: oneOf<QoS>(r, [0, 1, 2], 'will QoS'), retain: r.bool(), payload: Buffer.from(r.bytes()) } : null;
    if (will && version >= 2) {
      const properties = readMessageProperties(r);
      if (properties) will.properties = properties;
      const delayMs = r.varuint();
      const expirySeconds = r.varuint();
      if (delayMs) will.delayMs = delayMs;
      if (expirySeconds) will.expirySeconds = expirySeconds;
      willDueAt = r.varuint();
    }
    const subscriptions = new SubscriptionMap<StoredSubscription>();
    const nSubs = r.varuint();
    if (nSubs > r.remaining) throw new DecodeError(`subscription count ${nSubs} exceeds the snapshot`);
    for (let j = 0; j < nSubs; j++) {
      const filter = r.string();
      const sub: StoredSubscription = { qos: oneOf<QoS>(r, [0, 1, 2], 'subscription QoS'), since: r.varuintArray() };
      if (version >= 2) {
        const options = readSubscriptionOptions(r);
        if (options) sub.options = options;
      }
      if (version >= 3) {
        const kind = oneOf(r, [0, 1, 2], 'feed kind');
        if (kind === 1) sub.feed = { since: r.varuint() };
        else if (kind === 2) sub.feed = { from: r.varuintArray() };
      }
      subscriptions.set(filter, sub);
    }
    const nOut = r.varuint();
    if (nOut > r.remaining) throw new DecodeError(`exchange count ${nOut} exceeds the snapshot`);
    const outbound = nOut === 0 ? NO_OUTBOUND : new Map<number, OutboundEntry>();
    for (let j = 0; j < nOut; j++) {
      const packetId = r.varuint();
      const qos = oneOf<1 | 2>(r, [1, 2], 'exchange QoS');
      const released = r.bool();
      const ref: MessageRef = { source: oneOf<MessageSource>(r, [MessageSource.Messages, MessageSource.Retained], 'message source'), partition: r.varuint(), offset: r.varuint() };
      const entry: OutboundEntry = { packetId, qos, released, ref };
      if (version >= 3) {
        const shared = r.optionalString();
        if (shared !== null) entry.shared = shared;
      }
      outbound.set(packetId, entry);
    }
    const inboundIds = r.varuintArray();
    const inbound = inboundIds.length === 0 ? NO_INBOUND : new Set(inboundIds);
    sessions.push({
      clientId,
      connected,
      connectionId,
      nodeId,
      protocolVersion,
      cleanSession,
      sessionExpiry,
      will,
      username,
      subscriptions,
      outbound,
      inbound,
      served,
      generation,
      connectedAt,
      disconnectedAt: disc === 0 ? null : disc - 1,
      ...(willDueAt > 0 ? { willDueAt } : {}),
    });
  }
  r.expectEnd('session snapshot');
  return { nextOffset, sessions };
}
