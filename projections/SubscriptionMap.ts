/**
 * A session's subscriptions by filter, in the order they were made (a Map's
 * order: a repeated filter keeps its place). Most sessions hold one (a device's
 * own topic), and an empty Map alone costs a hash table of its own, about 150
 * bytes more than the subscription: one subscription is kept inline, a Map is
 * made for a second, and dropped again when one is left.
 */
export class SubscriptionMap<V> implements Iterable<[string, V]> {
  private soleFilter: string | null = null;
  private soleValue: V | undefined = undefined;
  private many: Map<string, V> | null = null;

  constructor(entries?: Iterable<readonly [string, V]>) {
    if (entries) for (const [filter, value] of entries) this.set(filter, value);
  }

  get size(): number {
    return this.many !== null ? this.many.size : this.soleFilter !== null ? 1 : 0;
  }

  get(filter: string): V | undefined {
    if (this.many !== null) return this.many.get(filter);
    return this.soleFilter === filter ? this.soleValue : undefined;
  }

  has(filter: string): boolean {
    return this.many !== null ? this.many.has(filter) : this.soleFilter === filter;
  }

  set(filter: string, value: V): this {
    if (this.many !== null) {
      this.many.set(filter, value);
    } else if (this.soleFilter === null || this.soleFilter === filter) {
      this.soleFilter = filter;
      this.soleValue = value;
    } else {
      this.many = new Map([[this.soleFilter, this.soleValue as V]]);
      this.many.set(filter, value);
      this.soleFilter = null;
      this.soleValue = undefined;
    }
    return this;
  }

  delete(filter: string): boolean {
    if (this.many !== null) {
      if (!this.many.delete(filter)) return false;
      if (this.many.size === 1) {
        const [[only, value]] = this.many;
        this.soleFilter = only;
        this.soleValue = value;
        this.many = null;
      }
      return true;
    }
    if (this.soleFilter !== filter) return false;
    this.soleFilter = null;
    this.soleValue = undefined;
    return true;
  }

  *entries(): IterableIterator<[string, V]> {
    if (this.many !== null) yield* this.many;
    else if (this.soleFilter !== null) yield [this.soleFilter, this.soleValue as V];
  }

  *keys(): IterableIterator<string> {
    for (const [filter] of this.entries()) yield filter;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}
