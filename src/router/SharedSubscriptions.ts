/**
 * Shared subscriptions, `$share/<group>/<filter>` (MQTT 5 section 4.8.2, and
 * for 3.1.1 clients as Mosquitto and EMQX allow): each message matching a
 * group's filter goes to exactly one member of the group.
 *
 * A group is a consumer group over the log: the node that appends a message
 * names the member of each matching group in the record itself (chosen from
 * the members every node folds from the session stream), so every node reads
 * the same choice and no node coordinates with another. The named member's
 * node delivers it, or hands it on when that member is gone (docs/mqtt5.md).
 *
 * Here: the shared subscriptions of this node's clients.
 */
import { QoS, SubscriptionOptions } from '../events/types';

export interface SharedFilter {
  group: string;
  filter: string;
}

/** `$share/<group>/<filter>` split, or null when `filter` is not a shared subscription. */
export function parseShared(filter: string): SharedFilter | null {
  if (!filter.startsWith('$share/')) return null;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) };
}

/**
 * Why a shared subscription filter is invalid [MQTT-4.8.2-1, MQTT-4.8.2-2], or
 * null: the share name is not empty and holds no wildcard or "/", and a filter follows.
 */
export function sharedFilterError(filter: string): string | null {
  if (!filter.startsWith('$share/')) return null;
  const shared = parseShared(filter);
  if (!shared) return 'a shared subscription needs $share/<share name>/<topic filter>';
  if (shared.group.includes('+') || shared.group.includes('#')) return 'the share name may not hold a wildcard [MQTT-4.8.2-2]';
  if (shared.filter === '') return 'a shared subscription needs a topic filter after the share name';
  return null;
}

/** A shared subscription of a client on this node. */
export interface SharedRoute {
  qos: QoS;
  options?: SubscriptionOptions;
}

export class SharedRoutes {
  /** Per client, its shared subscriptions by full `$share/...` filter. */
  private readonly byClient = new Map<string, Map<string, SharedRoute>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(clientId: string, shareFilter: string, qos: QoS, options?: SubscriptionOptions): void {
    let mine = this.byClient.get(clientId);
    if (!mine) this.byClient.set(clientId, (mine = new Map()));
    if (!mine.has(shareFilter)) this.count++;
    const route: SharedRoute = { qos };
    if (options) route.options = options;
    mine.set(shareFilter, route);
  }

  remove(clientId: string, shareFilter: string): void {
    const mine = this.byClient.get(clientId);
    if (!mine?.delete(shareFilter)) return;
    this.count--;
    if (mine.size === 0) this.byClient.delete(clientId);
  }

  /** `clientId`'s shared subscription `shareFilter` on this node, if it holds it. */
  get(clientId: string, shareFilter: string): SharedRoute | undefined {
    return this.byClient.get(clientId)?.get(shareFilter);
  }

  /** `clientId`'s shared subscriptions on this node (empty when none). */
  of(clientId: string): ReadonlyMap<string, SharedRoute> {
    return this.byClient.get(clientId) ?? NO_ROUTES;
  }
}

const NO_ROUTES: ReadonlyMap<string, SharedRoute> = new Map();
