/**
 * The live delivery state of one connected session: the outbound in-flight
 * window, the bounded queue behind it, its cursor in the message stream,
 * inbound QoS 2 exchanges and packet identifiers. It is seeded from the session
 * projection when a client connects and kept in step with it by the events the
 * channel appends. No I/O.
 *
 * The log is the queue. A session takes live deliveries while it keeps up;
 * when its queue is full, or when it comes back with an offline backlog, it
 * reads the message stream from its cursor instead, one bounded page at a
 * time, and takes live deliveries again in the same step as a page reaches the
 * node's position. Memory per session is bounded by `maxQueued`; what is
 * delivered is not.
 */
import { MessageProperties, MessageRef, MessageSource, Positions, QoS } from '../events/types';
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
  /** MQTT 5 message properties (passed on to MQTT 5 subscribers; their expiry is checked when sent). */
  props?: MessageProperties;
  /** MQTT 5: identifiers of the session's subscriptions that matched [MQTT-3.3.4-3]. */
  subscriptionIds?: number[];
  /** Brought by the feed of this `since` subscription (not yet caught up). */
  feed?: string;
  /** Delivered for this shared subscription (`$share/...`): moved to another member if this one vanishes unacknowledged. */
  shared?: string;
}

export interface InflightEntry {
  qos: 1 | 2;
  ref: MessageRef;
  /** PUBREC received, PUBREL sent; waiting for PUBCOMP. */
  released: boolean;
  /** The shared subscription it came through, if any. */
  shared?: string;
}

/**
 * Sessions with deliveries waiting, for the node's delivery-lag watch
 * (delivery/DeliveryLag.ts): told when a session's queue stops or starts being empty.
 */
export interface QueueWatch {
  queueing(session: Session): void;
  drained(session: Session): void;
}

/** The queue of a session nothing was ever queued for: shared, never written (see `push`). */
const NO_DELIVERIES: Delivery[] = [];
const NO_TIMES: number[] = [];

export class Session {
  /**
   * The in-flight window and the inbound QoS 2 ids are made on first use: most
   * sessions of a big fleet of idle (or QoS 0) clients never need them, and an
   * empty Map or Set costs a hash table of its own.
   */
  private inflightMap: Map<number, InflightEntry> | null = null;
  private inboundSet: Set<number> | null = null;
  private queue: Delivery[] = NO_DELIVERIES;
  /** When each queued delivery was queued (ms), for the delivery lag. */
  private times: number[] = NO_TIMES;
  private head = 0;
  /**
   * Set while the session reads the message stream instead of taking live
   * deliveries (its queue overflowed, or it is reading its offline backlog):
   * where to read next, per partition.
   */
  cursor: number[] | null = null;
  /**
   * Messages before this position were published while the session was offline:
   * its QoS 0 messages are not delivered (Mosquitto's default). Null once the
   * cursor has passed it.
   */
  offlineUntil: Positions | null = null;
  /** A page read from the log is under way for this session. */
  reading = false;
  /**
   * Since when this connected session has been behind: its queue overflowed and
   * it reads the log to catch up. Counted as delivery lag, like its queue's age
   * (an offline backlog is not: a returning client's backlog is its own).
   */
  private behindSince: number | null = null;
  /** Whether the watch has this session as waiting. */
  private watched = false;
  /** Messages log retention deleted before this session read them. */
  expiredUnread = 0;
  /**
   * `since` feeds under way, by filter: where each has read the log up to ([]
   * until its first page). Made on first use.
   */
  private feeds: Map<string, number[]> | null = null;
  /** The last time the client took something (an acknowledgement, or room on its socket). */
  progressAt = 0;
  private lastPacketId = 0;

  constructor(
    readonly clientId: string,
    /** Outbound QoS 1/2 messages awaiting acknowledgement at most (mqtt.maxInflight; MQTT 5: the client's receive maximum). */
    readonly window: number,
    private readonly maxQueued: number,
    private readonly watch: QueueWatch | null = null,
  ) {}

  /** Open outbound QoS 1/2 exchanges by packet id. */
  get inflight(): Map<number, InflightEntry> {
    return (this.inflightMap ??= new Map());
  }

  /** Inbound QoS 2 packet ids awaiting PUBREL [MQTT-4.3.3-2]. */
  get inbound(): Set<number> {
    return (this.inboundSet ??= new Set());
  }

  get inflightCount(): number {
    return this.inflightMap === null ? 0 : this.inflightMap.size;
  }

  private push(d: Delivery, now: number): void {
    if (this.queue === NO_DELIVERIES) {
      this.queue = [d];
      this.times = [now];
    } else {
      this.queue.push(d);
      this.times.push(now);
    }
    if (!this.watched) this.updateWatch();
  }

  /** Tells the watch when the session starts or stops having deliveries waiting (queued, or behind in the log). */
  private updateWatch(): void {
    const waiting = this.head < this.queue.length || this.behindSince !== null;
    if (waiting === this.watched) return;
    this.watched = waiting;
    if (waiting) this.watch?.queueing(this);
    else this.watch?.drained(this);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Since when the oldest waiting delivery has waited (in the queue, or in the log while behind), or null when none waits. */
  get oldestQueuedAt(): number | null {
    const queued = this.head < this.queue.length ? this.times[this.head] : null;
    if (this.behindSince === null) return queued;
    return queued === null || this.behindSince < queued ? this.behindSince : queued;
  }

  /**
   * Takes a live delivery, unless the session reads from the log (the message
   * will be read back from there) or its queue is full (then it starts reading
   * from the log). Retained messages are not in the message stream: they are
   * queued up to the bound, then dropped ('full').
   */
  enqueue(d: Delivery, nodePosition: () => Positions, now: number): 'queued' | 'lagging' | 'full' {
    if (d.ref.source === MessageSource.Retained) {
      if (this.queued >= this.maxQueued) return 'full';
      this.push(d, now);
      return 'queued';
    }
    // A `since` feed's page is queued whole: the feed asks only for what the queue has room for (half of
    // it at most), and its messages are not the live flow the cursor stands for.
    if (d.feed !== undefined) {
      this.push(d, now);
      return 'queued';
    }
    if (this.cursor) return 'lagging';
    if (this.queued >= this.maxQueued) {
      this.lagFrom(d, nodePosition());
      this.behindSince = now;
      this.updateWatch();
      return 'lagging';
    }
    this.push(d, now);
    return 'queued';
  }

  /** Reads from the log from `d` on (and from the node's position in the other partitions). */
  private lagFrom(d: Delivery, nodePosition: Positions): void {
    const from = [...nodePosition];
    from[d.ref.partition] = Math.min(from[d.ref.partition] ?? d.ref.offset, d.ref.offset);
    this.cursor = from;
  }

  /**
   * A returning session: its backlog is read from the log from `served` on, in
   * pages; what was published up to `livePosition` was published while it was
   * offline (no QoS 0).
   */
  resumeFrom(served: Positions, livePosition: Positions): void {
    this.cursor = [...served];
    this.offlineUntil = livePosition;
  }

  /** Whether to read the next page from the log now: reading from it, no read under way, and the queue half empty. */
  wantsPage(): boolean {
    return this.cursor !== null && !this.reading && this.queued <= this.maxQueued / 2;
  }

  /** How many messages the next page may bring: what the queue has room for. */
  get pageLimit(): number {
    return Math.max(1, this.maxQueued - this.queued);
  }

  /** A page read from the log, read up to `next`. `caughtUp`: live deliveries from here on. */
  addPage(deliveries: Delivery[], next: number[], caughtUp: boolean, now: number): void {
    for (const d of deliveries) this.push(d, now);
    this.reading = false;
    this.cursor = caughtUp ? null : next;
    if (caughtUp && this.behindSince !== null) {
      this.behindSince = null;
      this.updateWatch();
    }
    if (this.offlineUntil && (caughtUp || this.offlineUntil.every((o, p) => next[p] >= o))) this.offlineUntil = null;
  }

  /** The next message that may be sent now: QoS 0 always, QoS 1/2 while the window has room. */
  /**
   * Whether `d` may go out now without passing through the queue: a live
   * message with nothing queued or lagging before it and room in the window.
   * The same as queueing it and taking it at once, without the queue's
   * bookkeeping (the delivery-lag watch never sees a session that did not wait).
   */
  takesDirectly(d: Delivery): boolean {
    return (
      this.head >= this.queue.length &&
      this.cursor === null &&
      d.feed === undefined &&
      d.ref.source !== MessageSource.Retained &&
      (d.qos === 0 || this.inflightCount < this.window)
    );
  }

  take(): Delivery | undefined {
    if (this.head >= this.queue.length) return undefined;
    const next = this.queue[this.head];
    if (next.qos > 0 && this.inflightCount >= this.window) return undefined;
    this.queue[this.head++] = undefined as unknown as Delivery;
    if (this.head >= this.queue.length) {
      this.queue = NO_DELIVERIES;
      this.times = NO_TIMES;
      this.head = 0;
      this.updateWatch();
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return next;
  }

  /** The client took something: an acknowledgement, or room on its socket. */
  progress(now: number): void {
    this.progressAt = now;
  }

  /** The session ends: it no longer waits for anything. */
  close(): void {
    this.queue = NO_DELIVERIES;
    this.times = NO_TIMES;
    this.head = 0;
    this.behindSince = null;
    this.updateWatch();
  }

  /** A `since` feed starts (or resumes) for `filter`. */
  feedStarted(filter: string): void {
    (this.feeds ??= new Map()).set(filter, []);
  }

  /** The feed of `filter` has read the log up to `next` (what it read is queued here). */
  feedProgress(filter: string, next: number[]): void {
    if (this.feeds?.has(filter)) this.feeds.set(filter, next);
  }

  /** The feed of `filter` caught up (its route delivers from here), or its subscription went. */
  feedEnded(filter: string): void {
    this.feeds?.delete(filter);
  }

  /**
   * Where each feed under way continues if the session ends now: where it read
   * up to, pulled back to the first of its messages still queued here ([] when
   * it has not read a page yet: it starts over from its time).
   */
  feedFloors(): Array<{ filter: string; from: number[] }> {
    if (this.feeds === null || this.feeds.size === 0) return [];
    const out: Array<{ filter: string; from: number[] }> = [];
    for (const [filter, read] of this.feeds) {
      const from = [...read];
      if (from.length) {
        for (let i = this.head; i < this.queue.length; i++) {
          const d = this.queue[i];
          if (d.feed !== filter) continue;
          const p = d.ref.partition;
          if (p < from.length && d.ref.offset < from[p]) from[p] = d.ref.offset;
        }
      }
      out.push({ filter, from });
    }
    return out;
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
   * node's position, pulled back to the log cursor and to the first message still
   * waiting here.
   */
  servedFloor(nodePosition: Positions): number[] {
    const floor = [...nodePosition];
    this.cursor?.forEach((o, p) => {
      if (p < floor.length && o < floor[p]) floor[p] = o;
    });
    for (let i = this.head; i < this.queue.length; i++) {
      const d = this.queue[i];
      // A `since` feed's messages are older than the live flow; where the feed continues is its own (feedFloors).
      if (d.ref.source !== MessageSource.Messages || d.feed !== undefined) continue;
      const p = d.ref.partition;
      if (p < floor.length && d.ref.offset < floor[p]) floor[p] = d.ref.offset;
    }
    return floor;
  }
}
