/**
 * The lock that keeps a second process (or a second FileEventLog in this one)
 * off a log directory: `<dir>/mqlog.lock` holds the owner's pid. A lock whose
 * pid is no longer running is stale (the owner was killed) and is taken over.
 *
 * The file is created complete and atomically (written aside, then hard-linked
 * into place), so nobody ever reads a half-written pid. Taking over a stale lock
 * is not atomic: two processes starting at the same instant over the same stale
 * lock could both win. That needs two brokers started at once on one directory
 * right after a crash, which deployment must avoid anyway.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { LogError } from '../EventLog';
import type { Logger } from '../../logger';
import { isNotFound } from './fileIo';

export const LOCK_FILE_NAME = 'mqlog.lock';

/**
 * Locks held by this process. A second open of the same directory in this
 * process is refused; a lock with our pid that is not in here was left by an
 * earlier process that had the same pid (containers restart as pid 1), so it is
 * stale.
 */
const heldByThisProcess = new Set<string>();

export class Lockfile {
  private released = false;

  private constructor(readonly path: string) {}

  static acquire(dir: string, logger?: Logger): Lockfile {
    const path = join(dir, LOCK_FILE_NAME);
    if (heldByThisProcess.has(path)) {
      throw new LogError(`log directory ${dir} is locked by process ${process.pid} (this process already has it open)`);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryCreate(path)) {
        heldByThisProcess.add(path);
        return new Lockfile(path);
      }
      const holder = readHolder(path);
      if (holder !== null && holder !== process.pid && isRunning(holder)) {
        throw new LogError(
          `log directory ${dir} is locked by process ${holder} (${path}); stop that process first, ` +
            `or delete the lock file if pid ${holder} is not an mqlog process`,
        );
      }
      logger?.warn({ lock: path, stalePid: holder }, 'taking over a stale log lock');
      try {
        unlinkSync(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    throw new LogError(`could not lock log directory ${dir} (${path}): it keeps changing hands`);
  }

  /** The pid holding the lock of `dir` if that process is running, else null. */
  static liveHolder(dir: string): number | null {
    const path = join(dir, LOCK_FILE_NAME);
    if (heldByThisProcess.has(path)) return process.pid;
    const holder = readHolder(path);
    return holder !== null && holder !== process.pid && isRunning(holder) ? holder : null;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldByThisProcess.delete(this.path);
    try {
      unlinkSync(this.path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

function tryCreate(path: string): boolean {
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, `${process.pid}\n`);
  try {
    linkSync(aside, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(aside);
  }
}

function readHolder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
