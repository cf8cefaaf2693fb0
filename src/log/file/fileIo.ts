/**
 * Small promise wrappers over raw file descriptors. The log keeps segment files
 * open as plain fds (positional reads and writes), which `fs.promises` does not
 * cover; the callback API runs on the libuv pool so reads never block appends.
 */
import { close, closeSync, fdatasync, fsync, fsyncSync, open, openSync, read } from 'fs';
import { open as openAsync, rename as renameAsync, unlink as unlinkAsync } from 'fs/promises';
import { dirname } from 'path';

/** Reads up to `length` bytes at `position`; fewer only at end of file. */
export function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (): void => {
      read(fd, buf, done, length - done, position + done, (err, n) => {
        if (err) return reject(err);
        done += n;
        if (n === 0 || done >= length) resolve(done);
        else step();
      });
    };
    step();
  });
}

export function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export function closeAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}

/** Makes a directory's entries (created, renamed or deleted files) durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => open(path, 'r', (err, f) => (err ? reject(err) : resolve(f))));
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

export function fsyncDirectorySync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether an error is a missing file. */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/**
 * Replaces `path` with `data` so that a crash leaves the old or the new
 * content, never a mix: write a temp file, fsync it, rename it over, fsync the
 * directory.
 */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await openAsync(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await renameAsync(tmp, path);
  await fsyncDirectory(dirname(path));
}

/** Deletes files, ignoring those already gone. */
export async function unlinkIfExists(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    try {
      await unlinkAsync(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
