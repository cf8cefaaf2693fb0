/**
 * `<dir>/<stream>/meta.json`: the shape a stream was created with. The
 * partition count fixes where every key lives and the compaction policy what
 * the stream keeps, so reopening with different values would silently break
 * both; `open()` refuses instead.
 */
import { mkdir, readFile } from 'fs/promises';
import { dirname, join } from 'path';
import { LogError, StreamSpec } from '../EventLog';
import { fsyncDirectory, isNotFound, writeFileAtomic } from './fileIo';

export const STREAM_META_FILE_NAME = 'meta.json';

export interface StreamMeta {
  partitions: number;
  compacted: boolean;
}

/** Kafka's topic name rule; names become directory names, so it also keeps them safe there. */
const STREAM_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export function validateStreamSpec(spec: StreamSpec): void {
  if (!STREAM_NAME.test(spec.name) || spec.name === '.' || spec.name === '..') {
    throw new LogError(`invalid stream name '${spec.name}': use 1-249 characters from [A-Za-z0-9._-]`);
  }
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
    throw new LogError(`stream ${spec.name}: partitions must be a positive integer, got ${spec.partitions}`);
  }
}

export async function readStreamMeta(streamDir: string): Promise<StreamMeta | null> {
  try {
    const parsed = JSON.parse(await readFile(join(streamDir, STREAM_META_FILE_NAME), 'utf8')) as Partial<StreamMeta>;
    if (typeof parsed.partitions !== 'number' || typeof parsed.compacted !== 'boolean') {
      throw new LogError(`${join(streamDir, STREAM_META_FILE_NAME)} has an unknown format`);
    }
    return { partitions: parsed.partitions, compacted: parsed.compacted };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Creates the stream directory and its meta.json, or checks an existing one against `spec`. */
export async function ensureStreamMeta(streamDir: string, spec: StreamSpec): Promise<void> {
  const existing = await readStreamMeta(streamDir);
  if (existing) {
    if (existing.partitions !== spec.partitions) {
      throw new LogError(
        `stream ${spec.name} has ${existing.partitions} partition(s) on disk but is configured with ${spec.partitions} partition(s); ` +
          `the partition count of an existing stream cannot change`,
      );
    }
    if (existing.compacted !== spec.compacted) {
      throw new LogError(
        `stream ${spec.name} is compacted=${existing.compacted} on disk but configured compacted=${spec.compacted}; ` +
          `the compaction policy of an existing stream cannot change`,
      );
    }
    return;
  }
  await mkdir(streamDir, { recursive: true });
  const meta: StreamMeta = { partitions: spec.partitions, compacted: spec.compacted };
  await writeFileAtomic(join(streamDir, STREAM_META_FILE_NAME), JSON.stringify(meta) + '\n');
  await fsyncDirectory(dirname(streamDir));
}
