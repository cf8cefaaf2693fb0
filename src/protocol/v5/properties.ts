/**
 * MQTT 5 properties (section 2.2.2): the one table of which property may
 * appear in which packet, with what type, and the one reader and writer.
 *
 * Read strictly: an unknown identifier, a property the packet may not carry or
 * a string that is not well-formed UTF-8 is a Malformed Packet (0x81); a
 * property given twice (only User Property and, server to client, Subscription
 * Identifier may repeat) or a value out of its range is a Protocol Error (0x82).
 * User properties keep their order [MQTT-3.3.2-17, MQTT-3.3.2-18].
 */
import { isUtf8 } from 'buffer';
import { ProtocolViolation } from '../ProtocolViolation';

export type PacketKind = 'connect' | 'connack' | 'publish' | 'will' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'subscribe' | 'suback' | 'unsubscribe' | 'unsuback' | 'disconnect' | 'auth';

type PropertyType = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** One in SUBSCRIBE; possibly several in a PUBLISH to a client. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQos?: number;
  retainAvailable?: number;
  /** In order, repeats allowed. */
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifiersAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

type Name = keyof Properties;

interface Definition {
  id: number;
  name: Name;
  type: PropertyType;
  packets: readonly PacketKind[];
}

const ACKS: readonly PacketKind[] = ['puback', 'pubrec', 'pubrel', 'pubcomp'];
const ALL: readonly PacketKind[] = ['connect', 'connack', 'publish', 'will', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'disconnect', 'auth'];

const DEFINITIONS: readonly Definition[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', packets: ['publish', 'will'] },
  { id: 0x02, name: 'messageExpiryInterval', type: 'u32', packets: ['publish', 'will'] },
  { id: 0x03, name: 'contentType', type: 'string', packets: ['publish', 'will'] },
  { id: 0x08, name: 'responseTopic', type: 'string', packets: ['publish', 'will'] },
  { id: 0x09, name: 'correlationData', type: 'binary', packets: ['publish', 'will'] },
  { id: 0x0b, name: 'subscriptionIdentifiers', type: 'varint', packets: ['publish', 'subscribe'] },
  { id: 0x11, name: 'sessionExpiryInterval', type: 'u32', packets: ['connect', 'connack', 'disconnect'] },
  { id: 0x12, name: 'assignedClientIdentifier', type: 'string', packets: ['connack'] },
  { id: 0x13, name: 'serverKeepAlive', type: 'u16', packets: ['connack'] },
  { id: 0x15, name: 'authenticationMethod', type: 'string', packets: ['connect', 'connack', 'auth'] },
  { id: 0x16, name: 'authenticationData', type: 'binary', packets: ['connect', 'connack', 'auth'] },
  { id: 0x17, name: 'requestProblemInformation', type: 'byte', packets: ['connect'] },
  { id: 0x18, name: 'willDelayInterval', type: 'u32', packets: ['will'] },
  { id: 0x19, name: 'requestResponseInformation', type: 'byte', packets: ['connect'] },
  { id: 0x1a, name: 'responseInformation', type: 'string', packets: ['connack'] },
  { id: 0x1c, name: 'serverReference', type: 'string', packets: ['connack', 'disconnect'] },
  { id: 0x1f, name: 'reasonString', type: 'string', packets: ['connack', ...ACKS, 'suback', 'unsuback', 'disconnect', 'auth'] },
  { id: 0x21, name: 'receiveMaximum', type: 'u16', packets: ['connect', 'connack'] },
  { id: 0x22, name: 'topicAliasMaximum', type: 'u16', packets: ['connect', 'connack'] },
  { id: 0x23, name: 'topicAlias', type: 'u16', packets: ['publish'] },
  { id: 0x24, name: 'maximumQos', type: 'byte', packets: ['connack'] },
  { id: 0x25, name: 'retainAvailable', type: 'byte', packets: ['connack'] },
  { id: 0x26, name: 'userProperties', type: 'pair', packets: ALL },
  { id: 0x27, name: 'maximumPacketSize', type: 'u32', packets: ['connect', 'connack'] },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', type: 'byte', packets: ['connack'] },
  { id: 0x29, name: 'subscriptionIdentifiersAvailable', type: 'byte', packets: ['connack'] },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', type: 'byte', packets: ['connack'] },
];

const BY_ID = new Map(DEFINITIONS.map((d) => [d.id, d]));
const BY_NAME = new Map(DEFINITIONS.map((d) => [d.name, d]));

export const MALFORMED = 0x81;
export const PROTOCOL_ERROR = 0x82;

const malformed = (why: string) => new ProtocolViolation(`malformed packet: ${why}`, undefined, MALFORMED);
const protocolError = (why: string) => new ProtocolViolation(`protocol error: ${why}`, undefined, PROTOCOL_ERROR);

/** Byte properties and the values they may take; 0 is no value for these (a Protocol Error). */
function checkValue(d: Definition, v: number): void {
  switch (d.name) {
    case 'payloadFormatIndicator':
    case 'requestProblemInformation':
    case 'requestResponseInformation':
      if (v > 1) throw protocolError(`${d.name} ${v} (0 or 1)`);
      return;
    case 'receiveMaximum':
    case 'maximumPacketSize':
    case 'subscriptionIdentifiers':
      if (v === 0) throw protocolError(`${d.name} 0`);
      return;
    default:
  }
}

/** A bounds-checked reader over one packet's bytes. */
export class V5Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`${what} runs past the end of the packet`);
  }

  byte(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Variable Byte Integer [MQTT-1.5.5]: at most 4 bytes. */
  varint(what: string): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.byte(what);
      value += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) return value;
      multiplier *= 128;
    }
    throw malformed(`${what}: variable byte integer longer than 4 bytes`);
  }

  binary(what: string): Buffer {
    const n = this.u16(what);
    this.need(n, what);
    // A copy: the socket chunk it points into must not be pinned by what is kept.
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** UTF-8 string: well-formed, no U+0000 [MQTT-1.5.4-1, MQTT-1.5.4-2]. */
  string(what: string): string {
    const n = this.u16(what);
    this.need(n, what);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    if (!isUtf8(bytes)) throw malformed(`${what} is not well-formed UTF-8 [MQTT-1.5.4-1]`);
    if (bytes.includes(0)) throw malformed(`${what} holds U+0000 [MQTT-1.5.4-2]`);
    this.pos += n;
    return bytes.toString('utf8');
  }

  get remaining(): number {
    return this.end - this.pos;
  }
}

/** Reads a property block (length, then properties) for `packet`; throws ProtocolViolation with the reason code. */
/** The properties of a packet that has none (most PUBLISHes): shared, never written. */
export const NO_PROPERTIES: Readonly<Properties> = Object.freeze({});

export function readProperties(r: V5Reader, packet: PacketKind): Properties {
  const length = r.varint('property length');
  if (length === 0) return NO_PROPERTIES as Properties;
  if (length > r.remaining) throw malformed('property length runs past the end of the packet');
  const end = r.pos + length;
  const out: Properties = {};
  const seen = new Set<number>();
  while (r.pos < end) {
    const id = r.varint('property identifier');
    const d = BY_ID.get(id);
    if (!d) throw malformed(`unknown property identifier 0x${id.toString(16)}`);
    if (!d.packets.includes(packet)) throw malformed(`property ${d.name} is not allowed in ${packet.toUpperCase()}`);
    if (d.type !== 'pair' && seen.has(id)) throw protocolError(`property ${d.name} given twice`);
    seen.add(id);
    const sub = new V5Reader(r.buf, r.pos, end);
    switch (d.type) {
      case 'byte':
      case 'u16':
      case 'u32':
      case 'varint': {
        const v = d.type === 'byte' ? sub.byte(d.name) : d.type === 'u16' ? sub.u16(d.name) : d.type === 'u32' ? sub.u32(d.name) : sub.varint(d.name);
        checkValue(d, v);
        if (d.name === 'subscriptionIdentifiers') out.subscriptionIdentifiers = [v];
        else (out as Record<string, number>)[d.name] = v;
        break;
      }
      case 'string':
        (out as Record<string, string>)[d.name] = sub.string(d.name);
        break;
      case 'binary':
        (out as Record<string, Buffer>)[d.name] = sub.binary(d.name);
        break;
      case 'pair':
        (out.userProperties ??= []).push([sub.string('user property name'), sub.string('user property value')]);
        break;
    }
    r.pos = sub.pos;
  }
  return out;
}

/** Bytes of a property block for `packet` (length prefix included). Refuses a property the packet may not carry. */
export function writeProperties(props: Properties | undefined, packet: PacketKind): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(props ?? {}) as Array<[Name, unknown]>) {
    if (value === undefined) continue;
    const d = BY_NAME.get(name);
    if (!d) throw new Error(`unknown property ${name}`);
    if (!d.packets.includes(packet)) throw new Error(`property ${name} is not allowed in ${packet}`);
    if (d.type === 'pair') {
      for (const [k, v] of value as Array<[string, string]>) parts.push(Buffer.from([d.id]), str(k), str(v));
    } else if (name === 'subscriptionIdentifiers') {
      for (const v of value as number[]) parts.push(Buffer.from([d.id]), varint(v));
    } else {
      parts.push(Buffer.from([d.id]), encodeValue(d.type, value));
    }
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(body.length), body]);
}

function encodeValue(type: PropertyType, value: unknown): Buffer {
  switch (type) {
    case 'byte':
      return Buffer.from([value as number]);
    case 'u16': {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(value as number);
      return b;
    }
    case 'u32': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(value as number);
      return b;
    }
    case 'varint':
      return varint(value as number);
    case 'string':
      return str(value as string);
    case 'binary': {
      const v = value as Buffer;
      const b = Buffer.alloc(2 + v.length);
      b.writeUInt16BE(v.length);
      v.copy(b, 2);
      return b;
    }
    default:
      throw new Error(`cannot encode a ${type} property alone`);
  }
}

export function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > 0xffff) throw new Error('string longer than 65535 bytes');
  const b = Buffer.alloc(2 + bytes.length);
  b.writeUInt16BE(bytes.length);
  bytes.copy(b, 2);
  return b;
}

export function varint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 268_435_455) throw new Error(`variable byte integer out of range: ${n}`);
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
