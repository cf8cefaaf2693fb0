/**
 * Values as drivers return them (MySQL BLOBs and BITs as Buffers, TINYINT as
 * numbers, PostgreSQL booleans, Redis strings) turned into text and flags, so
 * the same stored record reads the same from every back end.
 */

/** The value as text, or null when the back end stored none. */
export function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return null;
}

const TRUE_WORDS = new Set(['1', 'true', 't', 'yes', 'y', 'on']);

/** Whether a stored flag is set: true, non-zero numbers, "1"/"true"/"yes"/"on", a BIT(1) of 1. */
export function flagOf(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'bigint') return value !== 0n;
  if (Buffer.isBuffer(value)) return value.some((byte) => byte !== 0);
  if (typeof value === 'string') return TRUE_WORDS.has(value.trim().toLowerCase());
  return false;
}
