import { DisconnectReason } from '../../events/types';
import type { Channel } from '../Channel';
import { Packet } from 'mqtt-packet';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import type { V5Disconnect } from '../../protocol/v5/Mqtt5Decoder';
import { Effect } from '../effects';

/**
 * DISCONNECT: discard the will [MQTT-3.14.4-3] and close [MQTT-3.14.4-1]; MQTT 5's
 * 0x04 "disconnect with will message" publishes it [MQTT-3.14.2.1]. A session
 * expiry interval may change here, but not from 0 [MQTT-3.14.2-2].
 */
export function handleDisconnect(ch: Channel, packet: Packet): Effect[] {
  const p = packet as V5Disconnect;
  if (ch.v5) {
    const expiry = p.v5?.sessionExpiryInterval;
    if (expiry !== undefined) {
      if (ch.v5.sessionExpiryInterval === 0 && expiry !== 0) return ch.violation(new ProtocolViolation('session expiry interval set in DISCONNECT after 0 in CONNECT [MQTT-3.14.2-2]'));
      ch.v5.sessionExpiryInterval = expiry;
    }
    // The client's own reason is recorded; the server sends nothing back [MQTT-3.14.2-1 is for the sender].
    return ch.end(DisconnectReason.Normal, `client disconnected (reason 0x${(p.reasonCode ?? 0).toString(16)})`, p.reasonCode === 0x04, undefined, undefined, true);
  }
  return ch.end(DisconnectReason.Normal, 'client disconnected', false);
}
