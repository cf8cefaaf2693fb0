/**
 * The delivery core: the one decision, per (session, message), of whether the
 * message goes to the session and how. Every path that puts a message in front
 * of a session asks it: live fan-out from the tail, a session's pages read from
 * the log (its offline backlog, or catching up after falling behind), retained
 * messages on subscribe, and messages a replay aims at one client. MQTT 5's
 * no-local, retain-as-published and subscription identifiers belong here and
 * nowhere else.
 *
 * Which subscriptions match is the router's business (a topic trie over the
 * session's filters, each with the position it starts at); this decides on
 * what matched.
 */
import { QoS, SharedAssignment } from '../events/types';

/** How a message reaches the session. */
export enum DeliveryPath {
  /** From the tail as it is appended. */
  Live,
  /** Read back from the message stream: a catch-up page. */
  Log,
  /** Read back from the message stream, published while the session was offline. */
  Offline,
  /** A retained message sent because a new subscription matches it [MQTT-3.3.1-6]. */
  Retained,
}

/** What the decision needs of the session. */
export interface DeliveryReader {
  readonly clientId: string;
  /** Set for an MQTT 5 connection (its subscription options are applied). */
  readonly v5?: object | null;
  readonly acl: { readonly unrestricted: boolean; mayRead(topic: string): boolean };
}

/** What the decision needs of the message. */
export interface DeliveryCandidate {
  readonly qos: QoS;
  /** MessagePublished.target: the one client id a message is for (a replay), or null. */
  readonly target: string | null;
  /** MessagePublished.shared: the member of each shared-subscription group that gets it. */
  readonly shared?: readonly SharedAssignment[];
}

/** Not delivered. */
export const NOT_DELIVERED = -1;

/**
 * The QoS the message is delivered with, plus 4 when the retain flag is set,
 * or NOT_DELIVERED. `grantedQos` is the highest granted QoS of the session's
 * subscriptions that match the topic and include the message (a subscription
 * covers messages from its start position on), or -1 when none does.
 *
 * - A message aimed at one client goes to that client only (a replay target);
 *   one handed on to a member of a shared subscription (a target and a shared
 *   member) goes through that shared subscription only (`viaShare`).
 * - A wildcard subscription never carries a topic the client may not read: the
 *   read ACL is checked for every message, on every path.
 * - It goes at the lower of the publish QoS and the granted QoS [MQTT-3.8.4-6],
 *   once, however many of the session's subscriptions overlap [MQTT-3.3.5-1].
 * - The retain flag is set only on a retained message sent for a new
 *   subscription [MQTT-3.3.1-8]; otherwise it is cleared [MQTT-3.3.1-9].
 * - Offline, QoS 0 messages are not queued (Mosquitto's default).
 */
export function decideDelivery(session: DeliveryReader, topic: string, message: DeliveryCandidate, grantedQos: number, path: DeliveryPath, viaShare = false): number {
  if (grantedQos < 0) return NOT_DELIVERED;
  if (message.target !== null && (message.target !== session.clientId || (!viaShare && message.shared !== undefined))) return NOT_DELIVERED;
  const acl = session.acl;
  if (!acl.unrestricted && !acl.mayRead(topic)) return NOT_DELIVERED;
  const qos = message.qos < grantedQos ? message.qos : grantedQos;
  if (qos === 0 && path === DeliveryPath.Offline) return NOT_DELIVERED;
  return path === DeliveryPath.Retained ? qos | 4 : qos;
}

/** The QoS of a decision that delivers. */
export function decidedQos(decision: number): QoS {
  return (decision & 3) as QoS;
}

/** Whether a decision that delivers sets the retain flag. */
export function decidedRetain(decision: number): boolean {
  return (decision & 4) !== 0;
}

/**
 * The shared subscriptions a message names a session's connection for: the
 * member chosen when it was appended [MQTT-4.8.2-3]. Only that connection
 * takes it, on every path (live or a page of the log); a later connection of
 * the same client does not (the message was handed on when the named one
 * ended). A message parked with an offline session (no member was connected)
 * goes to whichever connection resumes that session.
 */
export function sharedFor(message: DeliveryCandidate, connectionId: string, clientId: string): SharedAssignment[] | null {
  const all = message.shared;
  if (all === undefined) return null;
  let out: SharedAssignment[] | null = null;
  for (const a of all) if (a.parked ? a.clientId === clientId : a.connectionId === connectionId) (out ??= []).push(a);
  return out;
}
