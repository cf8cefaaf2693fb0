/**
 * Bytes in, packets out. Framing (fixed header and remaining length) happens
 * here so an oversized packet is refused from its header, before its body is
 * buffered. PUBLISH, the acknowledgements, and CONNECT and SUBSCRIBE of MQTT
 * 3.1/3.1.1 are decoded here directly (each says why); every other frame is
 * parsed by mqtt-packet and checked for what mqtt-packet does not check: packet
 * types a client may not send, exact lengths, well-formed UTF-8 [MQTT-1.5.3-1].
 */
import { isUtf8 } from 'buffer';
import mqttPacket, { IConnectPacket, IPublishPacket, ISubscribePacket, ISubscription, Packet } from 'mqtt-packet';
import { QoS } from '../events/types';
import { PacketTooLarge, ProtocolViolation } from './ProtocolViolation';
import { decodeConnect5, decodePacket5 } from './v5/Mqtt5Decoder';

/** Largest remaining length the 4-byte encoding allows [MQTT-2.2.3]. */
export const MAX_REMAINING_LENGTH = 268_435_455;

const CONNECT = 1;
const PUBLISH = 3;
const PUBACK = 4;
const PUBREL = 6;
const PUBCOMP = 7;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const PINGREQ = 12;
const DISCONNECT = 14;

/** Packet types a client may send to a server, by type number. */
const FROM_CLIENT = new Set([CONNECT, PUBLISH, PUBACK, 5, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT]);

/** Called with the decoder's `context` as `this` (a shared function and a context cost less than a closure per connection). */
export type PacketHandler<C = unknown> = (this: C, packet: Packet, size: number) => void;

const neverYield = (): boolean => false;

/**
 * One mqtt-packet parser for every connection: it is only ever given one whole
 * frame at a time and parses it synchronously, so it holds nothing between
 * frames, and a parser per connection (with its BufferList and listeners) was a
 * large share of the memory of an idle connection.
 */
let parsed: Packet | null = null;
let parseError: Error | null = null;

function newParser(): ReturnType<typeof mqttPacket.parser> {
  const p = mqttPacket.parser({ protocolVersion: 4 });
  p.on('packet', (packet: Packet) => {
    parsed = packet;
  });
  p.on('error', (err: Error) => {
    parseError = err;
  });
  return p;
}

let parser = newParser();

/** Parses one complete frame with the shared parser, as a client of `protocolLevel` sends it. */
function parseFrame(frame: Buffer, protocolLevel: number): { packet: Packet | null; error: Error | null } {
  parsed = null;
  parseError = null;
  // The parser keeps the last CONNECT's settings (MQTT 5 properties); each frame starts from this connection's.
  (parser as unknown as { settings: { protocolVersion: number } }).settings = { protocolVersion: protocolLevel };
  parser.parse(frame);
  // After an error a parser keeps half-parsed state (its read position among it), fine for the one
  // connection it belonged to, not for the next frame: start a fresh one. Errors are rare.
  if (parseError) parser = newParser();
  return { packet: parsed, error: parseError };
}

/** The pending chunks of a decoder holding no partial packet: shared, never written (`push` replaces it first). */
const NO_CHUNKS: Buffer[] = [];

export class PacketDecoder<C = unknown> {
  /** Bytes received but not yet framed. */
  private chunks: Buffer[] = NO_CHUNKS;
  private buffered = 0;
  /** Size of the frame being assembled, once its header is known. */
  private needed = 0;
  private protocolLevel = 4;

  constructor(
    /**
     * Largest frame accepted, header included; refused from its fixed header. The
     * connection raises it once the client is authenticated (a small limit before).
     */
    public maxPacketSize: number,
    private readonly onPacket: PacketHandler<C>,
    private readonly context?: C,
  ) {}

  /**
   * Asked after each packet (with the decoder's context as `this`): true stops
   * decoding until the next `push` (the undecoded bytes stay buffered). The
   * connection uses it to bound one event-loop turn and to read nothing more
   * while a CONNECT is being authenticated.
   */
  shouldYield: (this: C) => boolean = neverYield;

  /** Decoding yielded with bytes left that were not looked at yet. */
  private yielded = false;

  /** Whether decoding yielded with bytes left (they may hold complete packets). */
  get hasPending(): boolean {
    return this.yielded;
  }

  /**
   * Feeds received bytes (an empty chunk continues after a yield); calls the
   * handler for each complete packet. Returns false when it yielded with
   * packets left. Throws ProtocolViolation.
   */
  push(chunk: Buffer): boolean {
    this.yielded = false;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.needed > 0 && this.buffered < this.needed) return true;
      chunk = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      this.chunks = NO_CHUNKS;
      this.buffered = 0;
    }
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      // Fixed header: type/flags byte, then 1-4 bytes of remaining length.
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < end; k++) {
        const byte = chunk[i++];
        length += (byte & 0x7f) * multiplier;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (k === 3) throw new ProtocolViolation('malformed remaining length: more than 4 bytes [MQTT-2.2.3]');
        multiplier *= 128;
      }
      if (!complete) break;
      const headerLength = i - pos;
      const total = headerLength + length;
      if (total > this.maxPacketSize) {
        throw new PacketTooLarge(total, this.maxPacketSize, chunk[pos] >> 4);
      }
      if (end - pos < total) {
        this.needed = total;
        break;
      }
      this.needed = 0;
      this.decodeFrame(chunk.subarray(pos, pos + total), headerLength);
      pos += total;
      if (pos < end && this.shouldYield.call(this.context as C)) {
        this.yielded = true;
        break;
      }
    }
    if (pos < end) {
      const rest = chunk.subarray(pos);
      this.chunks = [rest];
      this.buffered = rest.length;
    }
    return !this.yielded;
  }

  private decodeFrame(frame: Buffer, headerLength: number): void {
    const type = frame[0] >> 4;
    if (this.protocolLevel === 5) {
      // MQTT 5: the one v5 reader (properties, reason codes), never mqtt-packet.
      this.onPacket.call(this.context as C, decodePacket5(frame, headerLength), frame.length);
      return;
    }
    if (this.protocolLevel < 5) {
      if (type === PUBLISH) {
        this.onPacket.call(this.context as C, decodePublish(frame, headerLength), frame.length);
        return;
      }
      if (type >= PUBACK && type <= PUBCOMP) {
        this.onPacket.call(this.context as C, decodeAck(frame, headerLength, type), frame.length);
        return;
      }
    }
    if (!FROM_CLIENT.has(type)) {
      throw new ProtocolViolation(`packet type ${type} may not be sent by a client [MQTT-2.2.1]`);
    }
    if (type === CONNECT) {
      const connect = decodeConnect(frame, headerLength) ?? decodeConnect5(frame, headerLength);
      this.protocolLevel = connect.protocolVersion!;
      this.onPacket.call(this.context as C, connect, frame.length);
      return;
    } else if (type === SUBSCRIBE && this.protocolLevel < 5) {
      this.onPacket.call(this.context as C, decodeSubscribe(frame, headerLength), frame.length);
      return;
    }
    const { packet, error } = parseFrame(frame, this.protocolLevel);
    if (error) {
      const message = error.message;
      if (message === 'Invalid protocol version') {
        // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01, then close.
        const level = frame[headerLength + 2 + frame.readUInt16BE(headerLength)];
        throw new ProtocolViolation(`unsupported protocol level ${level}`, 'unsupported-protocol');
      }
      throw new ProtocolViolation(`malformed packet: ${message}`);
    }
    if (!packet) throw new ProtocolViolation('malformed packet: incomplete');
    const remaining = frame.length - headerLength;
    switch (packet.cmd) {
      case 'connect': // MQTT 5 only: 3.1 and 3.1.1 were decoded by decodeConnect
        this.protocolLevel = packet.protocolVersion ?? 5;
        break;
      case 'subscribe':
        if (packet.subscriptions.length === 0) throw new ProtocolViolation('SUBSCRIBE without topic filters [MQTT-3.8.3-3]');
        if (packet.subscriptions.some((sub) => sub.topic.includes('\uFFFD'))) checkFilterList(frame, headerLength, 1);
        break;
      case 'unsubscribe':
        if (packet.unsubscriptions.length === 0) throw new ProtocolViolation('UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]');
        if (packet.unsubscriptions.some((f) => f.includes('\uFFFD'))) checkFilterList(frame, headerLength, 0);
        break;
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        if (this.protocolLevel < 5 && remaining !== 2) {
          throw new ProtocolViolation(`${packet.cmd.toUpperCase()} with remaining length ${remaining}, expected 2`);
        }
        break;
      case 'pingreq':
      case 'disconnect':
        if (this.protocolLevel < 5 && remaining !== 0) {
          throw new ProtocolViolation(`${packet.cmd.toUpperCase()} with remaining length ${remaining}, expected 0`);
        }
        break;
    }
    this.onPacket.call(this.context as C, packet, frame.length);
  }
}

/**
 * PUBLISH, the packet that carries the load, is decoded here directly rather than
 * through mqtt-packet: profiling showed mqtt-packet's general-purpose parser
 * (BufferList bookkeeping, debug hooks, a state machine per byte range) as the
 * largest single cost of ingesting messages (docs/benchmarks.md). MQTT 3.1.1
 * section 3.3: fixed header flags, topic name, packet identifier for QoS > 0,
 * and the rest is payload. The payload is a view of the received bytes.
 */
function decodePublish(frame: Buffer, headerLength: number): IPublishPacket {
  const flags = frame[0] & 0x0f;
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw new ProtocolViolation('malformed packet: PUBLISH with both QoS bits set [MQTT-3.3.1-4]');
  const dup = (flags & 0x08) !== 0;
  if (dup && qos === 0) throw new ProtocolViolation('malformed packet: DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]');
  const end = frame.length;
  let pos = headerLength;
  if (pos + 2 > end) throw new ProtocolViolation('malformed packet: PUBLISH too short for its topic name');
  const topicLength = frame.readUInt16BE(pos);
  pos += 2;
  if (pos + topicLength > end) throw new ProtocolViolation('malformed packet: PUBLISH topic name longer than the packet');
  const topic = frame.toString('utf8', pos, pos + topicLength);
  if (topic.includes('\uFFFD') && !isUtf8(frame.subarray(pos, pos + topicLength))) {
    throw new ProtocolViolation('topic name is not valid UTF-8 [MQTT-1.5.3-1]');
  }
  pos += topicLength;
  const packet: IPublishPacket = { cmd: 'publish', topic, payload: EMPTY, qos: qos as 0 | 1 | 2, dup, retain: (flags & 0x01) !== 0 };
  if (qos > 0) {
    if (pos + 2 > end) throw new ProtocolViolation('malformed packet: PUBLISH too short for its packet identifier');
    packet.messageId = frame.readUInt16BE(pos);
    pos += 2;
  }
  packet.payload = frame.subarray(pos);
  return packet;
}

const EMPTY = Buffer.alloc(0);

const ACK_COMMANDS = ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const;

/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 3.1.1 sections 3.4-3.7), one per QoS 1/2
 * message in each direction, are decoded directly too: a fixed header with the
 * reserved flags (0010 for PUBREL, 0000 otherwise [MQTT-2.2.2-1, MQTT-2.2.2-2],
 * [MQTT-3.6.1-1]) and exactly a two-byte packet identifier.
 */
function decodeAck(frame: Buffer, headerLength: number, type: number): Packet {
  const cmd = ACK_COMMANDS[type - PUBACK];
  const flags = frame[0] & 0x0f;
  if (flags !== (type === PUBREL ? 2 : 0)) {
    throw new ProtocolViolation(`malformed packet: ${cmd.toUpperCase()} with reserved flags ${flags.toString(2).padStart(4, '0')} [MQTT-2.2.2-2]`);
  }
  const remaining = frame.length - headerLength;
  if (remaining !== 2) throw new ProtocolViolation(`${cmd.toUpperCase()} with remaining length ${remaining}, expected 2`);
  return { cmd, messageId: frame.readUInt16BE(headerLength) } as Packet;
}

/** Read position of the direct CONNECT and SUBSCRIBE decoders (module-level: no closure or object per packet). */
let at = 0;

/** A length-prefixed field of `what` [MQTT-1.5.3] starting at `at`; returns its length and leaves `at` on its bytes. */
function fieldLength(frame: Buffer, packet: string, what: string): number {
  if (at + 2 > frame.length) throw new ProtocolViolation(`${packet} too short for ${what}`);
  const len = frame.readUInt16BE(at);
  at += 2;
  if (at + len > frame.length) throw new ProtocolViolation(`${packet} too short for ${what}`);
  return len;
}

/** A UTF-8 string field: well-formed UTF-8 [MQTT-1.5.3-1] (U+0000 is checked where it matters, by the channel). */
function utf8Field(frame: Buffer, packet: string, what: string): string {
  const len = fieldLength(frame, packet, what);
  const text = frame.toString('utf8', at, at + len);
  if (text.includes('\uFFFD') && !isUtf8(frame.subarray(at, at + len))) throw new ProtocolViolation(`${what} is not valid UTF-8 [MQTT-1.5.3-1]`);
  at += len;
  return text;
}

/** A binary field, copied: the frame is a view of a socket chunk that must not stay pinned. */
function bytesField(frame: Buffer, packet: string, what: string): Buffer {
  const len = fieldLength(frame, packet, what);
  const bytes = Buffer.from(frame.subarray(at, at + len));
  at += len;
  return bytes;
}

const CONNECT_FLAG_RESERVED = 0x01;
const CONNECT_FLAG_CLEAN = 0x02;
const CONNECT_FLAG_WILL = 0x04;
const CONNECT_FLAG_WILL_RETAIN = 0x20;
const CONNECT_FLAG_PASSWORD = 0x40;
const CONNECT_FLAG_USERNAME = 0x80;

/**
 * CONNECT of MQTT 3.1 and 3.1.1 (section 3.1), decoded directly rather than by
 * mqtt-packet: every connection starts with one, and mqtt-packet's general parser
 * (BufferList copies per field) was a large share of the garbage of a burst of
 * handshakes, the garbage that an idle connection's memory is measured with. The
 * same checks as before: protocol name, level (CONNACK 0x01 for an unsupported
 * one), reserved flag [MQTT-3.1.2-3], will flags without a will [MQTT-3.1.2-11,
 * MQTT-3.1.2-13, MQTT-3.1.2-15], password without user name [MQTT-3.1.2-22],
 * UTF-8 strings, and fields that fill the packet exactly. Returns null for
 * protocol level 5 (v5/Mqtt5Decoder).
 */
function decodeConnect(frame: Buffer, headerLength: number): IConnectPacket | null {
  if ((frame[0] & 0x0f) !== 0) throw new ProtocolViolation('malformed packet: CONNECT with reserved flags set [MQTT-2.2.2-2]');
  at = headerLength;
  const protocolId = utf8Field(frame, 'CONNECT', 'protocol name');
  if (protocolId !== 'MQTT' && protocolId !== 'MQIsdp') throw new ProtocolViolation('malformed packet: Invalid protocolId');
  if (at + 4 > frame.length) throw new ProtocolViolation('CONNECT too short for its flags and keepalive');
  let level = frame[at];
  const bridgeMode = level >= 128;
  if (bridgeMode) level -= 128;
  if (level === 5) return null;
  // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01, then close.
  if (level !== 3 && level !== 4) throw new ProtocolViolation(`unsupported protocol level ${frame[at]}`, 'unsupported-protocol');
  const flags = frame[at + 1];
  const keepalive = frame.readUInt16BE(at + 2);
  at += 4;
  if (flags & CONNECT_FLAG_RESERVED) throw new ProtocolViolation('malformed packet: Connect flag bit 0 must be 0, but got 1 [MQTT-3.1.2-3]');
  const hasWill = (flags & CONNECT_FLAG_WILL) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & CONNECT_FLAG_WILL_RETAIN) !== 0;
  // A will QoS of 3 is malformed: close, as Mosquitto and EMQX do [MQTT-3.1.2-14].
  if (hasWill && willQos === 3) throw new ProtocolViolation('malformed packet: Will QoS 3 [MQTT-3.1.2-14]');
  if (!hasWill && willRetain) throw new ProtocolViolation('malformed packet: Will Retain Flag must be set to zero when Will Flag is set to 0 [MQTT-3.1.2-15]');
  if (!hasWill && willQos !== 0) throw new ProtocolViolation('malformed packet: Will QoS must be set to zero when Will Flag is set to 0 [MQTT-3.1.2-13]');
  if ((flags & CONNECT_FLAG_PASSWORD) !== 0 && (flags & CONNECT_FLAG_USERNAME) === 0) {
    throw new ProtocolViolation('password flag set without user name flag [MQTT-3.1.2-22]');
  }
  const packet: IConnectPacket = {
    cmd: 'connect',
    protocolId: protocolId as IConnectPacket['protocolId'],
    protocolVersion: level as IConnectPacket['protocolVersion'],
    clean: (flags & CONNECT_FLAG_CLEAN) !== 0,
    keepalive,
    clientId: utf8Field(frame, 'CONNECT', 'client id'),
  };
  if (bridgeMode) (packet as { bridgeMode?: boolean }).bridgeMode = true;
  if (hasWill) {
    const topic = utf8Field(frame, 'CONNECT', 'will topic');
    const payload = bytesField(frame, 'CONNECT', 'will message');
    packet.will = { topic, payload, qos: willQos as QoS, retain: willRetain };
  }
  if (flags & CONNECT_FLAG_USERNAME) packet.username = utf8Field(frame, 'CONNECT', 'user name');
  if (flags & CONNECT_FLAG_PASSWORD) packet.password = bytesField(frame, 'CONNECT', 'password');
  if (at !== frame.length) throw new ProtocolViolation(`CONNECT has ${frame.length - at} unexpected trailing byte(s)`);
  return packet;
}

/**
 * SUBSCRIBE of MQTT 3.1/3.1.1 (section 3.8), decoded directly like CONNECT:
 * flags 0010 [MQTT-3.8.1-1], a packet identifier, then at least one filter
 * [MQTT-3.8.3-3], each UTF-8 [MQTT-1.5.3-1] with a requested-QoS byte whose
 * reserved bits are 0 and whose QoS is at most 2 [MQTT-3-8.3-4].
 */
function decodeSubscribe(frame: Buffer, headerLength: number): ISubscribePacket {
  if ((frame[0] & 0x0f) !== 2) throw new ProtocolViolation('malformed packet: Invalid header flag bits, must be 0x2 for subscribe packet [MQTT-3.8.1-1]');
  if (frame.length - headerLength < 2) throw new ProtocolViolation('malformed packet: SUBSCRIBE too short for its packet identifier');
  const messageId = frame.readUInt16BE(headerLength);
  at = headerLength + 2;
  const subscriptions: ISubscription[] = [];
  while (at < frame.length) {
    const topic = utf8Field(frame, 'SUBSCRIBE', 'topic filter');
    if (at >= frame.length) throw new ProtocolViolation('malformed packet: Malformed Subscribe Payload');
    const options = frame[at++];
    if (options & 0xfc) throw new ProtocolViolation('malformed packet: Invalid subscribe topic flag bits, bits 7-2 must be 0 [MQTT-3-8.3-4]');
    if (options > 2) throw new ProtocolViolation('malformed packet: Invalid subscribe QoS, must be <= 2 [MQTT-3-8.3-4]');
    subscriptions.push({ topic, qos: options as QoS });
  }
  if (subscriptions.length === 0) throw new ProtocolViolation('SUBSCRIBE without topic filters [MQTT-3.8.3-3]');
  return { cmd: 'subscribe', messageId, subscriptions };
}

/** Checks the raw bytes of each filter of a SUBSCRIBE (`trailer` 1: a QoS byte follows) or UNSUBSCRIBE (0). */
function checkFilterList(frame: Buffer, headerLength: number, trailer: number): void {
  let pos = headerLength + 2; // packet identifier
  while (pos + 2 <= frame.length) {
    const len = frame.readUInt16BE(pos);
    if (!isUtf8(frame.subarray(pos + 2, pos + 2 + len))) throw new ProtocolViolation('topic filter is not valid UTF-8 [MQTT-1.5.3-1]');
    pos += 2 + len + trailer;
  }
}
