/**
 * Subscriptions of the clients connected to this node, for delivery. Each
 * carries the message-stream position it starts at, so a message is delivered
 * exactly when an offline-queue scan would have picked it.
 */
import { Positions, QoS, SubscriptionOptions } from '../events/types';
import { TopicTrie } from './TopicTrie';
import { parseShared, SharedRoutes } from './SharedSubscriptions';

interface LocalRoute {
  qos: QoS;
  since: Positions;
  /** MQTT 5 options; absent for 3.1.1 subscriptions (the common, fast case). */
  options?: SubscriptionOptions;
  /** A `since` subscription still fed from the log (SinceFeed): nothing else delivers on it yet. */
  held?: boolean;
}

/** What `LocalRoutes.match` fills: the matching clients and their granted QoS, by index (reused buffers). */
export class RouteMatches {
  readonly clients: string[] = [];
  readonly qos: QoS[] = [];
  /** Client id → index, for topics with many candidate routes. */
  readonly index = new Map<string, number>();
}

/** What MQTT 5 options make of one client's matching subscriptions for one message. */
export interface V5Match {
  /** Keep the message's retain flag (a matching subscription has Retain As Published) [MQTT-3.3.1-12]. */
  retainAsPublished: boolean;
  /** Identifiers of the matching subscriptions [MQTT-3.3.4-3]. */
  subscriptionIds: number[];
}

export class LocalRoutes {
  private readonly trie = new TopicTrie<LocalRoute>();
  /** `$share/<group>/<filter>` subscriptions of this node's clients (one member of a group gets each message). */
  readonly shared = new SharedRoutes();
  /** Each client's filters: one as a plain string (the usual case; a Set costs a hash table), more in a Set. */
  private readonly byClient = new Map<string, string | Set<string>>();
  /** Trie matches per topic; any route change empties it. Topics repeat, so most lookups hit. */
  private readonly cache = new Map<string, Array<[string, LocalRoute]>>();
  private static readonly CACHE_LIMIT = 100_000;

  /** Empties the match cache; clearing an empty Map still allocates it a fresh table, so only when needed. */
  private dropCache(): void {
    if (this.cache.size > 0) this.cache.clear();
  }

  get size(): number {
    return this.trie.size + this.shared.size;
  }

  /** Routes with MQTT 5 options (No Local needs the publisher of each message while there are any). */
  private withOptions = 0;

  get hasV5Options(): boolean {
    return this.withOptions > 0;
  }

  add(clientId: string, filter: string, qos: QoS, since: Positions, options?: SubscriptionOptions, held = false): void {
    if (parseShared(filter)) {
      this.shared.add(clientId, filter, qos, options);
      this.remember(clientId, filter);
      return;
    }
    this.dropCache();
    const existing = this.trie.get(filter, clientId);
    // Re-subscribing keeps the original start so the flow is not interrupted [MQTT-3.8.4-3].
    const route: LocalRoute = { qos, since: existing ? existing.since : since };
    if (options) route.options = options;
    if (held && !existing) route.held = true;
    this.withOptions += (options ? 1 : 0) - (existing?.options ? 1 : 0);
    this.trie.add(filter, clientId, route);
    this.remember(clientId, filter);
  }

  private remember(clientId: string, filter: string): void {
    const filters = this.byClient.get(clientId);
    if (filters === undefined) this.byClient.set(clientId, filter);
    else if (typeof filters !== 'string') filters.add(filter);
    else if (filters !== filter) this.byClient.set(clientId, new Set([filters, filter]));
  }

  remove(clientId: string, filter: string): void {
    if (parseShared(filter)) this.shared.remove(clientId, filter);
    this.dropCache();
    if (this.trie.get(filter, clientId)?.options) this.withOptions--;
    this.trie.remove(filter, clientId);
    const filters = this.byClient.get(clientId);
    if (filters === filter) this.byClient.delete(clientId);
    else if (filters !== undefined && typeof filters !== 'string') filters.delete(filter);
  }

  removeClient(clientId: string): void {
    const filters = this.byClient.get(clientId);
    if (filters === undefined) return;
    this.dropCache();
    for (const f of typeof filters === 'string' ? [filters] : filters) {
      if (parseShared(f)) {
        this.shared.remove(clientId, f);
        continue;
      }
      if (this.trie.get(f, clientId)?.options) this.withOptions--;
      this.trie.remove(f, clientId);
    }
    this.byClient.delete(clientId);
  }

  /** Whether the route is held for a `since` feed. */
  isHeld(clientId: string, filter: string): boolean {
    return this.trie.get(filter, clientId)?.held === true;
  }

  /** A `since` feed caught up: the route delivers from `since` on. */
  release(clientId: string, filter: string, since: Positions): void {
    const route = this.trie.get(filter, clientId);
    if (!route?.held) return;
    this.dropCache();
    delete route.held;
    route.since = since;
  }

  /** How many subscriptions `clientId` holds on this node. */
  countOf(clientId: string): number {
    const filters = this.byClient.get(clientId);
    return filters === undefined ? 0 : typeof filters === 'string' ? 1 : filters.size;
  }

  has(clientId: string, filter: string): boolean {
    const filters = this.byClient.get(clientId);
    return filters === filter || (filters !== undefined && typeof filters !== 'string' && filters.has(filter));
  }

  private filtersOf(clientId: string): Iterable<string> {
    const filters = this.byClient.get(clientId);
    return filters === undefined ? [] : typeof filters === 'string' ? [filters] : filters;
  }

  /** The subscriptions of one client on this node, with their start positions. */
  routesOf(clientId: string): Map<string, LocalRoute> {
    const out = new Map<string, LocalRoute>();
    for (const f of this.filtersOf(clientId)) {
      const r = this.trie.get(f, clientId);
      if (r && !r.held) out.set(f, r); // a held route is its feed's to serve
    }
    return out;
  }

  /**
   * Clients that should receive the message at (partition, offset) on `topic`,
   * each once at the highest QoS of its matching subscriptions: `out.clients[i]`
   * at `out.qos[i]` for i below the count returned. Arrays, reused from message
   * to message, since this runs for every message read from the log.
   */
  match(topic: string, partition: number, offset: number, out: RouteMatches, publisherId: string | null = null): number {
    let candidates = this.cache.get(topic);
    if (!candidates) {
      const found: Array<[string, LocalRoute]> = [];
      this.trie.match(topic, (clientId, route) => found.push([clientId, route]));
      if (this.cache.size >= LocalRoutes.CACHE_LIMIT) this.cache.clear();
      this.cache.set(topic, (candidates = found));
    }
    if (this.v5Scratch.size > 0) this.v5Scratch.clear();
    // A client with several matching subscriptions is found by index: a scan while there are few, a map beyond.
    const index = candidates.length > LocalRoutes.SCAN_LIMIT ? out.index : null;
    if (index !== null && index.size > 0) index.clear();
    let n = 0;
    for (let c = 0; c < candidates.length; c++) {
      const clientId = candidates[c][0];
      const route = candidates[c][1];
      if (offset < (route.since[partition] ?? 0) || route.held) continue;
      const o = route.options;
      if (o !== undefined) {
        // No Local: not back to the client that published it [MQTT-3.8.3-3].
        if (o.noLocal && clientId === publisherId) continue;
        let m = this.v5Scratch.get(clientId);
        if (!m) this.v5Scratch.set(clientId, (m = { retainAsPublished: false, subscriptionIds: [] }));
        if (o.retainAsPublished) m.retainAsPublished = true;
        if (o.subscriptionId) m.subscriptionIds.push(o.subscriptionId);
      }
      let at = -1;
      if (index !== null) at = index.get(clientId) ?? -1;
      else for (let i = 0; i < n; i++) if (out.clients[i] === clientId) at = i;
      if (at >= 0) {
        if (route.qos > out.qos[at]) out.qos[at] = route.qos;
        continue;
      }
      out.clients[n] = clientId;
      out.qos[n] = route.qos;
      if (index !== null) index.set(clientId, n);
      n++;
    }
    return n;
  }

  /** Up to this many candidate routes for a topic, a client's earlier match is found by scanning. */
  private static readonly SCAN_LIMIT = 16;

  /** What the last `match` found of MQTT 5 options per client (filled in the same walk). */
  private readonly v5Scratch = new Map<string, V5Match>();

  /** MQTT 5 options of `clientId`'s subscriptions that the last `match` found; null when none has options. */
  v5Match(clientId: string): V5Match | null {
    return this.v5Scratch.get(clientId) ?? null;
  }

}
