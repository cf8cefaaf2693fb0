/**
 * Why a connection is refused, in the broker's terms. Authentication and the
 * channel answer with these; each protocol maps them to its own codes (MQTT
 * 3.1/3.1.1 CONNACK return codes here; MQTT 5 reason codes alike).
 */
export type ConnectRefusal = 'unsupported-protocol' | 'bad-client-id' | 'unavailable' | 'bad-credentials' | 'not-authorized';

/** MQTT 3.1 / 3.1.1 CONNACK return codes (table 3.1); 0 is accepted. */
const MQTT3_CODES: Record<ConnectRefusal, number> = {
  'unsupported-protocol': 1,
  'bad-client-id': 2,
  unavailable: 3,
  'bad-credentials': 4,
  'not-authorized': 5,
};

/** The CONNACK return code of a refusal (null: accepted, 0) for MQTT 3.1 and 3.1.1. */
export function mqtt3ConnackCode(refusal: ConnectRefusal | null): number {
  return refusal === null ? 0 : MQTT3_CODES[refusal];
}
