import { AddressSet } from '../cidr';
import { AuthDecision, AuthRequest, Authenticator } from '../types';

/** IP address and CIDR allow and deny lists: a deny, or an allow list that does not cover the address, refuses with CONNACK 5. */
export class AddressRules implements Authenticator {
  readonly name = 'address rules';
  readonly immediate = true;
  private readonly allow: AddressSet;
  private readonly deny: AddressSet;

  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = new AddressSet(allow);
    this.deny = new AddressSet(deny);
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (this.deny.has(request.ip)) return { result: 'deny', refusal: 'not-authorized', reason: `address ${request.ip} is denied` };
    if (this.allow.size && !this.allow.has(request.ip)) return { result: 'deny', refusal: 'not-authorized', reason: `address ${request.ip} is not in the allow list` };
    return { result: 'ignore' };
  }
}
