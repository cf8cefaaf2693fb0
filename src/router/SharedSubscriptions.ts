/**
 * Shared subscriptions, `$share/<group>/<filter>` (MQTT 5 section 4.8.2, and
 * for 3.1.1 clients as Mosquitto and EMQX allow): each message matching a
 * group's filter goes to exactly one member of the group.
 *
 * The choice is a consumer group over the log: every node folds the same
 * session events, so every node knows the same members of a group (the
 * connected sessions holding that shared subscription, in client-id order),
 * and each message's member is computed from its log position alone
 * (`(partition, offset)` hashed over the members). No node coordinates with
 * another; the node that holds the chosen member delivers. While membership
 * changes, nodes that have folded the change and nodes that have not yet may
 * choose differently for the messages in between (docs/mqtt5.md).
 *
 * Here: this node's members (the routes of its clients), by filter.
 */
import { Positions, QoS, SubscriptionOptions } from '../events/types';
import { TopicTrie } from './TopicTrie';

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

interface LocalMember {
  clientId: string;
  group: string;
  /** The full `$share/...` filter, the key of the subscription in the session. */
  shareFilter: string;
  qos: QoS;
  since: Positions;
  options?: SubscriptionOptions;
}

export class SharedRoutes {
  private readonly trie = new TopicTrie<LocalMember>();

  get size(): number {
    return this.trie.size;
  }

  add(clientId: string, shareFilter: string, qos: QoS, since: Positions, options?: SubscriptionOptions): void {
    const s = parseShared(shareFilter)!;
    const key = `${s.group}\u0000${clientId}`;
    const existing = this.trie.get(s.filter, key);
    const m: LocalMember = { clientId, group: s.group, shareFilter, qos, since: existing ? existing.since : since };
    if (options) m.options = options;
    this.trie.add(s.filter, key, m);
  }

  remove(clientId: string, shareFilter: string): void {
    const s = parseShared(shareFilter);
    if (s) this.trie.remove(s.filter, `${s.group}\u0000${clientId}`);
  }

  /** This node's members whose shared filter matches `topic`, subscribed at (partition, offset). */
  match(topic: string, partition: number, offset: number): LocalMember[] {
    const out: LocalMember[] = [];
    this.trie.match(topic, (_key, m) => {
      if (offset >= (m.since[partition] ?? 0)) out.push(m);
    });
    return out;
  }
}

/** The member of `members` (sorted client ids) that gets the message at (partition, offset): the same on every node. */
export function chooseMember(members: readonly string[], partition: number, offset: number): string | undefined {
  if (members.length === 0) return undefined;
  // A multiplicative hash of the position spreads consecutive offsets over the members.
  const high = Math.floor(offset / 0x100000000);
  const h = (Math.imul((offset ^ high ^ Math.imul(partition + 1, 0x9e3779b1)) | 0, 0x85ebca6b) ^ (offset >>> 13)) >>> 0;
  return members[h % members.length];
}
