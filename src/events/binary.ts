/**
 * Compact binary primitives shared by the event codec and projection snapshots.
 * Unsigned integers are LEB128 varints (safe up to 2^53), strings are UTF-8 with
 * a varint length, buffers likewise. A read past the end is a `DecodeError`, so a
 * truncated record can never decode into something plausible.
 */

import { isUtf8 } from 'buffer';

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(value: number): this {
    // A Buffer would silently keep only the low byte: 256 would read back as 0.
    if ((value & 0xff) !== value) throw new RangeError(`u8 out of range: ${value}`);
    this.ensure(1);
    this.buf[this.pos++] = value;
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  varuint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`varuint out of range: ${value}`);
    }
    this.ensure(8);
    const buf = this.buf;
    let pos = this.pos;
    // Above 31 bits (timestamps) by division; `& 0x7f` is exact there too, as 2^32 is a
    // multiple of 128. Below, by shifts: most values are small, and every event has a timestamp.
    while (value > 0x7fffffff) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 0x80);
    }
    while (value >= 0x80) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
    return this;
  }

  string(value: string): this {
    const n = value.length;
    // Client ids, node ids and most topics are short ASCII: copy the char codes
    // directly (one pass) and fall back to UTF-8 encoding at the first other one.
    if (n < 128) {
      this.ensure(n + 1);
      const buf = this.buf;
      const start = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + 1 + i] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.pos = start + 1 + n;
        return this;
      }
    }
    const len = Buffer.byteLength(value, 'utf8');
    this.varuint(len);
    this.ensure(len);
    this.pos += this.buf.write(value, this.pos, len, 'utf8');
    return this;
  }

  optionalString(value: string | null): this {
    if (value === null) return this.u8(0);
    this.u8(1);
    return this.string(value);
  }

  bytes(value: Uint8Array): this {
    this.varuint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  varuintArray(values: readonly number[]): this {
    this.varuint(values.length);
    for (const v of values) this.varuint(v);
    return this;
  }

  /** A copy of what was written; the writer may be reused afterwards. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  reset(): this {
    this.pos = 0;
    return this;
  }
}

export class BinaryReader {
  private pos: number;

  constructor(private readonly buf: Buffer, start = 0) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new DecodeError(`truncated record: ${what} needs ${n} byte(s) at ${this.pos}, ${this.buf.length - this.pos} left`);
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  bool(what = 'flag'): boolean {
    const v = this.u8(what);
    if (v > 1) throw new DecodeError(`invalid boolean ${v} for ${what}`);
    return v === 1;
  }

  varuint(what = 'integer'): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1, what);
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        // The writer takes safe integers only; more is corruption, not a number to round.
        if (result > Number.MAX_SAFE_INTEGER) throw new DecodeError(`varint beyond 2^53 for ${what}`);
        return result;
      }
      scale *= 0x80;
    }
    throw new DecodeError(`varint too long for ${what}`);
  }

  string(what = 'string'): string {
    const len = this.varuint(what);
    this.need(len, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    // The writer only writes UTF-8; invalid bytes would read back as U+FFFD, a different string.
    if (s.includes('\uFFFD') && !isUtf8(this.buf.subarray(this.pos, this.pos + len))) throw new DecodeError(`${what} is not valid UTF-8`);
    this.pos += len;
    return s;
  }

  optionalString(what = 'string'): string | null {
    return this.u8(what) === 0 ? null : this.string(what);
  }

  /** A view into the record (no copy): records are immutable once read. */
  bytes(what = 'bytes'): Buffer {
    const len = this.varuint(what);
    this.need(len, what);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  skipOptionalString(what = 'string'): void {
    if (this.u8(what) !== 0) this.skipBytes(what);
  }

  /** Skips a length-prefixed string or byte field. */
  skipBytes(what = 'bytes'): void {
    const len = this.varuint(what);
    this.need(len, what);
    this.pos += len;
  }

  varuintArray(what = 'array'): number[] {
    const n = this.varuint(what);
    if (n > this.remaining) throw new DecodeError(`array length ${n} exceeds record for ${what}`);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.varuint(what);
    return out;
  }

  expectEnd(what: string): void {
    if (this.pos !== this.buf.length) {
      throw new DecodeError(`${this.buf.length - this.pos} trailing byte(s) after ${what}`);
    }
  }
}
