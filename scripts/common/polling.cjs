'use strict';
// Waiting for something to happen: a promise sleep and a bounded poll loop.
// Shared by the scripts/*/lib.cjs service starters (CommonJS: jest and the ESM
// CLIs can both load it; no npm dependencies).

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls check() (it may be async) until it returns something truthy (resolves
 * true) or timeoutMs has passed (resolves false), sleeping intervalMs between calls.
 */
async function pollUntil(check, timeoutMs, intervalMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

module.exports = { sleep, pollUntil };
