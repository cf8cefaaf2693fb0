/**
 * The retained messages matching a SUBSCRIBE's new subscriptions [MQTT-3.3.1-6]:
 * each once, at the highest QoS of the filters it matches in this SUBSCRIBE
 * (overlapping filters are one delivery, as for live messages), with the retain
 * flag set. What one SUBSCRIBE may bring is bounded by the session queue
 * (`mqtt.maxQueuedMessages`) and the walk over the retained store by a visit
 * budget; what does not fit is reported.
 */
import { MessageSource, QoS } from '../events/types';
import { RetainedEntry, retainedMatching, RetainedState } from '../../projections/RetainedProjection';
import { decidedQos, decideDelivery, DeliveryPath, NOT_DELIVERED } from './DeliveryCore';
import type { DeliveryTarget } from './LiveFanOut';
import type { Delivery } from '../session/Session';

/** Retained-index nodes one SUBSCRIBE may visit per message a session queue holds (the walk's budget). */
const VISITS_PER_QUEUED = 8;

/** Sends the retained messages for `subscriptions` to `target`; returns false when there were more than fit. */
export function sendRetained(store: RetainedState, target: DeliveryTarget, subscriptions: ReadonlyArray<{ filter: string; qos: QoS; subscriptionId?: number }>, limit: number): boolean {
  let budget = VISITS_PER_QUEUED * limit;
  const chosen = new Map<string, { entry: RetainedEntry; granted: QoS; ids?: number[] }>();
  let truncated = false;
  for (const sub of subscriptions) {
    const match = retainedMatching(store, sub.filter, limit, budget);
    budget -= VISITS_PER_QUEUED * match.entries.length + 1;
    truncated ||= match.truncated;
    for (const entry of match.entries) {
      const prev = chosen.get(entry.message.topic);
      if (prev === undefined) {
        if (chosen.size >= limit) {
          truncated = true;
          break;
        }
        chosen.set(entry.message.topic, { entry, granted: sub.qos, ...(sub.subscriptionId ? { ids: [sub.subscriptionId] } : {}) });
      } else {
        if (sub.qos > prev.granted) prev.granted = sub.qos;
        if (sub.subscriptionId) (prev.ids ??= []).push(sub.subscriptionId);
      }
    }
    if (budget <= 0) {
      truncated = true;
      break;
    }
  }
  for (const { entry, granted, ids } of chosen.values()) {
    const m = entry.message;
    const decision = decideDelivery(target.channel, m.topic, m, granted, DeliveryPath.Retained);
    if (decision === NOT_DELIVERED) continue;
    const d: Delivery = {
      topic: m.topic,
      payload: m.payload,
      qos: decidedQos(decision),
      retain: true, // [MQTT-3.3.1-8]
      ref: { source: MessageSource.Retained, partition: entry.partition, offset: entry.offset },
    };
    if (m.properties) d.props = m.properties;
    if (ids) d.subscriptionIds = ids;
    target.deliver(d);
  }
  return !truncated;
}
