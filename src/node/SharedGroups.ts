/**
 * The members of each shared-subscription group, cluster-wide, from the session
 * projection every node folds: the connected sessions holding the `$share/...`
 * subscription, in client-id order (an offline persistent member takes
 * nothing: it would only absorb the group's messages). Kept up to date per
 * client as its session events are folded (a connect, disconnect, subscribe,
 * unsubscribe or expiry changes only that client's entries), so a client that
 * churns costs its own subscriptions, not a scan of every session.
 */
import { SessionsState } from '../../projections/SessionProjection';
import type { SessionFolder } from './SessionFolder';

export class SharedGroups {
  private readonly members = new Map<string, string[]>();
  /** The shared filters each client is listed under. */
  private readonly listed = new Map<string, string[]>();

  constructor(private readonly state: SessionsState) {}

  /** Groups kept up to date by `folder`'s folds (and rebuilt after its snapshots are restored). */
  static following(folder: SessionFolder): SharedGroups {
    const groups = new SharedGroups(folder.state);
    folder.onMembership = (clientId) => groups.refresh(clientId);
    folder.onRestored = () => groups.rebuild();
    return groups;
  }

  membersOf(shareFilter: string): readonly string[] {
    return this.members.get(shareFilter) ?? NONE;
  }

  /** The session of `clientId` changed: its entries follow what the projection now says. */
  refresh(clientId: string): void {
    for (const f of this.listed.get(clientId) ?? NONE) {
      const list = this.members.get(f);
      if (!list) continue;
      const i = list.indexOf(clientId);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.members.delete(f);
    }
    this.listed.delete(clientId);
    const rec = this.state.get(clientId);
    if (!rec || !rec.connected) return;
    const mine: string[] = [];
    for (const f of rec.subscriptions.keys()) {
      if (!f.startsWith('$share/')) continue;
      mine.push(f);
      let list = this.members.get(f);
      if (!list) this.members.set(f, (list = []));
      // Sorted insert: every node lists the members in the same order.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid] < clientId) lo = mid + 1;
        else hi = mid;
      }
      list.splice(lo, 0, clientId);
    }
    if (mine.length) this.listed.set(clientId, mine);
  }

  /** Everything again (after snapshots are restored). */
  rebuild(): void {
    this.members.clear();
    this.listed.clear();
    for (const id of this.state.keys()) this.refresh(id);
  }
}

const NONE: string[] = [];
