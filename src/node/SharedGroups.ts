/**
 * The members of each shared-subscription group, cluster-wide, from the session
 * projection every node folds: the connected sessions holding the `$share/...`
 * subscription, in client-id order (an offline persistent member takes
 * nothing: it would only absorb the group's messages). Recomputed when the
 * folds change who holds what while connected, at most once per such change.
 */
import { SessionFolder } from './SessionFolder';

export class SharedGroups {
  private generation = -1;
  private members = new Map<string, string[]>();

  constructor(private readonly sessions: SessionFolder) {}

  membersOf(shareFilter: string): readonly string[] {
    if (this.generation !== this.sessions.subscriptionGeneration) this.rebuild();
    return this.members.get(shareFilter) ?? [];
  }

  private rebuild(): void {
    this.generation = this.sessions.subscriptionGeneration;
    const members = new Map<string, string[]>();
    for (const rec of this.sessions.state.values()) {
      if (!rec.connected) continue;
      for (const filter of rec.subscriptions.keys()) {
        if (!filter.startsWith('$share/')) continue;
        let list = members.get(filter);
        if (!list) members.set(filter, (list = []));
        list.push(rec.clientId);
      }
    }
    for (const list of members.values()) list.sort();
    this.members = members;
  }
}
