/**
 * PUBLISH bytes, encoded once per message and QoS and shared by every
 * subscriber that gets it: QoS 0 subscribers share the very same buffer, QoS 1/2
 * subscribers get a copy with their packet identifier patched in. Encoding is
 * mqtt-packet's; only the reuse is ours.
 */
import mqttPacket from 'mqtt-packet';
import { QoS } from '../events/types';

export interface PublishSource {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** Encodings made so far, by QoS. */
  encoded?: Array<{ bytes: Buffer; idOffset: number } | undefined>;
}

function template(d: PublishSource, qos: QoS): { bytes: Buffer; idOffset: number } {
  const cache = (d.encoded ??= []);
  let t = cache[qos];
  if (!t) {
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: d.topic, payload: d.payload, qos, retain: d.retain, dup: false, ...(qos > 0 ? { messageId: 1 } : {}) });
    let i = 1;
    while (bytes[i] & 0x80) i++; // remaining-length bytes
    t = { bytes, idOffset: i + 1 + 2 + bytes.readUInt16BE(i + 1) };
    cache[qos] = t;
  }
  return t;
}

/** The bytes of PUBLISH `d` at `qos` under `packetId`, with DUP as given [MQTT-3.3.1-1]. */
export function encodePublish(d: PublishSource, qos: QoS, packetId: number, dup: boolean): Buffer {
  const t = template(d, qos);
  if (qos === 0) return t.bytes;
  const out = Buffer.allocUnsafe(t.bytes.length);
  t.bytes.copy(out);
  if (dup) out[0] |= 0x08;
  out.writeUInt16BE(packetId, t.idOffset);
  return out;
}
