/**
 * HTTP publish: POST /api/v1/publish (one message) and /api/v1/publish/batch
 * (`{ messages: [...] }`, at most MAX_BATCH). The message goes through the same
 * log, access rules and archive as an MQTT publish (origin api, the operator as
 * publisher); the call answers once it is durable.
 */
import { BadRequest } from '../../history/HistoryQuery';
import { QoS } from '../../events/types';
import { Route } from '../ApiServer';
import type { ApiPublish, Management } from '../Management';
import { jsonPreview } from '../jsonPreview';

export const MAX_BATCH = 1000;

const FIELDS = { topic: 'topic name (no wildcards, not $-prefixed)', payload: 'text, or base64 with encoding', encoding: "'plain' (default) or 'base64'", qos: '0, 1 or 2 (default 0)', retain: 'boolean (default false)' };

export function parsePublish(v: unknown, where = 'body'): ApiPublish {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequest(`${where} must be an object with topic and payload`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in FIELDS)) throw new BadRequest(`${where}: unknown field ${jsonPreview(k)}`);
  if (typeof o.topic !== 'string') throw new BadRequest(`${where}.topic must be a string`);
  if (o.topic.startsWith('$')) throw new BadRequest(`${where}.topic: topics starting with $ are the broker's [MQTT-4.7.2-1]`);
  const payload = o.payload ?? '';
  if (typeof payload !== 'string') throw new BadRequest(`${where}.payload must be a string`);
  const encoding = o.encoding ?? 'plain';
  if (encoding !== 'plain' && encoding !== 'base64') throw new BadRequest(`${where}.encoding must be 'plain' or 'base64'`);
  if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new BadRequest(`${where}.payload is not base64`);
  const qos = o.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new BadRequest(`${where}.qos must be 0, 1 or 2`);
  const retain = o.retain ?? false;
  if (typeof retain !== 'boolean') throw new BadRequest(`${where}.retain must be true or false`);
  if (encoding === 'plain' && !payload.isWellFormed()) throw new BadRequest(`${where}.payload is not well-formed Unicode`);
  return { topic: o.topic, payload: Buffer.from(payload, encoding === 'base64' ? 'base64' : 'utf8'), qos: qos as QoS, retain };
}

export function publishRoutes(m: Management): Route[] {
  const run = async (messages: ApiPublish[], req: Parameters<Route['handle']>[0]) => {
    const refusal = await m.publishRefusal(messages, req.actor!, req.ip);
    if (refusal) return { status: refusal.startsWith('the access rules') ? 403 : 400, json: { error: refusal } };
    await m.publish(messages, req.actor!, req.ip);
    return { status: 200, json: { published: messages.length } };
  };
  return [
    { method: 'POST', path: '/api/v1/publish', summary: 'Publish one message (answers once durable)', body: FIELDS, handle: (req) => run([parsePublish(req.body)], req) },
    {
      method: 'POST',
      path: '/api/v1/publish/batch',
      summary: `Publish up to ${MAX_BATCH} messages at once (answers once all are durable)`,
      body: { messages: 'array of messages as for /api/v1/publish' },
      handle(req) {
        const b = req.body as { messages?: unknown } | undefined;
        if (!b || typeof b !== 'object' || !Array.isArray(b.messages)) throw new BadRequest('body must be { "messages": [...] }');
        if (b.messages.length === 0 || b.messages.length > MAX_BATCH) throw new BadRequest(`messages must hold 1 to ${MAX_BATCH} messages`);
        return run(b.messages.map((v, i) => parsePublish(v, `messages[${i}]`)), req);
      },
    },
  ];
}
