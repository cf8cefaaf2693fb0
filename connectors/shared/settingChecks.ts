/**
 * Checks of configured values shared by every connector's configuration: a
 * mistake throws a plain Error naming the connector and the setting when the
 * connector is built, rather than surfacing later as failed logins.
 */
import { PASSWORD_SCHEMES, PasswordScheme } from './storedCredential';

/** A time limit: zero or a negative one would make every call fail at once. */
export function positiveTimeout(ms: number, connector: string, setting = 'timeoutMs'): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`${connector}: ${setting} must be a positive number of milliseconds, not ${ms}`);
  return ms;
}

/** A count (pool size, cache size, byte limit…) of at least `min`. */
export function integerSetting(value: number, min: number, connector: string, setting: string): number {
  if (!Number.isInteger(value) || value < min) throw new Error(`${connector}: ${setting} must be an integer of at least ${min}, not ${value}`);
  return value;
}

export function passwordSchemeSetting(value: PasswordScheme | undefined, connector: string): PasswordScheme {
  const scheme = value ?? 'self-describing';
  if (!PASSWORD_SCHEMES.includes(scheme)) {
    throw new Error(`${connector}: passwordScheme must be one of ${PASSWORD_SCHEMES.join(', ')}, not ${JSON.stringify(scheme)}`);
  }
  return scheme;
}
