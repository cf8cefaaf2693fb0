/**
 * Password hashes in the formats users bring from other brokers and their own
 * databases, verified in constant time:
 *
 *   $2a$/$2b$/$2y$...                 bcrypt
 *   $7$<iter>$<salt b64>$<hash b64>   PBKDF2-SHA512, Mosquitto's mosquitto_passwd format
 *   $pbkdf2-sha256$<iter>$<salt>$<hash>, $pbkdf2-sha512$...   PBKDF2 (base64, standard or passlib's "./" alphabet)
 *   $sha256$<salt>$<hex>              SHA-256 of salt + password
 *
 * A back end that stores hash and salt in separate columns names its scheme
 * (`sha256-salted`, `sha256-salted-suffix`, `bcrypt`, `pbkdf2-sha256`...) through
 * `verifyWithScheme`.
 *
 * Verification is asynchronous: PBKDF2 runs on libuv's thread pool and bcrypt
 * yields between rounds, so a burst of logins (a few hundred ms of hashing each)
 * never stalls message delivery on the event loop.
 */
import bcrypt from 'bcryptjs';
import { createHash, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'crypto';
import { promisify } from 'util';

const pbkdf2Async = promisify(pbkdf2);

export type HashScheme = 'bcrypt' | 'pbkdf2-sha512' | 'pbkdf2-sha256' | 'sha256-salted' | 'sha256-salted-suffix';

const DEFAULT_PBKDF2_ITERATIONS = 210_000;
const BCRYPT_COST = 10;

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  // Comparing hashes of both sides keeps the time independent of where they differ and of their lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

function fromBase64(s: string): Buffer {
  return Buffer.from(s.replace(/\./g, '+'), 'base64');
}

async function verifyPbkdf2(digest: 'sha256' | 'sha512', iterations: number, salt: Buffer, expected: Buffer, password: Buffer): Promise<boolean> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000 || expected.length === 0) return false;
  return constantTimeEqual(await pbkdf2Async(password, salt, iterations, expected.length, digest), expected);
}

/** Whether `password` matches `stored` (one of the self-describing formats above). Unknown formats never match. */
export async function verifyPassword(stored: string, password: Buffer | string): Promise<boolean> {
  const pw = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  if (/^\$2[aby]\$\d\d\$/.test(stored)) {
    return bcrypt.compare(pw.toString('utf8'), stored.replace(/^\$2y\$/, '$2b$'));
  }
  const parts = stored.split('$');
  if (parts[1] === '7' && parts.length === 5) {
    return verifyPbkdf2('sha512', Number(parts[2]), fromBase64(parts[3]), fromBase64(parts[4]), pw);
  }
  if ((parts[1] === 'pbkdf2-sha256' || parts[1] === 'pbkdf2-sha512') && parts.length === 5) {
    return verifyPbkdf2(parts[1] === 'pbkdf2-sha256' ? 'sha256' : 'sha512', Number(parts[2]), fromBase64(parts[3]), fromBase64(parts[4]), pw);
  }
  if (parts[1] === 'sha256' && parts.length === 4) {
    return constantTimeEqual(createHash('sha256').update(parts[2]).update(pw).digest(), Buffer.from(parts[3], 'hex'));
  }
  return false;
}

/** Verification for back ends that keep the salt apart from the hash. */
export async function verifyWithScheme(scheme: HashScheme, hash: string, password: Buffer | string, salt = ''): Promise<boolean> {
  const pw = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  switch (scheme) {
    case 'sha256-salted':
      return constantTimeEqual(createHash('sha256').update(salt).update(pw).digest(), Buffer.from(hash, 'hex'));
    case 'sha256-salted-suffix':
      return constantTimeEqual(createHash('sha256').update(pw).update(salt).digest(), Buffer.from(hash, 'hex'));
    default:
      return verifyPassword(hash, pw);
  }
}

/** A new hash of `password` in a self-describing format (PBKDF2-SHA512 by default). */
export function hashPassword(password: string, scheme: 'bcrypt' | 'pbkdf2-sha512' | 'pbkdf2-sha256' | 'sha256' = 'pbkdf2-sha512', iterations = DEFAULT_PBKDF2_ITERATIONS): string {
  switch (scheme) {
    case 'bcrypt':
      return bcrypt.hashSync(password, BCRYPT_COST);
    case 'sha256': {
      const salt = randomBytes(12).toString('hex');
      return `$sha256$${salt}$${createHash('sha256').update(salt).update(password).digest('hex')}`;
    }
    default: {
      const digest = scheme === 'pbkdf2-sha256' ? 'sha256' : 'sha512';
      const salt = randomBytes(16);
      const hash = pbkdf2Sync(password, salt, iterations, digest === 'sha256' ? 32 : 64, digest);
      return `$${scheme}$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
    }
  }
}
