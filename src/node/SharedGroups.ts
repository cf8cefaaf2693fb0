/**
 * The members of each shared-subscription group, cluster-wide, from the session
 * projection every node folds: the connected sessions holding the `$share/...`
 * subscription, in client-id order, each with the connection and node that
 * hold it (an offline persistent member takes nothing: it would only absorb
 * the group's messages). Kept up to date per client as its session events are
 * folded (a connect, disconnect, subscribe, unsubscribe or expiry changes only
 * that client's entries), so a client that churns costs its own subscriptions,
 * not a scan of every session.
 *
 * It also makes the choice: the node that appends a message names, for every
 * group whose filter matches its topic, the member that gets it (round robin
 * over the members this node knows), and the choice travels in the record
 * (`MessagePublished.shared`). Every node reads the same choice, so a message
 * goes to one member of a group however membership changes meanwhile; a member
 * that is gone when its message arrives has it handed on (SharedHandOff).
 *
 * A group with no connected member but offline persistent ones keeps a QoS 1
 * or 2 message for one of them (round robin), parked in that session's offline
 * queue (the log) until it resumes, as Mosquitto and EMQX queue for offline
 * members; a message published while any member is connected never is.
 */
import { endsWithConnection, SessionsState } from '../../projections/SessionProjection';
import { MAX_SHARED_ASSIGNMENTS } from '../events/codec';
import { MessagePublished, SharedAssignment } from '../events/types';
import { parseShared } from '../router/SharedSubscriptions';
import { TopicTrie } from '../router/TopicTrie';
import type { SessionFolder } from './SessionFolder';

/** A connected member of a group. */
export interface GroupMember {
  clientId: string;
  connectionId: string;
  nodeId: string;
}

export class SharedGroups {
  /** Members by full share filter, in client-id order. */
  private readonly members = new Map<string, GroupMember[]>();
  /** Offline persistent sessions holding each share filter (client-id order): they keep what no connected member can take. */
  private readonly offline = new Map<string, GroupMember[]>();
  /** The shared filters each client is listed under. */
  private readonly listed = new Map<string, string[]>();
  /** Groups with members, by their topic filter (the value is the full share filter). */
  private readonly filters = new TopicTrie<string>();
  /** The next member's turn, per group (round robin). */
  private readonly turns = new Map<string, number>();
  constructor(
    private readonly state: SessionsState,
    /** Told when a message matched more groups than one record names (the rest get none of it). */
    private readonly tooManyGroups: (topic: string, groups: number) => void = () => undefined,
  ) {}

  /** Groups kept up to date by `folder`'s folds (and rebuilt after its snapshots are restored). */
  static following(folder: SessionFolder, tooManyGroups?: (topic: string, groups: number) => void): SharedGroups {
    const groups = new SharedGroups(folder.state, tooManyGroups);
    folder.onMembership = (clientId) => groups.refresh(clientId);
    folder.onRestored = () => groups.rebuild();
    return groups;
  }

  /** Groups with a member, connected or offline. */
  get size(): number {
    return this.filterCount;
  }

  private filterCount = 0;

  membersOf(shareFilter: string): readonly GroupMember[] {
    return this.members.get(shareFilter) ?? NO_MEMBERS;
  }

  /** Whether some group's filter matches `topic` (its record may name members). */
  matches(topic: string): boolean {
    if (this.filterCount === 0) return false;
    let found = false;
    this.filters.match(topic, () => {
      found = true;
    });
    return found;
  }

  /**
   * The member of each group whose filter matches `topic` that gets a message
   * published now, or undefined when no group matches. [MQTT-4.8.2-3]: one
   * member per group.
   */
  assign(topic: string, qos: number): SharedAssignment[] | undefined {
    if (this.filterCount === 0) return undefined;
    let out: SharedAssignment[] | undefined;
    let matched = 0;
    this.filters.match(topic, (shareFilter) => {
      matched++;
      if ((out?.length ?? 0) >= MAX_SHARED_ASSIGNMENTS) return;
      const m = this.next(this.members, shareFilter, null);
      if (m) (out ??= []).push({ shareFilter, clientId: m.clientId, connectionId: m.connectionId, nodeId: m.nodeId });
      else if (qos > 0) {
        // Nobody connected: kept for an offline persistent member (QoS 0 is not queued for offline sessions).
        const o = this.next(this.offline, shareFilter, null);
        if (o) (out ??= []).push({ shareFilter, clientId: o.clientId, connectionId: o.connectionId, nodeId: o.nodeId, parked: true });
      }
    });
    if (matched > MAX_SHARED_ASSIGNMENTS) this.tooManyGroups(topic, matched);
    return out;
  }

  /**
   * Names the members of a message about to be appended. A message aimed at one
   * client (a replay target, a hand-off) or already naming its members is left as it is.
   */
  assignTo(event: MessagePublished): void {
    if (this.filterCount === 0 || event.target !== null || event.shared !== undefined) return;
    const shared = this.assign(event.topic, event.qos);
    if (shared) event.shared = shared;
  }

  /** The member that takes a message another connection of the group did not: the next in turn but that one. */
  other(shareFilter: string, notConnection: string): GroupMember | undefined {
    return this.next(this.members, shareFilter, notConnection);
  }

  private next(lists: Map<string, GroupMember[]>, shareFilter: string, notConnection: string | null): GroupMember | undefined {
    const list = lists.get(shareFilter);
    if (!list || list.length === 0) return undefined;
    let turn = this.turns.get(shareFilter) ?? 0;
    for (let tries = 0; tries < list.length; tries++) {
      const m = list[turn % list.length];
      turn = (turn + 1) % list.length;
      if (m.connectionId === notConnection) continue;
      this.turns.set(shareFilter, turn);
      return m;
    }
    return undefined;
  }

  /** The session of `clientId` changed: its entries follow what the projection now says. */
  refresh(clientId: string): void {
    for (const f of this.listed.get(clientId) ?? NONE) {
      remove(this.members, f, clientId);
      remove(this.offline, f, clientId);
      if (!this.members.has(f) && !this.offline.has(f)) this.dropGroup(f);
    }
    this.listed.delete(clientId);
    const rec = this.state.get(clientId);
    // Connected sessions are members; offline ones that outlive their connection keep parked messages.
    if (!rec || (!rec.connected && endsWithConnection(rec))) return;
    const lists = rec.connected ? this.members : this.offline;
    const mine: string[] = [];
    for (const f of rec.subscriptions.keys()) {
      const shared = parseShared(f);
      if (!shared) continue;
      mine.push(f);
      if (!this.members.has(f) && !this.offline.has(f)) {
        this.filters.add(shared.filter, f, f);
        this.filterCount++;
      }
      let list = lists.get(f);
      if (!list) lists.set(f, (list = []));
      // Sorted insert: every node lists the members in the same order.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid].clientId < clientId) lo = mid + 1;
        else hi = mid;
      }
      list.splice(lo, 0, { clientId: rec.clientId, connectionId: rec.connectionId, nodeId: rec.nodeId });
    }
    if (mine.length) this.listed.set(clientId, mine);
  }

  private dropGroup(shareFilter: string): void {
    this.turns.delete(shareFilter);
    const shared = parseShared(shareFilter);
    if (shared && this.filters.remove(shared.filter, shareFilter)) this.filterCount--;
  }

  /** Everything again (after snapshots are restored). */
  rebuild(): void {
    for (const f of new Set([...this.members.keys(), ...this.offline.keys()])) this.dropGroup(f);
    this.members.clear();
    this.offline.clear();
    this.listed.clear();
    for (const id of this.state.keys()) this.refresh(id);
  }
}

/** Takes `clientId` out of the list of `shareFilter` (the list goes when empty). */
function remove(lists: Map<string, GroupMember[]>, shareFilter: string, clientId: string): void {
  const list = lists.get(shareFilter);
  if (!list) return;
  const i = list.findIndex((m) => m.clientId === clientId);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) lists.delete(shareFilter);
}

const NONE: string[] = [];
const NO_MEMBERS: GroupMember[] = [];
