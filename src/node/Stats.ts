import { DROP_REASONS, DropReason, QoS } from '../events/types';

/** Counters an operator reads ($SYS, metrics). Plain numbers: cheap to bump on the hot path. */
export class Stats {
  readonly startedAt = Date.now();
  clientsConnected = 0;
  clientsMaximum = 0;
  connectionsTotal = 0;
  messagesReceived = 0;
  messagesSent = 0;
  publishDropped = 0;
  /** Dropped messages by reason (DROP_REASONS). */
  readonly dropsByReason: Record<DropReason, number> = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  /** PUBLISH packets received from clients and sent to them, by QoS (index). */
  readonly publishIn: [number, number, number] = [0, 0, 0];
  readonly publishOut: [number, number, number] = [0, 0, 0];
  /** PUBLISH packets the access rules refused. */
  publishDenied = 0;
  bytesReceived = 0;
  bytesSent = 0;
  protocolErrors = 0;
  /** CONNECTs refused because their client id names a session of another user. */
  sessionTakeoversRefused = 0;
  /** Pages of the message stream read for sessions (backlogs, catching up), and the deliveries they brought. */
  logPagesRead = 0;
  deliveriesFromLog = 0;
  /** Messages deleted by log retention before a session read them. */
  messagesExpiredUnread = 0;
  /** Persistent sessions discarded after mqtt.sessionExpiryMs offline. */
  sessionsExpired = 0;
  /** Message-stream records this node read from its tail (all of them: every node reads every partition). */
  messagesScanned = 0;
  /** Of those, records some local subscription matched by key, so they were decoded and delivered. */
  messagesRouted = 0;
  /** Shared-subscription messages handed on to another member because the one named for them was gone. */
  sharedHandedOn = 0;

  /** CONNECT decisions by authenticator (`source|allowed`); bounded: sources are configured names. */
  readonly authResults = new Map<string, number>();

  authDecided(source: string, allowed: boolean): void {
    const key = `${this.authResults.size < 64 || this.authResults.has(`${source}|${allowed}`) ? source : 'other'}|${allowed}`;
    this.authResults.set(key, (this.authResults.get(key) ?? 0) + 1);
  }

  dropped(reason: DropReason, count: number): void {
    this.publishDropped += count;
    this.dropsByReason[reason] += count;
  }

  /** Shared-subscription hand-offs: copies appended, and messages no member was left for. */
  sharedHandOff(handedOn: number, noMember: number): void {
    this.sharedHandedOn += handedOn;
    if (noMember > 0) this.dropped('no_shared_member', noMember);
  }

  received(qos: QoS): void {
    this.messagesReceived++;
    this.publishIn[qos]++;
  }

  clientConnected(): void {
    this.clientsConnected++;
    this.connectionsTotal++;
    if (this.clientsConnected > this.clientsMaximum) this.clientsMaximum = this.clientsConnected;
  }
}
