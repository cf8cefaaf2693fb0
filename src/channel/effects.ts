/**
 * What a channel asks of the world, in the broker's terms. The channel does no
 * I/O and knows no wire format: it returns these values, the connection carries
 * them out in order, and the protocol's codec (protocol/Mqtt3Encoder) turns the
 * ones for the client into bytes.
 */
import { BrokerEvent, DisconnectReason, DropReason, Positions, QoS, SubscriptionOptions } from '../events/types';
import type { ServerPacket } from '../protocol/ServerPacket';
import type { PublishProperties } from '../protocol/v5/Mqtt5Encoder';
import type { Delivery } from '../session/Session';
import type { LimitName } from './limits';

export interface AuthRequest {
  clientId: string;
  username: string | null;
  password: Buffer | null;
  remoteAddress: string;
  protocolVersion: number;
  /**
   * MQTT 5 enhanced authentication: the CONNECT's Authentication Method and
   * Data (the client's first message). The node answers with `Channel.challenged`
   * (an AUTH to send) or `Channel.authenticated`.
   */
  enhanced?: { method: string; data: Buffer | null };
}

export interface RouteChange {
  filter: string;
  qos: QoS;
  since: Positions;
  options?: SubscriptionOptions;
  /** Held for a `since` feed (it is released when the feed has caught up). */
  held?: boolean;
}

/** Effects that put something on the wire to the client (ServerPacket, with the session's Delivery). */
export type ClientEffect = Exclude<ServerPacket, { type: 'publish' }> | { type: 'publish'; delivery: Delivery; qos: QoS; packetId: number; dup: boolean; v5?: PublishProperties };

export type Effect =
  | ClientEffect
  /**
   * Append events to the log; once they are durable, carry out `then`. Appends of
   * one connection complete in order, so an empty `events` waits for the earlier ones.
   * Both arrays are fresh: the connection may extend them (it coalesces appends).
   */
  | { type: 'append'; events: BrokerEvent[]; then?: Effect[] }
  /** Check the client's credentials; answer with `Channel.authenticated`. */
  | { type: 'authenticate'; request: AuthRequest }
  /**
   * MQTT 5 re-authentication [MQTT-4.12.1-1]: start an exchange for the
   * connection's user with the client's first message; answer with
   * `Channel.challenged` or `Channel.reauthenticated`.
   */
  | { type: 'reauthenticate'; method: string; data: Buffer | null }
  /**
   * The client's answer (AUTH 0x18) to the challenge the node sent, at CONNECT or
   * in a re-authentication; answer with `Channel.authenticated` or `Channel.reauthenticated`.
   */
  | { type: 'auth-answer'; data: Buffer | null }
  /**
   * An authentication challenge is out before the CONNACK: the connection reads
   * the client's answer (under the packet size limit before CONNECT is accepted).
   */
  | { type: 'await-auth' }
  /**
   * The PUBACK of an inbound MQTT 5 QoS 1 PUBLISH left (after its message became
   * durable): the connection tells the channel (`Channel.pubackSent`), which counts
   * it off the client's receive maximum.
   */
  | { type: 'puback-sent' }
  /** Take over any other connection of this client id and open the session; answer with `Channel.opened`. */
  | { type: 'open-session' }
  /**
   * The CONNECT was accepted (its CONNACK is on its way): the connection's
   * post-handshake packet size applies and it reads what the client pipelined.
   */
  | { type: 'accepted' }
  /** Add (or replace) subscriptions of this connection in the node's local routes. */
  | { type: 'route-add'; routes: RouteChange[] }
  | { type: 'route-remove'; filters: string[] }
  /** Send the retained messages matching these new subscriptions [MQTT-3.3.1-6]. */
  | { type: 'send-retained'; subscriptions: Array<{ filter: string; qos: QoS; subscriptionId?: number }> }
  /**
   * Shared subscriptions of this connection (all, or `filters`) stop taking
   * messages: what the log names for it in [from, to) that it never got goes to
   * other members (SharedHandOff).
   */
  | { type: 'shared-release'; from: Positions; to: Positions; filters: string[] | null }
  /**
   * Feed a `since` subscription from the log to live (delivery/SinceFeed), from
   * `from`: a time (ms since the epoch), or the positions a resumed session's
   * feed had reached.
   */
  | { type: 'since-feed'; filter: string; qos: QoS; options?: SubscriptionOptions; from: number | Positions }
  /**
   * Read the session's next page of the message stream, from `from` up to the
   * node's position, at most `limit` deliveries; answer with `Channel.pageRead`
   * (or `pageFailed`). Before `offlineUntil` the session was offline.
   */
  | { type: 'read-log'; from: Positions; limit: number; offlineUntil: Positions | null }
  /** Messages this session could not take; counted and logged. */
  | { type: 'dropped'; count: number; reason: DropReason; detail: string }
  /** A configured limit refused something; counted in metrics, logged at most once per interval. */
  | { type: 'limit'; limit: LimitName; detail: string }
  /** Close the network connection. `detail` is logged once. */
  | { type: 'close'; reason: DisconnectReason | null; detail: string };
