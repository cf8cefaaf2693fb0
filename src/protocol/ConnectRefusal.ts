/**
 * Why a connection is refused, in the broker's terms. Authentication and the
 * channel answer with these; each protocol maps them to its own codes (MQTT
 * 3.1/3.1.1 CONNACK return codes here; MQTT 5 reason codes alike).
 */
export type ConnectRefusal =
  | 'unsupported-protocol'
  | 'bad-client-id'
  | 'unavailable'
  | 'bad-credentials'
  | 'not-authorized'
  | 'bad-auth-method'
  | 'malformed'
  | 'protocol-error'
  | 'packet-too-large'
  | 'quota-exceeded'
  /** This node is full (limits.maxConnections): the client should use the server mqtt.serverReference names. */
  | 'use-another-server';

/** MQTT 3.1 / 3.1.1 CONNACK return codes (table 3.1); 0 is accepted. */
const MQTT3_CODES: Record<ConnectRefusal, number> = {
  'unsupported-protocol': 1,
  'bad-client-id': 2,
  unavailable: 3,
  'bad-credentials': 4,
  'not-authorized': 5,
  // No 3.1.1 code says these: a 3.1.1 client is never refused with them (the connection closes), 5 is the nearest.
  'bad-auth-method': 5,
  malformed: 5,
  'protocol-error': 5,
  'packet-too-large': 5,
  'quota-exceeded': 3,
  'use-another-server': 3,
};

/** MQTT 5 CONNACK reason codes (table 3-1); 0 is success. */
const MQTT5_CODES: Record<ConnectRefusal, number> = {
  'unsupported-protocol': 0x84,
  'bad-client-id': 0x85,
  unavailable: 0x88,
  'bad-credentials': 0x86,
  'not-authorized': 0x87,
  'bad-auth-method': 0x8c,
  malformed: 0x81,
  'protocol-error': 0x82,
  'packet-too-large': 0x95,
  'quota-exceeded': 0x97,
  'use-another-server': 0x9c,
};

/**
 * What an MQTT 5 CONNACK's Reason String says of a refusal: the code in words,
 * never the decision's own reason (a wrong password and an unknown user must read
 * the same).
 */
const TEXTS: Record<ConnectRefusal, string> = {
  'unsupported-protocol': 'unsupported protocol version',
  'bad-client-id': 'client identifier not valid',
  unavailable: 'server unavailable',
  'bad-credentials': 'bad user name or password',
  'not-authorized': 'not authorized',
  'bad-auth-method': 'authentication method not supported',
  malformed: 'malformed packet',
  'protocol-error': 'protocol error',
  'packet-too-large': 'packet too large',
  'quota-exceeded': 'quota exceeded',
  'use-another-server': 'this server is full: use another server',
};

export function connectRefusalText(refusal: ConnectRefusal): string {
  return TEXTS[refusal];
}

export function mqtt5ConnackCode(refusal: ConnectRefusal | null): number {
  return refusal === null ? 0 : MQTT5_CODES[refusal];
}

/** The CONNACK return code of a refusal (null: accepted, 0) for MQTT 3.1 and 3.1.1. */
export function mqtt3ConnackCode(refusal: ConnectRefusal | null): number {
  return refusal === null ? 0 : MQTT3_CODES[refusal];
}
