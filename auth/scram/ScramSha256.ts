/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for MQTT 5 enhanced
 * authentication: the client proves it knows the password without sending it,
 * and the server proves it knows the user's key. Pure message functions; the
 * exchange's two steps are driven by AccessControl.
 *
 * The server keeps, per user, StoredKey = H(HMAC(SaltedPassword, "Client Key"))
 * and ServerKey = HMAC(SaltedPassword, "Server Key"). A users-file entry
 * `$pbkdf2-sha256$<iter>$<salt>$<32-byte hash>` is SaltedPassword itself
 * (Hi() is PBKDF2-HMAC-SHA-256), so such users can log in either way.
 *
 * Every message is parsed strictly with bounded sizes: it comes from a client
 * that is not authenticated yet.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'crypto';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** What the server needs to verify a user (nothing that lets it log in as that user elsewhere without the exchange). */
export interface ScramCredentials {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** The longest SCRAM message accepted (bytes); a real one is well under 300. */
const MAX_MESSAGE = 2048;
/** The shortest client nonce accepted (printable characters). */
const MIN_NONCE = 8;

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function credentialsFromSaltedPassword(salt: Buffer, iterations: number, saltedPassword: Buffer): ScramCredentials {
  const clientKey = hmac(saltedPassword, 'Client Key');
  return { salt, iterations, storedKey: createHash('sha256').update(clientKey).digest(), serverKey: hmac(saltedPassword, 'Server Key') };
}

/** The SCRAM credentials in a users-file hash, or null when its format cannot serve SCRAM-SHA-256. */
export function credentialsFromHash(stored: string): ScramCredentials | null {
  const parts = stored.split('$');
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'pbkdf2-sha256') return null;
  const iterations = Number(parts[2]);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) return null;
  const salt = Buffer.from(parts[3].replace(/\./g, '+'), 'base64');
  const hash = Buffer.from(parts[4].replace(/\./g, '+'), 'base64');
  if (hash.length !== 32 || salt.length === 0) return null;
  return credentialsFromSaltedPassword(salt, iterations, hash);
}

/** Invalid SCRAM input: the exchange fails (the reason is for logs, never for the client). */
export class ScramError extends Error {}

/** `=2C` and `=3D` are the only escapes in a SCRAM name (RFC 5802 §5.1); any other `=` is malformed. */
function saslName(value: string): string {
  if (/=(?!2C|3D)/.test(value)) throw new ScramError('bad escape in user name');
  return value.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function printableNonce(nonce: string): boolean {
  // printable = %x21-2B / %x2D-7E (no comma) [RFC 5802 §7]
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(nonce);
}

export interface ClientFirst {
  /** gs2-header, kept verbatim: the client repeats it (base64) in its final message. */
  gs2Header: string;
  bare: string;
  username: string;
  clientNonce: string;
}

export function parseClientFirst(data: Buffer): ClientFirst {
  if (data.length === 0 || data.length > MAX_MESSAGE) throw new ScramError('client-first-message size');
  const text = data.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(data) || text.includes('\u0000')) throw new ScramError('client-first-message is not UTF-8');
  const parts = text.split(',');
  if (parts.length < 4) throw new ScramError('client-first-message too short');
  const [cbind, authzid] = parts;
  // Channel binding is not offered (no -PLUS mechanism): "p=" is refused; "y" means the client could but thinks we cannot.
  if (cbind !== 'n' && cbind !== 'y') throw new ScramError('channel binding is not supported');
  if (authzid !== '' && !authzid.startsWith('a=')) throw new ScramError('bad authzid');
  const bareParts = parts.slice(2);
  if (bareParts[0].startsWith('m=')) throw new ScramError('mandatory extension not supported');
  if (!bareParts[0].startsWith('n=') || !bareParts[1].startsWith('r=')) throw new ScramError('client-first-message needs n= and r=');
  const username = saslName(bareParts[0].slice(2));
  const clientNonce = bareParts[1].slice(2);
  if (username.length === 0) throw new ScramError('empty user name');
  if (clientNonce.length < MIN_NONCE || !printableNonce(clientNonce)) throw new ScramError('bad client nonce');
  if (authzid !== '' && saslName(authzid.slice(2)) !== username) throw new ScramError('authzid differs from the user name');
  return { gs2Header: `${cbind},${authzid},`, bare: bareParts.join(','), username, clientNonce };
}

/** One exchange: the server-first message made, the client-final message awaited. */
export class ScramExchange {
  readonly serverFirst: string;
  private readonly nonce: string;

  constructor(
    readonly first: ClientFirst,
    private readonly credentials: ScramCredentials,
    /** For tests with the RFC's vectors; otherwise 18 random bytes. */
    serverNonce: string = randomBytes(18).toString('base64'),
  ) {
    this.nonce = first.clientNonce + serverNonce;
    this.serverFirst = `r=${this.nonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`;
  }

  /** The key the client's proof is checked against (the users file checks it is still the user's). */
  get storedKey(): Buffer {
    return this.credentials.storedKey;
  }

  /** Verifies the client's proof; returns the server-final message (`v=...`) or throws ScramError. */
  finish(data: Buffer): string {
    if (data.length === 0 || data.length > MAX_MESSAGE) throw new ScramError('client-final-message size');
    const text = data.toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('client-final-message without proof');
    const withoutProof = text.slice(0, proofAt);
    const parts = withoutProof.split(',');
    if (parts.length < 2 || parts[0] !== `c=${Buffer.from(this.first.gs2Header).toString('base64')}`) throw new ScramError('channel binding data differs');
    if (parts[1] !== `r=${this.nonce}`) throw new ScramError('nonce differs');
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) throw new ScramError('bad proof');
    const authMessage = `${this.first.bare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.credentials.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i] ^ signature[i];
    if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), this.credentials.storedKey)) throw new ScramError('wrong proof');
    return `v=${hmac(this.credentials.serverKey, authMessage).toString('base64')}`;
  }
}

/**
 * Credentials for a user who has none (unknown, or a hash SCRAM cannot use): the
 * exchange looks the same as for a real user and fails at the proof, so the
 * answers do not tell which user names exist. The salt is derived from the user
 * name with `secret`, so it is the same at every try; the users file gives a
 * secret made from its own contents (stable across restarts, unknown to anyone
 * who has not read the file) and the iteration count most of its users have.
 */
export class DecoyCredentials {
  constructor(
    private readonly secret: Buffer = randomBytes(32),
    /** What `mqlog passwd --scheme pbkdf2-sha256` writes, unless the users file says otherwise. */
    private readonly iterations = 210_000,
  ) {}

  for(username: string): ScramCredentials {
    // Random keys: no proof can match them.
    return { salt: hmac(this.secret, `salt:${username}`).subarray(0, 16), iterations: this.iterations, storedKey: randomBytes(32), serverKey: randomBytes(32) };
  }
}
