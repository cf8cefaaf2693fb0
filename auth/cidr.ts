/** IPv4 and IPv6 addresses and CIDR ranges, for address rules in authentication and ACLs. */
import { isIP } from 'net';

interface Range {
  bytes: Buffer;
  prefix: number;
}

function toBytes(ip: string): Buffer | null {
  // IPv4-mapped IPv6 (::ffff:1.2.3.4), as Node reports IPv4 peers on dual-stack sockets, counts as IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1];
  const kind = isIP(ip);
  if (kind === 4) return Buffer.from(ip.split('.').map(Number));
  if (kind !== 6) return null;
  const [head, tail] = ip.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':') : []);
  let parts = parse(head);
  let rest = parse(tail);
  const last = (tail === undefined ? parts : rest).at(-1);
  const v4 = last && last.includes('.') ? toBytes(last) : null;
  if (v4) {
    const words = [((v4[0] << 8) | v4[1]).toString(16), ((v4[2] << 8) | v4[3]).toString(16)];
    if (tail === undefined) parts = [...parts.slice(0, -1), ...words];
    else rest = [...rest.slice(0, -1), ...words];
  }
  const groups = tail === undefined ? parts : [...parts, ...new Array(8 - parts.length - rest.length).fill('0'), ...rest];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

export function parseRange(spec: string): Range {
  const [addr, bits] = spec.split('/');
  const bytes = toBytes(addr);
  if (!bytes) throw new Error(`not an IP address or CIDR range: '${spec}'`);
  const max = bytes.length * 8;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad prefix length in '${spec}'`);
  return { bytes, prefix };
}

export function inRange(ip: string, range: Range): boolean {
  const bytes = toBytes(ip);
  if (!bytes || bytes.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (range.bytes[i] & mask)) return false;
  }
  return true;
}

export class AddressSet {
  private readonly ranges: Range[];
  constructor(specs: readonly string[]) {
    this.ranges = specs.map(parseRange);
  }
  get size(): number {
    return this.ranges.length;
  }
  has(ip: string): boolean {
    return this.ranges.some((r) => inRange(ip, r));
  }
}
