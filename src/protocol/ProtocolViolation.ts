import type { ConnectRefusal } from './ConnectRefusal';

/**
 * A client broke the protocol. The connection is closed; when the broken rule
 * is one the spec answers with a CONNACK (only before the connection is
 * accepted), `refusal` says which.
 */
export class ProtocolViolation extends Error {
  constructor(
    message: string,
    readonly refusal?: ConnectRefusal,
    /** MQTT 5: the reason code of the DISCONNECT (or CONNACK) that answers it; default Protocol Error (0x82). */
    readonly reasonCode?: number,
  ) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

/** A packet whose fixed header announces more than the decoder's current maximum; refused before its body is read. */
export class PacketTooLarge extends ProtocolViolation {
  constructor(
    readonly size: number,
    readonly max: number,
    /** The packet's type (first byte's high nibble; 3 is PUBLISH). */
    readonly packetType = 0,
  ) {
    super(`packet of ${size} bytes exceeds the maximum packet size of ${max} bytes`);
    this.name = 'PacketTooLarge';
  }
}
