/**
 * MQTT 5 message properties between the wire (properties.ts) and the log
 * (MessageProperties in events/types): what a PUBLISH or will carries is kept
 * with the message, and what a subscriber gets is made from what is kept.
 */
import { MessageProperties } from '../../events/types';
import type { PublishProperties } from './Mqtt5Encoder';
import { NO_PROPERTIES, Properties } from './properties';

/** What of a PUBLISH's (or will's) properties stays with the message; `now` dates the expiry. Undefined when nothing. */
export function messagePropertiesOf(p: Properties, now: number): MessageProperties | undefined {
  if (p === NO_PROPERTIES) return undefined;
  const out: MessageProperties = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator as 0 | 1;
  if (p.messageExpiryInterval !== undefined) out.expiresAt = now + p.messageExpiryInterval * 1000;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.userProperties !== undefined && p.userProperties.length > 0) out.userProperties = p.userProperties;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The properties a subscriber gets: the message's, with the expiry interval as
 * what is left [MQTT-3.3.2-6], and the identifiers of its matching subscriptions.
 */
export function publishPropertiesFor(p: MessageProperties | undefined, now: number, subscriptionIds: readonly number[] | undefined): PublishProperties | undefined {
  if (!p && !subscriptionIds?.length) return undefined;
  const out: PublishProperties = {};
  if (p) {
    if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
    if (p.expiresAt !== undefined) out.messageExpiryInterval = Math.max(0, Math.ceil((p.expiresAt - now) / 1000));
    if (p.contentType !== undefined) out.contentType = p.contentType;
    if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
    if (p.correlationData !== undefined) out.correlationData = p.correlationData;
    if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  }
  if (subscriptionIds?.length) out.subscriptionIdentifiers = [...subscriptionIds];
  return out;
}
