/**
 * PUBLISH bytes, encoded once per message and QoS and shared by every
 * subscriber that gets it: QoS 0 subscribers share the very same buffer, QoS 1/2
 * subscribers get a copy with their packet identifier patched in. The PUBLISH
 * layout (MQTT 3.1.1 section 3.3) is written directly: mqtt-packet's generic
 * generator showed in profiles as a leading cost of delivery (docs/benchmarks.md).
 */
import { QoS } from '../events/types';

export interface PublishSource {
  topic: string;
  /** The topic's UTF-8 length, once computed (publishSize). */
  topicBytes?: number;
  payload: Buffer;
  retain: boolean;
  /** Encodings made so far, by QoS. */
  encoded?: Array<PublishTemplate | undefined>;
}

export interface PublishTemplate {
  bytes: Buffer;
  /** The first byte without DUP. */
  first: number;
  idOffset: number;
}

/** `v5`: the MQTT 5 layout with an empty property block (a byte 0 after the packet id); cached apart (slots 3..5). */
function template(d: PublishSource, qos: QoS, v5 = false): PublishTemplate {
  // Six slots (QoS 0..2, 3.1.1 and 5) allocated at once: assigning into an empty array grows it to 17.
  const cache = (d.encoded ??= new Array<PublishTemplate | undefined>(6));
  const slot = v5 ? qos + 3 : qos;
  let t = cache[slot];
  if (!t) {
    const topicLength = Buffer.byteLength(d.topic, 'utf8');
    const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + d.payload.length;
    let lengthBytes = 1;
    for (let n = remaining; n >= 128; n = Math.floor(n / 128)) lengthBytes++;
    const bytes = Buffer.allocUnsafe(1 + lengthBytes + remaining);
    bytes[0] = 0x30 | (qos << 1) | (d.retain ? 1 : 0);
    let pos = 1;
    let n = remaining;
    do {
      let byte = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 0x80;
      bytes[pos++] = byte;
    } while (n > 0);
    bytes.writeUInt16BE(topicLength, pos);
    pos += 2;
    pos += bytes.write(d.topic, pos, 'utf8');
    const idOffset = pos;
    if (qos > 0) {
      bytes.writeUInt16BE(0, pos);
      pos += 2;
    }
    if (v5) bytes[pos++] = 0;
    d.payload.copy(bytes, pos);
    t = { bytes, first: bytes[0], idOffset };
    cache[slot] = t;
  }
  return t;
}

/**
 * The bytes of PUBLISH `d` at `qos` under `packetId`, with DUP as given [MQTT-3.3.1-1].
 * At QoS 1/2 the first subscriber gets the template itself (most messages have
 * one): later ones copy it and write their own first byte and packet id, so
 * nobody depends on what the first one's bytes say.
 */
export function encodePublish(d: PublishSource, qos: QoS, packetId: number, dup: boolean, v5 = false): Buffer {
  const fresh = d.encoded?.[v5 ? qos + 3 : qos] === undefined;
  const t = template(d, qos, v5);
  if (qos === 0) return t.bytes;
  const out = fresh ? t.bytes : Buffer.allocUnsafe(t.bytes.length);
  if (!fresh) t.bytes.copy(out);
  out[0] = dup ? t.first | 0x08 : t.first;
  out.writeUInt16BE(packetId, t.idOffset);
  return out;
}

/** The size in bytes of PUBLISH `d` at `qos` on the wire, without encoding it (for the socket's room). */
export function publishSize(d: PublishSource, qos: QoS): number {
  const topicBytes = (d.topicBytes ??= Buffer.byteLength(d.topic, 'utf8'));
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + d.payload.length;
  return 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining;
}
