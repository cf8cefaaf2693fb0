/**
 * A log record a reader could not make sense of (its CRC was fine, its content
 * was not an event this build reads). Named by where it is, with the way out:
 * a node that meets one stops (it cannot serve what follows correctly) and will
 * not start again until the record is repaired.
 */
export class UndecodableRecord extends Error {
  constructor(
    readonly stream: string,
    readonly partition: number,
    readonly offset: number,
    readonly detail: string,
  ) {
    super(
      `cannot decode ${stream}/${partition} offset ${offset}: ${detail}. ` +
        `On the embedded log, 'mqlog log repair --stream ${stream} --partition ${partition} --skip ${offset}' replaces only that record ` +
        `(or --truncate-at ${offset} drops it and everything after it); on Kafka, delete the records up to offset ${offset + 1} of that partition (kafka-delete-records.sh).`,
    );
    this.name = 'UndecodableRecord';
  }

  /** `err` as an UndecodableRecord at this position (an error that already is one keeps its own). */
  static at(stream: string, partition: number, offset: number, err: unknown): UndecodableRecord {
    if (err instanceof UndecodableRecord) return err;
    return new UndecodableRecord(stream, partition, offset, err instanceof Error ? err.message : String(err));
  }
}
