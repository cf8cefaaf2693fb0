import { createHash } from 'crypto';
import { verifyPassword } from '../passwordHash';
import { credentialsFromHash, DecoyCredentials, ScramCredentials } from '../scram/ScramSha256';
import { AuthDecision, AuthRequest, Authenticator } from '../types';
import { readUsersFile } from './UsersFile';

/**
 * Users and password hashes from the users file; superusers named in
 * configuration. It is also where MQTT 5 SCRAM-SHA-256 finds its credentials:
 * a `$pbkdf2-sha256$` entry is SCRAM's salted password; any other format
 * (bcrypt, PBKDF2-SHA512, salted SHA-256) cannot serve SCRAM and is answered
 * with decoy credentials, like an unknown user.
 */
export class UsersFileAuthenticator implements Authenticator {
  readonly name = 'users file';
  private users: Map<string, string>;
  private decoys: DecoyCredentials;

  constructor(
    private readonly path: string,
    private readonly superusers: ReadonlySet<string> = new Set(),
  ) {
    this.users = readUsersFile(path);
    this.decoys = decoysFor(this.users);
  }

  /** Reads the file again (SIGHUP, or after `mqlog passwd`). */
  reload(): void {
    this.users = readUsersFile(this.path);
    this.decoys = decoysFor(this.users);
  }

  /** The user's SCRAM-SHA-256 credentials, or null (unknown, or a hash format SCRAM cannot use). */
  scramCredentials(username: string): ScramCredentials | null {
    const hash = this.users.get(username);
    return hash === undefined ? null : credentialsFromHash(hash);
  }

  /** Credentials that look like a real user's and that no proof matches (for a user scramCredentials has none for). */
  decoyCredentials(username: string): ScramCredentials {
    return this.decoys.for(username);
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (request.username === null) return { result: 'ignore' };
    const hash = this.users.get(request.username);
    if (hash === undefined) return { result: 'ignore' };
    if (request.proven) {
      // The client proved the password by SCRAM against these keys: still this user's (the file may have been
      // reloaded since the exchange started, with another password or a hash SCRAM cannot use)?
      const now = credentialsFromHash(hash);
      if (!now || !now.storedKey.equals(request.proven.storedKey)) return { result: 'deny', refusal: 'bad-credentials', reason: `the password of ${request.username} changed during the SCRAM exchange` };
      return { result: 'allow', superuser: this.superusers.has(request.username) };
    }
    if (!request.password || !(await verifyPassword(hash, request.password))) {
      return { result: 'deny', refusal: 'bad-credentials', reason: `wrong password for ${request.username}` };
    }
    return { result: 'allow', superuser: this.superusers.has(request.username) };
  }
}

/**
 * Decoys that look like this file's users: the iteration count most of its
 * SCRAM-capable entries have, and salts keyed by a digest of the file (which
 * holds random salts, so nobody who has not read it can predict them).
 */
function decoysFor(users: ReadonlyMap<string, string>): DecoyCredentials {
  const digest = createHash('sha256');
  const counts = new Map<number, number>();
  for (const [name, hash] of users) {
    digest.update(name).update('\u0000').update(hash).update('\n');
    const c = credentialsFromHash(hash);
    if (c) counts.set(c.iterations, (counts.get(c.iterations) ?? 0) + 1);
  }
  let iterations = 210_000;
  let most = 0;
  for (const [i, n] of counts) if (n > most || (n === most && i > iterations)) [iterations, most] = [i, n];
  return new DecoyCredentials(digest.digest(), iterations);
}
