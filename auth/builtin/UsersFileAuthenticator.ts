import { verifyPassword } from '../passwordHash';
import { credentialsFromHash, ScramCredentials } from '../scram/ScramSha256';
import { AuthDecision, AuthRequest, Authenticator } from '../types';
import { readUsersFile } from './UsersFile';

/** Users and password hashes from the users file; superusers named in configuration. */
export class UsersFileAuthenticator implements Authenticator {
  readonly name = 'users file';
  private users: Map<string, string>;

  constructor(
    private readonly path: string,
    private readonly superusers: ReadonlySet<string> = new Set(),
  ) {
    this.users = readUsersFile(path);
  }

  /** Reads the file again (SIGHUP, or after `mqlog passwd`). */
  reload(): void {
    this.users = readUsersFile(this.path);
  }

  /** The user's SCRAM-SHA-256 credentials, or null (unknown, or a hash format SCRAM cannot use). */
  scramCredentials(username: string): ScramCredentials | null {
    const hash = this.users.get(username);
    return hash === undefined ? null : credentialsFromHash(hash);
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (request.username === null) return { result: 'ignore' };
    const hash = this.users.get(request.username);
    if (hash === undefined) return { result: 'ignore' };
    // The client proved the password to this file by SCRAM (AccessControl checked the proof against scramCredentials).
    if (request.proven === 'users file') return { result: 'allow', superuser: this.superusers.has(request.username) };
    if (!request.password || !(await verifyPassword(hash, request.password))) {
      return { result: 'deny', refusal: 'bad-credentials', reason: `wrong password for ${request.username}` };
    }
    return { result: 'allow', superuser: this.superusers.has(request.username) };
  }
}
