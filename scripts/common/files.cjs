'use strict';
// Small file and text helpers of the service starters: atomic writes, unique
// temp names, and the end of a log for error messages.

const fs = require('node:fs');
const crypto = require('node:crypto');

/** `<pid>-<random hex>`: a suffix for temp files and dirs no other process picks. */
function tempSuffix() {
  return `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Writes file through a temp file and a rename, so readers never see half of it. */
function writeFileAtomic(file, text, mode) {
  const tmp = `${file}.tmp-${tempSuffix()}`;
  fs.writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
  fs.renameSync(tmp, file);
}

/** The last n lines of a text (a command's output, for an error message). */
function lastLines(text, n) {
  return text.split('\n').slice(-n).join('\n');
}

/**
 * The end of a log file ('' when it cannot be read): its last `lines` lines,
 * or, when the last line matching `startAt` is further up (an error with a long
 * stack trace after it), from that line on (at least 40 lines then). Lines
 * longer than maxLineLength are cut.
 */
function tailFile(file, { lines = 30, startAt, maxLineLength = Infinity } = {}) {
  let all;
  try {
    all = fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    return '';
  }
  let from = Math.max(0, all.length - lines);
  if (startAt) {
    for (let i = all.length - 1; i >= 0; i--) {
      if (startAt.test(all[i])) {
        if (i < from) from = i;
        break;
      }
    }
  }
  return all
    .slice(from, from + Math.max(lines, 40))
    .map((l) => (l.length > maxLineLength ? `${l.slice(0, maxLineLength)} ...` : l))
    .join('\n');
}

module.exports = { tempSuffix, writeFileAtomic, lastLines, tailFile };
