/**
 * The MQTT 3.1 / 3.1.1 codec's output side: bytes for what a channel sends the
 * client (its effects in the broker's terms). The acknowledgements are
 * fixed-size and on the hot path (a PUBACK per QoS 1 message), so they are
 * written directly; PUBLISH comes from PublishEncoder, shared by every
 * subscriber of a message.
 */
import type { ServerPacket } from './ServerPacket';
import { mqtt3ConnackCode } from './ConnectRefusal';
import { encodePublish } from './PublishEncoder';
import { varint } from './v5/properties';

const PINGRESP = Buffer.from([0xd0, 0x00]);

/** First bytes of the acknowledgements; PUBREL's flags are 0010 [MQTT-3.6.1-1]. */
const ACK_FIRST = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

function fixed(first: number, id: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = first;
  b[1] = 2;
  b.writeUInt16BE(id & 0xffff, 2);
  return b;
}


const NOTHING = Buffer.alloc(0);

export function encodeMqtt3(effect: ServerPacket): Buffer {
  switch (effect.type) {
    case 'disconnect':
      return NOTHING; // MQTT 3.1.1 has no DISCONNECT from the server: the connection just closes
    case 'auth':
      return NOTHING; // nor AUTH: only a v5 CONNECT starts an exchange
    case 'publish':
      return encodePublish(effect.delivery, effect.qos, effect.packetId, effect.dup);
    case 'ack':
      return fixed(ACK_FIRST[effect.kind], effect.packetId);
    case 'pingresp':
      return PINGRESP;
    case 'connack':
      // [MQTT-3.2.2-4] a refused connection has session present 0.
      return Buffer.from([0x20, 0x02, effect.refusal === null && effect.sessionPresent ? 1 : 0, mqtt3ConnackCode(effect.refusal)]);
    case 'unsuback':
      return fixed(0xb0, effect.packetId);
    case 'suback': {
      const granted = effect.granted;
      const length = varint(2 + granted.length);
      const b = Buffer.allocUnsafe(1 + length.length + 2 + granted.length);
      b[0] = 0x90;
      length.forEach((byte, i) => (b[1 + i] = byte));
      let at = 1 + length.length;
      b.writeUInt16BE(effect.packetId, at);
      at += 2;
      for (const g of granted) b[at++] = g;
      return b;
    }
  }
}
