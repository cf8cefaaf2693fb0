import type { Packet } from 'mqtt-packet';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import type { V5Fields } from '../../protocol/v5/Mqtt5Decoder';
import type { Channel } from '../Channel';
import { Effect } from '../effects';

const CONTINUE = 0x18;
const REAUTHENTICATE = 0x19;

const protocolError = (why: string) => new ProtocolViolation(why, 'protocol-error', 0x82);

/**
 * AUTH from a client (MQTT 5 section 3.15, enhanced authentication 4.12): the
 * answer to the server's challenge before the CONNACK, or, once connected, a
 * re-authentication (0x19) and its answers (0x18). Only a client whose CONNECT
 * named an Authentication Method may send one [MQTT-4.12.0-7], always with that
 * method [MQTT-4.12.0-5, MQTT-4.12.1-1]; anything out of turn is a Protocol Error.
 * The credentials themselves are the node's business: the channel asks with
 * `auth-answer` and `reauthenticate` effects.
 */
export function handleAuth(ch: Channel, packet: Packet & V5Fields): Effect[] {
  const method = packet.v5?.authenticationMethod;
  const data = packet.v5?.authenticationData ?? null;
  const code = packet.reasonCode ?? 0;
  const v5 = ch.v5;
  if (!v5 || v5.authMethod === null) return ch.violation(protocolError('AUTH from a client whose CONNECT had no Authentication Method [MQTT-4.12.0-7]'));
  // It is a Protocol Error to omit the Authentication Method (section 3.15.2.2.2).
  if (method === undefined) return ch.violation(protocolError('AUTH without an Authentication Method [MQTT-4.12.0-5]'));
  if (method !== v5.authMethod) {
    const rule = ch.state === 'connected' ? 'MQTT-4.12.1-1' : 'MQTT-4.12.0-5';
    return ch.violation(protocolError(`AUTH with authentication method ${method.slice(0, 64)}, not the CONNECT's [${rule}]`));
  }
  if (ch.state === 'challenged') {
    // The answer to the challenge before the CONNACK [MQTT-4.12.0-3].
    if (code !== CONTINUE) return ch.violation(protocolError(`AUTH reason code 0x${code.toString(16)} in answer to a challenge [MQTT-4.12.0-3]`));
    ch.state = 'authenticating';
    return [{ type: 'auth-answer', data }];
  }
  // Connected: a re-authentication [MQTT-4.12.1-1], one at a time.
  const reauth = v5.reauth;
  if (code === REAUTHENTICATE) {
    if (reauth !== null) return ch.violation(protocolError('AUTH 0x19 while a re-authentication is in progress'));
    v5.reauth = { step: 'pending', since: ch.ctx.now() };
    return [{ type: 'reauthenticate', method, data }];
  }
  if (code === CONTINUE) {
    if (reauth?.step !== 'challenged') return ch.violation(protocolError('AUTH 0x18 without a challenge to answer [MQTT-4.12.0-3]'));
    reauth.step = 'pending';
    return [{ type: 'auth-answer', data }];
  }
  return ch.violation(protocolError('AUTH 0x00 (Success) from a client'));
}
