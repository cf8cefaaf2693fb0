/** Protocol settings a channel follows. Defaults and their reasons live in src/config.ts. */
export interface MqttSettings {
  /** Largest packet accepted, header included (bytes). */
  maxPacketSize: number;
  /** Outbound QoS 1/2 messages awaiting acknowledgement per session. */
  maxInflight: number;
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
  /** Whether retained messages are stored. */
  retainAvailable: boolean;
}
