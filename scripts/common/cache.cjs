'use strict';
// The download cache of the service starters: $MQLOG_CACHE_DIR (default
// ~/.cache/mqlog)/<name>, one dir per fetched thing and version. A dir is
// complete when its marker (fetched.json) is there; it is fetched at most once
// at a time (a lock in the dir) and swapped in with renames.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { writeFileAtomic } = require('./files.cjs');
const { withDirLock } = require('./lockFile.cjs');

const MARKER_FILE = 'fetched.json';
const FETCH_LOCK_TIMEOUT_MS = 15 * 60 * 1000;

function cacheRoot() {
  return process.env.MQLOG_CACHE_DIR || path.join(os.homedir(), '.cache', 'mqlog');
}

/** <cache root>/<name>, e.g. cacheDir('kafka-3.9.2'). */
function cacheDir(name) {
  return path.join(cacheRoot(), name);
}

/** The parsed marker of a cache dir, or null when there is none (nothing complete fetched). */
function readCacheMarker(home) {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, MARKER_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Moves a freshly fetched dir into place as <home>/<name> and writes the marker
 * last: a crash in between leaves no marker, so the next call fetches again.
 */
function installIntoCache(home, name, fromDir, marker) {
  const markerFile = path.join(home, MARKER_FILE);
  const target = path.join(home, name);
  fs.rmSync(markerFile, { force: true });
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(fromDir, target);
  writeFileAtomic(markerFile, JSON.stringify(marker, null, 2) + '\n');
}

/**
 * cached() when it finds a complete cache (and not force), as {...cached(), fetched: false};
 * else fetch() under the lock of home (one fetch at a time: parallel jest
 * workers may all ask), unless another process completed it meanwhile.
 */
async function fetchOnce(home, { force, cached, fetch, ErrorClass }) {
  const have = cached();
  if (have && !force) return { ...have, fetched: false };
  return withDirLock(
    home,
    FETCH_LOCK_TIMEOUT_MS,
    async () => {
      const again = cached();
      if (again && !force) return { ...again, fetched: false };
      return fetch();
    },
    { ErrorClass },
  );
}

module.exports = { cacheRoot, cacheDir, readCacheMarker, installIntoCache, fetchOnce };
