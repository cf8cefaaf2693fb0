/**
 * Stored password hashes for seeding connector back ends (MySQL, PostgreSQL,
 * Redis): the formats the seeded contract users rotate through, and hash
 * builders for the formats mqlog does not write itself.
 */
import { createHash, pbkdf2Sync, randomBytes } from 'crypto';
import { hashPassword } from '../../auth/passwordHash';

/** The hash formats the seeded users rotate through, so the contract exercises each. */
export const SEED_SCHEMES = ['bcrypt', 'pbkdf2-sha512', 'sha256'] as const;

/** The stored hash of the `index`-th seeded contract user's password (formats in turn). */
export function seedHash(password: string, index: number): string {
  return hashPassword(password, SEED_SCHEMES[index % SEED_SCHEMES.length], 10_000);
}

/** Mosquitto's mosquitto_passwd format: $7$iterations$salt$PBKDF2-SHA512, base64. */
export function mosquittoHash(password: string, iterations = 1000): string {
  const salt = randomBytes(12);
  return `$7$${iterations}$${salt.toString('base64')}$${pbkdf2Sync(password, salt, iterations, 64, 'sha512').toString('base64')}`;
}

/** SHA-256 of the parts one after the other, lowercase hex (salted SHA-256 columns and fields). */
export const sha256Hex = (...parts: string[]): string => parts.reduce((h, p) => h.update(p, 'utf8'), createHash('sha256')).digest('hex');
