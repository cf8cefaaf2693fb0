/**
 * The tails that keep this node's projections folded: the session stream
 * (SessionFolder: sessions and the subscription index) and the compacted
 * streams folded from their start (retained messages, node heartbeats). At
 * start each is caught up to the log's end before the node serves; afterwards
 * a tail that fails (an undecodable record, named) fails the node.
 */
import { EventLog, TailHandle } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { RetainedRecord } from '../../projections/RetainedProjection';
import type { SessionFolder } from './SessionFolder';

export class ProjectionTails {
  private readonly tails: TailHandle[] = [];
  private serving = false;

  constructor(
    private readonly log: EventLog,
    /** Called when a tail stops after the node began serving. */
    private readonly failed: (what: string, err: Error) => void,
  ) {}

  /** From here on a failing tail fails the node (before, it fails the start). */
  startServing(): void {
    this.serving = true;
  }

  /** Adds a tail the node started itself (the message tails), to close with the rest. */
  add(tail: TailHandle): void {
    this.tails.push(tail);
  }

  /** Tails every session partition from the folder's position; resolves once each has folded to the log's end. */
  async sessions(stream: string, partitions: number, folder: SessionFolder): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (let p = 0; p < partitions; p++) {
      const end = await this.log.endOffset(stream, p);
      let fail: (err: Error) => void = () => undefined;
      const failure = new Promise<void>((_, reject) => (fail = reject));
      this.tails.push(
        this.log.tail(stream, p, folder.nextOffset[p], (records) => folder.apply(p, records), {
          onError: (err) => {
            fail(err);
            if (this.serving) this.failed('session tail', err);
          },
        }),
      );
      if (end > 0) waits.push(Promise.race([folder.folded(p, end - 1), failure]));
    }
    await Promise.all(waits);
  }

  /** Folds a compacted stream from its start, then keeps folding its tail; resolves once caught up. */
  async compacted(stream: string, fold: (record: RetainedRecord) => void): Promise<void> {
    const end = await this.log.endOffset(stream, 0);
    let next = await this.log.startOffset(stream, 0);
    let fail: (err: Error) => void = () => undefined;
    const failure = new Promise<void>((_, reject) => (fail = reject));
    let caughtUp: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (caughtUp = resolve));
    this.tails.push(
      this.log.tail(
        stream,
        0,
        next,
        (records) => {
          for (const r of records) {
            try {
              fold(r);
            } catch (err) {
              throw UndecodableRecord.at(stream, 0, r.offset, err);
            }
            next = r.offset + 1;
          }
          if (next >= end) caughtUp();
        },
        {
          onError: (err) => {
            fail(err);
            if (this.serving) this.failed(`${stream} tail`, err);
          },
        },
      ),
    );
    if (next >= end) return;
    await Promise.race([done, failure]);
  }

  close(): void {
    for (const t of this.tails) t.close();
    this.tails.length = 0;
  }
}
