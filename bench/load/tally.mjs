// What one subscriber received, per (publisher, topic) stream: how many, which
// sequence numbers (a growable bitset, so a duplicate is told from a late arrival),
// and end-to-end latencies. Loss is only known once the publishers say how much
// they sent: see missing().
import { publisherOf, sentAtOf, seqOf } from './payload.mjs';

class Stream {
  constructor() {
    this.seen = new Uint32Array(1024);
    this.highest = -1;
    this.unique = 0;
  }

  /** 0 new in order, 1 duplicate, 2 new but after a higher sequence number (reordered). */
  add(seq) {
    const word = seq >>> 5;
    if (word >= this.seen.length) {
      let size = this.seen.length * 2;
      while (size <= word) size *= 2;
      const grown = new Uint32Array(size);
      grown.set(this.seen);
      this.seen = grown;
    }
    const bit = 1 << (seq & 31);
    if (this.seen[word] & bit) return 1;
    this.seen[word] |= bit;
    this.unique++;
    if (seq < this.highest) return 2;
    this.highest = seq;
    return 0;
  }
}

export class Tally {
  constructor() {
    this.streams = new Map();
    this.received = 0;
    this.duplicates = 0;
    this.reordered = 0;
    /** unique messages per publisher id, for publishers that must not run too far ahead */
    this.fromPublisher = [];
    /** latencies (ms) of messages sent inside [latencyFrom, latencyTo] */
    this.latencyFrom = Infinity;
    this.latencyTo = -Infinity;
    this.latencies = [];
  }

  onPublish(buf, topicStart, topicEnd, payloadStart, now) {
    this.received++;
    const publisher = publisherOf(buf, payloadStart);
    const key = `${publisher}|${buf.latin1Slice(topicStart, topicEnd)}`;
    let stream = this.streams.get(key);
    if (!stream) this.streams.set(key, (stream = new Stream()));
    const verdict = stream.add(seqOf(buf, payloadStart));
    if (verdict === 1) {
      this.duplicates++;
      return;
    }
    if (verdict === 2) this.reordered++;
    this.fromPublisher[publisher] = (this.fromPublisher[publisher] ?? 0) + 1;
    const sentAt = sentAtOf(buf, payloadStart);
    if (sentAt >= this.latencyFrom && sentAt <= this.latencyTo) this.latencies.push(now - sentAt);
  }

  /**
   * Compares what arrived with what was sent: `sent` maps "<publisher id>|<topic>"
   * to the number of messages that publisher sent there (sequence 0..n-1).
   * Returns { lost, unexpected }: sent but never received, received but never sent.
   */
  missing(sent) {
    let lost = 0;
    let unexpected = 0;
    for (const [key, n] of sent) {
      const stream = this.streams.get(key);
      if (!stream) {
        lost += n;
        continue;
      }
      let have = 0;
      for (let seq = 0; seq < n; seq++) if (stream.seen[seq >>> 5] & (1 << (seq & 31))) have++;
      lost += n - have;
      unexpected += stream.unique - have;
    }
    for (const [key, stream] of this.streams) if (!sent.has(key)) unexpected += stream.unique;
    return { lost, unexpected };
  }
}
