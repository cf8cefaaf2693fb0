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

export function str(s) {
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
    case 11:
    case 12:
      // Shared subscriptions (members come and go with the connections), and malformed share names.
      return filter ? r.pick(['$share/g/fz/+/a', '$share/g1/fz/#', '$share/g2/#', '$share//fz', '$share/g+/fz', '$share/g']) : `fz/${r.int(50)}/a`;
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

/** MQTT 5 property ids by the packets they belong in (and a few that belong nowhere). */
const V5_PROPS = {
  connect: [0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16],
  will: [0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26],
  publish: [0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0b, 0x03],
  ack: [0x1f, 0x26],
  subscribe: [0x0b, 0x26],
  unsubscribe: [0x26],
  disconnect: [0x11, 0x1f, 0x26, 0x1c],
  auth: [0x15, 0x16, 0x1f, 0x26],
};
const BYTE_PROPS = new Set([0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a]);
const U16_PROPS = new Set([0x13, 0x21, 0x22, 0x23]);
const U32_PROPS = new Set([0x02, 0x11, 0x18, 0x27]);
const BINARY_PROPS = new Set([0x09, 0x16]);

export function varint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** One property: usually well-formed, sometimes an unknown id, a value out of range, bad UTF-8, or misplaced. */
function property(r, kind) {
  const id = r.chance(0.85) ? r.pick(V5_PROPS[kind]) : r.pick([0x00, 0x04, 0x7f, 0x2b, 0x24, 0x12, 0x13, 0x1a, 0xff]);
  const head = Buffer.from([id]);
  if (BYTE_PROPS.has(id)) return Buffer.concat([head, Buffer.from([r.pick([0, 1, 1, 2, 255])])]);
  if (U16_PROPS.has(id)) return Buffer.concat([head, u16(r.pick([0, 1, 10, 65535, r.int(65536)]))]);
  if (U32_PROPS.has(id)) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(r.pick([0, 1, 60, 0xffffffff, r.int(2 ** 31)]));
    return Buffer.concat([head, b]);
  }
  if (id === 0x0b) return Buffer.concat([head, r.chance(0.9) ? varint(r.pick([0, 1, 268435455, r.int(1000)])) : Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01])]);
  // A `since` on a SUBSCRIBE starts the subscriptions in the past (a feed from the log), with good and bad values.
  if (id === 0x26 && kind === 'subscribe' && r.chance(0.3)) return Buffer.concat([head, str('since'), str(r.pick(['1h', '30s', '2026-01-01T00:00:00Z', 'soon', '999999999d', '0s']))]);
  if (id === 0x26) return Buffer.concat([head, str(r.chance(0.9) ? `k${r.int(9)}` : Buffer.from([0xc3, 0x28])), str(r.chance(0.9) ? `v${r.int(99)}` : Buffer.from([0xed, 0xa0, 0x80]))]);
  if (BINARY_PROPS.has(id)) return Buffer.concat([head, str(bytes(r, r.int(40)))]);
  return Buffer.concat([head, str(r.chance(0.85) ? `fz/s${r.int(9)}` : r.pick([Buffer.from([0xff]), Buffer.from('a\u0000b'), Buffer.alloc(0)]))]);
}

/** A v5 property block for `kind`: a length and 0-4 properties (repeats happen), now and then a length that lies. */
export function properties(r, kind) {
  const parts = [];
  for (let i = 0, n = r.pick([0, 0, 1, 2, 4]); i < n; i++) parts.push(property(r, kind));
  const body = Buffer.concat(parts);
  const length = r.chance(0.95) ? body.length : r.pick([body.length + 1, body.length + 50, Math.max(0, body.length - 1), 268435455]);
  return Buffer.concat([varint(length), body]);
}

/** A CONNECT, usually one the broker accepts (so the packets after it reach a connected channel); `v5` for protocol level 5. */
export function connect(r, clientId, { valid = true, v5 = false } = {}) {
  const willFlag = r.chance(0.3);
  let willQos = r.int(3);
  let level = v5 ? 5 : 4;
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
  const parts = [str(name), Buffer.from([level, flags & 0xff]), u16(keepalive)];
  if (level === 5) parts.push(valid && r.chance(0.7) ? Buffer.from([0]) : properties(r, 'connect'));
  parts.push(str(id));
  if (flags & 0x04) {
    if (level === 5) parts.push(valid && r.chance(0.5) ? Buffer.from([0]) : properties(r, 'will'));
    parts.push(str(valid ? `fz/will/${r.int(10)}` : topic(r)), str(payload(r).subarray(0, 200)));
  }
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

/** MQTT 5 packets: the 3.1.1 layouts with reason codes and property blocks where v5 has them. */
function v5Packet(r) {
  switch (r.int(7)) {
    case 0:
    case 1: {
      const qos = r.pick([0, 1, 1, 2, 3]);
      const parts = [str(r.chance(0.8) ? `fz/${r.int(50)}/a` : r.chance(0.5) ? '' : topic(r))];
      if (qos > 0) parts.push(u16(packetId(r)));
      parts.push(properties(r, 'publish'), Buffer.alloc(r.int(64), 0x62));
      return frame(0x30 | (qos << 1) | (r.chance(0.2) ? 1 : 0), Buffer.concat(parts));
    }
    case 2: {
      const parts = [u16(packetId(r)), properties(r, 'subscribe')];
      for (let i = 0, n = r.pick([0, 1, 2]); i < n; i++) parts.push(str(r.chance(0.7) ? `fz/${r.int(20)}/#` : topic(r, { filter: true })), Buffer.from([r.pick([0, 1, 2, 0x04, 0x08, 0x10, 0x20, 0x30, 0x40, 0x80, 0x2e])]));
      return frame(0x82, Buffer.concat(parts));
    }
    case 3: {
      const type = r.pick([4, 5, 6, 7]);
      const parts = [u16(packetId(r))];
      if (r.chance(0.7)) parts.push(Buffer.from([r.pick([0x00, 0x10, 0x80, 0x92, 0x99, 0x05, 0xff])]));
      if (r.chance(0.5)) parts.push(properties(r, 'ack'));
      return frame((type << 4) | (type === 6 ? 2 : 0), Buffer.concat(parts));
    }
    case 4: {
      const parts = [u16(packetId(r)), properties(r, 'unsubscribe')];
      for (let i = 0, n = r.pick([0, 1, 2]); i < n; i++) parts.push(str(`fz/${r.int(20)}/#`));
      return frame(0xa2, Buffer.concat(parts));
    }
    case 5:
      return frame(0xe0, r.chance(0.3) ? Buffer.alloc(0) : Buffer.concat([Buffer.from([r.pick([0x00, 0x04, 0x8e, 0x81, 0x03])]), properties(r, 'disconnect')]));
    default:
      return frame(0xf0, Buffer.concat([Buffer.from([r.pick([0x00, 0x18, 0x19, 0x01])]), properties(r, 'auth')])); // AUTH
  }
}

/** A packet of any type: 70% of them well-formed (so a connection lives long enough to reach later states); `v5` adds MQTT 5 layouts. */
export function anyPacket(r, v5 = false) {
  if (v5 && r.chance(0.7)) return v5Packet(r);
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
