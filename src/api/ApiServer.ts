/**
 * The HTTP API under /api/v1 (HTTP Basic for admins, Bearer for API keys: see
 * ApiAccess), Prometheus metrics on /metrics, the dashboard's files on /. Routes
 * are small handlers (routes/); this file only moves bytes, checks credentials
 * and turns errors into statuses with a message.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { BadRequest } from '../history/HistoryQuery';
import { Logger } from '../logger';
import type { Actor, ApiAccess } from './ApiAccess';

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

/** Too many requests of a kind (replays at once, failed logins from one address): 429 with its message. */
export class TooManyRequests extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'TooManyRequests';
  }
}

export interface ApiRequest {
  method: string;
  /** Path segments after the route's prefix match, e.g. the replay id. */
  params: string[];
  query: URLSearchParams;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
  /** Who called (null on open routes). */
  actor: Actor | null;
  /** The caller's address. */
  ip: string;
}

export interface ApiResponse {
  status: number;
  /** Seconds, for a 429. */
  retryAfter?: number;
  /** JSON-encoded unless `text` or `stream` is set. */
  json?: unknown;
  text?: string | Buffer;
  contentType?: string;
  /** A long-lived response (server-sent events): called with the raw response, which it owns from then on. */
  stream?: (res: ServerResponse) => void;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path with `:param` segments, e.g. /api/v1/replay/:id */
  path: string;
  /** One line for the OpenAPI description. */
  summary: string;
  /** Query parameters it reads (OpenAPI), name → description. */
  query?: Record<string, string>;
  /** JSON body it takes (OpenAPI), field → description. */
  body?: Record<string, string>;
  /** Open routes skip authentication (/metrics with api.metrics.open, the dashboard's files). */
  open?: boolean;
  /** Left out of the OpenAPI description (the dashboard's files). */
  hidden?: boolean;
  handle(req: ApiRequest): Promise<ApiResponse> | ApiResponse;
}

export interface ApiSettings {
  host: string;
  port: number;
  /** Failed logins per address within `windowMs` before it is refused (429) for `lockoutMs`. */
  rateLimit: { maxFailuresPerIp: number; windowMs: number; lockoutMs: number };
}

/** Addresses whose failed logins are tracked at once; beyond, the oldest are forgotten. */
const MAX_TRACKED_ADDRESSES = 10_000;

const MAX_BODY = 1024 * 1024;

export class ApiServer {
  private server: Server | null = null;
  /** Failed logins per client address: times within the window, and a lockout end. */
  private readonly failures = new Map<string, { times: number[]; lockedUntil: number }>();
  /** Logins refused by the rate limit since start. */
  rateLimited = 0;

  constructor(
    private readonly settings: ApiSettings,
    private readonly routes: Route[],
    private readonly access: ApiAccess,
    private readonly log: Logger,
    /** Told when the failed-login limit locks an address out (metrics). */
    private readonly onLockout: (detail: string) => void = () => undefined,
    /** Told of every answered request: the route's path pattern (or 'unmatched'), method, status. */
    private readonly onRequest: (route: string, method: string, status: number) => void = () => undefined,
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
    const matched = { route: 'unmatched' };
    try {
      out = await this.dispatch(req, matched);
    } catch (err) {
      out = errorResponse(err as Error);
      if (out.status >= 500) this.log.error({ err, method: req.method, url: req.url }, 'API request failed');
    }
    this.onRequest(matched.route, req.method ?? '', out.status);
    if (out.stream) return out.stream(res);
    // Browsers ask for credentials themselves only on the API's own 401s, never for the dashboard's fetches.
    if (out.status === 401 && !req.headers['x-requested-with']) res.setHeader('www-authenticate', 'Basic realm="mqlog"');
    if (out.retryAfter !== undefined) res.setHeader('retry-after', String(out.retryAfter));
    const body = out.text ?? JSON.stringify(out.json ?? null);
    res.writeHead(out.status, {
      'content-type': out.contentType ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      // The dashboard loads only its own files and talks only to this API; nobody frames it.
      'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer',
    });
    res.end(body);
  }

  private async dispatch(req: IncomingMessage, matched: { route: string }): Promise<ApiResponse> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new BadRequest('malformed request URL');
    }
    const parts = url.pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchPath(route.path, parts);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      matched.route = route.path;
      const ip = req.socket.remoteAddress ?? 'unknown';
      let actor: Actor | null = null;
      if (!route.open) {
        const checked = await this.checkCredentials(req, ip);
        if ('status' in checked) return checked;
        actor = checked;
      }
      const body = await readJson(req);
      return route.handle({ method: req.method, params, query: url.searchParams, body, actor, ip });
    }
    if (pathMatched) return { status: 405, json: { error: `method ${req.method} not allowed on ${url.pathname}` } };
    return { status: 404, json: { error: `no such endpoint: ${url.pathname}` } };
  }

  /**
   * Null when the request carries the API credentials; otherwise 401, or 429 once
   * its address failed `rateLimit.maxFailuresPerIp` times within the window (it is
   * then refused without a check until the lockout ends, right credentials or not).
   */
  private async checkCredentials(req: IncomingMessage, ip: string): Promise<ApiResponse | Actor> {
    const now = Date.now();
    const entry = this.failures.get(ip);
    if (entry && entry.lockedUntil > now) {
      this.rateLimited++;
      const retryAfter = Math.ceil((entry.lockedUntil - now) / 1000);
      return { status: 429, json: { error: `too many failed logins from ${ip}: try again in ${retryAfter} s` }, retryAfter };
    }
    const actor = await this.access.authenticate(req.headers.authorization);
    if (actor) return actor;
    if (req.headers.authorization) this.loginFailed(ip, now);
    return { status: 401, json: { error: 'authentication required (HTTP Basic as an admin user, or Bearer with an API key)' } };
  }

  private loginFailed(ip: string, now: number): void {
    const limit = this.settings.rateLimit;
    let entry = this.failures.get(ip);
    if (!entry) {
      if (this.failures.size >= MAX_TRACKED_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
      this.failures.set(ip, (entry = { times: [], lockedUntil: 0 }));
    }
    entry.times = entry.times.filter((t) => now - t < limit.windowMs);
    entry.times.push(now);
    if (entry.times.length >= limit.maxFailuresPerIp) {
      entry.lockedUntil = now + limit.lockoutMs;
      entry.times = [];
      this.log.warn({ ip, lockoutMs: limit.lockoutMs }, 'API: too many failed logins from one address; refusing it for a while');
      this.onLockout(`API logins from ${ip} refused for ${limit.lockoutMs} ms after ${limit.maxFailuresPerIp} failures`);
    }
  }
}

function matchPath(pattern: string, parts: string[]): string[] | null {
  const want = pattern.split('/').filter(Boolean);
  if (want.length !== parts.length) return null;
  const params: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      try {
        params.push(decodeURIComponent(parts[i]));
      } catch {
        throw new BadRequest(`malformed percent-encoding in ${want[i].slice(1)}`);
      }
    } else if (want[i] !== parts[i]) return null;
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
  if (err instanceof TooManyRequests) return { status: 429, json: { error: err.message }, retryAfter: err.retryAfterSeconds };
  return { status: 500, json: { error: err.message } };
}
