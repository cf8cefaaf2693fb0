/**
 * Authentication and authorization seams. The node asks an Authenticator about
 * every CONNECT and an Acl about every subscription; richer chains and
 * connectors plug in behind these interfaces.
 */
import { AuthRequest } from '../src/channel/effects';
import { ConnackCode } from '../src/protocol/ProtocolViolation';

export type { AuthRequest };

export interface AuthDecision {
  allowed: boolean;
  /** CONNACK code when refused: 4 bad user name or password, 5 not authorized. */
  code?: typeof ConnackCode.BadUsernameOrPassword | typeof ConnackCode.NotAuthorized;
  reason?: string;
}

export interface Authenticator {
  authenticate(request: AuthRequest): Promise<AuthDecision>;
}

/** Lets every client in (the default, as Mosquitto 1.x and EMQX do out of the box). */
export class AllowAnonymous implements Authenticator {
  async authenticate(): Promise<AuthDecision> {
    return { allowed: true };
  }
}
