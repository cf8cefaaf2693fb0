/**
 * What an MQTT 5 connection agreed on at CONNECT (section 3.1.2.11) and keeps
 * for its lifetime: the client's receive maximum and maximum packet size (the
 * broker never exceeds them [MQTT-3.1.2-24, MQTT-3.3.4-9]), the topic aliases
 * it set (client to server, at most `mqtt.maxTopicAlias` [MQTT-3.3.2-9]: each holds
 * a topic of up to mqtt.maxTopicLength bytes, so the bound is a memory bound), whether
 * it wants reason strings, and the session expiry interval.
 */
import type { Properties } from '../protocol/v5/properties';

/** Session Expiry Interval meaning "never" [MQTT-3.1.2-23 note]. */
export const SESSION_NEVER_EXPIRES = 0xffffffff;

/** A re-authentication in progress (section 4.12.1): the node deciding (`pending`), or a challenge out (`challenged`). */
export interface Reauthentication {
  step: 'pending' | 'challenged';
  /** When the client started it: it must be over within mqtt.connectTimeoutMs. */
  since: number;
}

export class V5Session {
  /** Outbound QoS 1/2 messages the client takes at once. */
  readonly receiveMaximum: number;
  /** Largest packet the client takes (bytes); Infinity when it set none. */
  readonly maximumPacketSize: number;
  readonly requestProblemInformation: boolean;
  /** The client asked for Response Information in the CONNACK [MQTT-3.1.2-28]. */
  readonly requestResponseInformation: boolean;
  /** Seconds the session outlives the connection (0: ends with it). */
  sessionExpiryInterval: number;
  /**
   * Client-to-server topic aliases [MQTT-3.3.2-12]. Both alias tables are made on
   * first use: most clients use none, and an empty Map costs a hash table each.
   */
  private aliases: Map<number, string> | null = null;
  /** The id the broker assigned (empty client id), returned in CONNACK [MQTT-3.2.2-16]. */
  assignedClientId: string | null = null;
  /** Server-to-client topic aliases the client allows [MQTT-3.2.2-19 for the client's side: it sets the maximum]. */
  private readonly outboundAliasMaximum: number;
  private outboundAliases: Map<string, number> | null = null;
  /** The keep alive the server tells the client to use, when it lowered the client's [MQTT-3.2.2-21]. */
  serverKeepAlive: number | null = null;
  /** The CONNECT's Authentication Method (enhanced authentication), the connection's for its lifetime; null: none. */
  authMethod: string | null = null;
  /** The server's last message of the CONNECT's exchange, for the CONNACK's Authentication Data (then dropped). */
  authData: Buffer | null = null;
  /** A re-authentication in progress (handlers/auth). */
  reauth: Reauthentication | null = null;
  /**
   * Inbound QoS 1 PUBLISHes not acknowledged yet (their messages becoming
   * durable): with the open QoS 2 exchanges, bounded by the Receive Maximum the
   * server announced [MQTT-3.3.4-7].
   */
  inboundQos1 = 0;

  constructor(
    props: Properties,
    /** mqtt.maxTopicAlias: aliases each way; the client's own maximum may lower the server-to-client ones. */
    readonly topicAliasMaximum = 16,
  ) {
    this.outboundAliasMaximum = Math.min(props.topicAliasMaximum ?? 0, topicAliasMaximum);
    this.receiveMaximum = props.receiveMaximum ?? 65535;
    this.maximumPacketSize = props.maximumPacketSize ?? Infinity;
    this.requestProblemInformation = props.requestProblemInformation !== 0;
    this.requestResponseInformation = props.requestResponseInformation === 1;
    this.sessionExpiryInterval = props.sessionExpiryInterval ?? 0;
  }

  /**
   * The alias to send `topic` under, and whether the client knows it already
   * (then the topic is left out): aliases are given out first come, first
   * served, up to the client's Topic Alias Maximum, and kept for the connection.
   */
  outboundAlias(topic: string): { alias: number; known: boolean } | null {
    if (this.outboundAliasMaximum === 0) return null;
    const aliases = (this.outboundAliases ??= new Map());
    const alias = aliases.get(topic);
    if (alias !== undefined) return { alias, known: true };
    if (aliases.size >= this.outboundAliasMaximum) return null;
    const next = aliases.size + 1;
    aliases.set(topic, next);
    return { alias: next, known: false };
  }

  /**
   * The topic of a PUBLISH with `alias`: sets the alias when the topic is given,
   * looks it up when it is empty. A string: the topic; a number: the DISCONNECT
   * reason code (0x94 alias out of range, 0x82 unknown alias) [MQTT-3.3.2-7, MQTT-3.3.2-8].
   */
  resolveAlias(topic: string, alias: number | undefined): string | number {
    if (alias === undefined) return topic === '' ? 0x82 : topic;
    if (alias === 0 || alias > this.topicAliasMaximum) return 0x94;
    if (topic !== '') {
      (this.aliases ??= new Map()).set(alias, topic);
      return topic;
    }
    return this.aliases?.get(alias) ?? 0x82;
  }
}
