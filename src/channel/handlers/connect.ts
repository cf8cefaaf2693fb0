import { IConnectPacket } from 'mqtt-packet';
import { ProtocolLevel, QoS } from '../../events/types';
import { ConnectRefusal } from '../../protocol/ConnectRefusal';
import { ProtocolViolation } from '../../protocol/ProtocolViolation';
import { topicLimitError, topicNameError } from '../../protocol/topics';
import type { Channel } from '../Channel';
import { V5Connect } from '../../protocol/v5/Mqtt5Decoder';
import { messagePropertiesOf } from '../../protocol/v5/messageProperties';
import { SESSION_NEVER_EXPIRES, V5Session } from '../V5Session';

/** A v5 session expiry interval, at most mqtt.sessionExpiryMs (0 there: no cap); the CONNACK says what was granted. */
function cappedExpiry(requested: number, maxMs: number): number {
  if (maxMs === 0) return requested;
  const max = Math.ceil(maxMs / 1000);
  return requested === SESSION_NEVER_EXPIRES || requested > max ? max : requested;
}
import { Effect } from '../effects';

/** MQTT 3.1 limits client ids to 23 characters and answers longer ones with CONNACK 2. */
const MQTT31_MAX_CLIENT_ID = 23;

function refuse(ch: Channel, refusal: ConnectRefusal, why: string): Effect[] {
  return ch.violation(new ProtocolViolation(why, refusal));
}

export function handleConnect(ch: Channel, packet: IConnectPacket): Effect[] {
  const level = packet.protocolVersion ?? 4;
  const name = packet.protocolId ?? 'MQTT';
  // Protocol name and level must agree, as Mosquitto checks: MQIsdp is 3.1, MQTT is 3.1.1 [MQTT-3.1.2-1, MQTT-3.1.2-2].
  if (name === 'MQIsdp' && level !== 3) return refuse(ch, 'unsupported-protocol', `MQIsdp with protocol level ${level}`);
  if (name === 'MQTT' && level !== 4 && level !== 5) return refuse(ch, 'unsupported-protocol', `MQTT with protocol level ${level}`);
  ch.protocolVersion = level as ProtocolLevel;
  if (level === 5) {
    const v5 = (packet as V5Connect).v5 ?? {};
    ch.v5 = new V5Session(v5, ch.settings.maxTopicAlias);
    // A keep alive above mqtt.maxKeepalive (or 0, none) is lowered, and the CONNACK says so [MQTT-3.2.2-21].
    const maxKeepalive = ch.settings.maxKeepalive;
    const asked = packet.keepalive ?? 0;
    if (maxKeepalive > 0 && (asked === 0 || asked > maxKeepalive)) ch.v5.serverKeepAlive = maxKeepalive;
    // Enhanced authentication (section 4.12): the node starts the exchange for the method, or refuses one it
    // does not offer [MQTT-4.12.0-1]. Authentication Data alone is a Protocol Error (section 3.1.2.11.10).
    if (v5.authenticationMethod !== undefined) ch.v5.authMethod = v5.authenticationMethod;
    else if (v5.authenticationData !== undefined) return refuse(ch, 'protocol-error', 'Authentication Data without an Authentication Method');
    ch.v5.sessionExpiryInterval = cappedExpiry(ch.v5.sessionExpiryInterval, ch.settings.sessionExpiryMs);
  }
  // A node that is full sends the client elsewhere (MQTT 5: with the Server Reference; 3.1.1: CONNACK 3, server unavailable).
  if (ch.redirected) return ch.refuse('use-another-server');
  ch.cleanSession = packet.clean !== false;
  ch.keepalive = ch.v5?.serverKeepAlive ?? packet.keepalive ?? 0;
  ch.username = packet.username ?? null;

  let clientId = packet.clientId ?? '';
  if (clientId.includes('\u0000') || (ch.username ?? '').includes('\u0000')) {
    return ch.violation(new ProtocolViolation('U+0000 in client id or user name [MQTT-1.5.3-2]'));
  }
  if (clientId.length === 0) {
    // MQTT 3.1 requires a client id; 3.1.1 allows an empty one only with clean session [MQTT-3.1.3-7, MQTT-3.1.3-8];
    // MQTT 5 allows one always, and the server names the id it assigned [MQTT-3.1.3-6, MQTT-3.2.2-16].
    if (level === 3) return refuse(ch, 'bad-client-id', 'empty client id with MQTT 3.1');
    if (!ch.cleanSession && level !== 5) return refuse(ch, 'bad-client-id', 'empty client id without clean session [MQTT-3.1.3-8]');
    if (!ch.settings.allowZeroLengthClientId) return refuse(ch, 'bad-client-id', 'empty client id refused by configuration');
    clientId = ch.ctx.newClientId(); // [MQTT-3.1.3-6]
    if (ch.v5) ch.v5.assignedClientId = clientId;
  } else if (level === 3 && clientId.length > MQTT31_MAX_CLIENT_ID) {
    return refuse(ch, 'bad-client-id', `client id longer than ${MQTT31_MAX_CLIENT_ID} characters with MQTT 3.1`);
  } else if (clientId.length > ch.settings.maxClientIdLength) {
    const why = `client id longer than ${ch.settings.maxClientIdLength} characters`;
    return [{ type: 'limit', limit: 'mqtt.maxClientIdLength', detail: why }, ...refuse(ch, 'bad-client-id', why)];
  }
  ch.clientId = clientId;

  if (packet.will) {
    const topicError = topicNameError(packet.will.topic);
    if (topicError) return ch.violation(new ProtocolViolation(`invalid will topic: ${topicError}`));
    const tooLong = topicLimitError(packet.will.topic, ch.settings);
    if (tooLong) return [{ type: 'limit', ...tooLong }, ...ch.violation(new ProtocolViolation(`will topic: ${tooLong.detail}`))];
    // [MQTT-3.1.2-14] is enforced by the decoder (a will QoS of 3 is malformed); this is the last line.
    if (packet.will.qos !== 0 && packet.will.qos !== 1 && packet.will.qos !== 2) return ch.violation(new ProtocolViolation('Will QoS 3 [MQTT-3.1.2-14]'));
    const payload = typeof packet.will.payload === 'string' ? Buffer.from(packet.will.payload) : packet.will.payload;
    ch.will = {
      topic: packet.will.topic,
      payload: Buffer.from(payload), // a copy: the socket chunk it points into must not be pinned
      qos: (packet.will.qos ?? 0) as QoS,
      retain: packet.will.retain === true,
    };
    const wp = (packet as V5Connect).willProperties;
    if (level === 5 && wp) {
      const properties = messagePropertiesOf(wp, 0);
      if (properties) ch.will.properties = properties;
      if (wp.willDelayInterval) ch.will.delayMs = wp.willDelayInterval * 1000;
      if (wp.messageExpiryInterval !== undefined) ch.will.expirySeconds = wp.messageExpiryInterval;
    }
  }

  ch.state = 'authenticating';
  const method = ch.v5?.authMethod ?? null;
  return [
    {
      type: 'authenticate',
      request: {
        clientId,
        username: ch.username,
        // With enhanced authentication the exchange proves the credentials; a password beside it is not used.
        password: method === null ? packet.password ?? null : null,
        remoteAddress: ch.remoteAddress,
        protocolVersion: level,
        ...(method !== null ? { enhanced: { method, data: (packet as V5Connect).v5?.authenticationData ?? null } } : {}),
      },
    },
  ];
}
