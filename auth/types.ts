import type { ConnectRefusal } from '../src/protocol/ConnectRefusal';
/**
 * The contracts of authentication and access control. Every authenticator
 * (built-in or connector) answers allow, deny or ignore; every ACL source yields
 * rules for one client. Both are run through one shared contract suite each
 * (test/contract/authenticator.contract.ts, test/contract/aclSource.contract.ts).
 */

export interface ClientCertificate {
  /** Subject common name. */
  cn: string;
  /** The TLS handshake verified the certificate against the configured CA. */
  verified: boolean;
}

export interface AuthRequest {
  clientId: string;
  username: string | null;
  /** Never logged, never stored in an event. */
  password: Buffer | null;
  /** The peer's IP address (no port). */
  ip: string;
  remoteAddress: string;
  protocolVersion: number;
  transport: 'tcp' | 'tls' | 'ws' | 'wss';
  certificate: ClientCertificate | null;
  /**
   * Set when an MQTT 5 SCRAM-SHA-256 exchange already proved that the client
   * knows the password of `username` in the users file, whose StoredKey it
   * proved against: only the users file allows on that ground, and only while
   * the user's key is still that one. Never set from anything the client sends.
   */
  proven?: { storedKey: Buffer };
}

export type AuthResult = 'allow' | 'deny' | 'ignore';

export interface AuthDecision {
  result: AuthResult;
  /**
   * Why a deny: bad user name or password (the default for a failed login), not
   * authorized, or a back end unavailable. Each protocol maps it to its codes.
   */
  refusal?: ConnectRefusal;
  /** Why, for logs and the audit event. Never the password. */
  reason?: string;
  /** Groups the client belongs to (e.g. LDAP), for ACL rules. */
  groups?: string[];
  /** Superusers pass every ACL check and may read $SYS. */
  superuser?: boolean;
  /** A user name to use from now on (e.g. the certificate's CN). */
  username?: string;
}

export interface Authenticator {
  /** Shown in logs and audit events (e.g. "ldap", "mysql"). */
  readonly name: string;
  authenticate(request: AuthRequest): Promise<AuthDecision>;
  close?(): Promise<void>;
  /**
   * True when it answers from memory, without I/O or waiting: it cannot exceed the
   * chain's timeout, so the chain does not arm a timer for it.
   */
  readonly immediate?: boolean;
}

/** Who a connected client is, as far as access control is concerned. */
export interface ClientIdentity {
  clientId: string;
  username: string | null;
  ip: string;
  groups: string[];
  superuser: boolean;
}

export type AclAction = 'publish' | 'subscribe' | 'all';

export interface AclRule {
  permission: 'allow' | 'deny';
  action: AclAction;
  /**
   * A topic filter; "%c" and "%u" stand for the client id and user name
   * (a rule with %u does not apply to clients without a user name).
   */
  topic: string;
  /** The rule applies only to this client id, user name, LDAP group or address (IP or CIDR). */
  clientId?: string;
  username?: string;
  group?: string;
  ip?: string;
}

/** Rules from a back end (file, database, HTTP): looked up when a client connects and on reload. */
export interface AclSource {
  readonly name: string;
  rulesFor(client: ClientIdentity): Promise<AclRule[]>;
  close?(): Promise<void>;
}

/** A back end that could not be reached or answered in time. */
export class ConnectorUnavailable extends Error {
  constructor(connector: string, detail: string) {
    super(`${connector} unavailable: ${detail}`);
    this.name = 'ConnectorUnavailable';
  }
}
