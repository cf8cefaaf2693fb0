/**
 * Consumer positions (the next offset a named group will read), kept in memory
 * and persisted to `<dir>/positions.json`. Every write replaces the whole file
 * atomically (temp file, fsync, rename, fsync of the directory), so a crash
 * leaves either the old or the new file, never a mix.
 *
 * Commits that arrive while a write is running share the next write, so a burst
 * of commits costs two file writes, not one each.
 */
import { readFile } from 'fs/promises';
import { join } from 'path';
import { LogError } from '../EventLog';
import { isNotFound, writeFileAtomic } from './fileIo';

export const POSITIONS_FILE_NAME = 'positions.json';

interface PositionEntry {
  group: string;
  stream: string;
  partition: number;
  offset: number;
}

interface PositionsFile {
  version: 1;
  positions: PositionEntry[];
}

export class PositionStore {
  private readonly entries = new Map<string, PositionEntry>();
  /** The last write started (or finished). */
  private writing: Promise<void> = Promise.resolve();
  /** A write queued behind `writing` that has not taken its snapshot yet. */
  private queued: Promise<void> | null = null;

  private constructor(private readonly dir: string) {}

  static async load(dir: string): Promise<PositionStore> {
    const store = new PositionStore(dir);
    let text: string;
    try {
      text = await readFile(store.path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return store;
      throw err;
    }
    let parsed: PositionsFile;
    try {
      parsed = JSON.parse(text) as PositionsFile;
    } catch (err) {
      throw new LogError(`cannot parse ${store.path}: ${(err as Error).message}`);
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.positions)) throw new LogError(`${store.path} has an unknown format`);
    for (const e of parsed.positions) store.entries.set(keyOf(e.group, e.stream, e.partition), e);
    return store;
  }

  get path(): string {
    return join(this.dir, POSITIONS_FILE_NAME);
  }

  get(group: string, stream: string, partition: number): number | null {
    return this.entries.get(keyOf(group, stream, partition))?.offset ?? null;
  }

  /** Records a position; resolves once it is durable in the file. */
  set(group: string, stream: string, partition: number, offset: number): Promise<void> {
    this.entries.set(keyOf(group, stream, partition), { group, stream, partition, offset });
    return this.persist();
  }

  /** Resolves when every position set so far is in the file. */
  async flush(): Promise<void> {
    await (this.queued ?? this.writing).catch(() => undefined);
  }

  private persist(): Promise<void> {
    if (this.queued) return this.queued; // it has not taken its snapshot yet, so it includes this change
    const next = this.writing
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.writeSnapshot();
      });
    this.queued = next;
    this.writing = next;
    return next;
  }

  private async writeSnapshot(): Promise<void> {
    const file: PositionsFile = { version: 1, positions: [...this.entries.values()] };
    // The snapshot is taken before the first await, so later changes wait for the next write.
    await writeFileAtomic(this.path, JSON.stringify(file, null, 1));
  }
}

function keyOf(group: string, stream: string, partition: number): string {
  return `${group}\u0000${stream}\u0000${partition}`;
}
