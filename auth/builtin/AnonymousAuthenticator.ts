import { AuthDecision, AuthRequest, Authenticator } from '../types';

/** Clients without a user name: let in when anonymous access is on, refused (CONNACK 5) when off. */
export class AnonymousAuthenticator implements Authenticator {
  readonly name = 'anonymous';
  readonly immediate = true;
  constructor(private readonly allowAnonymous: boolean) {}

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (request.username !== null) return { result: 'ignore' };
    return this.allowAnonymous ? { result: 'allow', reason: 'anonymous access is on' } : { result: 'deny', refusal: 'not-authorized', reason: 'anonymous access is off' };
  }
}
