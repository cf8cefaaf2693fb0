'use strict';
// TCP ports on 127.0.0.1 for the service starters: is one free, wait until
// some are, find a free block of them.

const net = require('node:net');
const { pollUntil } = require('./polling.cjs');

/** True when port can be bound on 127.0.0.1 right now. */
function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function allFree(ports) {
  let free = true;
  for (const p of ports) if (!(await portFree(p))) free = false;
  return free;
}

/** Waits (up to timeoutMs) until all ports can be bound; false if some never could. */
function waitPortsFree(ports, timeoutMs) {
  return pollUntil(() => allFree(ports), timeoutMs, 200);
}

/**
 * A random base port in min..max such that base+i+offset is free for every
 * i < count and every offset in offsets (e.g. [0, 100]: each port and its
 * companion 100 above). After 50 tries, throws ErrorClass "no free <what> in min..max".
 */
async function findFreePortBlock({ count = 1, offsets = [0], min, max, what = 'port', ErrorClass = Error }) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = min + Math.floor(Math.random() * (max - min - count + 2));
    const ports = [];
    for (let i = 0; i < count; i++) for (const o of offsets) ports.push(base + i + o);
    let ok = true;
    for (let j = 0; j < ports.length && ok; j++) ok = await portFree(ports[j]);
    if (ok) return base;
  }
  throw new ErrorClass(`no free ${what} in ${min}..${max}`);
}

module.exports = { portFree, waitPortsFree, findFreePortBlock };
