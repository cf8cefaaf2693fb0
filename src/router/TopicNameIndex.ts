/**
 * A set of topic names (the retained store's), found by topic filter: a trie
 * over topic levels, so matching a filter visits the branches it can match
 * instead of every stored topic. Walks are iterative (a filter's depth is the
 * client's to choose) and bounded by a visit budget, so one SUBSCRIBE cannot
 * make the broker walk an unbounded store.
 */
class NameNode {
  children: Map<string, NameNode> | null = null;
  /** A stored topic ends here. */
  present = false;
}

export interface NameMatch {
  /** Matching topic names, in no particular order. */
  topics: string[];
  /** The walk stopped at its budget or limit: there may be more. */
  truncated: boolean;
}

export class TopicNameIndex {
  private readonly root = new NameNode();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(topic: string): void {
    let node = this.root;
    for (const level of topic.split('/')) {
      if (node.children === null) node.children = new Map();
      let next = node.children.get(level);
      if (next === undefined) node.children.set(level, (next = new NameNode()));
      node = next;
    }
    if (!node.present) this.count++;
    node.present = true;
  }

  delete(topic: string): void {
    const path: Array<[NameNode, string]> = [];
    let node: NameNode | undefined = this.root;
    for (const level of topic.split('/')) {
      const next: NameNode | undefined = node.children?.get(level);
      if (next === undefined) return;
      path.push([node, level]);
      node = next;
    }
    if (!node.present) return;
    node.present = false;
    this.count--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i];
      const child = parent.children!.get(level)!;
      if (child.present || (child.children !== null && child.children.size > 0)) break;
      parent.children!.delete(level);
    }
  }

  /**
   * Stored topic names matching `filter` [MQTT-4.7.1]: "+" one level, "#" this level
   * and below (also the parent: "a/#" matches "a"), and a filter starting with a
   * wildcard matches no topic starting with "$" [MQTT-4.7.2-1]. Stops after `limit`
   * names or `budget` trie nodes visited.
   */
  match(filter: string, limit: number, budget: number): NameMatch {
    const levels = filter.split('/');
    const topics: string[] = [];
    let visits = 0;
    const stack: Array<{ node: NameNode; depth: number; path: string }> = [{ node: this.root, depth: 0, path: '' }];
    const found = (path: string): boolean => {
      topics.push(path);
      return topics.length >= limit;
    };
    while (stack.length > 0) {
      if (++visits > budget) return { topics, truncated: true };
      const { node, depth, path } = stack.pop()!;
      if (depth === levels.length) {
        if (node.present && found(path)) return { topics, truncated: stack.length > 0 };
        continue;
      }
      const level = levels[depth];
      if (level === '#') {
        // "a/#" matches "a" itself too; at the root there is no topic "".
        if (depth > 0 && node.present && found(path)) return { topics, truncated: true };
        if (this.descend(node, depth, path, (p) => found(p), () => ++visits > budget)) return { topics, truncated: true };
        continue;
      }
      const children = node.children;
      if (children === null) continue;
      if (level === '+') {
        for (const [name, child] of children) {
          if (depth === 0 && name.charCodeAt(0) === 0x24) continue;
          stack.push({ node: child, depth: depth + 1, path: depth === 0 ? name : `${path}/${name}` });
        }
        continue;
      }
      const child = children.get(level);
      if (child !== undefined) stack.push({ node: child, depth: depth + 1, path: depth === 0 ? level : `${path}/${level}` });
    }
    return { topics, truncated: false };
  }

  /** Visits every stored topic below `node`; true when `found` or `exhausted` asked to stop. */
  private descend(start: NameNode, depth: number, path: string, found: (path: string) => boolean, exhausted: () => boolean): boolean {
    const stack: Array<{ node: NameNode; depth: number; path: string }> = [{ node: start, depth, path }];
    while (stack.length > 0) {
      const { node, depth: d, path: p } = stack.pop()!;
      if (node.children === null) continue;
      for (const [name, child] of node.children) {
        if (d === 0 && name.charCodeAt(0) === 0x24) continue;
        if (exhausted()) return true;
        const childPath = d === 0 ? name : `${p}/${name}`;
        if (child.present && found(childPath)) return true;
        stack.push({ node: child, depth: d + 1, path: childPath });
      }
    }
    return false;
  }
}
