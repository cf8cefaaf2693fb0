/**
 * Identity owns state: a session belongs to the user name it was created under
 * (null for anonymous clients, which therefore share one identity). Every fold
 * that follows session lifetimes applies the same rule, so all nodes agree on
 * which connect counts even when two connect at once.
 */
import { ClientConnected } from '../src/events/types';

/**
 * Whether a connect names a session held under another user name without being
 * allowed to take it over (`mqtt.allowSessionTakeoverByOtherUser`); such a
 * connect changes nothing and its client gets CONNACK 5. `owner` is undefined
 * when there is no session.
 */
export function connectRefused(owner: string | null | undefined, event: Pick<ClientConnected, 'username' | 'foreignTakeover'>): boolean {
  return owner !== undefined && owner !== event.username && !event.foreignTakeover;
}
