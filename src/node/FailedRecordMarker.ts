/**
 * `<dataDir>/failed-record.json`: the record a node failed on. The next start
 * reads that record again and refuses while it still cannot be decoded, naming
 * it and the repair; once it decodes (or was repaired away), the marker goes.
 * Without it, a node that failed on a message record nobody folds at start
 * would start, meet the record again on delivery, and fail again and again.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { decodeEvents } from '../events/codec';
import { EventLog } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';

const FILE = 'failed-record.json';

export interface FailedRecord {
  stream: string;
  partition: number;
  offset: number;
  detail: string;
  at: string;
}

export function writeFailedRecord(dataDir: string, record: FailedRecord): void {
  const file = join(dataDir, FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function readMarker(dataDir: string): FailedRecord | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(text) as Partial<FailedRecord>;
    if (typeof m.stream === 'string' && Number.isSafeInteger(m.partition) && Number.isSafeInteger(m.offset)) return m as FailedRecord;
  } catch {
    // an unreadable marker is no marker: the start goes on and meets the record itself if it is still bad
  }
  return null;
}

/**
 * Throws UndecodableRecord while the marked record is still undecodable; removes
 * the marker once it is not. Streams or partitions that no longer exist clear it too.
 */
export async function checkFailedRecord(dataDir: string, log: EventLog): Promise<void> {
  const marker = readMarker(dataDir);
  if (!marker) return;
  let value: Buffer | null = null;
  try {
    const [record] = await log.read(marker.stream, marker.partition, marker.offset, { maxRecords: 1 });
    if (record && record.offset === marker.offset) value = record.value;
  } catch {
    value = null; // the stream or partition is gone
  }
  if (value !== null) {
    try {
      decodeEvents(value);
    } catch (err) {
      throw UndecodableRecord.at(marker.stream, marker.partition, marker.offset, err);
    }
  }
  unlinkSync(join(dataDir, FILE));
}
