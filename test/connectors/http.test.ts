/**
 * The HTTP connector against a real HTTP service started by the test (Node's
 * http server on loopback): the shared authenticator and ACL source contracts,
 * then the login cache, what the service receives, and every way an answer can
 * be unusable.
 */
import { createServer, IncomingHttpHeaders, Server } from 'http';
import { inspect } from 'util';
import pino from 'pino';
import { AuthDecision, ConnectorUnavailable } from '../../auth/types';
import { AuthCache, HttpConnector, HttpConnectorConfig } from '../../connectors/http';
import { describeAclSourceContract, identity, SeededRule } from '../contract/aclSource.contract';
import { describeAuthenticatorContract, request, SeedUser } from '../contract/authenticator.contract';
import { describeBrokerConnectorContract } from '../contract/brokerConnector.contract';
import { closedPort } from '../helpers/services';
import { startTcpProxy, TcpProxy } from '../helpers/tcpProxy';

const SLOW_TIMEOUT_MS = 500;

interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A canned answer that replaces the service's own. */
interface CannedAnswer {
  status: number;
  body: string;
}

/**
 * The authentication service: POST /auth checks the seeded users, POST /acl
 * returns the seeded rules of the client (its user's, its client id's, everyone's).
 */
class AuthService {
  users = new Map<string, SeedUser>();
  rules: SeededRule[] = [];
  readonly received: ReceivedRequest[] = [];
  /** Answers instead of the users and rules while set. */
  canned: CannedAnswer | null = null;
  private server: Server | null = null;
  private port = 0;
  private readonly connectors: HttpConnector[] = [];
  private readonly proxies: TcpProxy[] = [];

  async url(path: string): Promise<string> {
    return `http://127.0.0.1:${await this.listening()}${path}`;
  }

  requestsTo(path: string): ReceivedRequest[] {
    return this.received.filter((r) => r.path === path);
  }

  /** The connector settings for this service, as `auth.connectors` would hold them. */
  async config(config: Partial<HttpConnectorConfig> = {}): Promise<HttpConnectorConfig> {
    return { authUrl: await this.url('/auth'), aclUrl: await this.url('/acl'), timeoutMs: 3000, ...config };
  }

  async connector(config: Partial<HttpConnectorConfig> = {}): Promise<HttpConnector> {
    const connector = new HttpConnector(await this.config(config));
    this.connectors.push(connector);
    return connector;
  }

  async slowConnector(): Promise<HttpConnector> {
    const proxy = await startTcpProxy(await this.listening());
    this.proxies.push(proxy);
    proxy.delayMs = SLOW_TIMEOUT_MS + 1500;
    const base = `http://127.0.0.1:${proxy.port}`;
    return this.connector({ authUrl: `${base}/auth`, aclUrl: `${base}/acl`, timeoutMs: SLOW_TIMEOUT_MS });
  }

  async unreachableConnector(): Promise<HttpConnector> {
    const base = `http://127.0.0.1:${await closedPort()}`;
    return this.connector({ authUrl: `${base}/auth`, aclUrl: `${base}/acl` });
  }

  async close(): Promise<void> {
    await Promise.all(this.connectors.splice(0).map((c) => c.close()));
    await Promise.all(this.proxies.splice(0).map((p) => p.close()));
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private answer(path: string, body: Record<string, unknown>): CannedAnswer {
    if (this.canned) return this.canned;
    if (path === '/auth') {
      const user = typeof body.username === 'string' ? this.users.get(body.username) : undefined;
      if (!user) return json({ result: 'ignore' });
      if (body.password !== user.password) return json({ result: 'deny' });
      return json({ result: 'allow', superuser: user.superuser ?? false, groups: user.groups ?? [] });
    }
    if (path === '/acl') {
      const mine = this.rules.filter(
        (r) => (r.username !== undefined && r.username === body.username) || (r.clientId !== undefined && r.clientId === body.clientId) || (r.username === undefined && r.clientId === undefined),
      );
      return json({ rules: mine.map((r) => r.rule) });
    }
    return { status: 404, body: '{}' };
  }

  private async listening(): Promise<number> {
    if (this.server) return this.port;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          // answered from an empty body
        }
        this.received.push({ path, headers: req.headers, body });
        const answer = this.answer(path, body);
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }
}

function json(body: unknown, status = 200): CannedAnswer {
  return { status, body: JSON.stringify(body) };
}

const authService = new AuthService();
describeAuthenticatorContract('HttpConnector', {
  groups: true,
  superuser: true,
  async create(users) {
    authService.users = new Map(users.map((u) => [u.username, u]));
    return authService.connector();
  },
  createUnreachable: () => authService.unreachableConnector(),
  async createSlow(users) {
    authService.users = new Map(users.map((u) => [u.username, u]));
    return { authenticator: await authService.slowConnector(), timeoutMs: SLOW_TIMEOUT_MS };
  },
  cleanup: () => authService.close(),
});

const aclService = new AuthService();
describeAclSourceContract('HttpConnector', {
  async create(rules) {
    aclService.rules = [...rules];
    return aclService.connector();
  },
  createUnreachable: () => aclService.unreachableConnector(),
  cleanup: () => aclService.close(),
});

const brokerService = new AuthService();
describeBrokerConnectorContract('http', {
  async seed(users, rules) {
    brokerService.users = new Map(users.map((u) => [u.username, u]));
    brokerService.rules = [...rules];
    return { type: 'http', ...(await brokerService.config()) };
  },
  async unreachable() {
    const base = `http://127.0.0.1:${await closedPort()}`;
    return { type: 'http', ...(await brokerService.config({ authUrl: `${base}/auth`, aclUrl: `${base}/acl` })) };
  },
  cleanup: () => brokerService.close(),
});

describe('HttpConnector specifics', () => {
  let service: AuthService;
  beforeEach(() => {
    service = new AuthService();
    service.users.set('alice', { username: 'alice', password: 'secret-a', groups: ['ops'] });
  });
  afterEach(() => service.close());

  test('the service receives client id, user name, password, IP and protocol, with the configured headers', async () => {
    const connector = await service.connector({ headers: { authorization: 'Bearer token-1' } });
    await connector.authenticate(request('alice', 'secret-a', { clientId: 'c-1', ip: '10.1.2.3', protocolVersion: 5 }));
    const [received] = service.requestsTo('/auth');
    expect(received.body).toEqual({ clientId: 'c-1', username: 'alice', password: 'secret-a', ip: '10.1.2.3', protocol: 5 });
    expect(received.headers).toMatchObject({ authorization: 'Bearer token-1', 'content-type': 'application/json' });
    await connector.rulesFor({ clientId: 'c-1', username: 'alice', ip: '10.1.2.3', groups: ['ops'], superuser: false });
    expect(service.requestsTo('/acl')[0].body).toEqual({ clientId: 'c-1', username: 'alice', ip: '10.1.2.3', groups: ['ops'] });
  });

  test('a repeated login is answered from the cache until its TTL runs out', async () => {
    const connector = await service.connector({ cacheTtlMs: 400 });
    const first = await connector.authenticate(request('alice', 'secret-a'));
    expect(first).toEqual({ result: 'allow', superuser: false, groups: ['ops'] });
    expect(await connector.authenticate(request('alice', 'secret-a'))).toEqual(first);
    expect(service.requestsTo('/auth')).toHaveLength(1);

    // Another password, user or client id is not the same login.
    await connector.authenticate(request('alice', 'secret-b'));
    await connector.authenticate(request('bob', 'secret-a'));
    await connector.authenticate(request('alice', 'secret-a', { clientId: 'other' }));
    expect(service.requestsTo('/auth')).toHaveLength(4);

    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await connector.authenticate(request('alice', 'secret-a'))).toEqual(first);
    expect(service.requestsTo('/auth')).toHaveLength(5);
  });

  test('with cacheTtlMs 0 every login is a request', async () => {
    const connector = await service.connector({ cacheTtlMs: 0 });
    await connector.authenticate(request('alice', 'secret-a'));
    await connector.authenticate(request('alice', 'secret-a'));
    expect(service.requestsTo('/auth')).toHaveLength(2);
  });

  test('the cache keeps no plain password, and keeps at most cacheMaxEntries logins', () => {
    let now = 1_000;
    const cache = new AuthCache(60_000, 2, () => now);
    const allow: AuthDecision = { result: 'allow' };
    cache.set(request('alice', 'pässwörd-in-clear'), allow);
    const everything = inspect(cache, { depth: null, showHidden: true, maxArrayLength: null });
    expect(everything).not.toContain('pässwörd-in-clear');
    // Buffers print as spaced hex bytes.
    expect(everything).not.toContain(Buffer.from('pässwörd-in-clear').toString('hex').replace(/(..)(?!$)/g, '$1 '));
    expect(cache.get(request('alice', 'pässwörd-in-clear'))).toEqual(allow);
    expect(cache.get(request('alice', 'pässwörd-in-clea'))).toBeUndefined();
    expect(cache.get(request('alice', null))).toBeUndefined();
    now += 1;
    cache.set(request('bob', 'b'), allow);
    cache.set(request('carol', 'c'), allow);
    expect(cache.size).toBe(2);
    expect(cache.get(request('alice', 'pässwörd-in-clear'))).toBeUndefined();
    now += 60_000;
    expect(cache.get(request('carol', 'c'))).toBeUndefined();
  });

  test('a client without a user name is ignored without asking the service', async () => {
    const connector = await service.connector();
    expect((await connector.authenticate(request(null, 'x'))).result).toBe('ignore');
    expect(service.received).toHaveLength(0);
  });

  test("a deny is CONNACK 4, and the service's wording (which could echo the password) is not passed on", async () => {
    service.canned = json({ result: 'deny', reason: 'wrong password wonder-land!' });
    const connector = await service.connector();
    const decision = await connector.authenticate(request('alice', 'wonder-land!'));
    expect(decision).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    expect(decision.reason).not.toContain('wonder-land!');
  });

  test('other statuses, malformed or oversized answers are unavailability, and are not cached', async () => {
    const connector = await service.connector({ maxResponseBytes: 1024 });
    const unusable: Array<[CannedAnswer, RegExp]> = [
      [json({ result: 'allow' }, 500), /HTTP 500/],
      [json({ result: 'allow' }, 302), /HTTP 302/],
      [json({ result: 'allow' }, 201), /HTTP 201/],
      [{ status: 200, body: 'allow' }, /not JSON/],
      [json({ result: 'yes' }), /"result"/],
      [json(['allow']), /not a JSON object/],
      [json({ result: 'allow', superuser: 'true' }), /superuser/],
      [json({ result: 'allow', groups: 'ops' }), /groups/],
      [json({ result: 'allow', padding: 'x'.repeat(2000) }), /longer than 1024 bytes/],
    ];
    for (const [answer, why] of unusable) {
      service.canned = answer;
      const failure = connector.authenticate(request('alice', 'secret-a'));
      await expect(failure).rejects.toBeInstanceOf(ConnectorUnavailable);
      await expect(failure).rejects.toThrow(why);
    }
    service.canned = null;
    expect((await connector.authenticate(request('alice', 'secret-a'))).result).toBe('allow');
  });

  test('ACL answers: invalid rules are skipped and logged, an answer without a rules list is unavailability', async () => {
    const warnings: Array<{ why: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const connector = await service.connector({ logger });
    service.canned = json({
      rules: [
        { permission: 'allow', action: 'publish', topic: 'a/%u' },
        { permission: 'allow', action: 'write', topic: 'a' },
        { permission: 'deny', action: 'all', topic: '#/x' },
        'allow all #',
        { permission: 'deny', action: 'subscribe', topic: 'secret/#' },
      ],
    });
    expect(await connector.rulesFor(identity('alice'))).toEqual([
      { permission: 'allow', action: 'publish', topic: 'a/%u' },
      { permission: 'deny', action: 'subscribe', topic: 'secret/#' },
    ]);
    expect(warnings.map((w) => w.why)).toEqual([expect.stringContaining('action'), expect.stringContaining('#'), expect.stringContaining('not an object')]);
    service.canned = json({ allow: [] });
    await expect(connector.rulesFor(identity('alice'))).rejects.toThrow(/"rules" must be a list/);
  });

  test('a connector without the URL for a lookup reports it as unavailable', async () => {
    const authOnly = new HttpConnector({ authUrl: await service.url('/auth') });
    await expect(authOnly.rulesFor(identity('alice'))).rejects.toThrow(/no aclUrl configured/);
    await authOnly.close();
  });

  test('configuration mistakes are refused when the connector is built', () => {
    expect(() => new HttpConnector({})).toThrow(/authUrl, aclUrl or both/);
    expect(() => new HttpConnector({ authUrl: 'not a url' })).toThrow(/not a URL/);
    expect(() => new HttpConnector({ authUrl: 'ftp://host/auth' })).toThrow(/http/);
    expect(() => new HttpConnector({ authUrl: 'http://host/auth', timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new HttpConnector({ authUrl: 'http://host/auth', cacheTtlMs: -1 })).toThrow(/cacheTtlMs/);
  });
});
