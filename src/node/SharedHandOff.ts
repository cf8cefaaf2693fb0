/**
 * A shared-subscription message whose named member is gone goes to another
 * member of the group, so an acknowledged message is not lost because the
 * member it went to vanished (MQTT 5 section 4.8.2). "Gone" means the named
 * connection is closed, taken over, or no longer holds the subscription.
 *
 * Exactly one node acts for each named connection: the node that held it, or
 * the node that recorded its end when its own node failed (it adopts it). The
 * hand-off is a copy of the message in the log aimed at another member, chosen
 * like any other (`target` and `shared` name it; origin replay, so the archive
 * keeps only the original), so every node agrees on it as on the original.
 * Three paths, each covering its own messages, none twice:
 *
 * - live: a record names a connection of this node (or an adopted one) that is
 *   gone when the record is read (LiveFanOut);
 * - a connection ends: what the log holds for it between its served floor and
 *   the node's position at that moment (queued, or not read yet while it
 *   lagged), and, once its disconnect is folded, the QoS 1 messages it had in
 *   flight without acknowledging them (QoS 2 ones stay with it, as the spec
 *   asks) — the fold takes those out of a persistent session on every node;
 * - a failed node's connection: the node that recorded the failure adopts it,
 *   and hands on its in-flight QoS 1 and what the log holds for it from its
 *   served position (QoS 1 and 2: QoS 0 ones may have been delivered).
 */
import { decodePublishedForDelivery, PublishedForDelivery } from '../events/codec';
import { ClientDisconnected, DisconnectReason, MessagePublished, MessageRef, MessageSource, Positions, republishedEvent, SharedAssignment } from '../events/types';
import { MessageStreamReader } from '../history/MessageScan';
import { EventLog } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { parseShared, SharedRoute } from '../router/SharedSubscriptions';
import { TopicTrie } from '../router/TopicTrie';
import { SharedDuty } from '../delivery/LiveFanOut';
import { OutboundEntry, StoredSubscription } from '../../projections/SessionProjection';
import { Appender } from './Appender';
import type { SessionFolder } from './SessionFolder';
import { SharedGroups } from './SharedGroups';

export interface SharedHandOffDeps {
  /** Its effective disconnects release in-flight shared messages (`watchFolds`). */
  sessions: SessionFolder;
  log: EventLog;
  messages: string;
  groups: SharedGroups;
  appender: Appender;
  nodeId: () => string;
  /** This node's connection ids (which ones are of this run). */
  connectionIds: { isOurs(connectionId: string): boolean };
  /** The node's live delivery position in the message stream. */
  position: () => Positions;
  /** Messages handed on, and those no member was left for. */
  counted: (handedOn: number, noMember: number) => void;
  failed: (what: string, err: unknown) => void;
}

/** Copies appended together at most (a long range is appended in steps of this). */
const BATCH = 500;
/** Records one range step reads before appending what it found. */
const PAGE = 2000;
/** Adopted connections remembered (records naming them may still arrive from slow publishers). */
const MAX_ADOPTED = 100_000;

export class SharedHandOff implements SharedDuty {
  private readonly adopted = new Set<string>();
  private pending: MessagePublished[] = [];
  private flushing = false;

  constructor(private readonly d: SharedHandOffDeps) {}

  /** Disconnects folded from here on release in-flight shared messages (not those replayed at start: handled then). */
  watchFolds(): void {
    this.d.sessions.onSharedReleased = (event, released, subscriptions) => this.disconnectFolded(event, released, subscriptions);
  }

  matches(topic: string): boolean {
    return this.d.groups.matches(topic);
  }

  owns(a: SharedAssignment): boolean {
    return this.d.connectionIds.isOurs(a.connectionId) || this.adopted.has(a.connectionId);
  }

  /** The live path: `a`'s connection is gone when its record was read. */
  handOff(a: SharedAssignment, topic: string, event: PublishedForDelivery | MessagePublished, ref: MessageRef): void {
    if (ref.source !== MessageSource.Messages) return;
    this.queue(a.shareFilter, a.connectionId, topic, event);
  }

  /**
   * A connection of this node ended: the messages named for it between its
   * served floor and `to` (the node's position when it ended) that it never
   * got. Its QoS 1 in flight follow once its disconnect is folded (`disconnectFolded`).
   */
  connectionEnded(clientId: string, connectionId: string, shared: ReadonlyMap<string, SharedRoute | StoredSubscription>, from: Positions, to: Positions): void {
    if (shared.size === 0) return;
    this.scan(connectionId, shared, from, to, 0).catch((err) => this.d.failed('handing on the shared messages of an ended connection', err));
  }

  /**
   * A disconnect took effect in the fold. The node that recorded it hands on
   * the QoS 1 messages of shared subscriptions the session had in flight (the
   * fold took them out of the session); for a failed node's connection it
   * adopts the connection and hands on what the log holds for it.
   */
  disconnectFolded(event: ClientDisconnected, released: OutboundEntry[], subscriptions: Iterable<[string, StoredSubscription]>): void {
    if (event.nodeId !== this.d.nodeId()) return;
    for (const e of released) this.handOffRef(e, event.connectionId);
    if (event.reason !== DisconnectReason.NodeFailure) return;
    const shared = new Map<string, StoredSubscription>();
    for (const [f, s] of subscriptions) if (parseShared(f)) shared.set(f, s);
    if (shared.size === 0) return;
    if (this.adopted.size >= MAX_ADOPTED) this.adopted.clear();
    this.adopted.add(event.connectionId);
    // From its served position: what it had in flight is in `released`; QoS 0 ones may have reached it.
    this.scan(event.connectionId, shared, event.servedUpTo, this.d.position(), 1).catch((err) => this.d.failed("handing on a failed node's shared messages", err));
  }

  private handOffRef(entry: OutboundEntry, connectionId: string): void {
    if (entry.shared === undefined || entry.ref.source !== MessageSource.Messages) return;
    const shareFilter = entry.shared;
    this.d.log
      .read(this.d.messages, entry.ref.partition, entry.ref.offset, { maxRecords: 1 })
      .then(([record]) => {
        if (!record || record.offset !== entry.ref.offset || !record.key || !record.value) return; // retention deleted it meanwhile
        let event;
        try {
          event = decodePublishedForDelivery(record.value);
        } catch (err) {
          throw UndecodableRecord.at(this.d.messages, entry.ref.partition, entry.ref.offset, err);
        }
        this.queue(shareFilter, connectionId, record.key.toString('utf8'), event);
      })
      .catch((err) => this.d.failed('handing on an unacknowledged shared message', err));
  }

  /** Reads [from, to) for messages named for `connectionId` under `shared` (at QoS `minQos` or more) and hands each on. */
  private async scan(connectionId: string, shared: ReadonlyMap<string, { qos: number }>, from: Positions, to: Positions, minQos: number): Promise<void> {
    const trie = new TopicTrie<string>();
    for (const f of shared.keys()) trie.add(parseShared(f)!.filter, f, f);
    const start = [...from];
    for (let p = 0; p < to.length; p++) {
      start[p] = Math.max(start[p] ?? 0, await this.d.log.startOffset(this.d.messages, p));
      if (start[p] > to[p]) start[p] = to[p];
    }
    const reader = new MessageStreamReader(this.d.log, this.d.messages, { start, end: [...to] }, PAGE);
    let next;
    while ((next = await reader.next()) !== null) {
      const { record: r, partition } = next;
      if (!r.key || !r.value) continue;
      const topic = r.key.toString('utf8');
      let hit = false;
      trie.match(topic, () => {
        hit = true;
      });
      if (!hit) continue;
      let event;
      try {
        event = decodePublishedForDelivery(r.value);
      } catch (err) {
        throw UndecodableRecord.at(this.d.messages, partition, r.offset, err);
      }
      for (const a of event.shared ?? []) {
        const sub = shared.get(a.shareFilter);
        if (a.connectionId !== connectionId || a.parked || !sub || Math.min(sub.qos, event.qos) < minQos) continue;
        this.queue(a.shareFilter, connectionId, topic, event);
      }
      if (this.pending.length >= BATCH) await this.flush();
    }
  }

  /** A copy of the message for the next member of the group but `notConnection`. */
  private queue(shareFilter: string, notConnection: string, topic: string, event: PublishedForDelivery | MessagePublished): void {
    const m = this.d.groups.other(shareFilter, notConnection);
    if (!m) {
      // Nobody left in the group: as with no subscriber at all.
      this.d.counted(0, 1);
      return;
    }
    const copy = republishedEvent({
      topic,
      payload: event.payload,
      qos: event.qos,
      publisherId: event.publisherId,
      nodeId: this.d.nodeId(),
      timestamp: Date.now(),
      target: m.clientId,
      shared: [{ shareFilter, clientId: m.clientId, connectionId: m.connectionId, nodeId: m.nodeId }],
    });
    if (event.properties) copy.properties = event.properties;
    this.pending.push(copy);
    this.d.counted(1, 0);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushing = false;
    if (batch.length === 0) return;
    try {
      await this.d.appender.append(batch);
    } catch (err) {
      // Not durable: these messages would be lost; the node stops acknowledging rather than serve wrongly.
      this.d.failed('appending handed-on shared messages', err);
    }
  }
}
