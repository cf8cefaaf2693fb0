/**
 * One tail over one partition: reads the backlog from storage, then takes live
 * appends as the log pushes them. If the handler falls behind (a returned
 * promise still pending while more than `maxBuffered` records arrive), the cursor
 * drops its buffer and goes back to reading storage, so a slow consumer costs
 * disk reads, never unbounded memory.
 */
import { LogRecord, TailHandle, TailHandler } from './EventLog';

export class TailCursor implements TailHandle {
  private next: number;
  private catchingUp = true;
  private busy = false;
  private closed = false;
  private buffered: LogRecord[] = [];

  constructor(
    fromOffset: number,
    private readonly handler: TailHandler,
    private readonly readFrom: (offset: number) => Promise<LogRecord[]>,
    /** The offset after the last record that may be handed out (appended and durable). */
    private readonly endOffset: () => number,
    private readonly onError: ((err: Error) => void) | undefined,
    private readonly onClose: () => void,
    private readonly maxBuffered = 10_000,
  ) {
    this.next = fromOffset;
  }

  get position(): number {
    return this.next;
  }

  start(): void {
    void this.catchUp();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffered = [];
    this.onClose();
  }

  /** Called by the log, synchronously, with records just made durable. */
  push(records: LogRecord[]): void {
    if (this.closed || this.catchingUp) return;
    if (this.busy) {
      for (const r of records) if (r.offset >= this.next) this.buffered.push(r);
      if (this.buffered.length > this.maxBuffered) {
        this.buffered = [];
        this.catchingUp = true; // resumes reading storage once the handler is done
      }
      return;
    }
    let batch = records;
    if (batch.length && batch[0].offset < this.next) batch = batch.filter((r) => r.offset >= this.next);
    if (batch.length) this.deliver(batch);
  }

  private deliver(batch: LogRecord[]): void {
    this.next = batch[batch.length - 1].offset + 1;
    let result: void | Promise<void>;
    try {
      result = this.handler(batch);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      this.busy = true;
      (result as Promise<void>).then(
        () => this.afterHandler(),
        (err) => this.fail(err),
      );
    }
  }

  private afterHandler(): void {
    this.busy = false;
    if (this.closed) return;
    if (this.catchingUp) {
      void this.catchUp();
      return;
    }
    if (this.buffered.length) {
      const batch = this.buffered.filter((r) => r.offset >= this.next);
      this.buffered = [];
      if (batch.length) this.deliver(batch);
    }
  }

  private async catchUp(): Promise<void> {
    try {
      while (!this.closed) {
        if (this.next >= this.endOffset()) {
          this.catchingUp = false;
          return;
        }
        const records = (await this.readFrom(this.next)).filter((r) => r.offset >= this.next && r.offset < this.endOffset());
        if (this.closed) return;
        if (records.length === 0) {
          // Only a gap (compaction, retention) lies between us and the end: jump it.
          if (this.next < this.endOffset()) this.next = this.endOffset();
          continue;
        }
        this.deliver(records);
        if (this.busy) return; // afterHandler resumes the catch-up
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.close();
    if (this.onError) this.onError(error);
    else process.emitWarning(`log tail stopped: ${error.message}`);
  }
}
