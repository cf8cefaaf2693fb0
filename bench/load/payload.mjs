// The 64-byte benchmark payload. Every message carries who sent it, its place in
// that publisher's sequence and when it was sent, so the receiving side can count
// loss, duplicates and reordering and measure end-to-end latency (publishers and
// subscribers live in one load-generator process, so they share one clock).
//
//   bytes 0..3   sequence number (u32 LE, from 0 per publisher)
//   bytes 4..7   publisher id (u32 LE)
//   bytes 8..15  send time, performance.now() in ms (f64 LE)
//   bytes 16..63 zero padding
export const PAYLOAD_BYTES = 64;

export function stamp(buf, offset, seq, publisherId, sentAtMs) {
  buf.writeUInt32LE(seq, offset);
  buf.writeUInt32LE(publisherId, offset + 4);
  buf.writeDoubleLE(sentAtMs, offset + 8);
}

export const seqOf = (buf, offset) => buf.readUInt32LE(offset);
export const publisherOf = (buf, offset) => buf.readUInt32LE(offset + 4);
export const sentAtOf = (buf, offset) => buf.readDoubleLE(offset + 8);
