/**
 * A published message as history shows it, the same from every source. The
 * payload is text when it is valid UTF-8, base64 otherwise; its size is always given.
 */
import { MessageOrigin, MessagePublished, MessageProperties, QoS } from '../events/types';
import { encodeCursor } from './HistoryQuery';

export type PayloadEncoding = 'utf8' | 'base64';

export interface HistoryMessage {
  topic: string;
  payload: string;
  payloadEncoding: PayloadEncoding;
  payloadSize: number;
  qos: QoS;
  retain: boolean;
  clientId: string;
  username: string | null;
  remoteAddress: string;
  nodeId: string;
  origin: OriginName;
  /** ISO 8601 publish time. */
  timestamp: string;
  /** Where the message is in the log. */
  partition: number;
  offset: number;
  /** Pass as `after` to get the messages that follow this one. */
  cursor: string;
  /** MQTT 5 properties the publisher gave (absent for 3.1.1 publishers). */
  properties?: HistoryProperties;
}

/** MQTT 5 message properties as history shows them (the same from the log and from the archive). */
export interface HistoryProperties {
  payloadFormatIndicator?: 0 | 1;
  /** ISO 8601 time the message expires. */
  expiresAt?: string;
  contentType?: string;
  responseTopic?: string;
  /** base64 */
  correlationData?: string;
  userProperties?: Array<[string, string]>;
}

export function historyProperties(p: MessageProperties | undefined): HistoryProperties | undefined {
  if (!p) return undefined;
  const out: HistoryProperties = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.expiresAt !== undefined) out.expiresAt = new Date(p.expiresAt).toISOString();
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData.toString('base64');
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  return out;
}

export interface HistoryPage {
  messages: HistoryMessage[];
  /** Cursor for the next page, or null when this page is the last. */
  next: string | null;
}

/**
 * A page from up to `limit + 1` results: sources fetch one more than asked, so
 * a next page exists exactly when that extra one was found.
 */
export function pageOf(found: HistoryMessage[], limit: number): HistoryPage {
  if (found.length <= limit) return { messages: found, next: null };
  const messages = found.slice(0, limit);
  return { messages, next: messages[messages.length - 1].cursor };
}

export type OriginName = 'client' | 'will' | 'system' | 'api' | 'replay';

export const ORIGIN_NAMES: Record<MessageOrigin, OriginName> = {
  [MessageOrigin.Client]: 'client',
  [MessageOrigin.Will]: 'will',
  [MessageOrigin.System]: 'system',
  [MessageOrigin.Api]: 'api',
  [MessageOrigin.Replay]: 'replay',
};

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8OrNull(payload: Uint8Array): string | null {
  try {
    return utf8Decoder.decode(payload);
  } catch {
    return null;
  }
}

/** The payload as text when it is valid UTF-8, otherwise base64. */
export function payloadText(payload: Buffer): { payload: string; payloadEncoding: PayloadEncoding } {
  const text = utf8OrNull(payload);
  return text === null ? { payload: payload.toString('base64'), payloadEncoding: 'base64' } : { payload: text, payloadEncoding: 'utf8' };
}

export function historyMessage(event: MessagePublished, partition: number, offset: number): HistoryMessage {
  return {
    topic: event.topic,
    ...payloadText(event.payload),
    payloadSize: event.payload.length,
    qos: event.qos,
    retain: event.retain,
    clientId: event.publisherId,
    username: event.username,
    remoteAddress: event.remoteAddress,
    nodeId: event.nodeId,
    origin: ORIGIN_NAMES[event.origin],
    timestamp: new Date(event.timestamp).toISOString(),
    partition,
    offset,
    cursor: encodeCursor({ timestamp: event.timestamp, partition, offset }),
    ...(event.properties ? { properties: historyProperties(event.properties) } : {}),
  };
}
