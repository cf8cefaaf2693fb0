/**
 * Answers to logins, reused for a while so a client that reconnects does not
 * cost a request each time. Entries are keyed by an HMAC (with a key made up
 * at start) of client id, user name and password: the password itself is never
 * stored, and a changed password, user or client id is a miss. Failures are not
 * cached (the connector only stores answers).
 */
import { createHmac, randomBytes } from 'crypto';
import { AuthDecision, AuthRequest } from '../../auth/types';

interface Entry {
  decision: AuthDecision;
  expiresAt: number;
}

export class AuthCache {
  private readonly secret = randomBytes(32);
  // A Map keeps insertion order; every entry lives ttlMs, so the first entries are also the first to expire.
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(request: AuthRequest): AuthDecision | undefined {
    if (this.ttlMs === 0) return undefined;
    const key = this.keyOf(request);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return copy(entry.decision);
  }

  set(request: AuthRequest, decision: AuthDecision): void {
    if (this.ttlMs === 0) return;
    const key = this.keyOf(request);
    this.entries.delete(key);
    this.entries.set(key, { decision: copy(decision), expiresAt: this.now() + this.ttlMs });
    this.evict();
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }

  private keyOf(request: AuthRequest): string {
    const mac = createHmac('sha256', this.secret);
    // Length prefixes keep ("ab","c") and ("a","bc") apart.
    for (const part of [Buffer.from(request.clientId), Buffer.from(request.username ?? ''), request.password ?? Buffer.alloc(0)]) {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(part.length);
      mac.update(length).update(part);
    }
    mac.update(request.password === null ? 'no-password' : 'password');
    return mac.digest('base64');
  }
}

function copy(decision: AuthDecision): AuthDecision {
  return decision.groups ? { ...decision, groups: [...decision.groups] } : { ...decision };
}
