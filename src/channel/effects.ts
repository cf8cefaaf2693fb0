/**
 * What a channel asks of the world. The channel itself does no I/O: it returns
 * these values and the node carries them out, in order, per connection.
 */
import { Packet } from 'mqtt-packet';
import { BrokerEvent, DisconnectReason, Positions, QoS } from '../events/types';
import type { LimitName } from './limits';

export interface AuthRequest {
  clientId: string;
  username: string | null;
  password: Buffer | null;
  remoteAddress: string;
  protocolVersion: number;
}

export interface RouteChange {
  filter: string;
  qos: QoS;
  since: Positions;
}

export type Effect =
  /** Write a packet to the client; `bytes`, when given, is its encoding (shared PUBLISH bytes). */
  | { type: 'send'; packet: Packet; bytes?: Buffer }
  /**
   * Append events to the log; once they are durable, carry out `then`. Appends of
   * one connection complete in order, so an empty `events` waits for the earlier ones.
   * Both arrays are fresh: the connection may extend them (it coalesces appends).
   */
  | { type: 'append'; events: BrokerEvent[]; then?: Effect[] }
  /** Check the client's credentials; answer with `Channel.authenticated`. */
  | { type: 'authenticate'; request: AuthRequest }
  /** Take over any other connection of this client id and open the session; answer with `Channel.opened`. */
  | { type: 'open-session' }
  /** Add (or replace) subscriptions of this connection in the node's local routes. */
  | { type: 'route-add'; routes: RouteChange[] }
  | { type: 'route-remove'; filters: string[] }
  /** Send the retained messages matching these new subscriptions [MQTT-3.3.1-6]. */
  | { type: 'send-retained'; subscriptions: Array<{ filter: string; qos: QoS }> }
  /**
   * Read the session's next page of messages from the log, from `from` up to the
   * node's position; answer with `Channel.caughtUp` (or `catchUpFailed`).
   */
  | { type: 'catch-up'; from: Positions; limit: number }
  /**
   * The CONNECT was accepted (CONNACK 0 is on its way): the connection's
   * post-handshake packet size applies and it reads what the client pipelined.
   */
  | { type: 'accepted' }
  /** A configured limit refused something; counted in metrics, logged at most once per interval. */
  | { type: 'limit'; limit: LimitName; detail: string }
  /** Messages this session could not take; counted and logged. */
  | { type: 'dropped'; count: number; reason: string }
  /** Close the network connection. `detail` is logged once. */
  | { type: 'close'; reason: DisconnectReason | null; detail: string };
