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
 * - `$SYS/...` is for superusers unless configured readable by all.
 */
import { topicMatches } from '../../src/protocol/topics';

export interface CompiledRule {
  allow: boolean;
  publish: boolean;
  subscribe: boolean;
  filter: string;
}

export interface AclSettings {
  defaultAllow: boolean;
  sysReadableByAll: boolean;
}

const CACHE_LIMIT = 10_000;

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
    if (this.unrestricted) return true;
    return cached((this.publishCache ??= new Map()), topic, () => this.decide('publish', topic));
  }

  maySubscribe(filter: string): boolean {
    if (this.unrestricted) return true;
    if (this.sysRefused(filter)) return false;
    return this.decide('subscribe', filter);
  }

  mayRead(topic: string): boolean {
    if (this.unrestricted) return true;
    return cached((this.readCache ??= new Map()), topic, () => !this.sysRefused(topic) && this.decide('subscribe', topic));
  }
}

const ALLOW_ALL = new ConnectionAcl([], { defaultAllow: true, sysReadableByAll: true }, false);

function cached(cache: Map<string, boolean>, key: string, compute: () => boolean): boolean {
  let v = cache.get(key);
  if (v === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, (v = compute()));
  }
  return v;
}
