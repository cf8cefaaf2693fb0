/**
 * Brute-force protection: failed logins are counted per IP address and per
 * client id in a sliding window; past the limit, that address or client id is
 * refused without asking any back end until the lockout ends.
 */
export interface RateLimitSettings {
  /** Failed logins from one IP address per window before its lockout (many clients may share an address). */
  maxFailuresPerIp: number;
  /** Failed logins of one client id per window before its lockout. */
  maxFailuresPerClientId: number;
  windowMs: number;
  lockoutMs: number;
}

interface Counter {
  failures: number[];
  lockedUntil: number;
}

export class LoginRateLimiter {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly settings: RateLimitSettings) {}

  /** Why `ip`/`clientId` may not try now, or null. */
  blocked(ip: string, clientId: string, now = Date.now()): string | null {
    for (const key of [`ip:${ip}`, `client:${clientId}`]) {
      const c = this.counters.get(key);
      if (c && c.lockedUntil > now) return `too many failed logins from ${key.replace(':', ' ')}; locked for ${Math.ceil((c.lockedUntil - now) / 1000)} s`;
    }
    return null;
  }

  failure(ip: string, clientId: string, now = Date.now()): void {
    for (const [key, max] of [
      [`ip:${ip}`, this.settings.maxFailuresPerIp],
      [`client:${clientId}`, this.settings.maxFailuresPerClientId],
    ] as const) {
      if (max <= 0) continue;
      let c = this.counters.get(key);
      if (!c) this.counters.set(key, (c = { failures: [], lockedUntil: 0 }));
      c.failures = c.failures.filter((t) => now - t < this.settings.windowMs);
      c.failures.push(now);
      if (c.failures.length >= max) {
        c.lockedUntil = now + this.settings.lockoutMs;
        c.failures = [];
      }
    }
    if (this.counters.size > 100_000) this.prune(now);
  }

  /** A good login clears its client id's count (not its address's: one address may hold many clients). */
  success(clientId: string): void {
    this.counters.delete(`client:${clientId}`);
  }

  private prune(now: number): void {
    for (const [k, c] of this.counters) if (c.lockedUntil < now && c.failures.every((t) => now - t >= this.settings.windowMs)) this.counters.delete(k);
  }
}
