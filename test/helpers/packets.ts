/** Hand-built packet bytes for cases a well-behaved encoder refuses to produce. */
import { writeProperties } from '../../src/protocol/v5/properties';

function str(s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

export function frame(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export interface RawConnect {
  name?: string;
  level?: number;
  flags?: number;
  keepalive?: number;
  clientId?: string | Buffer;
  willTopic?: string | Buffer;
  willPayload?: Buffer;
  username?: string | Buffer;
  password?: Buffer;
  trailing?: Buffer;
  headerFlags?: number;
}

export function connectBytes(c: RawConnect = {}): Buffer {
  const parts: Buffer[] = [str(c.name ?? 'MQTT'), Buffer.from([c.level ?? 4, c.flags ?? 0x02])];
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(c.keepalive ?? 0);
  parts.push(ka, str(c.clientId ?? 'raw-client'));
  if (c.willTopic !== undefined) parts.push(str(c.willTopic), str(c.willPayload ?? Buffer.alloc(0)));
  if (c.username !== undefined) parts.push(str(c.username));
  if (c.password !== undefined) parts.push(str(c.password));
  if (c.trailing) parts.push(c.trailing);
  return frame(0x10 | (c.headerFlags ?? 0), Buffer.concat(parts));
}

export function publishBytes(topic: string | Buffer, payload: Buffer | string, qos = 0, packetId = 1, flags = 0): Buffer {
  const parts = [str(topic)];
  if (qos > 0) {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(packetId);
    parts.push(id);
  }
  parts.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
  return frame(0x30 | (qos << 1) | flags, Buffer.concat(parts));
}

export function subscribeBytes(packetId: number, filters: Array<[string | Buffer, number]>, headerFlags = 0x02): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  const parts: Buffer[] = [id];
  for (const [f, q] of filters) parts.push(str(f), Buffer.from([q]));
  return frame(0x80 | headerFlags, Buffer.concat(parts));
}

/** An MQTT 5 AUTH from a client (section 3.15), its properties written by the broker's own property writer. */
export function authBytes(reasonCode: number, props: { authenticationMethod?: string; authenticationData?: Buffer; reasonString?: string }): Buffer {
  return frame(0xf0, Buffer.concat([Buffer.from([reasonCode]), writeProperties(props, 'auth')]));
}
