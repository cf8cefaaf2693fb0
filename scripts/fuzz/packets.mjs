// Packets for the fuzzer: every type a client may send (and some it may not),
// well-formed, at the bounds of each field and past them, and mutated (bit
// flips, truncations, insertions, length lies). Bytes are built by hand, so
// nothing an encoder would refuse is out of reach.

/** A seeded PRNG (mulberry32): a run is reproducible from its seed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (list) => list[int(list.length)];
  const chance = (p) => next() < p;
  return { next, int, pick, chance };
}

function remainingLength(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

export function frame(first, body) {
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);
}

function str(s) {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(Math.min(b.length, 65535));
  return Buffer.concat([len, b.subarray(0, 65535)]);
}

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/** Topic names and filters: plain, at and past the limits (65,535 bytes, 128 levels), wildcards, bad UTF-8, U+0000, $SYS. */
function topic(r, { filter = false } = {}) {
  switch (r.int(30)) {
    case 0:
      return '';
    case 1:
      return `fz/${'l/'.repeat(126)}x`; // 128 levels
    case 2:
      return `fz/${'l/'.repeat(127)}x`; // 129 levels
    case 3:
      return `x${'/'.repeat(r.pick([200, 6000, 30000]))}`;
    case 4:
      return Buffer.concat([Buffer.from('fz/'), Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80, 0xff])]);
    case 5:
      return 'fz/a\u0000b';
    case 6:
      return r.pick(['$SYS/broker/fz', '$SYS', '$share/g/fz/x', '$fz']);
    case 7:
      return filter ? r.pick(['#', '+', 'fz/#', 'fz/+/x', '+/+/#', 'fz/#/x', 'fz/a+', '##']) : r.pick(['fz/+', 'fz/#', '#']);
    case 8:
      return 'f'.repeat(r.pick([65535, 65534, 40000]));
    case 9:
      return `fz/${'é'.repeat(r.int(300))}`;
    default:
      return `fz/${r.int(50)}/${r.pick(['a', 'b', 'c', 'dev', 'x/y'])}`;
  }
}

const bytes = (r, n) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
};

function payload(r) {
  return Buffer.alloc(r.pick([0, 1, 16, 64, 1024, 70000, 1024 * 1024 - 20, 1024 * 1024 + 10]), r.int(256));
}

const packetId = (r) => r.pick([0, 1, 2, 65535, 1 + r.int(65534)]);

/** A CONNECT, usually one the broker accepts (so the packets after it reach a connected channel). */
export function connect(r, clientId, { valid = true } = {}) {
  const willFlag = r.chance(0.3);
  let willQos = r.int(3);
  let level = 4;
  let name = 'MQTT';
  let flags = 0x02;
  let id = clientId;
  let keepalive = r.pick([0, 0, 60, 1, 65535]);
  if (!valid) {
    switch (r.int(8)) {
      case 0:
        willQos = 3; // [MQTT-3.1.2-14]
        break;
      case 1:
        level = r.pick([0, 2, 5, 6, 131, 132, 255]);
        break;
      case 2:
        name = r.pick(['MQIsdp', 'MQTX', '', 'mqtt']);
        break;
      case 3:
        flags = r.int(256);
        break;
      case 4:
        id = 'c'.repeat(r.pick([24, 23, 65535, 70000]));
        if (r.chance(0.5)) name = 'MQIsdp';
        if (name === 'MQIsdp') level = 3;
        break;
      case 5:
        id = '';
        flags = r.chance(0.5) ? 0x00 : 0x02;
        break;
      case 6:
        keepalive = 65535;
        id = Buffer.from([0xff, 0xfe, 0x00]);
        break;
      default:
        flags |= 0x01; // reserved bit [MQTT-3.1.2-3]
    }
  }
  if (name === 'MQIsdp' && valid) level = 3;
  if (r.chance(0.1) && valid) flags &= ~0x02; // a persistent session
  const user = r.chance(0.2);
  const pass = user && r.chance(0.5);
  if (willFlag) flags |= 0x04 | (willQos << 3) | (r.chance(0.5) ? 0x20 : 0);
  if (user) flags |= 0x80;
  if (pass) flags |= 0x40;
  const parts = [str(name), Buffer.from([level, flags & 0xff]), u16(keepalive), str(id)];
  if (flags & 0x04) parts.push(str(valid ? `fz/will/${r.int(10)}` : topic(r)), str(payload(r).subarray(0, 200)));
  if (flags & 0x80) parts.push(str(`u${r.int(5)}`));
  if (flags & 0x40) parts.push(str(bytes(r, r.int(20))));
  if (!valid && r.chance(0.2)) parts.push(bytes(r, 1 + r.int(8))); // trailing bytes
  return frame(0x10 | (!valid && r.chance(0.1) ? 1 + r.int(15) : 0), Buffer.concat(parts));
}

function publish(r) {
  const qos = r.pick([0, 1, 1, 2, 3]);
  const flags = (qos << 1) | (r.chance(0.2) ? 1 : 0) | (r.chance(0.1) ? 8 : 0);
  const parts = [str(r.chance(0.8) ? `fz/${r.int(50)}/${r.pick(['a', 'b', 'c'])}` : topic(r))];
  if (qos > 0) parts.push(u16(packetId(r)));
  parts.push(r.chance(0.98) ? Buffer.alloc(r.int(128), 0x61) : payload(r));
  return frame(0x30 | flags, Buffer.concat(parts));
}

function subscribe(r) {
  const n = r.chance(0.9) ? r.pick([1, 1, 2, 5]) : r.pick([0, 1000, 1001, 20000]);
  const parts = [u16(packetId(r))];
  const wide = n > 100;
  for (let i = 0; i < n; i++) parts.push(str(wide ? '#' : r.chance(0.7) ? `fz/${r.int(20)}/#` : topic(r, { filter: true })), Buffer.from([r.pick([0, 1, 2, 2, 3, 4, 0x80])]));
  return frame(r.chance(0.9) ? 0x82 : 0x80 | r.int(16), Buffer.concat(parts));
}

function unsubscribe(r) {
  const n = r.pick([0, 1, 2, 1001]);
  const parts = [u16(packetId(r))];
  for (let i = 0; i < n; i++) parts.push(str(r.chance(0.8) ? `fz/${r.int(20)}/#` : topic(r, { filter: true })));
  return frame(r.chance(0.9) ? 0xa2 : 0xa0 | r.int(16), Buffer.concat(parts));
}

function ack(r) {
  const type = r.pick([4, 5, 6, 7]);
  const flags = type === 6 ? 2 : 0;
  const body = r.chance(0.9) ? u16(packetId(r)) : bytes(r, r.pick([0, 1, 3, 4]));
  return frame((type << 4) | (r.chance(0.9) ? flags : r.int(16)), body);
}

function other(r) {
  switch (r.int(6)) {
    case 0:
      return frame(0xc0, r.chance(0.9) ? Buffer.alloc(0) : bytes(r, 2)); // PINGREQ
    case 1:
      return frame(0xe0, r.chance(0.9) ? Buffer.alloc(0) : bytes(r, 1)); // DISCONNECT
    case 2:
      return frame(r.pick([0x20, 0x90, 0xb0, 0xd0]), bytes(r, 2)); // server-only types [MQTT-2.2.1]
    case 3:
      return frame(r.pick([0x00, 0xf0]), bytes(r, r.int(4))); // reserved types
    case 4:
      return Buffer.concat([Buffer.from([0x30]), Buffer.from([0xff, 0xff, 0xff, 0x7f])]); // announces 268,435,455 bytes
    default:
      return Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]); // a five-byte remaining length
  }
}

/** A packet of any type: 70% of them well-formed (so a connection lives long enough to reach later states). */
export function anyPacket(r) {
  const kind = r.int(10);
  if (kind < 4) return publish(r);
  if (kind < 6) return ack(r);
  if (kind < 7) return subscribe(r);
  if (kind < 8) return unsubscribe(r);
  if (kind < 9) return other(r);
  return connect(r, `fz-second-${r.int(100)}`, { valid: r.chance(0.5) }); // a second CONNECT [MQTT-3.1.0-2]
}

/** A mutation of `packet`: bit flips, a cut, inserted or duplicated bytes, or a remaining length that lies. */
export function mutate(r, packet) {
  const b = Buffer.from(packet);
  switch (r.int(5)) {
    case 0:
      for (let i = 0, n = 1 + r.int(3); i < n; i++) b[r.int(b.length)] ^= 1 << r.int(8);
      return b;
    case 1:
      return b.subarray(0, r.int(b.length));
    case 2: {
      const at = r.int(b.length);
      return Buffer.concat([b.subarray(0, at), bytes(r, 1 + r.int(16)), b.subarray(at)]);
    }
    case 3: {
      const at = r.int(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + r.int(32)), b.subarray(at)]);
    }
    default: {
      // The length field says more or less than follows.
      const lie = Math.max(0, packet.length - 2 + r.pick([-3, -1, 1, 2, 100, 70000]));
      return Buffer.concat([Buffer.from([packet[0]]), remainingLength(lie), packet.subarray(2)]);
    }
  }
}
