/**
 * Authentication and access control for the node: the rate limiter, the
 * authenticator chain and the ACL engine behind one call per CONNECT.
 */
import { Logger } from '../src/logger';
import { AclEngine } from './acl/AclEngine';
import { ConnectionAcl } from './acl/ConnectionAcl';
import { AuthChain, ChainDecision } from './AuthChain';
import { LoginRateLimiter } from './LoginRateLimiter';
import { AuthRequest, ClientIdentity, ConnectorUnavailable } from './types';

/** The groups of every client in none: one shared (frozen) empty list rather than one per connection. */
const NO_GROUPS = Object.freeze([]) as unknown as string[];

export interface AccessOutcome {
  decision: ChainDecision;
  /** Set when allowed. */
  identity: ClientIdentity | null;
  acl: ConnectionAcl | null;
}

export class AccessControl {
  constructor(
    readonly chain: AuthChain,
    readonly acl: AclEngine,
    private readonly limiter: LoginRateLimiter | null,
    private readonly log: Logger,
    /** Reloads file-based users and rules (SIGHUP). */
    private readonly reloaders: Array<() => void> = [],
    /** User names that are superusers whoever authenticated them. */
    private readonly superusers: ReadonlySet<string> = new Set(),
  ) {}

  async connect(request: AuthRequest): Promise<AccessOutcome> {
    const blocked = this.limiter?.blocked(request.ip, request.clientId) ?? null;
    if (blocked) return { decision: { result: 'deny', refusal: 'not-authorized', reason: blocked, source: 'rate limiter' }, identity: null, acl: null };
    const decision = await this.chain.authenticate(request);
    if (decision.result !== 'allow') {
      if (decision.refusal === 'bad-credentials' || decision.refusal === undefined) this.limiter?.failure(request.ip, request.clientId);
      return { decision, identity: null, acl: null };
    }
    this.limiter?.success(request.clientId);
    const identity: ClientIdentity = {
      clientId: request.clientId,
      username: decision.username ?? request.username,
      ip: request.ip,
      groups: decision.groups ?? NO_GROUPS,
      superuser: decision.superuser === true,
    };
    if (identity.username !== null && this.superusers.has(identity.username)) identity.superuser = true;
    try {
      return { decision, identity, acl: await this.acl.compile(identity) };
    } catch (err) {
      const why = err instanceof ConnectorUnavailable ? err.message : `ACL rules could not be loaded: ${(err as Error).message}`;
      this.log.warn({ clientId: request.clientId, err: why }, 'refusing the connection: no ACL rules');
      return { decision: { result: 'deny', refusal: 'unavailable', reason: why, source: decision.source }, identity: null, acl: null };
    }
  }

  /** Re-reads users and rules files; connected clients get their rules compiled again by the caller. */
  reload(): void {
    for (const r of this.reloaders) r();
  }

  async close(): Promise<void> {
    await this.chain.close();
    await this.acl.close();
  }
}
