// A minimal MQTT 3.1.1 (or 5, with MQLOG_BENCH_PROTOCOL=5) client on a raw socket, for the load generator and for
// readiness probes. mqtt-packet builds every outgoing packet (PUBLISH once, as a
// template that publishers copy and patch). Incoming frames are split and read by
// hand: mqtt-packet's parser allocates an object per packet, and the load generator
// has to outrun the fastest broker on a single core.
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { PAYLOAD_BYTES } from './payload.mjs';

/** 4 (MQTT 3.1.1) or 5: `npm run bench -- --protocol 5` runs every client as MQTT 5. */
export const PROTOCOL = Number(process.env.MQLOG_BENCH_PROTOCOL ?? 4) === 5 ? 5 : 4;
const V5 = PROTOCOL === 5;
const gen = (packet) => mqttPacket.generate(V5 ? { properties: {}, ...packet } : packet, { protocolVersion: PROTOCOL });

const PUBLISH = 3;
const CONNACK = 2;
const PUBACK = 4;
const SUBACK = 9;
const PINGRESP = 13;

/** A QoS 0/1 PUBLISH frame with a zero payload, and where to patch it. */
export function publishTemplate(topic, qos) {
  const frame = gen({ cmd: 'publish', topic, qos, messageId: qos ? 1 : undefined, payload: Buffer.alloc(PAYLOAD_BYTES), retain: false, dup: false });
  // MQTT 5: an empty property block (one byte) sits between the packet id and the payload.
  return { frame, payloadOffset: frame.length - PAYLOAD_BYTES, packetIdOffset: qos ? frame.length - PAYLOAD_BYTES - 2 - (V5 ? 1 : 0) : -1 };
}

export class MqttClient {
  /**
   * handlers.onPublish(client, buf, topicStart, topicEnd, payloadStart, qos): one incoming PUBLISH
   *   (QoS 1 is acknowledged by the client itself, batched per socket read);
   * handlers.onPuback(client, packetId); handlers.afterRead(client): after each socket read.
   */
  constructor(socket, handlers = {}) {
    this.socket = socket;
    this.onPublish = handlers.onPublish ?? (() => {});
    this.onPuback = handlers.onPuback ?? (() => {});
    this.afterRead = handlers.afterRead ?? (() => {});
    this.rest = null;
    this.acks = [];
    this.waiting = null; // { type, resolve, reject } for CONNACK / SUBACK
    this.closed = false;
    this.error = null;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.read(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the broker')));
  }

  fail(err) {
    if (this.closed) return;
    this.closed = true;
    this.error = err;
    this.waiting?.reject(err);
    this.waiting = null;
  }

  /** Sends a packet built by mqtt-packet and waits for the answer of `type`. */
  request(packet, type, timeoutMs) {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.error);
      const timer = setTimeout(() => reject(new Error(`no ${packet.cmd} answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = {
        type,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.socket.write(gen(packet));
    });
  }

  async subscribe(filter, qos, timeoutMs = 10000) {
    const granted = await this.request({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] }, SUBACK, timeoutMs);
    if (granted !== qos) throw new Error(`SUBACK for ${filter} granted ${granted}, asked for QoS ${qos}`);
  }

  write(buf) {
    return this.socket.write(buf);
  }

  /** DISCONNECT, then close. */
  end() {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(gen({ cmd: 'disconnect' }));
  }

  destroy() {
    this.closed = true;
    this.socket.destroy();
  }

  read(chunk) {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let off = 0;
    for (;;) {
      if (buf.length - off < 2) break;
      // Remaining length: up to four 7-bit groups.
      let len = 0;
      let mul = 1;
      let i = off + 1;
      let byte;
      do {
        if (i >= buf.length) break;
        byte = buf[i++];
        len += (byte & 127) * mul;
        mul *= 128;
      } while (byte & 128);
      if (byte & 128 || i + len > buf.length) break;
      this.frame(buf[off], buf, i, i + len);
      off = i + len;
    }
    this.rest = off < buf.length ? buf.subarray(off) : null;
    if (this.acks.length) {
      const out = Buffer.allocUnsafe(this.acks.length * 4);
      for (let k = 0; k < this.acks.length; k++) {
        out[k * 4] = 0x40;
        out[k * 4 + 1] = 2;
        out.writeUInt16BE(this.acks[k], k * 4 + 2);
      }
      this.acks.length = 0;
      this.socket.write(out);
    }
    this.afterRead(this);
  }

  frame(header, buf, start, end) {
    const type = header >> 4;
    if (type === PUBLISH) {
      const qos = (header >> 1) & 3;
      const topicEnd = start + 2 + buf.readUInt16BE(start);
      let p = topicEnd;
      if (qos > 0) {
        this.acks.push(buf.readUInt16BE(p));
        p += 2;
      }
      if (V5) {
        // The property block: its varint length, then that many bytes.
        let plen = 0;
        let m = 1;
        let b;
        do {
          b = buf[p++];
          plen += (b & 127) * m;
          m *= 128;
        } while (b & 128);
        p += plen;
      }
      if (end - p !== PAYLOAD_BYTES) {
        this.fail(new Error(`PUBLISH with a ${end - p}-byte payload, sent ${PAYLOAD_BYTES}`));
        this.socket.destroy();
        return;
      }
      this.onPublish(this, buf, start + 2, topicEnd, p, qos);
    } else if (type === PUBACK) {
      this.onPuback(this, buf.readUInt16BE(start));
    } else if (type === CONNACK) {
      const code = buf[start + 1];
      if (this.waiting?.type !== CONNACK) return this.fail(new Error('unexpected CONNACK'));
      const w = this.waiting;
      this.waiting = null;
      if (code === 0) w.resolve(buf[start]);
      else w.reject(new Error(`CONNACK refused with code ${code}`));
    } else if (type === SUBACK) {
      if (this.waiting?.type !== SUBACK) return this.fail(new Error('unexpected SUBACK'));
      const w = this.waiting;
      this.waiting = null;
      // MQTT 5: the SUBACK's property block comes before the codes.
      w.resolve(buf[start + 2 + (V5 ? 1 + buf[start + 2] : 0)]);
    } else if (type !== PINGRESP) {
      this.fail(new Error(`unexpected packet type ${type}`));
      this.socket.destroy();
    }
  }
}

/** Opens a TCP connection and completes the MQTT 3.1.1 handshake (clean session). */
export function connect({ port, host = '127.0.0.1', clientId, keepalive = 300, timeoutMs = 10000, handlers }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    const client = new MqttClient(socket, handlers);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      client
        .request({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: PROTOCOL, clean: true, clientId, keepalive }, CONNACK, timeoutMs)
        .then(() => {
          clearTimeout(timer);
          resolve(client);
        }, fail);
    });
    socket.once('error', fail);
    function fail(err) {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    }
  });
}
