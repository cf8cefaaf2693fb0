/**
 * Session-projection snapshots in the compacted snapshot stream, one key per
 * session partition, so a restart folds only the events after the snapshot.
 */
import { EventLog, LogError } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { decodeSessionsSnapshot, encodeSessionsSnapshot, SessionRecord } from '../../projections/SessionProjection';
import { SessionFolder } from './SessionFolder';
import { StreamLayout } from './streams';

const keyFor = (partition: number) => `sessions/${partition}`;

/** Loads the newest snapshot of each session partition into the folder. Returns the partitions restored. */
export async function restoreSnapshots(log: EventLog, streams: StreamLayout, folder: SessionFolder): Promise<number[]> {
  const latest = new Map<string, { value: Buffer | null; offset: number }>();
  let next = await log.startOffset(streams.snapshots, 0);
  const end = await log.endOffset(streams.snapshots, 0);
  while (next < end) {
    const records = await log.read(streams.snapshots, 0, next, { endOffset: end, maxRecords: 100 });
    if (records.length === 0) break;
    for (const r of records) {
      if (r.key) latest.set(r.key.toString(), { value: r.value, offset: r.offset });
      next = r.offset + 1;
    }
  }
  const restored: number[] = [];
  const partitions = log.partitionCount(streams.sessions);
  for (let p = 0; p < partitions; p++) {
    const found = latest.get(keyFor(p));
    const value = found?.value;
    const start = await log.startOffset(streams.sessions, p);
    if (!value) {
      if (start > 0) {
        throw new LogError(
          `${streams.sessions}/${p} starts at offset ${start} but no snapshot covers the events before it; ` +
            `session state cannot be rebuilt (was sessionRetentionMs shorter than the snapshot interval?)`,
        );
      }
      continue;
    }
    let snapshot;
    try {
      snapshot = decodeSessionsSnapshot(value);
    } catch (err) {
      throw UndecodableRecord.at(streams.snapshots, 0, found!.offset, err);
    }
    if (snapshot.nextOffset < start) {
      throw new LogError(`${streams.sessions}/${p}: snapshot ends at offset ${snapshot.nextOffset} but the log starts at ${start}; events in between were deleted`);
    }
    folder.restore(p, snapshot.nextOffset, snapshot.sessions);
    restored.push(p);
  }
  return restored;
}

/** Writes a snapshot of every partition with changes since its last one (all of them when `force`). */
export async function writeSnapshots(log: EventLog, streams: StreamLayout, folder: SessionFolder, force: boolean, everyEvents: number): Promise<number> {
  const partitions = folder.nextOffset.length;
  const due: number[] = [];
  for (let p = 0; p < partitions; p++) {
    if (folder.sinceSnapshot[p] > 0 && (force || folder.sinceSnapshot[p] >= everyEvents)) due.push(p);
  }
  if (due.length === 0) return 0;
  const byPartition = new Map<number, SessionRecord[]>(due.map((p) => [p, []]));
  if (partitions === 1) {
    // One partition (the default): every session is in it, no key to hash per session.
    const all = byPartition.get(0);
    if (all) for (const rec of folder.state.values()) all.push(rec);
  } else {
    for (const rec of folder.state.values()) {
      byPartition.get(log.partitionFor(streams.sessions, Buffer.from(rec.clientId, 'utf8')))?.push(rec);
    }
  }
  const records = due.map((p) => {
    const value = encodeSessionsSnapshot({ nextOffset: folder.nextOffset[p], sessions: byPartition.get(p)! });
    folder.sinceSnapshot[p] = 0;
    return { stream: streams.snapshots, key: Buffer.from(keyFor(p)), value, partition: 0 };
  });
  await log.append(records);
  return records.length;
}
