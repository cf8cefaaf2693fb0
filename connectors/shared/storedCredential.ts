/**
 * A user's stored credential (password hash, optional salt, superuser flag) as
 * the SQL and Redis connectors read it, and the one place that turns it and a
 * presented password into an AuthDecision, so every back end answers alike:
 * unknown user → ignore, right password → allow, anything else → deny (CONNACK 4).
 */
import { AuthDecision } from '../../auth/types';
import { verifyPassword, verifyWithScheme } from '../../auth/passwordHash';
import { flagOf, textOf } from '../sql/storedValues';

/**
 * How `password_hash` is to be read. `self-describing`: the hash names its own
 * format (bcrypt `$2b$…`, Mosquitto `$7$…`, `$pbkdf2-sha256$…`, `$sha256$salt$hex`).
 * The `sha256-salted*` schemes take a hex SHA-256 with the salt kept apart, in
 * the `salt` column/field: SHA-256(salt + password) or SHA-256(password + salt).
 */
export type PasswordScheme = 'self-describing' | 'sha256-salted' | 'sha256-salted-suffix';

export const PASSWORD_SCHEMES: readonly PasswordScheme[] = ['self-describing', 'sha256-salted', 'sha256-salted-suffix'];

export interface StoredCredential {
  /** Null when the record has no password (such a user can never log in with one). */
  passwordHash: string | null;
  salt: string;
  superuser: boolean;
}

/** Names of the columns (SQL) or hash fields (Redis) a credential is read from. */
export interface CredentialFields {
  passwordHash: string;
  salt: string;
  superuser: string;
}

export const DEFAULT_CREDENTIAL_FIELDS: CredentialFields = { passwordHash: 'password_hash', salt: 'salt', superuser: 'is_superuser' };

/** Reads a credential from a result row or hash; missing salt and superuser fields mean "none" and "no". */
export function credentialFromRecord(record: Readonly<Record<string, unknown>>, fields: CredentialFields = DEFAULT_CREDENTIAL_FIELDS): StoredCredential {
  return {
    passwordHash: textOf(record[fields.passwordHash]),
    salt: textOf(record[fields.salt]) ?? '',
    superuser: flagOf(record[fields.superuser]),
  };
}

/** The decision for a client that sent no user name: credential stores have nothing to say about it. */
export function ignoreWithoutUsername(): AuthDecision {
  return { result: 'ignore', reason: 'no user name' };
}

/** The decision for `password` against `stored` (null: the user is not in the store). Reasons never contain the password. */
export async function decideLogin(stored: StoredCredential | null, password: Buffer | null, scheme: PasswordScheme): Promise<AuthDecision> {
  if (stored === null) return { result: 'ignore', reason: 'unknown user' };
  if (password === null) return badLogin('no password given');
  if (!stored.passwordHash) return badLogin('no password stored for the user');
  let matches: boolean;
  try {
    matches =
      scheme === 'self-describing'
        ? await verifyPassword(stored.passwordHash, password)
        : await verifyWithScheme(scheme, stored.passwordHash, password, stored.salt);
  } catch {
    // A malformed stored hash (e.g. a truncated bcrypt string) is a data problem; it must not let anyone in.
    return badLogin('the stored password hash is malformed');
  }
  if (!matches) return badLogin('bad password');
  return { result: 'allow', superuser: stored.superuser };
}

function badLogin(reason: string): AuthDecision {
  return { result: 'deny', refusal: 'bad-credentials', reason };
}
