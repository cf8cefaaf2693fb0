/**
 * The live delivery state of one connected session: the outbound in-flight
 * window, the queue behind it, inbound QoS 2 exchanges and packet identifiers.
 * It is seeded from the session projection when a client connects and kept in
 * step with it by the events the channel appends. No I/O.
 */
import { MessageRef, MessageSource, Positions, QoS } from '../events/types';
import type { PublishSource } from '../protocol/PublishEncoder';

/** A message on its way to this session, at the QoS it will be delivered with. */
export interface Delivery {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  ref: MessageRef;
  /** Shared PUBLISH encodings (see protocol/PublishEncoder): one Delivery may go to many sessions. */
  encoded?: PublishSource['encoded'];
}

export interface InflightEntry {
  qos: 1 | 2;
  ref: MessageRef;
  /** PUBREC received, PUBREL sent; waiting for PUBCOMP. */
  released: boolean;
}

/** The queue of a session nothing was ever queued for: shared, never written (see `push`). */
const NO_DELIVERIES: Delivery[] = [];

export class Session {
  /**
   * The in-flight window and the inbound QoS 2 ids are made on first use: most
   * sessions of a big fleet of idle (or QoS 0) clients never need them, and an
   * empty Map or Set costs a hash table of its own.
   */
  private inflightMap: Map<number, InflightEntry> | null = null;
  private inboundSet: Set<number> | null = null;
  private queue: Delivery[] = NO_DELIVERIES;
  private head = 0;
  /**
   * Set while the session takes its messages from the log instead of live
   * deliveries (its queue overflowed, its socket was full, or it is reading its
   * offline backlog): where in the message stream to read next.
   */
  lagFrom: number[] | null = null;
  /** A read from the log is under way for this session. */
  reading = false;
  /** Where the offline backlog being read starts (until it is queued). */
  private backlogFrom: Positions | null = null;
  private lastPacketId = 0;

  constructor(
    readonly clientId: string,
    private readonly maxInflight: number,
    private readonly maxQueued: number,
  ) {}

  /** Open outbound QoS 1/2 exchanges by packet id. */
  get inflight(): Map<number, InflightEntry> {
    return (this.inflightMap ??= new Map());
  }

  /** Inbound QoS 2 packet ids awaiting PUBREL [MQTT-4.3.3-2]. */
  get inbound(): Set<number> {
    return (this.inboundSet ??= new Set());
  }

  private get inflightCount(): number {
    return this.inflightMap === null ? 0 : this.inflightMap.size;
  }

  private push(d: Delivery): void {
    if (this.queue === NO_DELIVERIES) this.queue = [d];
    else this.queue.push(d);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  /**
   * Takes a live delivery, unless the session is lagging (the message is in the
   * log and will be read back) or the queue is full (then it starts lagging).
   * Retained messages are not in the message stream: they are queued up to the bound, then dropped.
   */
  enqueue(d: Delivery, nodePosition: () => Positions): 'queued' | 'lagging' | 'full' {
    if (d.ref.source === MessageSource.Retained) {
      // Not in the message stream, so it cannot be read back later: past the bound it is dropped.
      if (this.queued >= this.maxQueued) return 'full';
      this.push(d);
      return 'queued';
    }
    if (this.lagFrom) return 'lagging';
    if (this.queued >= this.maxQueued) {
      this.startLag(d, nodePosition());
      return 'lagging';
    }
    this.push(d);
    return 'queued';
  }

  /** From `d` on (and everything after the node's position elsewhere), read from the log. */
  startLag(d: Delivery, nodePosition: Positions): void {
    if (this.lagFrom || d.ref.source !== MessageSource.Messages) return;
    const from = [...nodePosition];
    from[d.ref.partition] = Math.min(from[d.ref.partition] ?? d.ref.offset, d.ref.offset);
    this.lagFrom = from;
  }

  /** Whether to read the next page from the log now: lagging, idle, and the queue half empty. */
  wantsCatchUp(): boolean {
    return this.lagFrom !== null && !this.reading && this.queued <= this.maxQueued / 2;
  }

  /** How many messages one page from the log may bring. */
  get pageSize(): number {
    return Math.max(1, this.maxQueued - this.queued);
  }

  /** A page read from the log. `caughtUp`: live deliveries from here on. */
  addFromLog(deliveries: Delivery[], next: number[], caughtUp: boolean): void {
    for (const d of deliveries) this.push(d);
    this.reading = false;
    this.lagFrom = caughtUp ? null : next;
  }

  /**
   * The offline backlog is being read from `from`; live messages from
   * `livePosition` on will be read from the log after it.
   */
  beginBacklog(from: Positions, livePosition: Positions): void {
    this.backlogFrom = from;
    this.lagFrom = [...livePosition];
    this.reading = true;
  }

  /** Queues the offline backlog, up to the queue bound. Returns how many were dropped for space. */
  endBacklog(backlog: Delivery[]): number {
    this.backlogFrom = null;
    this.reading = false;
    let dropped = 0;
    for (const d of backlog) {
      if (this.queued >= this.maxQueued) dropped++;
      else this.push(d);
    }
    return dropped;
  }

  /** The next message that may be sent now: QoS 0 always, QoS 1/2 while the window has room. */
  take(): Delivery | undefined {
    if (this.head >= this.queue.length) return undefined;
    const next = this.queue[this.head];
    if (next.qos > 0 && this.inflightCount >= this.maxInflight) return undefined;
    this.queue[this.head++] = undefined as unknown as Delivery;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return next;
  }

  /** A packet identifier not used by any open outbound exchange [MQTT-2.3.1-2]. */
  allocatePacketId(): number {
    for (let i = 0; i < 65535; i++) {
      this.lastPacketId = this.lastPacketId >= 65535 ? 1 : this.lastPacketId + 1;
      if (this.inflightMap === null || !this.inflightMap.has(this.lastPacketId)) return this.lastPacketId;
    }
    throw new Error(`session ${this.clientId}: no free packet identifier`);
  }

  /** Seeds the identifier counter after a resume so new ids follow the resumed ones. */
  noteUsedPacketId(id: number): void {
    this.lastPacketId = id;
  }

  /**
   * The earliest message-stream position not yet handled for this session: the
   * node's position, pulled back to the first message still waiting here.
   */
  servedFloor(nodePosition: Positions): number[] {
    const floor = [...nodePosition];
    const pull = (from: Positions | null) =>
      from?.forEach((o, p) => {
        if (p < floor.length && o < floor[p]) floor[p] = o;
      });
    pull(this.backlogFrom);
    pull(this.lagFrom);
    const visit = (d: Delivery) => {
      if (d.ref.source !== MessageSource.Messages) return;
      const p = d.ref.partition;
      if (p < floor.length && d.ref.offset < floor[p]) floor[p] = d.ref.offset;
    };
    for (let i = this.head; i < this.queue.length; i++) visit(this.queue[i]);
    return floor;
  }
}
