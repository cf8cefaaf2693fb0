/**
 * Makes a flush atomic across partitions. A flush writes each touched partition
 * with its own write(2); a message and its retained record, or a QoS 2 message
 * and the PUBREC event that records its exchange, land in different
 * partitions. A crash between those writes would keep one without the other:
 * a retained store that lost a message, or a QoS 2 message delivered twice when
 * its publisher resends it.
 *
 * After the data of a flush is written, its commit is written here: the end
 * offset of every partition. Nothing is acknowledged or handed to tails before
 * that. On open, each partition is cut back to the newest commit that its data
 * fully holds, so a flush survives a crash whole or not at all. Crash points
 * (and what recovery makes of them):
 *
 *   file-log.before-write            nothing of the flush written   → nothing to undo
 *   file-log.between-partition-writes part of the data written      → rolled back to the last commit
 *   file-log.before-commit           all data written, no commit    → rolled back to the last commit
 *   file-log.after-commit            committed, not yet acknowledged → kept whole
 *
 * The file holds two slots written in turn, so the previous commit survives a
 * torn write of the next. With `fsync: batch` the commit is fdatasynced with
 * the data; after a machine crash the newer slot may be ahead of the data,
 * which is why recovery falls back to the older one. (With `os` and `interval`
 * a machine crash can lose more than a flush; recovery then keeps what each
 * partition holds, as before.)
 *
 * Slot: [magic u32][slot size u32][content length u32][seq u32 hi][seq u32 lo]
 *       [count u32] then per partition [name length u16][stream name][partition u32]
 *       [end offset hi u32][end offset lo u32], then [crc32 of everything before].
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'fs';
import { crc32 } from 'zlib';
import { fdatasyncAsync } from './fileIo';

const MAGIC = 0x4d51424a; // "MQBJ"
const HEADER = 24;
const MIN_SLOT = 4096;

export interface PartitionEnd {
  stream: string;
  partition: number;
  /** The offset the partition's next record gets: everything before it is committed. */
  end: number;
}

export interface JournalCommit {
  seq: number;
  ends: PartitionEnd[];
}

function encodedSize(ends: readonly PartitionEnd[]): number {
  let n = HEADER + 4;
  for (const e of ends) n += 2 + Buffer.byteLength(e.stream) + 12;
  return n;
}

function encodeSlot(seq: number, ends: readonly PartitionEnd[], slotSize: number, into?: Buffer, names?: Map<string, Buffer>): Buffer {
  const buf = into ?? Buffer.alloc(slotSize);
  let at = HEADER;
  for (const e of ends) {
    let name = names?.get(e.stream);
    if (!name) {
      name = Buffer.from(e.stream);
      names?.set(e.stream, name);
    }
    buf.writeUInt16BE(name.length, at);
    name.copy(buf, at + 2);
    at += 2 + name.length;
    buf.writeUInt32BE(e.partition, at);
    buf.writeUInt32BE(Math.floor(e.end / 2 ** 32), at + 4);
    buf.writeUInt32BE(e.end >>> 0, at + 8);
    at += 12;
  }
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt32BE(slotSize, 4);
  buf.writeUInt32BE(at, 8);
  buf.writeUInt32BE(Math.floor(seq / 2 ** 32), 12);
  buf.writeUInt32BE(seq >>> 0, 16);
  buf.writeUInt32BE(ends.length, 20);
  buf.writeUInt32BE(crc32(buf.subarray(0, at)), at);
  return buf;
}

/** A slot, or null when it is not a complete commit (never written, torn, or not ours). */
function decodeSlot(buf: Buffer): JournalCommit | null {
  if (buf.length < HEADER + 4 || buf.readUInt32BE(0) !== MAGIC) return null;
  const length = buf.readUInt32BE(8);
  if (length < HEADER || length + 4 > buf.length || crc32(buf.subarray(0, length)) !== buf.readUInt32BE(length)) return null;
  const seq = buf.readUInt32BE(12) * 2 ** 32 + buf.readUInt32BE(16);
  const count = buf.readUInt32BE(20);
  const ends: PartitionEnd[] = [];
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + 2 > length) return null;
    const n = buf.readUInt16BE(at);
    if (at + 2 + n + 12 > length) return null;
    const stream = buf.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    ends.push({ stream, partition: buf.readUInt32BE(at), end: buf.readUInt32BE(at + 4) * 2 ** 32 + buf.readUInt32BE(at + 8) });
    at += 12;
  }
  return at === length ? { seq, ends } : null;
}

/** The valid commits of a journal file, newest first (none when there is no file). */
export function readJournal(file: string): JournalCommit[] {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return [];
  }
  const out: JournalCommit[] = [];
  if (data.length >= 8 && data.readUInt32BE(0) === MAGIC) {
    const slotSize = data.readUInt32BE(4);
    for (let i = 0; i < 2 && slotSize >= HEADER + 4 && (i + 1) * slotSize <= data.length; i++) {
      const commit = decodeSlot(data.subarray(i * slotSize, (i + 1) * slotSize));
      if (commit) out.push(commit);
    }
  }
  return out.sort((a, b) => b.seq - a.seq);
}

export class BatchJournal {
  private readonly fd: number;
  private seq: number;
  private readonly slotSize: number;
  /** A commit written since the last fdatasync. */
  private unsynced = false;
  /** The slot being encoded (written synchronously, so one buffer serves every commit). */
  private readonly scratch: Buffer;
  /** Stream names as bytes, encoded once. */
  private readonly names = new Map<string, Buffer>();

  /** Starts the journal afresh at `seq` with `ends` in both slots (after recovery). */
  constructor(
    readonly file: string,
    seq: number,
    ends: readonly PartitionEnd[],
  ) {
    this.slotSize = Math.max(MIN_SLOT, Math.ceil((encodedSize(ends) * 2) / MIN_SLOT) * MIN_SLOT);
    this.seq = seq;
    this.scratch = Buffer.alloc(this.slotSize);
    this.fd = openSync(file, 'w+');
    // Both slots allocated now: commits later overwrite blocks that exist (no space needed on a full disk).
    writeSync(this.fd, encodeSlot(seq, ends, this.slotSize), 0, this.slotSize, 0);
    writeSync(this.fd, encodeSlot(seq, ends, this.slotSize), 0, this.slotSize, this.slotSize);
    fdatasyncSync(this.fd);
  }

  /** Writes the next commit into the older slot. Synchronous: it is part of the flush's writes. */
  commit(ends: readonly PartitionEnd[]): void {
    this.seq++;
    // Only the slot's used prefix is written: a reader takes the length from the
    // header and checks the CRC over it, so what lies past it is never read, and
    // a torn prefix fails the CRC like a torn slot did. The buffer is reused (a
    // commit per flush is on the latency path; a 4 KiB zeroed allocation was not free).
    // (The partitions are fixed when the journal starts, and the slot holds twice their ends.)
    const slot = encodeSlot(this.seq, ends, this.slotSize, this.scratch, this.names);
    writeSync(this.fd, slot, 0, slot.readUInt32BE(8) + 4, (this.seq % 2) * this.slotSize);
    this.unsynced = true;
  }

  /** fdatasync of the journal, for `fsync: batch` (with the data) and `interval`. */
  async sync(): Promise<void> {
    if (!this.unsynced) return;
    this.unsynced = false;
    try {
      await fdatasyncAsync(this.fd);
    } catch (err) {
      this.unsynced = true;
      throw err;
    }
  }

  close(): void {
    try {
      if (this.unsynced) fdatasyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }
}
