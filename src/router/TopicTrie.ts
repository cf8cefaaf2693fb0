/**
 * The subscription index: a trie over topic levels with "+" and "#" branches.
 * Each filter node holds the subscribers of that exact filter. Matching a topic
 * visits only branches that can match, so the cost grows with topic depth and
 * the number of matching filters, not with the number of subscriptions.
 */

/**
 * Most filters have one subscriber (a device's own topic), so a node holds its
 * first subscriber inline and makes a Map only for a second one: an empty Map
 * costs a hash table, a good share of what an idle subscription would cost.
 * Either `entries` holds every subscriber of the node, or `soleKey` holds the only one.
 */
class TrieNode<V> {
  children: Map<string, TrieNode<V>> | null = null;
  /** Subscribers of the filter that ends at this node, by subscriber key, once there are two or more. */
  entries: Map<string, V> | null = null;
  soleKey: string | null = null;
  soleValue: V | undefined = undefined;

  child(level: string): TrieNode<V> | undefined {
    return this.children?.get(level);
  }

  get entryCount(): number {
    return this.entries !== null ? this.entries.size : this.soleKey !== null ? 1 : 0;
  }

  isEmpty(): boolean {
    return (this.children === null || this.children.size === 0) && this.entryCount === 0;
  }

  getEntry(subscriber: string): V | undefined {
    if (this.entries !== null) return this.entries.get(subscriber);
    return this.soleKey === subscriber ? this.soleValue : undefined;
  }

  /** Adds or replaces; true if the subscriber is new here. */
  setEntry(subscriber: string, value: V): boolean {
    if (this.entries !== null) {
      const isNew = !this.entries.has(subscriber);
      this.entries.set(subscriber, value);
      return isNew;
    }
    if (this.soleKey === null || this.soleKey === subscriber) {
      const isNew = this.soleKey === null;
      this.soleKey = subscriber;
      this.soleValue = value;
      return isNew;
    }
    this.entries = new Map([[this.soleKey, this.soleValue as V]]);
    this.entries.set(subscriber, value);
    this.soleKey = null;
    this.soleValue = undefined;
    return true;
  }

  deleteEntry(subscriber: string): boolean {
    if (this.entries !== null) {
      if (!this.entries.delete(subscriber)) return false;
      if (this.entries.size === 0) this.entries = null;
      return true;
    }
    if (this.soleKey !== subscriber) return false;
    this.soleKey = null;
    this.soleValue = undefined;
    return true;
  }
}

/** One step of the iterative match: a trie node reached at a topic depth, with the filter spelled so far. */
interface Frame<V> {
  node: TrieNode<V>;
  depth: number;
  prefix: string;
}

export type MatchVisitor<V> = (subscriber: string, value: V, filter: string) => void;

export class TopicTrie<V> {
  private readonly root = new TrieNode<V>();
  private count = 0;

  /** Number of (filter, subscriber) pairs. */
  get size(): number {
    return this.count;
  }

  /** Adds or replaces the subscription of `subscriber` to `filter`. Returns true if it is new. */
  add(filter: string, subscriber: string, value: V): boolean {
    let node = this.root;
    for (const level of filter.split('/')) {
      if (!node.children) node.children = new Map();
      let next = node.children.get(level);
      if (!next) node.children.set(level, (next = new TrieNode<V>()));
      node = next;
    }
    const isNew = node.setEntry(subscriber, value);
    if (isNew) this.count++;
    return isNew;
  }

  /** Removes one subscription. Returns true if it existed. Empty branches are pruned. */
  remove(filter: string, subscriber: string): boolean {
    const path: Array<[TrieNode<V>, string]> = [];
    let node: TrieNode<V> | undefined = this.root;
    for (const level of filter.split('/')) {
      const next: TrieNode<V> | undefined = node.child(level);
      if (!next) return false;
      path.push([node, level]);
      node = next;
    }
    if (!node.deleteEntry(subscriber)) return false;
    this.count--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i];
      const child = parent.child(level)!;
      if (!child.isEmpty()) break;
      parent.children!.delete(level);
    }
    return true;
  }

  get(filter: string, subscriber: string): V | undefined {
    let node: TrieNode<V> | undefined = this.root;
    for (const level of filter.split('/')) {
      node = node.child(level);
      if (!node) return undefined;
    }
    return node.getEntry(subscriber);
  }

  /**
   * Calls `visit` once per (matching filter, subscriber) [MQTT-4.7.1, MQTT-4.7.2-1].
   * Iterative, with an explicit stack: a topic's depth is the client's to choose,
   * and a recursion as deep as the topic once overflowed the call stack on the
   * message tail (one topic of 6,000 levels stopped all delivery).
   */
  match(topic: string, visit: MatchVisitor<V>): void {
    const levels = topic.split('/');
    // Filters starting with a wildcard must not match "$" topics [MQTT-4.7.2-1].
    const dollar = topic.charCodeAt(0) === 0x24;
    const stack: Array<Frame<V>> = [{ node: this.root, depth: 0, prefix: '' }];
    let frame: Frame<V> | undefined;
    while ((frame = stack.pop()) !== undefined) {
      const { node, depth, prefix } = frame;
      const children = node.children;
      if (depth === levels.length) {
        this.emit(node, prefix, visit);
        // "a/#" also matches "a" [MQTT-4.7.1-2]
        const hash = children?.get('#');
        if (hash) this.emit(hash, prefix === '' ? '#' : `${prefix}/#`, visit);
        continue;
      }
      if (!children) continue;
      const sep = depth === 0 ? '' : '/';
      const level = levels[depth];
      // Topic names never contain wildcards (validated on PUBLISH), so "+"/"#" children are only reached below.
      const exact = children.get(level);
      // Pushed before "+", so "+" branches are visited first (the order a depth-first walk gives).
      if (exact && level !== '+' && level !== '#') stack.push({ node: exact, depth: depth + 1, prefix: `${prefix}${sep}${level}` });
      if (!(dollar && depth === 0)) {
        const plus = children.get('+');
        if (plus) stack.push({ node: plus, depth: depth + 1, prefix: `${prefix}${sep}+` });
        const hash = children.get('#');
        if (hash) this.emit(hash, `${prefix}${sep}#`, visit);
      }
    }
  }

  private emit(node: TrieNode<V>, filter: string, visit: MatchVisitor<V>): void {
    if (node.entries !== null) for (const [subscriber, value] of node.entries) visit(subscriber, value, filter);
    else if (node.soleKey !== null) visit(node.soleKey, node.soleValue as V, filter);
  }

  *entries(): IterableIterator<{ filter: string; subscriber: string; value: V }> {
    const stack: Array<[TrieNode<V>, string]> = [[this.root, '']];
    while (stack.length) {
      const [node, filter] = stack.pop()!;
      if (node.entries !== null) for (const [subscriber, value] of node.entries) yield { filter, subscriber, value };
      else if (node.soleKey !== null) yield { filter, subscriber: node.soleKey, value: node.soleValue as V };
      if (node.children) {
        for (const [level, child] of node.children) stack.push([child, filter === '' && node === this.root ? level : `${filter}/${level}`]);
      }
    }
  }
}
