/**
 * Live delivery from the message tail: each record's key (the topic) is matched
 * against the subscriptions of this node's clients (LocalRoutes); a record none
 * of them wants is skipped without decoding its value. For the rest, the
 * delivery core decides per session, and one Delivery per QoS is shared by the
 * sessions that get it, so its PUBLISH is encoded once.
 */
import { DecodeError } from '../events/binary';
import { decodePublishedForDelivery, PublishedForDelivery } from '../events/codec';
import { MessageProperties, MessagePublished, MessageRef, MessageSource, QoS, SharedAssignment } from '../events/types';
import { LogRecord } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { LocalRoutes, RouteMatches } from '../router/LocalRoutes';
import { Delivery } from '../session/Session';
import { decidedQos, decideDelivery, DeliveryPath, DeliveryReader, NOT_DELIVERED } from './DeliveryCore';

/** A connected session delivery can hand a message to. */
export interface DeliveryTarget {
  readonly channel: DeliveryReader & { readonly connectionId: string; readonly state: string };
  deliver(d: Delivery): void;
}

/** What live delivery needs of the node's shared-subscription duties (SharedHandOff). */
export interface SharedDuty {
  /** Whether some group's filter matches `topic` (then its records may name members). */
  matches(topic: string): boolean;
  /** Whether this node delivers what is named for `a`, or hands it on: `a`'s connection is (or was) this node's, or one it adopted from a failed node. */
  owns(a: SharedAssignment): boolean;
  /** `a`'s connection is gone: the message goes to another member. */
  handOff(a: SharedAssignment, topic: string, event: PublishedForDelivery | MessagePublished, ref: MessageRef): void;
}

const NO_SHARED_DUTY: SharedDuty = { matches: () => false, owns: () => false, handOff: () => undefined };

export interface FanOutCounters {
  /** Records read from the tail (every node reads every partition). */
  messagesScanned: number;
  /** Of those, records some local subscription matched, so they were decoded. */
  messagesRouted: number;
  messagesSent: number;
}

export class LiveFanOut {
  private readonly matches = new RouteMatches();

  constructor(
    private readonly stream: string,
    private readonly routes: LocalRoutes,
    private readonly targetOf: (clientId: string) => DeliveryTarget | undefined,
    /** The node's delivery position, per partition: advanced as records are handed over. */
    private readonly position: number[],
    private readonly counters: FanOutCounters,
    /** Told of every message's topic (the busiest-topics view). */
    private readonly topics: { count(topic: string): void } = { count: () => undefined },
    /** Shared subscriptions: which records name members, which of them are this node's to serve. */
    private readonly shared: SharedDuty = NO_SHARED_DUTY,
  ) {}

  /** The tail handler of one message partition. A record that cannot be decoded stops the tail, named. */
  onRecords(partition: number, records: LogRecord[]): void {
    for (const r of records) {
      try {
        this.deliverRecord(partition, r);
      } catch (err) {
        throw err instanceof DecodeError ? UndecodableRecord.at(this.stream, partition, r.offset, err) : err;
      }
    }
  }

  private deliverRecord(partition: number, r: LogRecord): void {
    this.position[partition] = r.offset + 1;
    if (!r.key || !r.value) return;
    const local = r.local as MessagePublished | undefined;
    const topic = local !== undefined ? local.topic : r.key.toString('utf8');
    this.counters.messagesScanned++;
    this.topics.count(topic);
    const publisherId = local !== undefined ? local.publisherId : null;
    // No Local needs the publisher of another node's record: then it is decoded before matching, once.
    let decoded = local === undefined && this.routes.hasV5Options ? decodePublishedForDelivery(r.value) : undefined;
    const matches = this.matches;
    const count = this.routes.match(topic, partition, r.offset, matches, publisherId ?? decoded?.publisherId ?? null);
    // A record may name members of shared-subscription groups: decoded when a group's filter matches.
    const sharedTopic = this.shared.matches(topic);
    if (count === 0 && !sharedTopic) return; // skipped by key, never decoded
    this.counters.messagesRouted++;
    // Appended by this process: the event itself; otherwise decode what delivery needs.
    const event = local ?? (decoded ??= decodePublishedForDelivery(r.value));
    const ref: MessageRef = { source: MessageSource.Messages, partition, offset: r.offset };
    // One Delivery per QoS, shared by the sessions that get it (locals, not an array: this runs per message).
    let qos0: Delivery | undefined;
    let qos1: Delivery | undefined;
    let qos2: Delivery | undefined;
    for (let i = 0; i < count; i++) {
      const clientId = matches.clients[i];
      const granted = matches.qos[i];
      const target = this.targetOf(clientId);
      if (!target) continue;
      const decision = decideDelivery(target.channel, topic, event, granted, DeliveryPath.Live);
      if (decision === NOT_DELIVERED) continue;
      this.counters.messagesSent++;
      const qos = decidedQos(decision);
      const v5 = target.channel.v5 ? this.routes.v5Match(clientId) : null;
      if (v5) {
        // Per subscriber: its subscription identifiers, and the retain flag as published when asked [MQTT-3.3.1-12].
        const d: Delivery = { topic, payload: event.payload, qos, retain: v5.retainAsPublished && event.retain, ref };
        if (event.properties) d.props = event.properties;
        if (v5.subscriptionIds.length) d.subscriptionIds = v5.subscriptionIds;
        target.deliver(d);
        continue;
      }
      target.deliver(qos === 0 ? (qos0 ??= sharedDelivery(topic, event, 0, ref)) : qos === 1 ? (qos1 ??= sharedDelivery(topic, event, 1, ref)) : (qos2 ??= sharedDelivery(topic, event, 2, ref)));
    }
    if (event.shared !== undefined) for (const a of event.shared) this.deliverShared(a, topic, event, ref);
  }

  /**
   * The member the record names for a group gets the message [MQTT-4.8.2-3], on
   * the node that holds its connection; if that connection is gone (closed,
   * taken over, unsubscribed), the node hands the message to another member.
   */
  private deliverShared(a: SharedAssignment, topic: string, event: PublishedForDelivery | MessagePublished, ref: MessageRef): void {
    const target = this.targetOf(a.clientId);
    const here = target !== undefined && target.channel.state === 'connected';
    let route;
    if (a.parked) {
      // Kept for an offline session: whichever connection resumed it takes it (or reads it from its backlog).
      route = here ? this.routes.shared.get(a.clientId, a.shareFilter) : undefined;
      if (route === undefined) return;
    } else {
      if (!this.shared.owns(a)) return;
      route = here && target.channel.connectionId === a.connectionId ? this.routes.shared.get(a.clientId, a.shareFilter) : undefined;
      if (route === undefined) {
        this.shared.handOff(a, topic, event, ref);
        return;
      }
    }
    const decision = decideDelivery(target!.channel, topic, event, route.qos, DeliveryPath.Live, true);
    if (decision === NOT_DELIVERED) return;
    this.counters.messagesSent++;
    const d: Delivery = { topic, payload: event.payload, qos: decidedQos(decision), retain: false, ref };
    if (event.properties) d.props = event.properties;
    if (route.options?.subscriptionId) d.subscriptionIds = [route.options.subscriptionId];
    d.shared = a.shareFilter;
    target!.deliver(d);
  }
}

function sharedDelivery(topic: string, event: { payload: Buffer; properties?: MessageProperties }, qos: QoS, ref: MessageRef): Delivery {
  const d: Delivery = { topic, payload: event.payload, qos, retain: false, ref };
  if (event.properties) d.props = event.properties;
  return d;
}
