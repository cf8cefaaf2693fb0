/**
 * A client broke the protocol. The connection is closed; when the broken rule
 * is one the spec answers with a CONNACK code (only before the connection is
 * accepted), `connackCode` carries it.
 */
export class ProtocolViolation extends Error {
  constructor(
    message: string,
    readonly connackCode?: number,
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
  ) {
    super(`packet of ${size} bytes exceeds the maximum packet size of ${max} bytes`);
    this.name = 'PacketTooLarge';
  }
}

/** CONNACK return codes, MQTT 3.1.1 table 3.1. */
export const ConnackCode = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUsernameOrPassword: 4,
  NotAuthorized: 5,
} as const;
