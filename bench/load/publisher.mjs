// One publishing connection (it takes over the client's PUBACK and after-read
// handlers). It writes stamped copies of a PUBLISH template in
// batches and holds back when any of its limits is reached:
//  - the socket: no more writes once write() returns false, until 'drain' (so
//    QoS 0 "sent" means taken by the broker's socket, not piled up in ours);
//  - QoS 1: at most `inflight` messages without a PUBACK;
//  - `allowance()`: a total the workload grants (a rate for the latency test, a
//    bound on how far ahead of its subscribers a publisher may run).
import { publishTemplate } from './mqtt.mjs';
import { stamp } from './payload.mjs';

const BATCH = 64;

export class Publisher {
  constructor(client, { id, topic, qos, inflight = 64, allowance = () => Infinity }) {
    this.client = client;
    this.id = id;
    this.topic = topic;
    this.qos = qos;
    this.window = qos ? inflight : Infinity;
    this.allowance = allowance;
    this.template = publishTemplate(topic, qos);
    this.sent = 0;
    /** QoS 1 messages the broker acknowledged (QoS 0: taken by the socket, counted in `sent`). */
    this.acked = 0;
    this.inflight = 0;
    this.outstanding = new Uint8Array(65536); // packet ids awaiting PUBACK
    this.nextPacketId = 1;
    this.unexpectedAcks = 0;
    this.running = false;
    this.blocked = false;
    /** waiting for allowance() to grow: whoever grows it calls pump() */
    this.starved = false;
    client.socket.on('drain', () => {
      this.blocked = false;
      this.pump();
    });
    // PUBACKs free window slots; refilling once per socket read (not per PUBACK)
    // sends one batch instead of many one-message writes.
    client.onPuback = (_c, packetId) => this.onPuback(packetId);
    client.afterRead = () => this.pump();
  }

  start() {
    this.running = true;
    this.pump();
  }

  stop() {
    this.running = false;
  }

  onPuback(packetId) {
    if (!this.outstanding[packetId]) {
      this.unexpectedAcks++;
      return;
    }
    this.outstanding[packetId] = 0;
    this.inflight--;
    this.acked++;
  }

  /** Sends as much as the limits allow. */
  pump() {
    const { frame, payloadOffset, packetIdOffset } = this.template;
    while (this.running && !this.blocked && !this.client.closed) {
      const granted = this.allowance() - this.sent;
      this.starved = granted <= 0;
      const n = Math.min(BATCH, granted, this.window - this.inflight);
      if (n <= 0) return;
      const batch = Buffer.allocUnsafe(n * frame.length);
      const now = performance.now();
      for (let k = 0; k < n; k++) {
        const at = k * frame.length;
        frame.copy(batch, at);
        stamp(batch, at + payloadOffset, this.sent++, this.id, now);
        if (packetIdOffset >= 0) {
          const pid = this.nextPacketId;
          this.nextPacketId = pid === 65535 ? 1 : pid + 1;
          this.outstanding[pid] = 1;
          this.inflight++;
          batch.writeUInt16BE(pid, at + packetIdOffset);
        }
      }
      if (!this.client.write(batch)) this.blocked = true;
    }
  }

  /**
   * Resolves true once the publisher is stopped or has sent all it was allowed,
   * every QoS 1 message is acknowledged and the socket has flushed; false on timeout.
   */
  async settle(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const finished = !this.running || this.sent >= this.allowance();
      if (finished && this.inflight === 0 && this.client.socket.writableLength === 0) return true;
      if (this.client.closed) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }
}
