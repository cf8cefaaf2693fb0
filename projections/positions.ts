/**
 * Positions in the message stream: one next-offset per partition. Used for the
 * point from which a subscription or an offline queue counts.
 */
import { Positions } from '../src/events/types';

/** Element-wise maximum; a shorter vector counts as 0 in its missing partitions. */
export function maxPositions(a: Positions, b: Positions): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(a[i] ?? 0, b[i] ?? 0);
  return out;
}

/** Whether the record at (partition, offset) lies at or after `from`. */
export function isAtOrAfter(from: Positions, partition: number, offset: number): boolean {
  return offset >= (from[partition] ?? 0);
}

export function zeroPositions(partitions: number): number[] {
  return new Array<number>(partitions).fill(0);
}
