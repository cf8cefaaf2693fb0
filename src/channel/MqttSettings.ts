/** Protocol settings a channel follows. Defaults and their reasons live in src/config.ts. */
export interface MqttSettings {
  /** Largest packet accepted once the CONNECT was accepted, header included (bytes). */
  maxPacketSize: number;
  /** Largest packet accepted until then: CONNECT and anything pipelined behind it (bytes). */
  maxPacketSizeBeforeConnect: number;
  /** Longest topic name or filter (UTF-8 bytes). */
  maxTopicLength: number;
  /** Most levels in a topic name or filter. */
  maxTopicLevels: number;
  /** Subscriptions one session may hold; filters beyond are refused (SUBACK 0x80). */
  maxSubscriptionsPerClient: number;
  /** Filters one SUBSCRIBE may carry; filters beyond are refused (SUBACK 0x80). */
  maxFiltersPerSubscribe: number;
  /** Retained messages the broker stores; a retained PUBLISH for a new topic beyond is delivered but not retained. */
  maxRetainedMessages: number;
  /** Bytes (topics and payloads) of retained messages the broker stores; likewise. */
  maxRetainedBytes: number;
  /** How long a persistent 3.1.1 session outlives its connection (ms); 0: forever. */
  sessionExpiryMs: number;
  /** Whether a client may connect under a session another user name owns (it is refused with CONNACK 5 otherwise). */
  allowSessionTakeoverByOtherUser: boolean;
  /** Outbound QoS 1/2 messages awaiting acknowledgement per session. */
  maxInflight: number;
  /** MQTT 5: the longest keep alive (s) a client may use; a longer one (or 0) is lowered to it by Server Keep Alive. 0: no limit. */
  maxKeepalive: number;
  /** MQTT 5 topic aliases each way per connection (each holds a topic: a memory bound). */
  maxTopicAlias: number;
  /** MQTT 5 Receive Maximum the server announces: inbound QoS 1 and 2 PUBLISHes a client may have unacknowledged at once (past it: DISCONNECT 0x93). */
  receiveMaximum: number;
  /** Messages queued per session behind the in-flight window (online or offline). */
  maxQueuedMessages: number;
  /** Accept a zero-length client id with clean session, assigning one [MQTT-3.1.3-6]. */
  allowZeroLengthClientId: boolean;
  /** Longest client id accepted from MQTT 3.1.1 clients (MQTT 3.1 is limited to 23 by its spec). */
  maxClientIdLength: number;
  /** Close connections that send no CONNECT within this time (ms). */
  connectTimeoutMs: number;
  /** Highest QoS granted to subscriptions. */
  maxQos: 0 | 1 | 2;
  /** Unsent bytes on a socket beyond which QoS 0 messages to it are dropped (a client that stops reading). */
  maxSocketBufferBytes: number;
  /**
   * The longest a subscriber that keeps up may have messages waiting before the
   * node stops reading from publishers until it catches up (ms).
   */
  maxDeliveryLagMs: number;
  /** A subscriber whose messages waited longer than this is slow, not the node: it holds nobody back (ms). */
  slowSubscriberMs: number;
  /** Whether retained messages are stored. */
  retainAvailable: boolean;
  /**
   * MQTT 5 Response Information for clients that ask for it (Request Response
   * Information 1): a template, `%c` standing for the client id, e.g. `replies/%c/`.
   * Empty: none is sent.
   */
  responseInformation: string;
  /**
   * MQTT 5 Server Reference for clients this node refuses because it is full
   * (limits.maxConnections): CONNACK 0x9C (Use another server) naming it. Empty:
   * such connections are closed before they are read, as without it.
   */
  serverReference: string;
}
