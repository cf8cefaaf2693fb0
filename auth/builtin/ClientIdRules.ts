import { AuthDecision, AuthRequest, Authenticator } from '../types';

/** `*` matches any run of characters; everything else literally. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Client-id allow and deny lists (exact ids or `*` patterns): a deny, or an allow list that does not list the id, refuses with CONNACK 5. */
export class ClientIdRules implements Authenticator {
  readonly name = 'client-id rules';
  readonly immediate = true;
  private readonly allow: RegExp[];
  private readonly deny: RegExp[];

  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = allow.map(globToRegExp);
    this.deny = deny.map(globToRegExp);
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (this.deny.some((r) => r.test(request.clientId))) return { result: 'deny', refusal: 'not-authorized', reason: `client id ${request.clientId} is denied` };
    if (this.allow.length && !this.allow.some((r) => r.test(request.clientId))) {
      return { result: 'deny', refusal: 'not-authorized', reason: `client id ${request.clientId} is not in the allow list` };
    }
    return { result: 'ignore' };
  }
}
