/**
 * What the audit trail and the broker's log keep of refused logins. Anyone can
 * attempt a login, so without bounds every attempt would cost the log two
 * attacker-chosen strings of up to 64 KiB: client ids and user names are cut to
 * `maxFieldLength` characters, and each address gets at most `refusedLoginsPerIp`
 * records per window. Attempts past that are counted and summed up in one record
 * when the address's window ends.
 */
export interface RefusedLoginAuditSettings {
  maxFieldLength: number;
  refusedLoginsPerIp: number;
  windowMs: number;
}

/** Addresses tracked at once; past it, new addresses share one window (a flood from many addresses). */
const MAX_TRACKED_ADDRESSES = 10_000;
const OTHER_ADDRESSES = '(other addresses)';

interface AddressWindow {
  startedAt: number;
  recorded: number;
  suppressed: number;
}

export interface SuppressedLogins {
  ip: string;
  count: number;
  windowMs: number;
}

/** A string cut to `max` characters, with how much was cut: `abc…[+1234]`. */
export function truncateField(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…[+${value.length - max}]`;
}

export class RefusedLoginAudit {
  private readonly windows = new Map<string, AddressWindow>();
  /** Refused logins not recorded individually since start. */
  suppressedTotal = 0;

  constructor(readonly settings: RefusedLoginAuditSettings) {}

  field(value: string): string;
  field(value: string | null): string | null;
  field(value: string | null): string | null {
    return value === null ? null : truncateField(value, this.settings.maxFieldLength);
  }

  /** Whether this refused login from `ip` is recorded on its own (otherwise it is counted). */
  admit(ip: string, now: number): boolean {
    let key = ip;
    let w = this.windows.get(key);
    if (w === undefined && this.windows.size >= MAX_TRACKED_ADDRESSES) {
      key = OTHER_ADDRESSES;
      w = this.windows.get(key);
    }
    if (w === undefined || now - w.startedAt >= this.settings.windowMs) {
      w = { startedAt: now, recorded: 0, suppressed: w?.suppressed ?? 0 };
      this.windows.set(key, w);
    }
    if (w.recorded < this.settings.refusedLoginsPerIp) {
      w.recorded++;
      return true;
    }
    w.suppressed++;
    this.suppressedTotal++;
    return false;
  }

  /** Windows that ended (all of them with `all`, at shutdown) with attempts not recorded: one summary each, then forgotten. */
  takeEnded(now: number, all = false): SuppressedLogins[] {
    const out: SuppressedLogins[] = [];
    for (const [ip, w] of this.windows) {
      if (!all && now - w.startedAt < this.settings.windowMs) continue;
      if (w.suppressed > 0) out.push({ ip, count: w.suppressed, windowMs: this.settings.windowMs });
      this.windows.delete(ip);
    }
    return out;
  }
}
