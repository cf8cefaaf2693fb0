// MQTT 5 enhanced authentication for the fuzzer: CONNECTs with the
// SCRAM-SHA-256 method, the client side of SCRAM (RFC 5802) to get through the
// challenge when a run wants the connected and re-authentication states, and
// AUTH packets right, wrong and garbled. The broker under fuzz has one SCRAM
// user (SCRAM_USER); everything else about it is as for the other connections.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { frame, properties, str, varint } from './packets.mjs';

export const SCRAM = 'SCRAM-SHA-256';
export const SCRAM_USER = 'fz-scram';
export const SCRAM_PASSWORD = 'fz-secret';

const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** A property block holding the authentication method and data (0x15, 0x16). */
function authProperties(method, data) {
  const body = Buffer.concat([Buffer.from([0x15]), str(method), ...(data ? [Buffer.from([0x16]), str(data)] : [])]);
  return Buffer.concat([varint(body.length), body]);
}

/** One SCRAM-SHA-256 client conversation. */
export class ScramClient {
  constructor(user = SCRAM_USER, password = SCRAM_PASSWORD) {
    this.password = password;
    this.bare = `n=${user},r=${randomBytes(12).toString('base64')}`;
  }

  first() {
    return Buffer.from(`n,,${this.bare}`);
  }

  /** The client-final for the server's challenge, or null when the challenge is not one. */
  final(serverFirst) {
    const text = serverFirst.toString();
    const attrs = new Map(text.split(',').map((a) => [a.slice(0, 1), a.slice(2)]));
    const iterations = Number(attrs.get('i'));
    if (!attrs.get('r') || !attrs.get('s') || !Number.isInteger(iterations) || iterations < 1 || iterations > 100_000) return null;
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.get('s'), 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=biws,r=${attrs.get('r')}`;
    const signature = hmac(createHash('sha256').update(clientKey).digest(), `${this.bare},${text},${withoutProof}`);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i] ^ signature[i];
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }
}

/** A v5 CONNECT with the SCRAM method: a right client-first, or now and then one that is not. */
export function scramConnect(r, clientId, client) {
  const data = r.chance(0.8) ? client.first() : r.pick([Buffer.alloc(0), Buffer.from('n,,n=,r='), Buffer.alloc(3000, 0x61), Buffer.from([0xff, 0x00, 0x2c]), Buffer.from(`n,,n=${SCRAM_USER},r=short`)]);
  const parts = [str('MQTT'), Buffer.from([5, 0x02]), Buffer.from([0, 60]), authProperties(r.chance(0.95) ? SCRAM : 'SCRAM-SHA-1', data), str(clientId)];
  return frame(0x10, Buffer.concat(parts));
}

/** An AUTH with the SCRAM method and `data`. */
export function auth(code, data, method = SCRAM) {
  return frame(0xf0, Buffer.concat([Buffer.from([code]), authProperties(method, data)]));
}

/** An AUTH that is wrong in some way: a garbage answer, a reason code out of turn, another method, no method, random properties. */
export function garbageAuth(r) {
  switch (r.int(5)) {
    case 0:
      return auth(0x18, Buffer.from(Array.from({ length: r.int(80) }, () => r.int(256))));
    case 1:
      return auth(r.pick([0x00, 0x19, 0x18, 0x01]), r.chance(0.5) ? Buffer.from('c=biws,r=x,p=AAAA') : null);
    case 2:
      return auth(0x18, Buffer.from('c=biws,r=x,p=AAAA'), r.pick(['OTHER', '', 'SCRAM-SHA-256 ']));
    case 3:
      return frame(0xf0, Buffer.concat([Buffer.from([0x18]), Buffer.from([0])])); // no method
    default:
      return frame(0xf0, Buffer.concat([Buffer.from([r.pick([0x00, 0x18, 0x19])]), properties(r, 'auth')]));
  }
}

/** Reads whole MQTT frames off a socket: `next(type, ms)` resolves with the body of the next frame of that type (high nibble), or null. */
export function frameReader(socket) {
  let buf = Buffer.alloc(0);
  const frames = [];
  let wake = null;
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      let length = 0;
      let mult = 1;
      let i = 1;
      for (; i < 5 && i < buf.length; i++) {
        length += (buf[i] & 0x7f) * mult;
        mult *= 128;
        if ((buf[i] & 0x80) === 0) break;
      }
      if (i >= buf.length || buf.length < i + 1 + length) break;
      frames.push({ type: buf[0] >> 4, body: buf.subarray(i + 1, i + 1 + length) });
      buf = buf.subarray(i + 1 + length);
    }
    wake?.();
  });
  socket.on('close', () => wake?.());
  return {
    async next(type, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const at = frames.findIndex((f) => f.type === type);
        if (at >= 0) return frames.splice(at, 1)[0].body;
        if (socket.destroyed || Date.now() >= deadline) return null;
        await new Promise((resolve) => {
          const t = setTimeout(resolve, deadline - Date.now());
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    },
  };
}

/** The Authentication Data (0x16) of an AUTH body, or null. */
export function authData(body) {
  if (!body || body.length < 2) return null;
  let pos = 1;
  let length = 0;
  let mult = 1;
  for (; pos < body.length; pos++) {
    length += (body[pos] & 0x7f) * mult;
    mult *= 128;
    if ((body[pos] & 0x80) === 0) break;
  }
  pos++;
  const end = Math.min(body.length, pos + length);
  while (pos < end) {
    const id = body[pos++];
    const n = body.readUInt16BE(pos);
    pos += 2;
    if (id === 0x16) return body.subarray(pos, pos + n);
    if (id !== 0x15 && id !== 0x1f) return null;
    pos += n;
  }
  return null;
}
