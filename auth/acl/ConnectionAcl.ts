/**
 * The access rules of one connection, compiled for its identity when it
 * connected: checks are synchronous and cached per topic, so the publish and
 * delivery paths pay one map lookup. The first matching rule decides; without
 * one, the configured default does.
 *
 * - publish: rules for `publish`/`all` whose filter matches the topic.
 * - subscribe: rules for `subscribe`/`all` whose filter matches the requested
 *   filter taken literally (as Mosquitto checks it), so `a/#` may subscribe `a/+`.
 * - read: every message delivered is checked against the same rules for its
 *   concrete topic, so a `#` subscription never receives topics the client may
 *   not read.
 * - `$SYS/...` is for superusers unless configured readable by all, and only
 *   the broker itself publishes there: no client, superusers included.
 */
import { isBrokerOwnedTopic, topicMatches } from '../../src/protocol/topics';

export interface CompiledRule {
  allow: boolean;
  publish: boolean;
  subscribe: boolean;
  filter: string;
}

export interface AclSettings {
  defaultAllow: boolean;
  sysReadableByAll: boolean;
  /** Decisions cached per connection and kind (acl.cacheMaxEntries); the cache starts over when full. */
  cacheMaxEntries?: number;
}

const DEFAULT_CACHE_ENTRIES = 256;

export class ConnectionAcl {
  /** No checks needed: a superuser, or no rules and everything allowed. */
  readonly unrestricted: boolean;
  /** Made on first use: most connections of a big fleet stay idle. */
  private publishCache: Map<string, boolean> | null = null;
  private readCache: Map<string, boolean> | null = null;

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly settings: AclSettings,
    readonly superuser: boolean,
  ) {
    this.unrestricted = superuser || (rules.length === 0 && settings.defaultAllow && settings.sysReadableByAll);
  }

  /** Everything allowed: one shared instance (it holds no per-connection state). */
  static allowAll(): ConnectionAcl {
    return ALLOW_ALL;
  }

  private decide(kind: 'publish' | 'subscribe', subject: string): boolean {
    for (const r of this.rules) {
      if (!(kind === 'publish' ? r.publish : r.subscribe)) continue;
      if (r.filter === subject || topicMatches(r.filter, subject)) return r.allow;
    }
    return this.settings.defaultAllow;
  }

  private sysRefused(subject: string): boolean {
    return !this.settings.sysReadableByAll && !this.superuser && subject.startsWith('$SYS');
  }

  mayPublish(topic: string): boolean {
    if (isBrokerOwnedTopic(topic)) return false;
    if (this.unrestricted) return true;
    const cache = (this.publishCache ??= new Map());
    const known = cache.get(topic);
    return known !== undefined ? known : remember(cache, this.cacheLimit, topic, this.decide('publish', topic));
  }

  private get cacheLimit(): number {
    return this.settings.cacheMaxEntries ?? DEFAULT_CACHE_ENTRIES;
  }

  maySubscribe(filter: string): boolean {
    if (this.unrestricted) return true;
    if (this.sysRefused(filter)) return false;
    return this.decide('subscribe', filter);
  }

  mayRead(topic: string): boolean {
    if (this.unrestricted) return true;
    // Per delivery: the cache is read inline (a callback would be a closure allocated per message).
    const cache = (this.readCache ??= new Map());
    const known = cache.get(topic);
    return known !== undefined ? known : remember(cache, this.cacheLimit, topic, !this.sysRefused(topic) && this.decide('subscribe', topic));
  }
}

const ALLOW_ALL = new ConnectionAcl([], { defaultAllow: true, sysReadableByAll: true }, false);

function remember(cache: Map<string, boolean>, limit: number, key: string, decision: boolean): boolean {
  if (cache.size >= limit) cache.clear();
  cache.set(key, decision);
  return decision;
}
