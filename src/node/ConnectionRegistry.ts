/**
 * The connections of this node: all of them, the current one of each client
 * id, and how many come from each address (limits.maxConnections and
 * limits.maxConnectionsPerIp are checked before a socket is read).
 */
import type { Connection } from './Connection';

/**
 * Connections a full node reads only to answer their CONNECT with CONNACK 0x9C
 * (mqtt.serverReference): at most this many at once, beyond which sockets are
 * closed unread as without a server reference (each holds a socket until its
 * CONNECT or mqtt.connectTimeoutMs).
 */
export const MAX_REDIRECTING = 1000;

export class ConnectionRegistry {
  private readonly all = new Set<Connection>();
  /** Connections being redirected: not counted in the limits, not clients of this node. */
  private readonly redirecting = new Set<Connection>();
  /** The current connection of each client id on this node. */
  private readonly byClientId = new Map<string, Connection>();
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: { maxConnections: number; maxConnectionsPerIp: number }) {}

  get size(): number {
    return this.all.size;
  }

  [Symbol.iterator](): IterableIterator<Connection> {
    return this.all.values();
  }

  /** Why a new connection from `ip` is refused (which limit, and how), or null. */
  refusal(ip: string): { limit: 'limits.maxConnections' | 'limits.maxConnectionsPerIp'; detail: string } | null {
    if (this.all.size >= this.limits.maxConnections) return { limit: 'limits.maxConnections', detail: `${this.all.size} connections open` };
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= this.limits.maxConnectionsPerIp) return { limit: 'limits.maxConnectionsPerIp', detail: `${fromIp} connections open from ${ip}` };
    return null;
  }

  /** Connections being redirected (see MAX_REDIRECTING). */
  get redirected(): IterableIterator<Connection> {
    return this.redirecting.values();
  }

  /**
   * Whether a new connection from `ip` is refused by a limit and, when it is
   * for limits.maxConnections and the node can name another server, whether it
   * is read to be redirected (CONNACK 0x9C), a bounded number at once.
   */
  admission(ip: string, canRedirect: boolean): { refused: ReturnType<ConnectionRegistry['refusal']>; redirected: boolean } {
    const refused = this.refusal(ip);
    return { refused, redirected: refused?.limit === 'limits.maxConnections' && canRedirect && this.mayRedirect() };
  }

  /** The node's timer tick for every connection (keepalive, deadlines), those being redirected too. */
  tick(now: number): void {
    for (const conn of this) conn.run(conn.channel.tick(now));
    for (const conn of [...this.redirected]) conn.run(conn.channel.tick(now));
  }

  /** Whether one more connection may be read to be redirected. */
  mayRedirect(): boolean {
    return this.redirecting.size < MAX_REDIRECTING;
  }

  addRedirected(conn: Connection): void {
    this.redirecting.add(conn);
  }

  add(conn: Connection): void {
    this.all.add(conn);
    const ip = conn.transport.ip;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  /** Forgets a closed connection; true when it was the current one of its client id. */
  remove(conn: Connection): boolean {
    if (this.redirecting.delete(conn)) return false;
    if (this.all.delete(conn)) {
      const ip = conn.transport.ip;
      const fromIp = (this.perIp.get(ip) ?? 1) - 1;
      if (fromIp > 0) this.perIp.set(ip, fromIp);
      else this.perIp.delete(ip);
    }
    const clientId = conn.channel.clientId;
    if (clientId !== '' && this.byClientId.get(clientId) === conn) {
      this.byClientId.delete(clientId);
      return true;
    }
    return false;
  }

  current(clientId: string): Connection | undefined {
    return this.byClientId.get(clientId);
  }

  setCurrent(clientId: string, conn: Connection): void {
    this.byClientId.set(clientId, conn);
  }
}
