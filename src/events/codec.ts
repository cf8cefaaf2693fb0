/**
 * The one encoder and the one decoder for broker events.
 *
 * Layout: [format version u8][event tag u8][fields...]. Fields are written in a
 * fixed order per tag with the primitives of `binary.ts`. A new field or event
 * gets a new format version or tag; old records stay readable. An unknown version
 * or tag, a truncated record or trailing bytes all throw `DecodeError`: a corrupt
 * record is never silently skipped or half-read.
 */
import { BinaryReader, BinaryWriter, DecodeError } from './binary';
import {
  AccessAction,
  AckDirection,
  AckKind,
  BrokerEvent,
  ClientDisconnected,
  DisconnectReason,
  DROP_REASONS,
  GrantedQoS,
  MessageOrigin,
  MessageProperties,
  SubscriptionOptions,
  SubscriptionRequest,
  MessagePublished,
  SharedAssignment,
  SinceFeedProgress,
  MessageSource,
  ProtocolLevel,
  QoS,
  SUBACK_FAILURE,
  WillMessage,
} from './types';

/**
 * Version 2 added the publisher's username and address and the delivery target
 * to `message.published`; version 3 added `foreignTakeover` to `client.connected`
 * and the `session.expired` event; version 4 added `message.dropped` and
 * `operator.action`, and the version and health to `node.heartbeat`; version 5
 * added MQTT 5 message properties to `message.published` and wills, and
 * subscription options to `client.subscribed`; version 6 added the
 * shared-subscription members chosen for a `message.published`, the shared
 * subscription of a `message.delivered`, the `since` of a subscription, the
 * `since` feeds still under way at a `client.disconnected`, and the advertised
 * address (for MQTT 5 Server Reference) to `node.heartbeat`. Every other event is laid out as in version 1, and older
 * records stay readable.
 */
export const EVENT_FORMAT_VERSION = 6;
const OLDEST_READABLE_VERSION = 1;

function readVersion(r: BinaryReader): number {
  const version = r.u8('format version');
  if (version < OLDEST_READABLE_VERSION || version > EVENT_FORMAT_VERSION) {
    throw new DecodeError(`unsupported event format version ${version} (this build reads versions ${OLDEST_READABLE_VERSION}..${EVENT_FORMAT_VERSION})`);
  }
  return version;
}

const TAG = {
  'client.connected': 1,
  'client.disconnected': 2,
  'client.subscribed': 3,
  'client.unsubscribed': 4,
  'message.published': 5,
  'message.delivered': 6,
  'message.acknowledged': 7,
  'node.heartbeat': 8,
  'access.decided': 9,
  'session.expired': 11,
  'message.dropped': 12,
  'operator.action': 13,
  'session.will': 14,
} as const satisfies Record<BrokerEvent['type'], number>;

/**
 * A record holding several events of one key, in order: [version][BATCH_TAG]
 * [count][tag][fields]... Consecutive session events of one client appended in
 * one event-loop turn (a burst of deliveries and acknowledgements) share one
 * record: one encode, one CRC and one index entry instead of one each.
 */
const BATCH_TAG = 10;

const ACK_KINDS: readonly AckKind[] = ['puback', 'pubrec', 'pubrel', 'pubcomp'];
const ACCESS_ACTIONS: readonly AccessAction[] = ['connect', 'publish', 'subscribe'];

const writer = new BinaryWriter(1024);

export function encodeEvent(event: BrokerEvent): Buffer {
  const w = writer.reset().u8(EVENT_FORMAT_VERSION);
  writeEvent(w, event);
  return w.finish();
}

/** Several events as one record value (one event: the same bytes as `encodeEvent`); read back with `decodeEvents`. */
export function encodeEvents(events: readonly BrokerEvent[]): Buffer {
  if (events.length === 1) return encodeEvent(events[0]);
  if (events.length === 0) throw new Error('cannot encode an empty event batch');
  const w = writer.reset().u8(EVENT_FORMAT_VERSION).u8(BATCH_TAG).varuint(events.length);
  for (const event of events) writeEvent(w, event);
  return w.finish();
}

/**
 * The encoder refuses what the decoder would refuse, so a record that reads back
 * wrong can never be written: a bad value fails the append that carries it, at
 * the edge, instead of every reader of the log later.
 */
function encodable(ok: boolean, what: string, value: unknown): void {
  if (!ok) throw new RangeError(`cannot encode ${what} ${String(value)}`);
}

function qosByte(qos: number, retain: boolean, what: string): number {
  encodable(qos === 0 || qos === 1 || qos === 2, what, qos);
  return qos | (retain ? 4 : 0);
}

function enumByte(value: number, max: number, what: string): number {
  encodable(Number.isInteger(value) && value >= 0 && value <= max, what, value);
  return value;
}

function protocolLevelByte(level: number): number {
  encodable(level === 3 || level === 4 || level === 5, 'protocol version', level);
  return level;
}

function ackByte(kind: AckKind, direction: AckDirection): number {
  encodable(direction === 'in' || direction === 'out', 'ack direction', direction);
  return enumByte(ACK_KINDS.indexOf(kind), 3, 'ack kind') | (direction === 'out' ? 4 : 0);
}

function writeEvent(w: BinaryWriter, event: BrokerEvent): void {
  w.u8(TAG[event.type]);
  switch (event.type) {
    case 'client.connected':
      w.string(event.clientId)
        .string(event.connectionId)
        .string(event.nodeId)
        .u8(protocolLevelByte(event.protocolVersion))
        .bool(event.cleanSession)
        .varuint(event.keepalive)
        .varuint(event.sessionExpiry)
        .optionalString(event.username)
        .string(event.remoteAddress)
        .bool(event.sessionPresent)
        .varuintArray(event.position)
        .varuint(event.timestamp);
      writeWill(w, event.will);
      w.bool(event.foreignTakeover);
      break;
    case 'session.expired':
    case 'session.will':
      w.string(event.clientId).string(event.connectionId).string(event.nodeId).varuint(event.timestamp);
      break;
    case 'client.disconnected':
      w.string(event.clientId)
        .string(event.connectionId)
        .string(event.nodeId)
        .u8(enumByte(event.reason, DisconnectReason.Kicked, 'disconnect reason'))
        .bool(event.willPublished)
        .varuintArray(event.servedUpTo)
        .varuint(event.timestamp)
        .varuint(event.sessionExpiry === undefined ? 0 : event.sessionExpiry + 1)
        .varuint(event.willDueAt === undefined ? 0 : event.willDueAt);
      writeFeeds(w, event.feeds);
      break;
    case 'client.subscribed':
      w.string(event.clientId).varuint(event.packetId).varuint(event.subscriptions.length);
      for (const s of event.subscriptions) {
        encodable(s.granted === SUBACK_FAILURE || s.granted <= 2, 'granted QoS', s.granted);
        w.string(s.filter).u8(qosByte(s.requestedQos, false, 'requested QoS')).u8(s.granted);
        writeSubscriptionOptions(w, s.options);
        w.varuint(s.since === undefined ? 0 : s.since + 1);
      }
      w.varuintArray(event.position).varuint(event.timestamp);
      break;
    case 'client.unsubscribed':
      w.string(event.clientId).varuint(event.packetId).varuint(event.filters.length);
      for (const f of event.filters) w.string(f);
      w.varuint(event.timestamp);
      break;
    case 'message.published':
      w.string(event.topic)
        .u8(qosByte(event.qos, event.retain, 'QoS'))
        .string(event.publisherId)
        .varuint(event.packetId)
        .u8(enumByte(event.origin, MessageOrigin.Replay, 'message origin'))
        .string(event.nodeId)
        .varuint(event.timestamp)
        .optionalString(event.username)
        .string(event.remoteAddress)
        .optionalString(event.target)
        .bytes(event.payload);
      writeMessageProperties(w, event.properties);
      writeSharedAssignments(w, event.shared);
      break;
    case 'message.delivered':
      encodable(event.qos === 1 || event.qos === 2, 'delivered QoS', event.qos);
      w.string(event.clientId)
        .varuint(event.packetId)
        .u8(event.qos)
        .u8(enumByte(event.ref.source, MessageSource.Retained, 'message source'))
        .varuint(event.ref.partition)
        .varuint(event.ref.offset)
        .varuint(event.timestamp)
        .optionalString(event.shared ?? null);
      break;
    case 'message.acknowledged':
      w.string(event.clientId)
        .varuint(event.packetId)
        .u8(ackByte(event.kind, event.direction))
        .varuint(event.timestamp);
      break;
    case 'node.heartbeat':
      w.string(event.nodeId).varuint(event.startedAt).varuint(event.timestamp).optionalString(event.version).optionalString(event.health).optionalString(event.advertisedAddress ?? null);
      break;
    case 'access.decided':
      w.string(event.clientId)
        .optionalString(event.username)
        .string(event.ip)
        .u8(enumByte(ACCESS_ACTIONS.indexOf(event.action), ACCESS_ACTIONS.length - 1, 'access action'))
        .optionalString(event.topic)
        .bool(event.allowed)
        .u8(event.code)
        .string(event.source)
        .string(event.reason)
        .string(event.nodeId)
        .varuint(event.timestamp);
      break;
    case 'message.dropped':
      w.string(event.clientId)
        .varuint(event.count)
        .u8(enumByte(DROP_REASONS.indexOf(event.reason), DROP_REASONS.length - 1, 'drop reason'))
        .string(event.detail)
        .string(event.nodeId)
        .varuint(event.timestamp);
      break;
    case 'operator.action':
      w.string(event.actor).string(event.ip).string(event.action).string(event.target).string(event.detail).string(event.nodeId).varuint(event.timestamp);
      break;
    default: {
      const unknown: never = event;
      throw new Error(`cannot encode unknown event ${JSON.stringify(unknown)}`);
    }
  }
}

function writeWill(w: BinaryWriter, will: WillMessage | null): void {
  if (!will) {
    w.u8(0);
    return;
  }
  w.u8(1).string(will.topic).u8(qosByte(will.qos, will.retain, 'will QoS')).bytes(will.payload);
  writeMessageProperties(w, will.properties);
  w.varuint(will.delayMs ?? 0).varuint(will.expirySeconds ?? 0);
}

const PROP_PFI = 1;
const PROP_EXPIRES = 2;
const PROP_CONTENT_TYPE = 4;
const PROP_RESPONSE_TOPIC = 8;
const PROP_CORRELATION = 16;
const PROP_USER = 32;

/** MQTT 5 message properties (format 5): a presence byte, then the present ones in bit order. */
export function writeMessageProperties(w: BinaryWriter, p: MessageProperties | undefined): void {
  if (!p) {
    w.u8(0);
    return;
  }
  const flags =
    (p.payloadFormatIndicator !== undefined ? PROP_PFI : 0) |
    (p.expiresAt !== undefined ? PROP_EXPIRES : 0) |
    (p.contentType !== undefined ? PROP_CONTENT_TYPE : 0) |
    (p.responseTopic !== undefined ? PROP_RESPONSE_TOPIC : 0) |
    (p.correlationData !== undefined ? PROP_CORRELATION : 0) |
    (p.userProperties !== undefined && p.userProperties.length > 0 ? PROP_USER : 0);
  w.u8(flags);
  if (flags & PROP_PFI) w.u8(p.payloadFormatIndicator!);
  if (flags & PROP_EXPIRES) w.varuint(p.expiresAt!);
  if (flags & PROP_CONTENT_TYPE) w.string(p.contentType!);
  if (flags & PROP_RESPONSE_TOPIC) w.string(p.responseTopic!);
  if (flags & PROP_CORRELATION) w.bytes(p.correlationData!);
  if (flags & PROP_USER) {
    w.varuint(p.userProperties!.length);
    for (const [k, v] of p.userProperties!) w.string(k).string(v);
  }
}

export function readMessageProperties(r: BinaryReader): MessageProperties | undefined {
  const flags = r.u8('message properties');
  if (flags === 0) return undefined;
  if (flags > 63) throw new DecodeError(`invalid message property flags ${flags}`);
  const p: MessageProperties = {};
  if (flags & PROP_PFI) {
    const v = r.u8('payload format indicator');
    if (v > 1) throw new DecodeError(`invalid payload format indicator ${v}`);
    p.payloadFormatIndicator = v as 0 | 1;
  }
  if (flags & PROP_EXPIRES) p.expiresAt = r.varuint('expires at');
  if (flags & PROP_CONTENT_TYPE) p.contentType = r.string('content type');
  if (flags & PROP_RESPONSE_TOPIC) p.responseTopic = r.string('response topic');
  if (flags & PROP_CORRELATION) p.correlationData = r.bytes('correlation data');
  if (flags & PROP_USER) {
    const n = r.varuint('user property count');
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < n; i++) pairs.push([r.string('user property name'), r.string('user property value')]);
    p.userProperties = pairs;
  }
  return p;
}

/** MQTT 5 subscription options (format 5): a byte (no local 1, retain as published 2, retain handling << 2, 0x80 present) and the identifier. */
export function writeSubscriptionOptions(w: BinaryWriter, o: SubscriptionOptions | undefined): void {
  if (!o) {
    w.u8(0);
    return;
  }
  w.u8(0x80 | (o.noLocal ? 1 : 0) | (o.retainAsPublished ? 2 : 0) | (o.retainHandling << 2)).varuint(o.subscriptionId);
}

export function readSubscriptionOptions(r: BinaryReader): SubscriptionOptions | undefined {
  const b = r.u8('subscription options');
  if (b === 0) return undefined;
  const rh = (b >> 2) & 3;
  if ((b & 0x80) === 0 || (b & 0x70) !== 0 || rh === 3) throw new DecodeError(`invalid subscription options byte ${b}`);
  return { noLocal: (b & 1) !== 0, retainAsPublished: (b & 2) !== 0, retainHandling: rh as 0 | 1 | 2, subscriptionId: r.varuint('subscription id') };
}

function readQos(r: BinaryReader, what: string): QoS {
  const q = r.u8(what);
  if (q > 2) throw new DecodeError(`invalid QoS ${q} for ${what}`);
  return q as QoS;
}

function readQosAndRetain(r: BinaryReader, what: string): { qos: QoS; retain: boolean } {
  const b = r.u8(what);
  const qos = b & 3;
  if (qos > 2 || b > 7) throw new DecodeError(`invalid QoS/retain byte ${b} for ${what}`);
  return { qos: qos as QoS, retain: (b & 4) !== 0 };
}

function readWill(r: BinaryReader, version: number): WillMessage | null {
  if (r.u8('will flag') === 0) return null;
  const topic = r.string('will topic');
  const { qos, retain } = readQosAndRetain(r, 'will qos');
  const payload = r.bytes('will payload');
  const will: WillMessage = { topic, qos, retain, payload };
  if (version >= 5) {
    const properties = readMessageProperties(r);
    if (properties) will.properties = properties;
    const delayMs = r.varuint('will delay');
    const expirySeconds = r.varuint('will expiry');
    if (delayMs) will.delayMs = delayMs;
    if (expirySeconds) will.expirySeconds = expirySeconds;
  }
  return will;
}

function readEnum<T extends number>(r: BinaryReader, max: number, what: string): T {
  const v = r.u8(what);
  if (v > max) throw new DecodeError(`unknown ${what} ${v}`);
  return v as T;
}

/** Decodes a record holding one event; a batch record (see `encodeEvents`) is a DecodeError here. */
export function decodeEvent(buf: Buffer): BrokerEvent {
  const r = new BinaryReader(buf);
  const version = readVersion(r);
  const tag = r.u8('event tag');
  if (tag === BATCH_TAG) throw new DecodeError('record holds an event batch where one event was expected');
  const event = readEvent(r, version, tag);
  r.expectEnd(event.type);
  return event;
}

/** Decodes a record holding one event or a batch of them (streams that may hold batches: sessions). */
export function decodeEvents(buf: Buffer): BrokerEvent[] {
  const r = new BinaryReader(buf);
  const version = readVersion(r);
  const tag = r.u8('event tag');
  if (tag !== BATCH_TAG) {
    const event = readEvent(r, version, tag);
    r.expectEnd(event.type);
    return [event];
  }
  const n = r.varuint('batch size');
  if (n < 2 || n > r.remaining) throw new DecodeError(`invalid event batch size ${n}`);
  const events: BrokerEvent[] = [];
  for (let i = 0; i < n; i++) {
    const inner = r.u8('event tag');
    if (inner === BATCH_TAG) throw new DecodeError('nested event batch');
    events.push(readEvent(r, version, inner));
  }
  r.expectEnd('event batch');
  return events;
}

function readEvent(r: BinaryReader, version: number, tag: number): BrokerEvent {
  let event: BrokerEvent;
  switch (tag) {
    case TAG['client.connected']: {
      const clientId = r.string('client id');
      const connectionId = r.string('connection id');
      const nodeId = r.string('node id');
      const protocolVersion = r.u8('protocol version');
      if (protocolVersion < 3 || protocolVersion > 5) throw new DecodeError(`invalid protocol version ${protocolVersion}`);
      event = {
        type: 'client.connected',
        clientId,
        connectionId,
        nodeId,
        protocolVersion: protocolVersion as ProtocolLevel,
        cleanSession: r.bool('clean session'),
        keepalive: r.varuint('keepalive'),
        sessionExpiry: r.varuint('session expiry'),
        username: r.optionalString('username'),
        remoteAddress: r.string('remote address'),
        sessionPresent: r.bool('session present'),
        position: r.varuintArray('position'),
        timestamp: r.varuint('timestamp'),
        will: readWill(r, version),
        foreignTakeover: version >= 3 ? r.bool('foreign takeover') : true,
      };
      break;
    }
    case TAG['session.will']:
      if (version < 5) throw new DecodeError(`session.will in a version ${version} record`);
      event = { type: 'session.will', clientId: r.string('client id'), connectionId: r.string('connection id'), nodeId: r.string('node id'), timestamp: r.varuint('timestamp') };
      break;
    case TAG['session.expired']:
      if (version < 3) throw new DecodeError(`session.expired in a version ${version} record`);
      event = { type: 'session.expired', clientId: r.string('client id'), connectionId: r.string('connection id'), nodeId: r.string('node id'), timestamp: r.varuint('timestamp') };
      break;
    case TAG['client.disconnected']: {
      const disconnected: ClientDisconnected = {
        type: 'client.disconnected',
        clientId: r.string('client id'),
        connectionId: r.string('connection id'),
        nodeId: r.string('node id'),
        reason: readEnum<DisconnectReason>(r, DisconnectReason.Kicked, 'disconnect reason'),
        willPublished: r.bool('will published'),
        servedUpTo: r.varuintArray('served position'),
        timestamp: r.varuint('timestamp'),
      };
      if (version >= 5) {
        const expiry = r.varuint('session expiry');
        if (expiry > 0) disconnected.sessionExpiry = expiry - 1;
        const due = r.varuint('will due at');
        if (due > 0) disconnected.willDueAt = due;
      }
      if (version >= 6) {
        const feeds = readFeeds(r);
        if (feeds) disconnected.feeds = feeds;
      }
      event = disconnected;
      break;
    }
    case TAG['client.subscribed']: {
      const clientId = r.string('client id');
      const packetId = r.varuint('packet id');
      const n = r.varuint('subscription count');
      if (n > r.remaining) throw new DecodeError(`subscription count ${n} exceeds record`);
      const subscriptions: SubscriptionRequest[] = [];
      for (let i = 0; i < n; i++) {
        const filter = r.string('filter');
        const requestedQos = readQos(r, 'requested qos');
        const granted = r.u8('granted qos');
        if (granted > 2 && granted !== SUBACK_FAILURE) throw new DecodeError(`invalid granted QoS ${granted}`);
        const sub: SubscriptionRequest = { filter, requestedQos, granted: granted as GrantedQoS };
        if (version >= 5) {
          const options = readSubscriptionOptions(r);
          if (options) sub.options = options;
        }
        if (version >= 6) {
          const since = r.varuint('since');
          if (since > 0) sub.since = since - 1;
        }
        subscriptions.push(sub);
      }
      event = {
        type: 'client.subscribed',
        clientId,
        packetId,
        subscriptions,
        position: r.varuintArray('position'),
        timestamp: r.varuint('timestamp'),
      };
      break;
    }
    case TAG['client.unsubscribed']: {
      const clientId = r.string('client id');
      const packetId = r.varuint('packet id');
      const n = r.varuint('filter count');
      if (n > r.remaining) throw new DecodeError(`filter count ${n} exceeds record`);
      const filters: string[] = [];
      for (let i = 0; i < n; i++) filters.push(r.string('filter'));
      event = { type: 'client.unsubscribed', clientId, packetId, filters, timestamp: r.varuint('timestamp') };
      break;
    }
    case TAG['message.published']: {
      const topic = r.string('topic');
      const { qos, retain } = readQosAndRetain(r, 'qos');
      const published: MessagePublished = {
        type: 'message.published',
        topic,
        qos,
        retain,
        publisherId: r.string('publisher id'),
        packetId: r.varuint('packet id'),
        origin: readEnum<MessageOrigin>(r, MessageOrigin.Replay, 'message origin'),
        nodeId: r.string('node id'),
        timestamp: r.varuint('timestamp'),
        username: version >= 2 ? r.optionalString('username') : null,
        remoteAddress: version >= 2 ? r.string('remote address') : '',
        target: version >= 2 ? r.optionalString('target') : null,
        payload: r.bytes('payload'),
      };
      if (version >= 5) {
        const properties = readMessageProperties(r);
        if (properties) published.properties = properties;
      }
      if (version >= 6) {
        const shared = readSharedAssignments(r);
        if (shared) published.shared = shared;
      }
      event = published;
      break;
    }
    case TAG['message.delivered']: {
      const clientId = r.string('client id');
      const packetId = r.varuint('packet id');
      const qos = r.u8('qos');
      if (qos !== 1 && qos !== 2) throw new DecodeError(`invalid delivered QoS ${qos}`);
      event = {
        type: 'message.delivered',
        clientId,
        packetId,
        qos,
        ref: {
          source: readEnum<MessageSource>(r, MessageSource.Retained, 'message source'),
          partition: r.varuint('partition'),
          offset: r.varuint('offset'),
        },
        timestamp: r.varuint('timestamp'),
      };
      if (version >= 6) {
        const shared = r.optionalString('shared subscription');
        if (shared !== null) event.shared = shared;
      }
      break;
    }
    case TAG['message.acknowledged']: {
      const clientId = r.string('client id');
      const packetId = r.varuint('packet id');
      const b = r.u8('ack kind');
      if (b > 7) throw new DecodeError(`invalid ack kind byte ${b}`);
      const direction: AckDirection = b & 4 ? 'out' : 'in';
      event = {
        type: 'message.acknowledged',
        clientId,
        packetId,
        kind: ACK_KINDS[b & 3],
        direction,
        timestamp: r.varuint('timestamp'),
      };
      break;
    }
    case TAG['access.decided']: {
      const clientId = r.string('client id');
      const username = r.optionalString('username');
      const ip = r.string('ip');
      const a = r.u8('access action');
      if (a >= ACCESS_ACTIONS.length) throw new DecodeError(`unknown access action ${a}`);
      event = {
        type: 'access.decided',
        clientId,
        username,
        ip,
        action: ACCESS_ACTIONS[a],
        topic: r.optionalString('topic'),
        allowed: r.bool('allowed'),
        code: r.u8('code'),
        source: r.string('source'),
        reason: r.string('reason'),
        nodeId: r.string('node id'),
        timestamp: r.varuint('timestamp'),
      };
      break;
    }
    case TAG['message.dropped']: {
      if (version < 4) throw new DecodeError(`message.dropped in a version ${version} record`);
      const clientId = r.string('client id');
      const count = r.varuint('count');
      const reason = r.u8('drop reason');
      if (reason >= DROP_REASONS.length) throw new DecodeError(`unknown drop reason ${reason}`);
      event = { type: 'message.dropped', clientId, count, reason: DROP_REASONS[reason], detail: r.string('detail'), nodeId: r.string('node id'), timestamp: r.varuint('timestamp') };
      break;
    }
    case TAG['operator.action']:
      if (version < 4) throw new DecodeError(`operator.action in a version ${version} record`);
      event = {
        type: 'operator.action',
        actor: r.string('actor'),
        ip: r.string('ip'),
        action: r.string('action'),
        target: r.string('target'),
        detail: r.string('detail'),
        nodeId: r.string('node id'),
        timestamp: r.varuint('timestamp'),
      };
      break;
    case TAG['node.heartbeat']:
      event = {
        type: 'node.heartbeat',
        nodeId: r.string('node id'),
        startedAt: r.varuint('started at'),
        timestamp: r.varuint('timestamp'),
        version: version >= 4 ? r.optionalString('version') : null,
        health: version >= 4 ? r.optionalString('health') : null,
      };
      if (version >= 6) {
        const advertised = r.optionalString('advertised address');
        if (advertised !== null) event.advertisedAddress = advertised;
      }
      break;
    default:
      throw new DecodeError(`unknown event tag ${tag}`);
  }
  return event;
}

/** What delivery needs of a `message.published` record. */
export interface PublishedForDelivery {
  qos: QoS;
  retain: boolean;
  timestamp: number;
  /** A view into the record. */
  payload: Buffer;
  /** MessagePublished.target: the one client id this message is for, or null. */
  target: string | null;
  /** MQTT 5 properties, passed on to MQTT 5 subscribers. */
  properties: MessageProperties | undefined;
  /** Who published it (MQTT 5's No Local compares it with the subscriber). */
  publisherId: string;
  /** MessagePublished.shared: the member of each shared-subscription group that gets it. */
  shared: SharedAssignment[] | undefined;
}

/**
 * Reads only what delivery needs from an encoded `message.published` (the same
 * layout as `decodeEvent`, skipping the strings): a node delivers every message
 * it routes, and allocating the publisher and node ids for each was measurable.
 * Anything that is not a well-formed `message.published` is a DecodeError.
 */
export function decodePublishedForDelivery(buf: Buffer): PublishedForDelivery {
  const r = new BinaryReader(buf);
  const version = readVersion(r);
  const tag = r.u8('event tag');
  if (tag !== TAG['message.published']) throw new DecodeError(`expected a message.published record, found tag ${tag}`);
  r.skipBytes('topic');
  const { qos, retain } = readQosAndRetain(r, 'qos');
  const publisherId = r.string('publisher id');
  r.varuint('packet id');
  readEnum<MessageOrigin>(r, MessageOrigin.Replay, 'message origin');
  r.skipBytes('node id');
  const timestamp = r.varuint('timestamp');
  let target: string | null = null;
  if (version >= 2) {
    r.skipOptionalString('username');
    r.skipBytes('remote address');
    target = r.optionalString('target');
  }
  const payload = r.bytes('payload');
  const properties = version >= 5 ? readMessageProperties(r) : undefined;
  const shared = version >= 6 ? readSharedAssignments(r) : undefined;
  r.expectEnd('message.published');
  return { qos, retain, timestamp, payload, target, properties, publisherId, shared };
}

/**
 * The most shared-subscription groups one message names: a message goes to one
 * member of every group whose filter matches, so this bounds the groups whose
 * filters may overlap on one topic (the node counts a limit hit past it).
 */
export const MAX_SHARED_ASSIGNMENTS = 64;

/** Shared-subscription members of a message (format 6): a count, then each one's filter, client, connection, node and whether it is parked. */
function writeSharedAssignments(w: BinaryWriter, shared: SharedAssignment[] | undefined): void {
  const n = shared?.length ?? 0;
  encodable(n <= MAX_SHARED_ASSIGNMENTS, 'shared assignment count', n);
  w.varuint(n);
  for (let i = 0; i < n; i++) {
    const a = shared![i];
    w.string(a.shareFilter).string(a.clientId).string(a.connectionId).string(a.nodeId).bool(a.parked === true);
  }
}

function readSharedAssignments(r: BinaryReader): SharedAssignment[] | undefined {
  const n = r.varuint('shared assignment count');
  if (n === 0) return undefined;
  if (n > MAX_SHARED_ASSIGNMENTS) throw new DecodeError(`${n} shared assignments (at most ${MAX_SHARED_ASSIGNMENTS})`);
  const out: SharedAssignment[] = [];
  for (let i = 0; i < n; i++) {
    const a: SharedAssignment = { shareFilter: r.string('share filter'), clientId: r.string('member client id'), connectionId: r.string('member connection'), nodeId: r.string('member node') };
    if (r.bool('parked')) a.parked = true;
    out.push(a);
  }
  return out;
}

/** Feeds of `since` subscriptions still under way (format 6): 0 when not known, else count + 1, then each filter and position. */
function writeFeeds(w: BinaryWriter, feeds: SinceFeedProgress[] | undefined): void {
  if (feeds === undefined) {
    w.varuint(0);
    return;
  }
  w.varuint(feeds.length + 1);
  for (const f of feeds) w.string(f.filter).varuintArray(f.from);
}

function readFeeds(r: BinaryReader): SinceFeedProgress[] | undefined {
  const n = r.varuint('feed count');
  if (n === 0) return undefined;
  if (n - 1 > r.remaining) throw new DecodeError(`feed count ${n - 1} exceeds the record`);
  const feeds: SinceFeedProgress[] = [];
  for (let i = 1; i < n; i++) feeds.push({ filter: r.string('feed filter'), from: r.varuintArray('feed position') });
  return feeds;
}
