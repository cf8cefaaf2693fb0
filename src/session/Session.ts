/**
 * The live delivery state of one connected session: the outbound in-flight
 * window, the queue behind it, inbound QoS 2 exchanges and packet identifiers.
 * It is seeded from the session projection when a client connects and kept in
 * step with it by the events the channel appends. No I/O.
 */
import { MessageRef, MessageSource, Positions, QoS } from '../events/types';

/** A message on its way to this session, at the QoS it will be delivered with. */
export interface Delivery {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  ref: MessageRef;
  /** Shared PUBLISH encodings (see protocol/PublishEncoder): one Delivery may go to many sessions. */
  encoded?: Array<{ bytes: Buffer; idOffset: number } | undefined>;
}

export interface InflightEntry {
  qos: 1 | 2;
  ref: MessageRef;
  /** PUBREC received, PUBREL sent; waiting for PUBCOMP. */
  released: boolean;
}

export class Session {
  readonly inflight = new Map<number, InflightEntry>();
  /** Inbound QoS 2 packet ids awaiting PUBREL [MQTT-4.3.3-2]. */
  readonly inbound = new Set<number>();
  private queue: Delivery[] = [];
  private head = 0;
  /** Live deliveries held back while the offline backlog is being read. */
  private held: Delivery[] | null = null;
  /** Where the backlog being read starts; nothing from there on is handled yet. */
  private backlogFrom: Positions | null = null;
  private lastPacketId = 0;

  constructor(
    readonly clientId: string,
    private readonly maxInflight: number,
    private readonly maxQueued: number,
  ) {}

  get queued(): number {
    return this.queue.length - this.head + (this.held?.length ?? 0);
  }

  get loadingBacklog(): boolean {
    return this.held !== null;
  }

  /** Accepts a message for delivery; false when the queue is full and the message is dropped. */
  enqueue(d: Delivery): boolean {
    if (this.queued >= this.maxQueued) return false;
    if (this.held) this.held.push(d);
    else this.queue.push(d);
    return true;
  }

  /** From now on live deliveries wait until `endBacklog` puts the backlog in front of them. */
  beginBacklog(from: Positions): void {
    if (!this.held) this.held = [];
    this.backlogFrom = from;
  }

  /** Queues the backlog, then what arrived live meanwhile. Returns how many were dropped for space. */
  endBacklog(backlog: Delivery[]): number {
    const held = this.held ?? [];
    this.held = null;
    this.backlogFrom = null;
    let dropped = 0;
    for (const d of backlog) {
      if (this.queue.length - this.head >= this.maxQueued) dropped++;
      else this.queue.push(d);
    }
    for (const d of held) {
      if (this.queue.length - this.head >= this.maxQueued) dropped++;
      else this.queue.push(d);
    }
    return dropped;
  }

  /** The next message that may be sent now: QoS 0 always, QoS 1/2 while the window has room. */
  take(): Delivery | undefined {
    if (this.head >= this.queue.length) return undefined;
    const next = this.queue[this.head];
    if (next.qos > 0 && this.inflight.size >= this.maxInflight) return undefined;
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
      if (!this.inflight.has(this.lastPacketId)) return this.lastPacketId;
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
    if (this.backlogFrom) this.backlogFrom.forEach((o, p) => {
      if (p < floor.length && o < floor[p]) floor[p] = o;
    });
    const visit = (d: Delivery) => {
      if (d.ref.source !== MessageSource.Messages) return;
      const p = d.ref.partition;
      if (p < floor.length && d.ref.offset < floor[p]) floor[p] = d.ref.offset;
    };
    for (let i = this.head; i < this.queue.length; i++) visit(this.queue[i]);
    if (this.held) this.held.forEach(visit);
    return floor;
  }
}
