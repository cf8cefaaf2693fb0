'use strict';
// Progress messages of the service starters: to stderr with a tag, to a
// caller's function, or nowhere (LogOptions in progress.d.cts).

/** The logger `opts` asks for: opts.log, nothing when opts.quiet, else stderr lines "[tag] msg". */
function progressLogger(opts, tag) {
  if (typeof opts.log === 'function') return opts.log;
  if (opts.quiet) return () => {};
  return (msg) => process.stderr.write(`[${tag}] ${msg}\n`);
}

/** Seconds since a Date.now() value, with one decimal ("12.3"). */
function secondsSince(t0) {
  return ((Date.now() - t0) / 1000).toFixed(1);
}

module.exports = { progressLogger, secondsSince };
