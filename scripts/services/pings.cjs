'use strict';
// Protocol-level pings of MariaDB/MySQL, PostgreSQL and Redis over a raw TCP
// socket: an open port is not enough (a server still starting accepts
// connections and then refuses them), and no npm driver is needed, so the CLI
// and jest can both use these before any dependency is loaded.
//
// Each ping resolves (never rejects) with { state, detail }:
//   up        the server speaks its protocol and accepts work
//   starting  it answers but says it is not ready yet (wait, do not start it again)
//   failing   it answers with an error that waiting will not cure (e.g. an unknown role)
//   down      nothing answers (refused, reset, or silent until the timeout)

const net = require('node:net');

const DEFAULT_PING_TIMEOUT_MS = 2000;

/**
 * Connects, writes `hello` (if any) and feeds everything received to `read`
 * until it returns a result; `bye` is written before closing (a polite goodbye
 * keeps server logs free of "unexpected EOF").
 */
function probe({ host, port, timeoutMs = DEFAULT_PING_TIMEOUT_MS, hello, read, bye }) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (bye && result.state !== 'down' && socket.writable) {
        // Let the goodbye go out; unref so a server that keeps the socket open cannot hold the process.
        socket.end(bye);
        socket.unref();
      } else {
        socket.destroy();
      }
      resolve(result);
    };
    const timer = setTimeout(() => finish({ state: 'down', detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('connect', () => {
      if (hello) socket.write(hello);
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      let result;
      try {
        result = read(received);
      } catch (err) {
        result = { state: 'failing', detail: `unexpected answer: ${err.message}` };
      }
      if (result) finish(result);
    });
    socket.on('error', (err) => finish({ state: 'down', detail: err.code === 'ECONNREFUSED' ? 'connection refused' : `${err.code || ''} ${err.message}`.trim() }));
    socket.on('close', () => finish({ state: 'down', detail: 'connection closed without an answer' }));
  });
}

// MariaDB/MySQL: the server speaks first, with a handshake packet (protocol 10)
// or an error packet (0xff: too many connections, host not allowed...).
function pingMariaDb({ host, port, timeoutMs }) {
  return probe({
    host,
    port,
    timeoutMs,
    read(buf) {
      if (buf.length < 5) return undefined;
      const length = buf.readUIntLE(0, 3);
      if (buf.length < 4 + length) return undefined;
      const payload = buf.subarray(4, 4 + length);
      if (payload[0] === 0x0a) {
        const end = payload.indexOf(0, 1);
        return { state: 'up', detail: `handshake from server ${payload.subarray(1, end < 0 ? undefined : end).toString('latin1')}` };
      }
      if (payload[0] === 0xff) {
        const code = payload.readUInt16LE(1);
        const message = payload.subarray(payload[3] === 0x23 ? 9 : 3).toString('utf8');
        return { state: 'failing', detail: `error ${code}: ${message}` };
      }
      return { state: 'failing', detail: `unexpected first byte 0x${payload[0].toString(16)} (not MariaDB/MySQL?)` };
    },
  });
}

// PostgreSQL: a StartupMessage (protocol 3.0) for the user and database the
// tests use. ReadyForQuery ('Z'), or a request for a password ('R' other than
// AuthenticationOk), means it is up; an error ('E') with SQLSTATE 57P03 means it
// is still starting; other errors (unknown role or database) are reported.
function pgStartupMessage(user, database) {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0mqlog-services-ping\0\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + params.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, params]);
}

const PG_TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

function pgErrorFields(body) {
  const fields = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const type = String.fromCharCode(body[i]);
    const end = body.indexOf(0, i + 1);
    fields[type] = body.subarray(i + 1, end).toString('utf8');
    i = end + 1;
  }
  return fields;
}

function pingPostgres({ host, port, user, database, timeoutMs }) {
  return probe({
    host,
    port,
    timeoutMs,
    hello: pgStartupMessage(user, database),
    bye: PG_TERMINATE,
    read(buf) {
      let offset = 0;
      while (buf.length >= offset + 5) {
        const type = String.fromCharCode(buf[offset]);
        const length = buf.readInt32BE(offset + 1);
        if (buf.length < offset + 1 + length) return undefined;
        const body = buf.subarray(offset + 5, offset + 1 + length);
        offset += 1 + length;
        if (type === 'Z') return { state: 'up', detail: `ready for queries as ${user} on database ${database}` };
        if (type === 'R' && body.readInt32BE(0) !== 0) return { state: 'up', detail: `asks ${user} for a password (method ${body.readInt32BE(0)})` };
        if (type === 'E') {
          const f = pgErrorFields(body);
          const detail = `${f.S || 'ERROR'} ${f.C || ''}: ${f.M || ''}`.trim();
          return { state: f.C === '57P03' ? 'starting' : 'failing', detail };
        }
        // AuthenticationOk, ParameterStatus, BackendKeyData, notices: keep reading.
        if (!'RSKN'.includes(type)) return { state: 'failing', detail: `unexpected message '${type}' (not PostgreSQL?)` };
      }
      return undefined;
    },
  });
}

// Redis: an inline PING. A server that requires a password answers -NOAUTH,
// which still proves it is up; -LOADING means it is reading its data set.
function pingRedis({ host, port, timeoutMs }) {
  return probe({
    host,
    port,
    timeoutMs,
    hello: 'PING\r\n',
    bye: 'QUIT\r\n',
    read(buf) {
      const end = buf.indexOf('\r\n');
      if (end < 0) return undefined;
      const line = buf.subarray(0, end).toString('utf8');
      if (line === '+PONG' || line.startsWith('-NOAUTH')) return { state: 'up', detail: line };
      if (line.startsWith('-LOADING')) return { state: 'starting', detail: line };
      return { state: 'failing', detail: `unexpected answer ${JSON.stringify(line)} (not Redis?)` };
    },
  });
}

module.exports = { pingMariaDb, pingPostgres, pingRedis, DEFAULT_PING_TIMEOUT_MS };
