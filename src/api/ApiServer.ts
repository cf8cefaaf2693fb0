/**
 * The HTTP API: message history, replays, node and archiver status under
 * /api/v1 (HTTP Basic, `api.username`/`api.password`), Prometheus metrics on
 * /metrics. Routes are small handlers (routes/); this file only moves bytes,
 * checks credentials and turns errors into statuses with a message.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { constantTimeEqual } from '../../auth/passwordHash';
import { BadRequest } from '../history/HistoryQuery';
import { Logger } from '../logger';

export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

/** An upstream the API needs is down (Elasticsearch): 503 with its message. */
export class Unavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unavailable';
  }
}

export interface ApiRequest {
  method: string;
  /** Path segments after the route's prefix match, e.g. the replay id. */
  params: string[];
  query: URLSearchParams;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
}

export interface ApiResponse {
  status: number;
  /** JSON-encoded unless `text` is set. */
  json?: unknown;
  text?: string;
  contentType?: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path with `:param` segments, e.g. /api/v1/replay/:id */
  path: string;
  /** Open routes skip authentication (metrics). */
  open?: boolean;
  handle(req: ApiRequest): Promise<ApiResponse> | ApiResponse;
}

export interface ApiSettings {
  host: string;
  port: number;
  username: string;
  password: string;
}

const MAX_BODY = 1024 * 1024;

export class ApiServer {
  private server: Server | null = null;

  constructor(
    private readonly settings: ApiSettings,
    private readonly routes: Route[],
    private readonly log: Logger,
  ) {}

  async listen(): Promise<number> {
    const server = createServer((req, res) => void this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.settings.port, this.settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let out: ApiResponse;
    try {
      out = await this.dispatch(req);
    } catch (err) {
      out = errorResponse(err as Error);
      if (out.status >= 500) this.log.error({ err, method: req.method, url: req.url }, 'API request failed');
    }
    if (out.status === 401) res.setHeader('www-authenticate', 'Basic realm="mqlog"');
    const body = out.text ?? JSON.stringify(out.json ?? null);
    res.writeHead(out.status, { 'content-type': out.contentType ?? 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private async dispatch(req: IncomingMessage): Promise<ApiResponse> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchPath(route.path, parts);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      if (!route.open && !this.authorized(req)) return { status: 401, json: { error: 'authentication required (HTTP Basic, api.username / api.password)' } };
      const body = await readJson(req);
      return route.handle({ method: req.method, params, query: url.searchParams, body });
    }
    if (pathMatched) return { status: 405, json: { error: `method ${req.method} not allowed on ${url.pathname}` } };
    return { status: 404, json: { error: `no such endpoint: ${url.pathname}` } };
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Basic ')) return false;
    const given = Buffer.from(header.slice(6), 'base64');
    return constantTimeEqual(given, Buffer.from(`${this.settings.username}:${this.settings.password}`));
  }
}

function matchPath(pattern: string, parts: string[]): string[] | null {
  const want = pattern.split('/').filter(Boolean);
  if (want.length !== parts.length) return null;
  const params: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params.push(decodeURIComponent(parts[i]));
    else if (want[i] !== parts[i]) return null;
  }
  return params;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new BadRequest(`request body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}

function errorResponse(err: Error): ApiResponse {
  if (err instanceof BadRequest) return { status: 400, json: { error: err.message } };
  if (err instanceof NotFound) return { status: 404, json: { error: err.message } };
  if (err instanceof Unavailable) return { status: 503, json: { error: err.message } };
  return { status: 500, json: { error: err.message } };
}
