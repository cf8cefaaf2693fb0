'use strict';
// The state file of a service starter's run dir (<dir>/state.json): pids,
// ports and settings, so later calls (CLI or tests) find a running server again.

const fs = require('node:fs');
const path = require('node:path');
const { writeFileAtomic } = require('./files.cjs');

const STATE_FILE = 'state.json';

function statePath(dir) {
  return path.join(dir, STATE_FILE);
}

/** The recorded state of dir, null when there is none; a broken file throws ErrorClass. */
function readState(dir, ErrorClass = Error) {
  try {
    return JSON.parse(fs.readFileSync(statePath(dir), 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw new ErrorClass(`cannot read ${statePath(dir)}: ${err.message}`);
  }
}

/** Writes state atomically (mode: of a new file, e.g. 0o600 for secrets); its in-memory `dir` is not recorded. */
function writeState(dir, state, { mode } = {}) {
  const { dir: _omit, ...rest } = state;
  writeFileAtomic(statePath(dir), JSON.stringify(rest, null, 2) + '\n', mode);
}

module.exports = { STATE_FILE, statePath, readState, writeState };
