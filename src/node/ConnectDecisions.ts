/**
 * Deciding a CONNECT: the authenticators and ACL (AccessControl), then the
 * node's own rules (a will must be publishable; a client id naming another
 * user's session is refused), and the audit trail of every decision, bounded
 * for refused logins (RefusedLoginAudit).
 */
import { AccessControl } from '../../auth/AccessControl';
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

export class ConnectDecisions {
  constructor(private readonly deps: ConnectDecisionsDeps) {}

  authenticate(conn: Connection, effect: Extract<Effect, { type: 'authenticate' }>): void {
    const { access, limits } = this.deps;
    const t = conn.transport;
    const r = effect.request;
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
    access.connect(request).then(
      ({ decision, identity, acl }) => {
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
        const outcome: AuthOutcome = refusal === null ? { allowed: true, acl: acl!, identity: identity! } : { allowed: false, refusal };
        conn.run(conn.channel.authenticated(outcome));
      },
      (err: Error) => {
        this.deps.logger.error({ err, clientId: this.deps.audit.field(request.clientId) }, 'authentication failed; refusing the connection');
        conn.run(conn.channel.authenticated({ allowed: false, refusal: 'unavailable' }));
      },
    );
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
