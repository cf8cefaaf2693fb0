/** Calls a node's HTTP API as a user would (fetch, HTTP Basic admin/public). */
export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

export async function api<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, auth: string | null = 'admin:public'): Promise<ApiAnswer<T>> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

export function apiBase(port: number | undefined): string {
  if (!port) throw new Error('the node has no API port (api.enabled?)');
  return `http://127.0.0.1:${port}`;
}
