/**
 * Deciding a CONNECT: the authenticators and ACL (AccessControl), then the
 * node's own rules (a will must be publishable; a client id naming another
 * user's session is refused), and the audit trail of every decision, bounded
 * for refused logins (RefusedLoginAudit). MQTT 5 enhanced authentication
 * (SCRAM-SHA-256) runs its exchange here too, at CONNECT and when a connected
 * client re-authenticates: the exchange in progress is kept per connection.
 */
import { AccessControl, AccessOutcome, AuthExchange } from '../../auth/AccessControl';
import type { AuthRequest } from '../../auth/types';
import { connectRefused } from '../../projections/sessionOwnership';
import type { AuthOutcome } from '../channel/Channel';
import { Effect } from '../channel/effects';
import { AccessDecided } from '../events/types';
import { Logger } from '../logger';
import { ConnectRefusal, mqtt3ConnackCode } from '../protocol/ConnectRefusal';
import type { Appender } from './Appender';
import type { Connection } from './Connection';
import type { LimitReporter } from './LimitReporter';
import { RefusedLoginAudit } from './RefusedLoginAudit';
import type { SessionFolder } from './SessionFolder';
import type { Stats } from './Stats';
import type { TurnClock } from './TurnClock';

export interface ConnectDecisionsDeps {
  access: AccessControl;
  audit: RefusedLoginAudit;
  appender: Appender;
  sessions: SessionFolder;
  limits: LimitReporter;
  stats: Stats;
  clock: TurnClock;
  logger: Logger;
  nodeId: () => string;
  allowSessionTakeoverByOtherUser: boolean;
}

/** An enhanced authentication exchange waiting for the client's answer. */
interface PendingExchange {
  exchange: AuthExchange;
  request: AuthRequest;
  /** A re-authentication of a connected client (otherwise the CONNECT's). */
  reauth: boolean;
}

export class ConnectDecisions {
  /** Exchanges waiting for a client's answer, by connection (gone with it). */
  private readonly exchanges = new WeakMap<Connection, PendingExchange>();

  constructor(private readonly deps: ConnectDecisionsDeps) {}

  authenticate(conn: Connection, effect: Extract<Effect, { type: 'authenticate' }>): void {
    const t = conn.transport;
    const r = effect.request;
    const enhanced = r.enhanced;
    // Every field named rather than `{ ...r, ip, ... }`: V8 (Node 20) gives each object made by a
    // spread and then extended a hidden class of its own, allocated in the old generation, so a
    // burst of CONNECTs left a trail of dead hidden classes (docs/performance.md, memory per connection).
    const request: AuthRequest = {
      clientId: r.clientId,
      username: r.username,
      password: r.password,
      ip: t.ip,
      remoteAddress: r.remoteAddress,
      protocolVersion: r.protocolVersion,
      transport: t.kind,
      certificate: t.certificate,
    };
    if (enhanced) {
      // Answered on the next microtask, as a password login is: the connection has finished with the CONNECT first.
      queueMicrotask(() => this.startExchange(conn, request, enhanced.method, enhanced.data, false));
      return;
    }
    this.deps.access.connect(request).then(
      (outcome) => this.settle(conn, request, outcome, null),
      (err: Error) => this.failed(conn, request, err, false),
    );
  }

  /** A connected MQTT 5 client re-authenticates: an exchange for the user it is (its user name is fixed). */
  reauthenticate(conn: Connection, effect: Extract<Effect, { type: 'reauthenticate' }>): void {
    const ch = conn.channel;
    const t = conn.transport;
    const request: AuthRequest = {
      clientId: ch.clientId,
      username: ch.identity?.username ?? ch.username,
      password: null,
      ip: t.ip,
      remoteAddress: ch.remoteAddress,
      protocolVersion: ch.protocolVersion,
      transport: t.kind,
      certificate: t.certificate,
    };
    queueMicrotask(() => this.startExchange(conn, request, effect.method, effect.data, true));
  }

  /** The client answered the challenge of its exchange. */
  authAnswer(conn: Connection, effect: Extract<Effect, { type: 'auth-answer' }>): void {
    const pending = this.exchanges.get(conn);
    this.exchanges.delete(conn);
    if (!pending) {
      // The channel asks only after a challenge it was told of: nothing to answer means a bug, refused safely.
      this.deps.logger.error({ clientId: this.deps.audit.field(conn.channel.clientId) }, 'an authentication answer without an exchange; refusing');
      const refused: AuthOutcome = { allowed: false, refusal: 'not-authorized' };
      conn.run(conn.channel.state === 'connected' ? conn.channel.reauthenticated(refused) : conn.channel.authenticated(refused));
      return;
    }
    this.deps.access.finishExchange(pending.exchange, pending.request, effect.data).then(
      (outcome) => {
        if (pending.reauth) this.settleReauth(conn, pending.request, outcome, outcome.serverFinal);
        else this.settle(conn, pending.request, outcome, outcome.serverFinal);
      },
      (err: Error) => this.failed(conn, pending.request, err, pending.reauth),
    );
  }

  private startExchange(conn: Connection, request: AuthRequest, method: string, data: Buffer | null, reauth: boolean): void {
    if (conn.isClosed) return;
    const start = this.deps.access.startExchange(method, request, data);
    if ('refused' in start) {
      const outcome: AccessOutcome = { decision: start.refused, identity: null, acl: null };
      if (reauth) this.settleReauth(conn, request, outcome, null);
      else this.settle(conn, request, outcome, null);
      return;
    }
    // From here on the exchange is about the user it names: decisions and records say so.
    this.exchanges.set(conn, { exchange: start.exchange, request: { ...request, username: start.exchange.username }, reauth });
    conn.run(conn.channel.challenged(start.exchange.challenge));
  }

  /** A re-authentication decided: recorded like a login, then the channel goes on (AUTH 0x00) or ends (DISCONNECT 0x87). */
  private settleReauth(conn: Connection, request: AuthRequest, { decision, identity, acl }: AccessOutcome, authData: Buffer | null): void {
    if (decision.source === 'rate limiter') this.deps.limits.hit('auth.rateLimit', decision.reason ?? 'locked out', { remote: conn.transport.remoteAddress });
    const allowed = decision.result === 'allow' && acl !== null && identity !== null;
    const refusal: ConnectRefusal | null = allowed ? null : decision.refusal ?? 'not-authorized';
    const username = identity?.username ?? request.username;
    this.record(conn, request.clientId, username, refusal, decision.source, `re-authentication: ${decision.reason ?? (allowed ? 'allowed' : 'refused')}`);
    conn.run(conn.channel.reauthenticated(allowed ? { allowed: true, acl: acl!, identity: identity!, authData } : { allowed: false, refusal: refusal! }));
  }

  private failed(conn: Connection, request: AuthRequest, err: Error, reauth: boolean): void {
    this.deps.logger.error({ err, clientId: this.deps.audit.field(request.clientId) }, 'authentication failed; refusing the connection');
    const refused: AuthOutcome = { allowed: false, refusal: 'unavailable' };
    conn.run(reauth ? conn.channel.reauthenticated(refused) : conn.channel.authenticated(refused));
  }

  /** A CONNECT decided (by password or by an exchange): the node's own rules, the record, then the channel's answer. */
  private settle(conn: Connection, request: AuthRequest, { decision, identity, acl }: AccessOutcome, authData: Buffer | null): void {
    const { limits } = this.deps;
    const t = conn.transport;
    if (decision.source === 'rate limiter') limits.hit('auth.rateLimit', decision.reason ?? 'locked out', { remote: t.remoteAddress });
    let refusal: ConnectRefusal | null = decision.result === 'allow' && acl !== null ? null : decision.refusal ?? 'not-authorized';
    let source = decision.source;
    let reason = decision.reason ?? '';
    // A will must be publishable by its client: checked here, as Mosquitto does.
    const willRefused = refusal === null ? conn.channel.willRefused(acl!) : null;
    if (willRefused !== null) {
      refusal = 'not-authorized';
      source = 'acl';
      reason = willRefused;
    }
    // Identity owns the session: another user's client id is refused (the folds enforce it too).
    const username = identity?.username ?? request.username;
    const ownerConflict = refusal === null ? this.ownerConflict(request.clientId, username) : null;
    if (ownerConflict !== null) {
      refusal = 'not-authorized';
      source = 'session';
      reason = ownerConflict;
      this.deps.stats.sessionTakeoversRefused++;
    }
    this.record(conn, request.clientId, username, refusal, source, reason);
    const outcome: AuthOutcome = refusal === null ? { allowed: true, acl: acl!, identity: identity!, authData } : { allowed: false, refusal };
    conn.run(conn.channel.authenticated(outcome));
  }

  /** The session of this connection's client id turned out to be another user's (SessionOpener): counted and recorded. */
  refusedForOwner(conn: Connection): void {
    const ch = conn.channel;
    this.deps.stats.sessionTakeoversRefused++;
    this.record(conn, ch.clientId, ch.username, 'not-authorized', 'session', `client id ${this.deps.audit.field(ch.clientId)} names a session of another user`);
  }

  /**
   * Why `username` may not connect as `clientId`: its session belongs to another
   * user name and `mqtt.allowSessionTakeoverByOtherUser` is off. Null otherwise.
   */
  private ownerConflict(clientId: string, username: string | null): string | null {
    if (this.deps.allowSessionTakeoverByOtherUser) return null;
    const owner = this.deps.sessions.state.get(clientId)?.username;
    if (!connectRefused(owner, { username, foreignTakeover: false })) return null;
    return `client id ${this.deps.audit.field(clientId)} names a session of another user`;
  }

  /**
   * The audit trail records every CONNECT decision: who, from where, by whom, why,
   * never the password. Refused ones are bounded (RefusedLoginAudit): fields cut
   * short, and a limited number of records per address and window.
   */
  private record(conn: Connection, clientId: string, username: string | null, refusal: ConnectRefusal | null, source: string, reason: string): void {
    const { audit, limits } = this.deps;
    const ip = conn.transport.ip;
    if (refusal !== null && !audit.admit(ip, Date.now())) {
      limits.hit('auth.audit.refusedLoginsPerIp', `refused logins from ${ip} past ${audit.settings.refusedLoginsPerIp} per window are counted, not recorded`);
      return;
    }
    const event: AccessDecided = {
      type: 'access.decided',
      clientId: audit.field(clientId),
      username: audit.field(username),
      ip,
      action: 'connect',
      topic: null,
      allowed: refusal === null,
      // The code the client was answered with (MQTT 3.1/3.1.1 CONNACK codes).
      code: mqtt3ConnackCode(refusal),
      source,
      reason: audit.field(reason),
      nodeId: this.deps.nodeId(),
      timestamp: this.deps.clock.now(),
    };
    this.write(event);
    if (refusal !== null) this.deps.logger.info({ clientId: event.clientId, username: event.username, ip, refusal, source, reason: event.reason }, 'connection refused');
  }

  /** One record per address whose refused logins were counted rather than recorded (every window's end; all at shutdown). */
  recordSuppressed(now: number, all = false): void {
    for (const s of this.deps.audit.takeEnded(now, all)) {
      this.write({
        type: 'access.decided',
        clientId: '',
        username: null,
        ip: s.ip,
        action: 'connect',
        topic: null,
        allowed: false,
        code: mqtt3ConnackCode('not-authorized'),
        source: 'audit',
        reason: `${s.count} more refused logins from ${s.ip} within ${s.windowMs} ms not recorded one by one`,
        nodeId: this.deps.nodeId(),
        timestamp: this.deps.clock.now(),
      });
    }
  }

  private write(event: AccessDecided): void {
    this.deps.appender.append([event]).catch((err: Error) => this.deps.logger.warn({ err: err.message }, 'could not record an access decision'));
  }
}
