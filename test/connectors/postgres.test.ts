/**
 * The PostgreSQL connector against the real PostgreSQL (started when down):
 * the shared authenticator and ACL source contracts, then what is particular to
 * SQL back ends — injection attempts, exact user name matching, the hash
 * formats, placeholders, invalid rows, timeouts and recovery.
 */
import { createHash, pbkdf2Sync, randomBytes } from 'crypto';
import { Client } from 'pg';
import pino from 'pino';
import { hashPassword } from '../../auth/passwordHash';
import { ConnectorUnavailable } from '../../auth/types';
import { PostgresConnector, PostgresConnectorConfig } from '../../connectors/sql';
import { describeAclSourceContract, identity, SeededRule } from '../contract/aclSource.contract';
import { describeAuthenticatorContract, request, SeedUser } from '../contract/authenticator.contract';
import { describeBrokerConnectorContract } from '../contract/brokerConnector.contract';
import { closedPort, ensurePostgres, SqlServiceSettings, uniqueName } from '../helpers/services';
import { startTcpProxy, TcpProxy } from '../helpers/tcpProxy';

const SLOW_TIMEOUT_MS = 500;
/** The hash formats the seeded users rotate through, so the contract exercises each. */
const SEED_SCHEMES = ['bcrypt', 'pbkdf2-sha512', 'sha256'] as const;

interface StoredUserRow {
  username: string;
  passwordHash: string | null;
  salt?: string;
  superuser?: boolean;
}

/**
 * A database of its own (dropped at the end) with the documented default
 * schema, so the connector runs its default queries unchanged.
 */
class TestDatabase {
  readonly name = uniqueName('mqlog_pg');
  /** Connected to the service's database: creates and drops ours. */
  private server: Client | null = null;
  /** Connected to ours: creates the tables and seeds them. */
  private admin: Client | null = null;
  private settings: SqlServiceSettings | null = null;
  private readonly connectors: PostgresConnector[] = [];
  private readonly proxies: TcpProxy[] = [];

  async sql(text: string, params: unknown[] = []): Promise<unknown[]> {
    const admin = await this.open();
    return (await admin.query(text, params)).rows;
  }

  async seedUsers(users: StoredUserRow[]): Promise<void> {
    await this.sql('DELETE FROM mqtt_user');
    for (const u of users) {
      await this.sql('INSERT INTO mqtt_user (username, password_hash, salt, is_superuser) VALUES ($1, $2, $3, $4)', [u.username, u.passwordHash, u.salt ?? null, u.superuser ?? false]);
    }
  }

  async seedContractUsers(users: SeedUser[]): Promise<void> {
    await this.seedUsers(
      users.map((u, i) => ({ username: u.username, passwordHash: hashPassword(u.password, SEED_SCHEMES[i % SEED_SCHEMES.length], 10_000), superuser: u.superuser })),
    );
  }

  async seedRules(rules: SeededRule[]): Promise<void> {
    await this.sql('DELETE FROM mqtt_acl');
    for (const r of rules) {
      await this.sql('INSERT INTO mqtt_acl (username, clientid, permission, action, topic) VALUES ($1, $2, $3, $4, $5)', [
        r.username ?? null,
        r.clientId ?? null,
        r.rule.permission,
        r.rule.action,
        r.rule.topic,
      ]);
    }
  }

  /** The connector settings for this database, as `auth.connectors` would hold them. */
  async config(config: Partial<PostgresConnectorConfig> = {}): Promise<PostgresConnectorConfig> {
    const s = await this.serviceSettings();
    return { host: s.host, port: s.port, user: s.user, password: s.password, database: this.name, timeoutMs: 3000, ...config };
  }

  async connector(config: Partial<PostgresConnectorConfig> = {}): Promise<PostgresConnector> {
    const connector = new PostgresConnector(await this.config(config));
    this.connectors.push(connector);
    return connector;
  }

  /** A connector whose every packet is delayed by more than its time limit. */
  async slowConnector(): Promise<PostgresConnector> {
    const proxy = await this.proxy();
    proxy.delayMs = SLOW_TIMEOUT_MS + 1500;
    return this.connector({ host: '127.0.0.1', port: proxy.port, timeoutMs: SLOW_TIMEOUT_MS });
  }

  async proxy(): Promise<TcpProxy> {
    const s = await this.serviceSettings();
    const proxy = await startTcpProxy(s.port, s.host);
    this.proxies.push(proxy);
    return proxy;
  }

  async unreachableConnector(): Promise<PostgresConnector> {
    return this.connector({ host: '127.0.0.1', port: await closedPort() });
  }

  async drop(): Promise<void> {
    await Promise.all(this.connectors.splice(0).map((c) => c.close()));
    await Promise.all(this.proxies.splice(0).map((p) => p.close()));
    await this.admin?.end();
    this.admin = null;
    if (this.server) {
      await this.server.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
      await this.server.end();
      this.server = null;
    }
  }

  private async serviceSettings(): Promise<SqlServiceSettings> {
    this.settings ??= await ensurePostgres();
    return this.settings;
  }

  private async open(): Promise<Client> {
    if (this.admin) return this.admin;
    const s = await this.serviceSettings();
    const connect = async (database: string) => {
      const client = new Client({ host: s.host, port: s.port, user: s.user, password: s.password, database });
      await client.connect();
      return client;
    };
    this.server = await connect(s.database);
    await this.server.query(`CREATE DATABASE "${this.name}" ENCODING 'UTF8' TEMPLATE template0`);
    const admin = await connect(this.name);
    await admin.query(`CREATE TABLE mqtt_user (
      id SERIAL PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      password_hash TEXT,
      salt TEXT,
      is_superuser BOOLEAN NOT NULL DEFAULT false)`);
    await admin.query(`CREATE TABLE mqtt_acl (
      id SERIAL PRIMARY KEY,
      username TEXT,
      clientid TEXT,
      permission TEXT NOT NULL,
      action TEXT NOT NULL,
      topic TEXT NOT NULL)`);
    await admin.query('CREATE INDEX ON mqtt_acl (username)');
    await admin.query('CREATE INDEX ON mqtt_acl (clientid)');
    this.admin = admin;
    return admin;
  }
}

const authDb = new TestDatabase();
describeAuthenticatorContract('PostgresConnector', {
  superuser: true,
  async create(users) {
    await authDb.seedContractUsers(users);
    return authDb.connector();
  },
  createUnreachable: () => authDb.unreachableConnector(),
  async createSlow(users) {
    await authDb.seedContractUsers(users);
    return { authenticator: await authDb.slowConnector(), timeoutMs: SLOW_TIMEOUT_MS };
  },
  cleanup: () => authDb.drop(),
});

const aclDb = new TestDatabase();
describeAclSourceContract('PostgresConnector', {
  async create(rules) {
    await aclDb.seedRules(rules);
    return aclDb.connector();
  },
  createUnreachable: () => aclDb.unreachableConnector(),
  cleanup: () => aclDb.drop(),
});

const brokerDb = new TestDatabase();
describeBrokerConnectorContract('postgres', {
  async seed(users, rules) {
    await brokerDb.seedContractUsers(users);
    await brokerDb.seedRules(rules);
    return { type: 'postgres', ...(await brokerDb.config()) };
  },
  unreachable: async () => ({ type: 'postgres', ...(await brokerDb.config({ host: '127.0.0.1', port: await closedPort() })) }),
  cleanup: () => brokerDb.drop(),
});

/** Mosquitto's mosquitto_passwd format: $7$iterations$salt$PBKDF2-SHA512, base64. */
function mosquittoHash(password: string, iterations = 1000): string {
  const salt = randomBytes(12);
  return `$7$${iterations}$${salt.toString('base64')}$${pbkdf2Sync(password, salt, iterations, 64, 'sha512').toString('base64')}`;
}

const sha256Hex = (...parts: string[]) => parts.reduce((h, p) => h.update(p, 'utf8'), createHash('sha256')).digest('hex');

describe('PostgresConnector specifics', () => {
  const db = new TestDatabase();
  afterAll(() => db.drop());

  const seedAliceAndBob = () =>
    db.seedUsers([
      { username: 'alice', passwordHash: hashPassword('secret-a', 'bcrypt') },
      { username: 'bob', passwordHash: hashPassword('secret-b', 'pbkdf2-sha256', 5000) },
    ]);

  test('SQL injection attempts in user names and client ids match nobody and change nothing', async () => {
    await seedAliceAndBob();
    await db.seedRules([{ username: 'alice', rule: { permission: 'allow', action: 'all', topic: '#' } }]);
    const connector = await db.connector();
    const attacks = [
      "' OR '1'='1",
      "' OR 1=1 -- ",
      "alice' -- ",
      "x'; DROP TABLE mqtt_user; -- ",
      "alice'::text OR true --",
      "' UNION SELECT '$sha256$x$00', '', true -- ",
      '$1',
      '%u',
    ];
    for (const attack of attacks) {
      expect((await connector.authenticate(request(attack, 'anything', { clientId: attack }))).result).toBe('ignore');
      expect(await connector.rulesFor(identity(attack, attack))).toEqual([]);
    }
    expect(await db.sql('SELECT COUNT(*)::int AS n FROM mqtt_user')).toEqual([{ n: 2 }]);
    expect((await connector.authenticate(request('alice', 'secret-a'))).result).toBe('allow');
  });

  test('user names match exactly: other case, trailing spaces and NUL are other users', async () => {
    await seedAliceAndBob();
    const connector = await db.connector();
    for (const name of ['ALICE', 'Alice', 'alice ', ' alice', 'alice\u0000']) {
      expect((await connector.authenticate(request(name, 'secret-a'))).result).toBe('ignore');
    }
  });

  test('bcrypt, PBKDF2 (Mosquitto $7$, $pbkdf2-sha256$, $pbkdf2-sha512$) and $sha256$ hashes each verify', async () => {
    const formats: Array<[string, string]> = [
      ['bcrypt-2b', hashPassword('pw-1', 'bcrypt')],
      ['bcrypt-2y', hashPassword('pw-2', 'bcrypt').replace(/^\$2b\$/, '$2y$')],
      ['mosquitto-7', mosquittoHash('pw-3')],
      ['pbkdf2-sha256', hashPassword('pw-4', 'pbkdf2-sha256', 2000)],
      ['pbkdf2-sha512', hashPassword('pw-5', 'pbkdf2-sha512', 2000)],
      ['sha256', hashPassword('pw-6', 'sha256')],
    ];
    await db.seedUsers(formats.map(([username, passwordHash]) => ({ username, passwordHash })));
    const connector = await db.connector();
    for (const [i, [username]] of formats.entries()) {
      expect([username, (await connector.authenticate(request(username, `pw-${i + 1}`))).result]).toEqual([username, 'allow']);
      const wrong = await connector.authenticate(request(username, `pw-${i + 2}`));
      expect([username, wrong.result, wrong.code]).toEqual([username, 'deny', 4]);
    }
  });

  test('salted SHA-256 with the salt in its own column, salt first or last', async () => {
    await db.seedUsers([{ username: 'carol', passwordHash: sha256Hex('NaCl', 'pw-carol'), salt: 'NaCl' }]);
    const prefix = await db.connector({ passwordScheme: 'sha256-salted' });
    expect((await prefix.authenticate(request('carol', 'pw-carol'))).result).toBe('allow');
    expect((await prefix.authenticate(request('carol', 'pw-caro'))).result).toBe('deny');

    await db.seedUsers([{ username: 'dave', passwordHash: sha256Hex('pw-dave', 'NaCl'), salt: 'NaCl' }]);
    const suffix = await db.connector({ passwordScheme: 'sha256-salted-suffix' });
    expect((await suffix.authenticate(request('dave', 'pw-dave'))).result).toBe('allow');
    expect((await prefix.authenticate(request('dave', 'pw-dave'))).result).toBe('deny');
  });

  test('a user without a stored password, or with a malformed hash, is denied', async () => {
    await db.seedUsers([
      { username: 'nopass', passwordHash: null },
      { username: 'broken', passwordHash: '$2b$10$short' },
    ]);
    const connector = await db.connector();
    expect(await connector.authenticate(request('nopass', ''))).toMatchObject({ result: 'deny', code: 4 });
    expect(await connector.authenticate(request('broken', 'x'))).toMatchObject({ result: 'deny', code: 4 });
    expect(await connector.authenticate(request('nopass', null))).toMatchObject({ result: 'deny', code: 4 });
  });

  test('%c and %a are bound too; placeholders inside quotes stay text', async () => {
    await db.seedUsers([{ username: 'erin', passwordHash: hashPassword('pw-erin', 'sha256'), superuser: true }]);
    const connector = await db.connector({
      // Only client ids "<user>-..." from an address other than the literal text '%a' may log in.
      authQuery: "SELECT password_hash, is_superuser FROM mqtt_user WHERE username = %u AND %c::text LIKE %u::text || '-%' AND %a::text <> '%a' LIMIT 1",
    });
    expect(await connector.authenticate(request('erin', 'pw-erin', { clientId: 'erin-1', ip: '10.0.0.7' }))).toEqual({ result: 'allow', superuser: true });
    expect((await connector.authenticate(request('erin', 'pw-erin', { clientId: 'mallory-1' }))).result).toBe('ignore');
  });

  test("rules for everyone come with the client's own, in id order; invalid rows are skipped and logged", async () => {
    await db.seedRules([
      { rule: { permission: 'allow', action: 'subscribe', topic: 'public/#' } },
      { username: 'alice', rule: { permission: 'deny', action: 'publish', topic: 'public/#' } },
    ]);
    await db.sql(
      "INSERT INTO mqtt_acl (username, permission, action, topic) VALUES ('alice', 'maybe', 'publish', 'a'), ('alice', 'allow', 'read', 'a'), ('alice', 'allow', 'all', 'a/#/b'), ('alice', 'ALLOW', 'Publish', 'ok/%u')",
    );
    const warnings: Array<{ why: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const connector = await db.connector({ logger });
    expect(await connector.rulesFor(identity('alice'))).toEqual([
      { permission: 'allow', action: 'subscribe', topic: 'public/#' },
      { permission: 'deny', action: 'publish', topic: 'public/#' },
      { permission: 'allow', action: 'publish', topic: 'ok/%u' },
    ]);
    expect(warnings.map((w) => w.why)).toEqual([expect.stringContaining('permission'), expect.stringContaining('action'), expect.stringContaining('#')]);
    expect(await connector.rulesFor(identity(null, 'anyone'))).toEqual([{ permission: 'allow', action: 'subscribe', topic: 'public/#' }]);
    // A client id PostgreSQL cannot even store still gets the rules for everyone.
    expect(await connector.rulesFor(identity(null, 'bad\u0000id'))).toEqual([{ permission: 'allow', action: 'subscribe', topic: 'public/#' }]);
  });

  test('a query slower than the time limit is reported as unavailable', async () => {
    const connector = await db.connector({ timeoutMs: 300, authQuery: 'SELECT pg_sleep(3)::text AS password_hash WHERE %u::text IS NOT NULL' });
    const t0 = Date.now();
    await expect(connector.authenticate(request('alice', 'secret-a'))).rejects.toBeInstanceOf(ConnectorUnavailable);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("a broken query is reported as unavailable, with the server's reason", async () => {
    const connector = await db.connector({ aclQuery: 'SELECT permission, action, topic FROM no_such_table WHERE username = %u' });
    const failure = connector.rulesFor(identity('alice'));
    await expect(failure).rejects.toBeInstanceOf(ConnectorUnavailable);
    await expect(failure).rejects.toThrow(/no_such_table/);
  });

  test('after the server was unreachable, the next lookups work again', async () => {
    await db.seedUsers([{ username: 'alice', passwordHash: hashPassword('secret-a', 'sha256') }]);
    const proxy = await db.proxy();
    const connector = await db.connector({ host: '127.0.0.1', port: proxy.port, timeoutMs: 1000 });
    expect((await connector.authenticate(request('alice', 'secret-a'))).result).toBe('allow');
    proxy.setDown(true);
    await expect(connector.authenticate(request('alice', 'secret-a'))).rejects.toBeInstanceOf(ConnectorUnavailable);
    proxy.setDown(false);
    expect((await connector.authenticate(request('alice', 'secret-a'))).result).toBe('allow');
  });

  test('configuration mistakes are refused when the connector is built', () => {
    const base = { user: 'root', database: 'test' };
    expect(() => new PostgresConnector({ ...base, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => new PostgresConnector({ ...base, poolSize: 0 })).toThrow(/poolSize/);
    expect(() => new PostgresConnector({ ...base, passwordScheme: 'md5' as never })).toThrow(/passwordScheme/);
  });
});
