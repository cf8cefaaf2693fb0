/**
 * Operator commands against a running node's API (like `emqx ctl`): status,
 * clients, kick, publish, retained. Output is a short table on a terminal's
 * width, or JSON with --json.
 */
import { ConfigError } from '../config';
import { ApiTarget, callApi } from './ApiClient';

type Out = (line: string) => void;

function rows(out: Out, header: string[], data: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...data.map((r) => r[i].length)));
  const line = (r: string[]) => out(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  line(header);
  data.forEach(line);
}

export async function status(api: ApiTarget, json: boolean, out: Out): Promise<number> {
  const [o, nodes] = await Promise.all([callApi<Record<string, unknown>>(api, 'GET', '/api/v1/overview'), callApi<{ nodes: Array<Record<string, unknown>> }>(api, 'GET', '/api/v1/nodes')]);
  if (json) {
    out(JSON.stringify({ overview: o, nodes: nodes.nodes }));
    return 0;
  }
  for (const k of ['nodeId', 'health', 'connections', 'sessions', 'subscriptions', 'retained', 'messagesReceived', 'messagesSent', 'messagesDropped']) out(`${k.padEnd(18)} ${String(o[k])}`);
  out(`${'uptime'.padEnd(18)} ${Math.round(Number(o.uptimeMs) / 1000)} s`);
  rows(out, ['node', 'live', 'version', 'started'], nodes.nodes.map((n) => [String(n.nodeId) + (n.self ? ' *' : ''), n.live ? 'yes' : 'no', String(n.version ?? ''), new Date(Number(n.startedAt)).toISOString()]));
  return 0;
}

export async function clients(api: ApiTarget, opts: { search?: string; page?: string; limit?: string; json: boolean }, out: Out): Promise<number> {
  const q = new URLSearchParams();
  if (opts.search) q.set('search', opts.search);
  if (opts.page) q.set('page', opts.page);
  q.set('limit', opts.limit ?? '100');
  const r = await callApi<{ items: Array<Record<string, unknown>>; total: number }>(api, 'GET', `/api/v1/clients?${q}`);
  if (opts.json) {
    for (const c of r.items) out(JSON.stringify(c));
    return 0;
  }
  rows(out, ['client id', 'user', 'connected', 'node', 'address', 'subs'], r.items.map((c) => [String(c.clientId), String(c.username ?? ''), c.connected ? 'yes' : 'no', String(c.node), String(c.address), String(c.subscriptions)]));
  out(`${r.items.length} of ${r.total} client(s)`);
  return 0;
}

export async function kick(api: ApiTarget, clientId: string | undefined, out: Out): Promise<number> {
  if (!clientId) throw new ConfigError('usage: mqlog kick CLIENT_ID');
  await callApi(api, 'POST', `/api/v1/clients/${encodeURIComponent(clientId)}/kick`);
  out(`kicked ${clientId}`);
  return 0;
}

export async function publish(api: ApiTarget, args: string[], opts: { qos?: string; retain: boolean; encoding?: string }, out: Out): Promise<number> {
  const [topic, payload] = args;
  if (!topic || payload === undefined) throw new ConfigError('usage: mqlog publish TOPIC PAYLOAD [--qos 0|1|2] [--retain] [--encoding plain|base64]');
  const qos = Number(opts.qos ?? 0);
  if (![0, 1, 2].includes(qos)) throw new ConfigError('--qos must be 0, 1 or 2');
  await callApi(api, 'POST', '/api/v1/publish', { topic, payload, qos, retain: opts.retain, encoding: opts.encoding ?? 'plain' });
  out(`published to ${topic} (QoS ${qos}${opts.retain ? ', retained' : ''})`);
  return 0;
}

export async function retained(api: ApiTarget, args: string[], opts: { search?: string; json: boolean }, out: Out): Promise<number> {
  const [sub = 'list', topic] = args;
  if (sub === 'delete') {
    if (!topic) throw new ConfigError('usage: mqlog retained delete TOPIC');
    await callApi(api, 'DELETE', `/api/v1/retained/${encodeURIComponent(topic)}`);
    out(`deleted the retained message of ${topic}`);
    return 0;
  }
  if (sub !== 'list') throw new ConfigError(`unknown command 'retained ${sub}' (use 'retained list' or 'retained delete TOPIC')`);
  const q = new URLSearchParams({ limit: '1000' });
  if (opts.search) q.set('search', opts.search);
  const r = await callApi<{ items: Array<Record<string, unknown>>; total: number }>(api, 'GET', `/api/v1/retained?${q}`);
  if (opts.json) {
    for (const m of r.items) out(JSON.stringify(m));
    return 0;
  }
  rows(out, ['topic', 'qos', 'size', 'payload'], r.items.map((m) => [String(m.topic), String(m.qos), String(m.size), m.payloadEncoding === 'utf8' ? String(m.payload).slice(0, 60) : '(binary)']));
  out(`${r.items.length} of ${r.total} retained message(s)`);
  return 0;
}
