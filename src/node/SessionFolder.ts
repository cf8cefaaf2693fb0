/**
 * Runs the session projection over the session stream: folds each record as
 * the tail hands it over, tracks per partition how far it has folded, and lets
 * callers wait until a given record has been folded.
 */
import { decodeEvents } from '../events/codec';
import { BrokerEvent, ClientConnected, ClientDisconnected, isSessionEvent, SessionEvent, WillMessage } from '../events/types';
import { LogRecord } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { emptySessions, foldSession, OutboundEntry, SessionRecord, SessionsState, StoredSubscription } from '../../projections/SessionProjection';

const NO_ENTRIES: OutboundEntry[] = [];

export class SessionFolder {
  readonly state: SessionsState = emptySessions();
  /** Next offset to fold, per session-stream partition. */
  readonly nextOffset: number[];
  /** Events folded by this instance (after any snapshot it was restored from). */
  folds = 0;
  /** Events folded since the last snapshot, per partition. */
  readonly sinceSnapshot: number[];
  private waiters: Array<{ partition: number; offset: number; resolve: () => void }> = [];
  /** Node ids seen in connect events, to share one string among the sessions of each node. */
  private readonly nodeIds = new Map<string, string>();
  /** Called after a connect is folded (it makes that connection the session's current one). */
  onConnected: ((event: ClientConnected) => void) | null = null;
  /**
   * Called after a disconnect that took effect (it was for the current connection),
   * with the will the session held until then.
   */
  onDisconnected: ((event: ClientDisconnected, will: WillMessage | null) => void) | null = null;

  constructor(
    private readonly stream: string,
    partitions: number,
  ) {
    this.nextOffset = new Array<number>(partitions).fill(0);
    this.sinceSnapshot = new Array<number>(partitions).fill(0);
  }

  restore(partition: number, nextOffset: number, sessions: SessionRecord[]): void {
    for (const s of sessions) this.state.set(s.clientId, s);
    this.nextOffset[partition] = nextOffset;
    this.onRestored?.();
  }

  /**
   * Called after a disconnect that took effect, with the session's QoS 1 messages of
   * shared subscriptions it had in flight (the fold takes them out of the session)
   * and its subscriptions: another member gets them (SharedHandOff).
   */
  onSharedReleased: ((event: ClientDisconnected, released: OutboundEntry[], subscriptions: Iterable<[string, StoredSubscription]>) => void) | null = null;
  /** Told after a fold that may change who holds which subscription while connected (shared-subscription groups). */
  onMembership: ((clientId: string) => void) | null = null;
  /** Told after snapshots were restored (everything may have changed). */
  onRestored: (() => void) | null = null;

  private fold(event: SessionEvent): void {
    this.shareStrings(event);
    const before = event.type === 'client.disconnected' ? this.state.get(event.clientId) : undefined;
    const effective = before !== undefined && before.connected && before.connectionId === (event as ClientDisconnected).connectionId;
    const will = before?.will ?? null;
    let released: OutboundEntry[] | null = null;
    if (effective && this.onSharedReleased !== null) {
      for (const e of before.outbound.values()) if (e.shared !== undefined && e.qos === 1) (released ??= []).push(e);
    }
    foldSession(this.state, event);
    if (event.type === 'client.connected' || event.type === 'client.disconnected' || event.type === 'client.subscribed' || event.type === 'client.unsubscribed' || event.type === 'session.expired') {
      this.onMembership?.(event.clientId);
    }
    if (event.type === 'client.connected') this.onConnected?.(event);
    else if (event.type === 'client.disconnected' && effective) {
      this.onDisconnected?.(event, will);
      this.onSharedReleased?.(event, released ?? NO_ENTRIES, before.subscriptions);
    }
  }

  apply(partition: number, records: LogRecord[]): void {
    for (const r of records) {
      if (r.offset < this.nextOffset[partition]) continue;
      let count = 1;
      if (r.local !== undefined) {
        // Appended by this process (see recordsFor): the event or the batch's events themselves.
        const local = r.local as SessionEvent | BrokerEvent[];
        if (Array.isArray(local)) {
          for (const event of local) if (isSessionEvent(event)) this.fold(event);
          count = local.length;
        } else {
          this.fold(local);
        }
      } else if (r.value) {
        let events;
        try {
          events = decodeEvents(r.value);
        } catch (err) {
          throw UndecodableRecord.at(this.stream, partition, r.offset, err);
        }
        for (const event of events) if (isSessionEvent(event)) this.fold(event);
        count = events.length;
      }
      this.nextOffset[partition] = r.offset + 1;
      this.sinceSnapshot[partition] += count;
      this.folds += count;
    }
    if (this.waiters.length) {
      this.waiters = this.waiters.filter((w) => {
        if (this.nextOffset[w.partition] <= w.offset) return true;
        w.resolve();
        return false;
      });
    }
  }

  /**
   * Each decoded event brings its own copies of strings the state already holds;
   * the folds keep some of them (a node id per session, the client id in the
   * subscription trie). Equal strings are swapped for the ones already held, so
   * a session keeps one copy of each.
   */
  private shareStrings(event: SessionEvent): void {
    if (event.type === 'client.connected') {
      const nodeId = this.nodeIds.get(event.nodeId);
      if (nodeId !== undefined) event.nodeId = nodeId;
      else if (this.nodeIds.size < 1024) this.nodeIds.set(event.nodeId, event.nodeId);
      return;
    }
    const rec = this.state.get(event.clientId);
    if (rec !== undefined) event.clientId = rec.clientId;
  }

  /** Resolves once the record at `offset` of `partition` has been folded. */
  folded(partition: number, offset: number): Promise<void> {
    if (this.nextOffset[partition] > offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ partition, offset, resolve }));
  }
}
