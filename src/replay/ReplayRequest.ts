/**
 * What an operator asks to replay (`POST /api/v1/replay`, `mqlog replay`): the
 * messages of a topic filter over a time range or a range of log positions,
 * and where they go.
 */
import { BadRequest, checkFilter, checkRange, parseTime } from '../history/HistoryQuery';
import { topicNameError } from '../protocol/topics';
import { jsonPreview } from '../api/jsonPreview';

export type ReplayTarget =
  /** Publish again on the original topics: every current matching subscription gets them. */
  | { type: 'subscribers' }
  /** Only the session of this client id gets them (through its matching subscriptions). */
  | { type: 'client'; clientId: string }
  /** Publish under `prefix` + original topic; the default prefix is `replay/<replay id>/`. Never a `$` topic. */
  | { type: 'prefix'; prefix: string | null };

export interface ReplayRequest {
  topic: string;
  /** A time range (ms, from inclusive, to exclusive) ... */
  from: number | null;
  to: number | null;
  /** ... or offsets per partition: [from inclusive, to exclusive]. */
  positions: Map<number, [number, number]> | null;
  target: ReplayTarget;
}

const FIELDS = new Set(['topic', 'from', 'to', 'positions', 'target', 'clientId', 'prefix']);

function time(v: unknown, name: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string') return parseTime(v, name);
  throw new BadRequest(`'${name}' must be epoch milliseconds or an ISO 8601 time, got ${jsonPreview(v)}`);
}

function str(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new BadRequest(`'${name}' must be a string, got ${jsonPreview(v)}`);
  return v;
}

/** Validates a replay request body; `partitions` is the message stream's partition count. */
export function parseReplayRequest(body: unknown, partitions: number): ReplayRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.has(k)) throw new BadRequest(`unknown field '${k}' (known: ${[...FIELDS].join(', ')})`);
  const topic = str(b.topic, 'topic');
  if (topic === null) throw new BadRequest(`'topic' is required: the MQTT topic filter to replay, e.g. "sensors/#"`);
  checkFilter(topic);
  const from = time(b.from, 'from');
  const to = time(b.to, 'to');
  checkRange(from, to);
  let positions: Map<number, [number, number]> | null = null;
  if (b.positions !== undefined && b.positions !== null) {
    if (from !== null || to !== null) throw new BadRequest(`give either a time range ('from'/'to') or 'positions', not both`);
    positions = parsePositions(b.positions, partitions);
  } else if (from === null && to === null) {
    throw new BadRequest(`give a time range ('from' and/or 'to') or 'positions' ({"<partition>": [fromOffset, toOffset]})`);
  }
  const kind = str(b.target, 'target') ?? 'subscribers';
  let target: ReplayTarget;
  if (kind === 'subscribers') target = { type: 'subscribers' };
  else if (kind === 'client') {
    const clientId = str(b.clientId, 'clientId');
    if (!clientId) throw new BadRequest(`target 'client' needs 'clientId'`);
    target = { type: 'client', clientId };
  } else if (kind === 'prefix') {
    const prefix = str(b.prefix, 'prefix');
    if (prefix !== null) {
      const error = prefix === '' ? 'empty prefix' : topicNameError(`${prefix}x`);
      if (error) throw new BadRequest(`'prefix' cannot start a topic name: ${error}`);
      // `$` topics are the broker's own ($SYS): a replay never publishes there.
      if (prefix.startsWith('$')) throw new BadRequest(`'prefix' may not start with '$': those topics are the broker's own`);
    }
    target = { type: 'prefix', prefix };
  } else {
    throw new BadRequest(`'target' must be subscribers, client or prefix, got '${kind}'`);
  }
  // Republished on their own topics, the messages of a `$` filter would be published under `$` again.
  if (target.type !== 'prefix' && topic.startsWith('$')) throw new BadRequest(`a '$' topic filter can only be replayed under a prefix (target 'prefix'): '$' topics are the broker's own`);
  if (target.type !== 'client' && b.clientId !== undefined) throw new BadRequest(`'clientId' is only for target 'client'`);
  if (target.type !== 'prefix' && b.prefix !== undefined) throw new BadRequest(`'prefix' is only for target 'prefix'`);
  return { topic, from, to, positions, target };
}

function parsePositions(v: unknown, partitions: number): Map<number, [number, number]> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequest(`'positions' must be an object: {"<partition>": [fromOffset, toOffset]}`);
  const out = new Map<number, [number, number]>();
  for (const [k, range] of Object.entries(v as Record<string, unknown>)) {
    const p = Number(k);
    if (!Number.isInteger(p) || p < 0 || p >= partitions) throw new BadRequest(`'positions': partition '${k}' does not exist (the message stream has ${partitions})`);
    if (!Array.isArray(range) || range.length !== 2 || !range.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) || (range[0] as number) > (range[1] as number)) {
      throw new BadRequest(`'positions' of partition ${k} must be [fromOffset, toOffset] with fromOffset <= toOffset, got ${jsonPreview(range)}`);
    }
    out.set(p, [range[0] as number, range[1] as number]);
  }
  if (out.size === 0) throw new BadRequest(`'positions' names no partition`);
  return out;
}
