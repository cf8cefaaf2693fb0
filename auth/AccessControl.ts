/**
 * Authentication and access control for the node: the rate limiter, the
 * authenticator chain and the ACL engine behind one call per CONNECT.
 */
import { Logger } from '../src/logger';
import { AclEngine } from './acl/AclEngine';
import { ConnectionAcl } from './acl/ConnectionAcl';
import { AuthChain, ChainDecision } from './AuthChain';
import { LoginRateLimiter } from './LoginRateLimiter';
import { parseClientFirst, SCRAM_SHA_256, ScramCredentials, ScramError, ScramExchange } from './scram/ScramSha256';
import { AuthRequest, ClientIdentity, ConnectorUnavailable } from './types';

/** Where SCRAM finds a user's credentials (the users file). */
export interface ScramCredentialSource {
  /** The user's credentials, or null (unknown, or a hash that cannot serve SCRAM). */
  scramCredentials(username: string): ScramCredentials | null;
  /** Credentials for a user without any: they look like a real user's, and no proof matches them. */
  decoyCredentials(username: string): ScramCredentials;
}

/**
 * An enhanced authentication exchange in progress (MQTT 5 AUTH, section 4.12):
 * the server's challenge is out, the client's answer awaited. One answer only:
 * a second one is refused whatever it holds.
 */
export class AuthExchange {
  /** The server's challenge (Authentication Data of AUTH 0x18). */
  readonly challenge: Buffer;
  private answered = false;

  constructor(
    readonly method: string,
    /** The user name the client's first message names (the identity it is proving). */
    readonly username: string,
    private readonly scram: ScramExchange,
  ) {
    this.challenge = Buffer.from(scram.serverFirst);
  }

  /** The server's proof for the client's answer; throws ScramError for a wrong one. */
  verify(answer: Buffer): string {
    if (this.answered) throw new ScramError('the exchange was answered already');
    this.answered = true;
    return this.scram.finish(answer);
  }

  get storedKey(): Buffer {
    return this.scram.storedKey;
  }
}

/** The first step of an exchange: a challenge to send, or a refusal. */
export type ExchangeStart = { exchange: AuthExchange } | { refused: ChainDecision };

/** The groups of every client in none: one shared (frozen) empty list rather than one per connection. */
const NO_GROUPS = Object.freeze([]) as unknown as string[];

export interface AccessOutcome {
  decision: ChainDecision;
  /** Set when allowed. */
  identity: ClientIdentity | null;
  acl: ConnectionAcl | null;
}

/** The longest method or user name a refusal's reason repeats (they come from the client). */
const NAME_IN_REASON = 64;

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
    /** The users file, when configured: it makes SCRAM-SHA-256 available. */
    private readonly scramSource: ScramCredentialSource | null = null,
  ) {}

  /**
   * Starts an exchange for `method` with the client's first message. An unknown
   * user (or one whose hash cannot serve SCRAM) gets a challenge like any other
   * and fails at the proof, so the answers do not tell which user names exist.
   * `request.username`, when set (the CONNECT's user name; on re-authentication
   * the connection's user), must be the user the exchange proves.
   */
  startExchange(method: string, request: AuthRequest, data: Buffer | null): ExchangeStart {
    if (method !== SCRAM_SHA_256 || !this.scramSource) {
      return { refused: { result: 'deny', refusal: 'bad-auth-method', reason: `authentication method ${method.slice(0, NAME_IN_REASON)} is not offered`, source: 'enhanced auth' } };
    }
    const blocked = this.limiter?.blocked(request.ip, request.clientId) ?? null;
    if (blocked) return { refused: { result: 'deny', refusal: 'not-authorized', reason: blocked, source: 'rate limiter' } };
    try {
      const first = parseClientFirst(data ?? Buffer.alloc(0));
      if (request.username !== null && request.username !== first.username) {
        throw new ScramError(`SCRAM user ${first.username.slice(0, NAME_IN_REASON)} is not the connection's user ${request.username.slice(0, NAME_IN_REASON)}`);
      }
      const credentials = this.scramSource.scramCredentials(first.username) ?? this.scramSource.decoyCredentials(first.username);
      return { exchange: new AuthExchange(method, first.username, new ScramExchange(first, credentials)) };
    } catch (err) {
      if (!(err instanceof ScramError)) throw err;
      this.limiter?.failure(request.ip, request.clientId);
      return { refused: { result: 'deny', refusal: 'not-authorized', reason: `SCRAM: ${err.message}`, source: 'enhanced auth' } };
    }
  }

  /**
   * The client's answer to the challenge: a wrong proof is refused (bad user name
   * or password, counted by the rate limiter, as a wrong password is); a right
   * one goes through the authenticator chain and the ACL as a login with a
   * password does, the users file allowing on the proof. The identity is the
   * SCRAM user's: a chain that names another user (a client certificate with
   * another CN) or lets the client in only by default refuses it.
   * `serverFinal` is the server's proof (`v=...`).
   */
  async finishExchange(exchange: AuthExchange, request: AuthRequest, data: Buffer | null): Promise<AccessOutcome & { serverFinal: Buffer | null }> {
    let serverFinal: string;
    try {
      serverFinal = exchange.verify(data ?? Buffer.alloc(0));
    } catch (err) {
      if (!(err instanceof ScramError)) throw err;
      this.limiter?.failure(request.ip, request.clientId);
      const decision: ChainDecision = { result: 'deny', refusal: 'bad-credentials', reason: `SCRAM for ${exchange.username.slice(0, NAME_IN_REASON)}: ${err.message}`, source: 'enhanced auth' };
      return { decision, identity: null, acl: null, serverFinal: null };
    }
    const outcome = await this.connect({ ...request, username: exchange.username, password: null, proven: { storedKey: exchange.storedKey } });
    if (outcome.decision.result === 'allow' && (outcome.identity?.username !== exchange.username || outcome.decision.source === 'default')) {
      const reason = `SCRAM proved ${exchange.username.slice(0, NAME_IN_REASON)}, but ${outcome.decision.source} decided on ${outcome.identity?.username ?? 'no user'}`;
      return { decision: { result: 'deny', refusal: 'not-authorized', reason, source: 'enhanced auth' }, identity: null, acl: null, serverFinal: null };
    }
    return { ...outcome, serverFinal: outcome.decision.result === 'allow' ? Buffer.from(serverFinal) : null };
  }

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
