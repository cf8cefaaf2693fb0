/**
 * Live delivery from the message tail: each record's key (the topic) is matched
 * against the subscriptions of this node's clients (LocalRoutes); a record none
 * of them wants is skipped without decoding its value. For the rest, the
 * delivery core decides per session, and one Delivery per QoS is shared by the
 * sessions that get it, so its PUBLISH is encoded once.
 */
import { DecodeError } from '../events/binary';
import { decodePublishedForDelivery, PublishedForDelivery } from '../events/codec';
import { MessageProperties, MessagePublished, MessageRef, MessageSource, QoS } from '../events/types';
import { LogRecord } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { LocalRoutes } from '../router/LocalRoutes';
import { chooseMember } from '../router/SharedSubscriptions';

const NO_SHARED: ReturnType<LocalRoutes['shared']['match']> = [];
import { Delivery } from '../session/Session';
import { decidedQos, decideDelivery, DeliveryPath, DeliveryReader, NOT_DELIVERED } from './DeliveryCore';

/** A connected session delivery can hand a message to. */
export interface DeliveryTarget {
  readonly channel: DeliveryReader;
  deliver(d: Delivery): void;
}

export interface FanOutCounters {
  /** Records read from the tail (every node reads every partition). */
  messagesScanned: number;
  /** Of those, records some local subscription matched, so they were decoded. */
  messagesRouted: number;
  messagesSent: number;
}

export class LiveFanOut {
  private readonly matchScratch = new Map<string, QoS>();

  constructor(
    private readonly stream: string,
    private readonly routes: LocalRoutes,
    private readonly targetOf: (clientId: string) => DeliveryTarget | undefined,
    /** The node's delivery position, per partition: advanced as records are handed over. */
    private readonly position: number[],
    private readonly counters: FanOutCounters,
    /** Told of every message's topic (the busiest-topics view). */
    private readonly topics: { count(topic: string): void } = { count: () => undefined },
    /** The cluster-wide members of a shared subscription (`$share/...`), in client-id order. */
    private readonly sharedMembers: (shareFilter: string) => readonly string[] = () => [],
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
    const matches = this.routes.match(topic, partition, r.offset, this.matchScratch, publisherId ?? decoded?.publisherId ?? null);
    const shared = this.routes.shared.size > 0 ? this.routes.shared.match(topic, partition, r.offset) : NO_SHARED;
    if (matches.size === 0 && shared.length === 0) return; // skipped by key, never decoded
    this.counters.messagesRouted++;
    // Appended by this process: the event itself; otherwise decode what delivery needs.
    const event = local ?? (decoded ??= decodePublishedForDelivery(r.value));
    const ref = { source: MessageSource.Messages, partition, offset: r.offset };
    const byQos: Array<Delivery | undefined> = [];
    for (const [clientId, granted] of matches) {
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
      target.deliver((byQos[qos] ??= sharedDelivery(topic, event, qos, ref)));
    }
    // Shared subscriptions: the one member every node chooses for this position gets it [MQTT-4.8.2-3].
    for (const m of shared) {
      // A message handed on from a vanished member names its new one; otherwise every node's same choice.
      if (event.target !== null ? event.target !== m.clientId : chooseMember(this.sharedMembers(m.shareFilter), partition, r.offset) !== m.clientId) continue;
      const target = this.targetOf(m.clientId);
      if (!target) continue;
      const decision = decideDelivery(target.channel, topic, event, m.qos, DeliveryPath.Live);
      if (decision === NOT_DELIVERED) continue;
      this.counters.messagesSent++;
      const d: Delivery = { topic, payload: event.payload, qos: decidedQos(decision), retain: false, ref };
      if (event.properties) d.props = event.properties;
      if (m.options?.subscriptionId) d.subscriptionIds = [m.options.subscriptionId];
      d.shared = m.shareFilter;
      target.deliver(d);
    }
  }
}

function sharedDelivery(topic: string, event: { payload: Buffer; properties?: MessageProperties }, qos: QoS, ref: MessageRef): Delivery {
  const d: Delivery = { topic, payload: event.payload, qos, retain: false, ref };
  if (event.properties) d.props = event.properties;
  return d;
}
