/**
 * Bytes for the packets a server sends. The acknowledgements are fixed-size and
 * on the hot path (a PUBACK per QoS 1 message), so they are written directly;
 * PUBLISH comes from PublishEncoder. Anything else is left to mqtt-packet.
 * Writing them directly also spares mqtt-packet's 65,536-entry packet-id buffer
 * cache (about 6 MB, built on first use).
 */
import mqttPacket, { Packet } from 'mqtt-packet';
import { encodePublish } from './PublishEncoder';

const PINGRESP = Buffer.from([0xd0, 0x00]);

function fixed(first: number, id: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = first;
  b[1] = 2;
  b.writeUInt16BE(id & 0xffff, 2);
  return b;
}

export function encodePacket(packet: Packet): Buffer {
  switch (packet.cmd) {
    case 'puback':
      return fixed(0x40, packet.messageId ?? 0);
    case 'pubrec':
      return fixed(0x50, packet.messageId ?? 0);
    case 'pubrel':
      return fixed(0x62, packet.messageId ?? 0); // [MQTT-3.6.1-1] PUBREL flags are 0010
    case 'pubcomp':
      return fixed(0x70, packet.messageId ?? 0);
    case 'unsuback':
      return fixed(0xb0, packet.messageId ?? 0);
    case 'pingresp':
      return PINGRESP;
    case 'connack':
      return Buffer.from([0x20, 0x02, packet.sessionPresent ? 1 : 0, packet.returnCode ?? 0]);
    case 'suback': {
      const granted = packet.granted as number[];
      // Up to 125 codes fit a one-byte remaining length; longer lists go to mqtt-packet.
      if (granted.length > 125) return mqttPacket.generate(packet);
      const b = Buffer.allocUnsafe(4 + granted.length);
      b[0] = 0x90;
      b[1] = 2 + granted.length;
      b.writeUInt16BE(packet.messageId ?? 0, 2);
      granted.forEach((g, i) => (b[4 + i] = g));
      return b;
    }
    case 'publish': {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      return encodePublish({ topic: packet.topic, payload, retain: packet.retain }, packet.qos, packet.messageId ?? 0, packet.dup);
    }
    default:
      return mqttPacket.generate(packet);
  }
}
