'use strict';
// Cross-process locks of the service starters: a file holding the owner's pid,
// created exclusively. Parallel jest workers (and CLI calls) may all ask to
// start, stop or fetch the same thing at once; one runs, the others wait. A
// lock whose owner died is taken over.

const fs = require('node:fs');
const path = require('node:path');
const { sleep } = require('./polling.cjs');
const { processExists } = require('./processes.cjs');

/**
 * Runs fn() holding the lock file `lock`; waits (polling every pollMs) up to
 * timeoutMs for it, then throws ErrorClass with busyMessage(lock, ownerPid).
 */
async function withLockFile(lock, timeoutMs, fn, { ErrorClass = Error, pollMs = 200, busyMessage } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    let ageMs = 0;
    try {
      owner = Number(fs.readFileSync(lock, 'utf8'));
      ageMs = Date.now() - fs.statSync(lock).mtimeMs;
    } catch {
      continue; // removed meanwhile: try again
    }
    // No pid in it yet: the owner is between creating and writing it, unless that was long ago.
    const stale = owner > 0 ? !processExists(owner) : ageMs > 10000;
    if (stale) {
      // Rename first so that only one waiter removes a given stale lock.
      const aside = `${lock}.stale-${process.pid}`;
      try {
        fs.renameSync(lock, aside);
        const was = Number(fs.readFileSync(aside, 'utf8'));
        if (was === owner || !(was > 0) || !processExists(was)) fs.rmSync(aside, { force: true });
        else fs.renameSync(aside, lock); // someone else's fresh lock: put it back
      } catch {}
      continue;
    }
    if (Date.now() > deadline) {
      throw new ErrorClass(busyMessage ? busyMessage(lock, owner) : `timed out waiting for ${lock} (held by pid ${owner})`);
    }
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    try {
      if (Number(fs.readFileSync(lock, 'utf8')) === process.pid) fs.rmSync(lock, { force: true });
    } catch {}
  }
}

/** Serialises work on one dir across processes: withLockFile on <dir>/.lock (creating dir). */
async function withDirLock(dir, timeoutMs, fn, options) {
  fs.mkdirSync(dir, { recursive: true });
  return withLockFile(path.join(dir, '.lock'), timeoutMs, fn, options);
}

module.exports = { withLockFile, withDirLock };
