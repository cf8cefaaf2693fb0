/**
 * Connection ids: `<node id>/<epoch>/<counter>`, unique across the nodes of a
 * cluster and across runs of one node (the epoch is when this run started), so
 * folds tell two connections of one client apart and a record that names a
 * connection (a shared-subscription member) says which node and run held it.
 */
export class ConnectionIds {
  private prefix: string | null = null;
  private counter = 0;
  private readonly epoch = Date.now().toString(36);

  /** `nodeId` is asked on first use: a node knows its id once it has started. */
  constructor(private readonly nodeId: () => string) {}

  private get ours(): string {
    return (this.prefix ??= `${this.nodeId()}/${this.epoch}/`);
  }

  next(): string {
    // join() makes a flat string; a template literal would make a rope (a cons string) that the
    // first write to the log flattens into a second copy, both kept until a full collection.
    return [this.ours, ++this.counter].join('');
  }

  /** Whether `connectionId` is one of this node's in this run. */
  isOurs(connectionId: string): boolean {
    return connectionId.startsWith(this.ours);
  }
}
