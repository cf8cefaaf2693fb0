/** The `mqlog audit` and `mqlog replay` commands talk to a node's HTTP API with this. */
import { ConfigError } from '../config';

export interface ApiTarget {
  url: string;
  user: string;
  password: string;
  /** An API key (Bearer), used instead of user and password when set. */
  key: string | null;
}

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

export function apiTarget(flags: { url?: string; user?: string; password?: string; key?: string }): ApiTarget {
  const url = flags.url ?? process.env.MQLOG_API_URL ?? 'http://127.0.0.1:18083';
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`--url must be an http(s) URL, got '${url}'`);
  return {
    url: url.replace(/\/+$/, ''),
    user: flags.user ?? process.env.MQLOG_API_USER ?? 'admin',
    password: flags.password ?? process.env.MQLOG_API_PASSWORD ?? 'public',
    key: flags.key ?? process.env.MQLOG_API_KEY ?? null,
  };
}

export async function callApi<T>(target: ApiTarget, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(target.url + path, {
      method,
      headers: {
        authorization: target.key ? `Bearer ${target.key}` : `Basic ${Buffer.from(`${target.user}:${target.password}`).toString('base64')}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new ApiCallError(0, `cannot reach the mqlog API at ${target.url}: ${(err as Error).message} (is the node running with api.enabled? see --url)`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiCallError(res.status, `unexpected answer from ${target.url}${path} (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new ApiCallError(res.status, `${(json as { error?: string }).error ?? text} (HTTP ${res.status})`);
  return json as T;
}
