/**
 * A tail over one Kafka partition: long-poll fetches from the leader, records
 * handed over in offset order, the handler's promise awaited before the next
 * fetch (backpressure). Errors (a broker restart, a leader move) are retried
 * with backoff, so the tail resumes by itself when Kafka comes back; only a
 * handler error stops it.
 */
import { Logger } from '../../logger';
import { TailHandle, TailHandler } from '../EventLog';
import { PartitionReader } from './PartitionReader';

export class KafkaTail implements TailHandle {
  private next: number;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly reader: PartitionReader,
    private readonly logStart: () => Promise<number>,
    private readonly topic: string,
    private readonly partition: number,
    fromOffset: number,
    private readonly handler: TailHandler,
    private readonly maxWaitMs: number,
    private readonly log: Logger,
    private readonly onError: ((err: Error) => void) | undefined,
    private readonly onClose: () => void,
  ) {
    this.next = fromOffset;
  }

  get position(): number {
    return this.next;
  }

  start(): void {
    void this.loop();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      let result;
      try {
        result = await this.reader.fetch(this.topic, this.partition, this.next, this.maxWaitMs);
        if (result.highWatermark < 0) {
          // Out of range: retention moved the start past us.
          const start = await this.logStart();
          if (start > this.next) {
            this.log.warn({ topic: this.topic, partition: this.partition, from: this.next, to: start }, 'tail skipped records deleted by retention');
            this.next = start;
          }
          continue;
        }
        if (this.failures > 0) this.log.info({ topic: this.topic, partition: this.partition }, 'Kafka tail resumed');
        this.failures = 0;
      } catch (err) {
        if (this.closed) return;
        this.failures++;
        const delay = Math.min(5000, 100 * 2 ** Math.min(this.failures, 6));
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.log.warn({ topic: this.topic, partition: this.partition, err: (err as Error).message, failures: this.failures }, 'Kafka fetch failed; retrying');
        }
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      if (this.closed || result.records.length === 0) continue;
      this.next = result.records[result.records.length - 1].offset + 1;
      try {
        await this.handler(result.records);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.close();
        if (this.onError) this.onError(error);
        else this.log.error({ err: error }, 'Kafka tail handler failed; tail stopped');
        return;
      }
    }
  }
}
