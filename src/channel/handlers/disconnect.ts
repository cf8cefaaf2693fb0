import { DisconnectReason } from '../../events/types';
import type { Channel } from '../Channel';
import { Effect } from '../effects';

/** DISCONNECT: discard the will [MQTT-3.14.4-3] and close [MQTT-3.14.4-1]. */
export function handleDisconnect(ch: Channel): Effect[] {
  return ch.end(DisconnectReason.Normal, 'client disconnected', false);
}
