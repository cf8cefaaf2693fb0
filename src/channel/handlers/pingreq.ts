import { Effect } from '../effects';

/** PINGREQ is answered with PINGRESP [MQTT-3.12.4-1]. */
export function handlePingreq(): Effect[] {
  return [{ type: 'pingresp' }];
}
