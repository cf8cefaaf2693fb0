/**
 * What failing means for a node (NodeHealth): it stops taking anything in (no
 * reading from clients; new connections are refused and nothing in flight is
 * acknowledged, see Connection), logs exactly why, and remembers a record that
 * caused it in <dataDir>/failed-record.json so the next start refuses until
 * that record is repaired.
 */
import { UndecodableRecord } from '../log/UndecodableRecord';
import { Logger } from '../logger';
import type { Connection } from './Connection';
import { writeFailedRecord } from './FailedRecordMarker';
import type { NodeHealth } from './NodeHealth';

/** Fails the node; returns the error when this was the first cause (null when it had already failed). */
export function failNode(health: NodeHealth, what: string, err: unknown, ctx: { logger: Logger; dataDir: string; connections: Iterable<Connection> }): Error | null {
  const error = err instanceof Error ? err : new Error(String(err));
  if (!health.fail(`${what}: ${error.message}`)) return null;
  const bad = error instanceof UndecodableRecord ? error : null;
  const record = bad ? { stream: bad.stream, partition: bad.partition, offset: bad.offset } : undefined;
  ctx.logger.fatal({ err: error, record }, `node failed (${what}): acknowledging nothing more; exiting for the supervisor`);
  for (const conn of ctx.connections) conn.transport.pause();
  if (bad) {
    try {
      writeFailedRecord(ctx.dataDir, { stream: bad.stream, partition: bad.partition, offset: bad.offset, detail: bad.detail, at: new Date().toISOString() });
    } catch (markErr) {
      ctx.logger.error({ err: markErr }, 'could not write the failed-record marker');
    }
  }
  return error;
}
