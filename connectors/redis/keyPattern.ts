/**
 * Redis key patterns: %u (user name), %c (client id) and %a (IP address)
 * replaced by the client's values. Keys are binary-safe and only ever used as
 * keys (HGETALL, LRANGE; never in KEYS/SCAN patterns), so no value can reach
 * another user's data except by being that user's exact name.
 */
import { PlaceholderValues } from '../shared/placeholders';

/** The key for these values, or null when the pattern needs a user name the client does not have. */
export function expandKey(pattern: string, values: PlaceholderValues & { username: string }): string;
export function expandKey(pattern: string, values: PlaceholderValues): string | null;
export function expandKey(pattern: string, values: PlaceholderValues): string | null {
  if (pattern.includes('%u') && values.username === null) return null;
  return pattern.replace(/%([uca])/g, (_, letter: string) => (letter === 'u' ? (values.username ?? '') : letter === 'c' ? values.clientId : values.ip));
}
