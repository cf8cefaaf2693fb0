/**
 * One client connection on this node: transport bytes → decoder → channel, and
 * the channel's effects carried out in order. Appends of one connection settle
 * in order, so acknowledgements leave in the order their packets arrived
 * [MQTT-4.6.0-2..4].
 */
import { Packet } from 'mqtt-packet';
import { encodeMqtt3 } from '../protocol/Mqtt3Encoder';
import { encodeMqtt5 } from '../protocol/v5/Mqtt5Encoder';
import { Channel } from '../channel/Channel';
import { Effect } from '../channel/effects';
import type { LimitName } from '../channel/limits';
import type { Appender } from './Appender';
import { BrokerEvent, DisconnectReason, DropReason, QoS } from '../events/types';
import { Logger } from '../logger';
import { PacketDecoder } from '../protocol/PacketDecoder';
import { PacketTooLarge, ProtocolViolation } from '../protocol/ProtocolViolation';
import { Delivery } from '../session/Session';
import { Transport, TransportSink } from '../transports/Transport';

/** Limits every connection of a node shares (one object, not two fields per connection). */
export interface ConnectionLimits {
  /** Largest packet before the CONNECT is accepted (mqtt.maxPacketSizeBeforeConnect, at most mqtt.maxPacketSize). */
  readonly beforeConnect: number;
  /** Largest packet after (mqtt.maxPacketSize). */
  readonly afterConnect: number;
  /** mqtt.maxSocketBufferBytes. */
  readonly maxSocketBufferBytes: number;
}

/** What a connection needs from its node. */
export interface ConnectionHost {
  readonly log: Logger;
  readonly connectionLimits: ConnectionLimits;
  /** True once the node failed (NodeHealth): nothing more is acknowledged. */
  readonly failed: boolean;
  /** True once this event-loop turn has taken its share of appends. */
  readonly turnBudgetSpent: () => boolean;
  /** The one append path: the connection's events are submitted there, in its order. */
  readonly appender: Appender;
  authenticate(conn: Connection, effect: Extract<Effect, { type: 'authenticate' }>): void;
  /** MQTT 5 re-authentication: starts an exchange; answers with `channel.challenged` or `channel.reauthenticated`. */
  reauthenticate(conn: Connection, effect: Extract<Effect, { type: 'reauthenticate' }>): void;
  /** The client's answer to the challenge of its exchange; answers with `channel.authenticated` or `channel.reauthenticated`. */
  authAnswer(conn: Connection, effect: Extract<Effect, { type: 'auth-answer' }>): void;
  openSession(conn: Connection): void;
  routeAdd(conn: Connection, effect: Extract<Effect, { type: 'route-add' }>): void;
  routeRemove(conn: Connection, effect: Extract<Effect, { type: 'route-remove' }>): void;
  sendRetained(conn: Connection, effect: Extract<Effect, { type: 'send-retained' }>): void;
  dropped(conn: Connection, count: number, reason: DropReason, detail: string): void;
  /** Hands what the log names for this connection's shared subscriptions in a range to other members. */
  sharedRelease(conn: Connection, effect: Extract<Effect, { type: 'shared-release' }>): void;
  /** Starts feeding a `since` subscription from the log. */
  sinceFeed(conn: Connection, effect: Extract<Effect, { type: 'since-feed' }>): void;
  /** A configured limit refused something of this connection's. */
  limitHit(conn: Connection, limit: LimitName, detail: string): void;
  /** Calls `conn.continueReading()` at the start of the next event-loop turn. */
  resumeNextTurn(conn: Connection): void;
  /** Reads the session's next page of the message stream; answers with `channel.pageRead` (or `pageFailed`). */
  readLog(conn: Connection, effect: Extract<Effect, { type: 'read-log' }>): void;
  /** True while the node's delivery is behind its ingest (DeliveryLag): connections that only publish stop being read. */
  readonly deliveryBehind: boolean;
  /** This connection stopped reading because delivery is behind; resume it when delivery catches up. */
  pausedForDelivery(conn: Connection): void;
  closed(conn: Connection, reason: DisconnectReason | null, detail: string): void;
  countIn(bytes: number): void;
  countOut(bytes: number): void;
  countPublishOut(qos: QoS): void;
}

const EMPTY = Buffer.alloc(0);

/** process.nextTick target: a shared function rather than a closure per connection. */
function flushConnection(conn: Connection): void {
  conn.flushOut();
}

/** process.nextTick target for a connection's coalesced appends. */
function flushConnectionAppends(conn: Connection): void {
  conn.flushAppends();
}

/**
 * Past this many events a connection's coalesced appends are issued at once
 * rather than at the end of the tick, so the node's per-turn budget (counted in
 * events) still bounds how much one socket read can take in.
 */
const COALESCE_LIMIT = 64;

/** The decoder's packet handler, shared by every connection (it is called with the connection as `this`). */
function packetDecoded(this: Connection, packet: Packet, size: number): void {
  this.packet(packet, size);
}

/** The decoder's yield test, shared likewise: the turn's budget is spent, a CONNECT awaits its answer, or the MQTT 5 receive window is full. */
function decoderShouldYield(this: Connection): boolean {
  return this.awaitingConnack || this.host.turnBudgetSpent() || this.channel.inboundWindowFull;
}

/** Writes of a connection with nothing waiting to go out: shared, never written (`send` replaces it first). */
const NOTHING_OUT: Buffer[] = [];

export class Connection implements TransportSink {
  private readonly decoder: PacketDecoder<Connection>;
  /**
   * Appends issued and completed: the log completes them in submission order,
   * so `then` effects keep the order of the packets that caused them. Effects
   * that wait for earlier appends without appending anything (and `settled()`)
   * wait in `waiting` until `completed` reaches what was issued before them.
   */
  private issued = 0;
  private completed = 0;
  private waiting: Array<{ after: number; run: () => void }> | null = null;
  private ended = false;
  private out: Buffer[] = NOTHING_OUT;
  private outBytes = 0;
  /**
   * The appends of this tick, coalesced into one: their events in order, and
   * their `then` effects in order. Issued at the end of the tick (or sooner, see
   * `flushAppends`). They would all become durable in the same group commit
   * anyway; one append costs one log submission and lets `recordsFor` put a run
   * of session events in one record.
   */
  private pendingEvents: BrokerEvent[] | null = null;
  private pendingThen: Effect[] | null = null;

  /** Reading stopped after CONNECT until it is answered (`accepted` resumes it). */
  private pausedForConnack = false;
  /** Reading stopped while the MQTT 5 receive window is full (a PUBACK leaving resumes it). */
  private pausedForWindow = false;

  constructor(
    readonly transport: Transport,
    readonly channel: Channel,
    readonly host: ConnectionHost,
  ) {
    // Until authenticated, a client may not make the broker buffer a large packet.
    this.decoder = new PacketDecoder<Connection>(host.connectionLimits.beforeConnect, packetDecoded, this);
    this.decoder.shouldYield = decoderShouldYield;
    transport.attach(this);
  }

  /**
   * A CONNECT is being authenticated or its session opened: nothing more is
   * decoded meanwhile (what the client pipelined waits in the socket and the
   * decoder), so a client cannot queue work or memory before it is let in.
   */
  get awaitingConnack(): boolean {
    const state = this.channel.state;
    return state === 'authenticating' || state === 'opening';
  }

  /** A packet from the client, decoded. */
  packet(packet: Packet, size: number): void {
    this.host.countIn(size);
    this.run(this.channel.handle(packet, this.room()));
  }

  get isClosed(): boolean {
    return this.ended;
  }

  data(chunk: Buffer): void {
    if (this.ended) return;
    if (this.host.deliveryBehind && this.onlyPublishes()) {
      // Delivery is behind ingest: this chunk is handled, then the client waits (TCP backpressure).
      this.transport.pause();
      this.host.pausedForDelivery(this);
    }
    try {
      // Past the turn's budget the decoder stops; the rest is decoded next turn and
      // the client is not read from meanwhile (TCP flow control does the waiting).
      if (!this.decoder.push(chunk)) {
        if (this.awaitingConnack) this.pauseForConnack();
        else if (this.channel.inboundWindowFull) {
          this.pausedForWindow = true;
          this.transport.pause();
        } else this.yieldReading();
      } else if (this.awaitingConnack) {
        // The CONNECT ended the chunk: read nothing more until it is answered.
        this.pauseForConnack();
      } else if (this.channel.inboundWindowFull) {
        this.pausedForWindow = true;
        this.transport.pause();
      }
    } catch (err) {
      if (err instanceof PacketTooLarge) {
        const limit = err.max === this.host.connectionLimits.afterConnect ? 'mqtt.maxPacketSize' : 'mqtt.maxPacketSizeBeforeConnect';
        this.host.limitHit(this, limit, err.message);
        if (err.packetType === 3) this.host.dropped(this, 1, 'too_large', err.message);
      }
      if (err instanceof ProtocolViolation) this.run(this.channel.violation(err));
      else this.run(this.channel.violation(new ProtocolViolation(`cannot decode packet: ${(err as Error).message}`)));
    }
  }

  /** Nothing is waiting to be delivered to this client or acknowledged by it: reading from it is only ingest. */
  private onlyPublishes(): boolean {
    const session = this.channel.session;
    return session === null || (session.inflightCount === 0 && session.queued === 0);
  }

  private pauseForConnack(): void {
    this.pausedForConnack = true;
    this.transport.pause();
  }

  private yieldReading(): void {
    this.transport.pause();
    this.host.resumeNextTurn(this);
  }

  /** Continues decoding what a yield left over; reads from the client again once all is decoded. */
  continueReading(): void {
    if (this.ended || this.pausedForConnack || this.pausedForWindow) return;
    if (this.decoder.hasPending) {
      this.data(EMPTY);
      if (this.decoder.hasPending) return; // yielded again: resumeNextTurn was asked again
    }
    this.transport.resume();
  }

  /** TransportSink: the network connection is gone. */
  closed(error?: Error): void {
    if (this.ended) return;
    this.run(this.channel.connectionLost(error ? `connection error: ${error.message}` : 'connection closed by client'));
    if (!this.ended) this.finish(null, 'connection closed');
  }

  /**
   * A message for this client. While its socket holds more than
   * `maxSocketBufferBytes` unsent, deliveries wait in the session queue, and past
   * the queue bound the session reads them back from the log once it drains: a
   * client that stops reading grows neither the broker's memory nor its losses.
   */
  deliver(d: Delivery): void {
    if (!this.ended) this.runSafely(this.channel.deliver(d, this.room()));
  }

  /** TransportSink: room to write again. */
  drained(): void {
    if (!this.ended) this.runSafely(this.channel.drained(this.room()));
  }

  /** A page of the session's message stream, read by the node. */
  pageRead(deliveries: Delivery[], next: number[], complete: boolean): void {
    if (!this.ended) this.runSafely(this.channel.pageRead(deliveries, next, complete, this.room()));
  }

  /** Runs effects outside the packet path: a failure closes this connection only. */
  runSafely(effects: Effect[]): void {
    try {
      this.run(effects);
    } catch (err) {
      this.host.log.error({ err, clientId: this.channel.clientId }, 'connection failed; closing it');
      this.finish(null, `internal error: ${(err as Error).message}`);
    }
  }

  /**
   * Writes bytes for the client. Writes of one event-loop turn leave as one
   * socket write: a burst of deliveries costs one syscall, not one per PUBLISH.
   */
  send(bytes: Buffer): void {
    if (this.ended) return;
    this.host.countOut(bytes.length);
    this.outBytes += bytes.length;
    if (this.out === NOTHING_OUT) {
      this.out = [bytes];
      process.nextTick(flushConnection, this);
    } else {
      this.out.push(bytes);
    }
  }

  /** Bytes this connection can still take before it must drain (the channel's `room`). */
  room(): number {
    return this.host.connectionLimits.maxSocketBufferBytes - this.transport.pendingBytes - this.outBytes;
  }

  flushOut(): void {
    const out = this.out;
    if (out.length === 0) return;
    const bytes = out.length === 1 ? out[0] : Buffer.concat(out, this.outBytes);
    this.out = NOTHING_OUT;
    this.outBytes = 0;
    if (!this.ended) this.transport.write(bytes);
  };

  /** Carries out effects in order. */
  run(effects: Effect[]): void {
    for (const effect of effects) this.execute(effect);
  }

  private execute(effect: Effect): void {
    switch (effect.type) {
      case 'publish':
        this.host.countPublishOut(effect.qos);
        this.send(this.channel.v5 ? encodeMqtt5(effect) : encodeMqtt3(effect));
        return;
      case 'ack':
      case 'connack':
      case 'suback':
      case 'unsuback':
      case 'pingresp':
        this.send(this.channel.v5 ? encodeMqtt5(effect) : encodeMqtt3(effect));
        return;
      case 'disconnect':
      case 'auth':
        // MQTT 5 only (a 3.1.1 connection just closes, and has no AUTH); a DISCONNECT is written before the close that follows.
        if (this.channel.v5) this.send(encodeMqtt5(effect));
        return;
      case 'append': {
        const then = effect.then;
        if (effect.events.length === 0) {
          if (then) this.afterIssued(() => this.runThen(then));
          return;
        }
        // The arrays of an effect are the connection's once it is carried out (effects.ts): no copies.
        if (this.pendingEvents === null) {
          this.pendingEvents = effect.events;
          process.nextTick(flushConnectionAppends, this);
        } else {
          for (const e of effect.events) this.pendingEvents.push(e);
        }
        if (then) {
          if (this.pendingThen === null) this.pendingThen = then;
          else for (const t of then) this.pendingThen.push(t);
        }
        if (this.pendingEvents.length >= COALESCE_LIMIT) this.flushAppends();
        return;
      }
      case 'authenticate':
        this.host.authenticate(this, effect);
        return;
      case 'reauthenticate':
        this.host.reauthenticate(this, effect);
        return;
      case 'auth-answer':
        this.host.authAnswer(this, effect);
        return;
      case 'await-auth':
        // The challenge is on its way: read the client's answer (still under the limit before CONNECT is accepted).
        if (this.pausedForConnack) {
          this.pausedForConnack = false;
          queueMicrotask(() => this.continueReading());
        }
        return;
      case 'puback-sent':
        this.channel.pubackSent();
        if (this.pausedForWindow && !this.channel.inboundWindowFull) {
          this.pausedForWindow = false;
          queueMicrotask(() => this.continueReading());
        }
        return;
      case 'open-session':
        this.host.openSession(this);
        return;
      case 'route-add':
        this.host.routeAdd(this, effect);
        return;
      case 'route-remove':
        this.host.routeRemove(this, effect);
        return;
      case 'send-retained':
        this.host.sendRetained(this, effect);
        return;
      case 'read-log':
        this.host.readLog(this, effect);
        return;
      case 'shared-release':
        this.host.sharedRelease(this, effect);
        return;
      case 'since-feed':
        this.host.sinceFeed(this, effect);
        return;
      case 'dropped':
        this.host.dropped(this, effect.count, effect.reason, effect.detail);
        return;
      case 'accepted':
        this.decoder.maxPacketSize = this.host.connectionLimits.afterConnect;
        if (this.pausedForConnack) {
          this.pausedForConnack = false;
          // After the CONNACK that is being sent: what the client pipelined is handled in order behind it.
          queueMicrotask(() => this.continueReading());
        }
        return;
      case 'limit':
        this.host.limitHit(this, effect.limit, effect.detail);
        return;
      case 'close':
        this.finish(effect.reason, effect.detail);
        return;
    }
  }

  /** Issues the coalesced appends of this tick as one. */
  flushAppends(): void {
    const events = this.pendingEvents;
    if (events === null) return;
    const then = this.pendingThen ?? undefined;
    this.pendingEvents = null;
    this.pendingThen = null;
    this.issued++;
    this.host.appender.submit(events, (err) => this.appended(err, then));
  }

  /** Waits until every append issued so far has settled. */
  settled(): Promise<void> {
    return new Promise((resolve) => this.afterIssued(resolve));
  }

  /** An append of this connection completed (the host calls it, in submission order). */
  appended(err: Error | null, then: Effect[] | undefined): void {
    this.completed++;
    if (err) {
      this.host.log.error({ err, clientId: this.channel.clientId }, 'log append failed; closing the connection');
      this.finish(null, `log append failed: ${err.message}`);
    } else if (then) {
      this.runThen(then);
    }
    while (this.waiting?.length && this.waiting[0].after <= this.completed) this.waiting.shift()!.run();
  }

  /** Runs `run` once every append issued so far has completed. */
  private afterIssued(run: () => void): void {
    this.flushAppends();
    if (this.completed >= this.issued) queueMicrotask(run);
    else (this.waiting ??= []).push({ after: this.issued, run });
  }

  private runThen(then: Effect[]): void {
    // A failed node acknowledges nothing more: what it could not make durable or deliver gets no PUBACK.
    if (!this.ended && !this.host.failed) this.runSafely(then);
  }

  private finish(reason: DisconnectReason | null, detail: string): void {
    if (this.ended) return;
    this.flushAppends(); // recorded before the host records the disconnect
    this.flushOut(); // what was sent before closing (a CONNACK with an error code) still goes out
    this.ended = true;
    this.transport.end();
    this.host.closed(this, reason, detail);
  }
}
