/**
 * What is particular to SQL back ends, run unchanged for MySQL/MariaDB and
 * PostgreSQL: injection attempts, exact user name matching, the hash formats,
 * placeholders, invalid rows, timeouts, recovery and configuration mistakes.
 * A dialect supplies its test database (SqlTestDatabase) and the few statements
 * that cannot be written the same way in both.
 */
import pino from 'pino';
import { hashPassword } from '../../auth/passwordHash';
import { ConnectorUnavailable } from '../../auth/types';
import { SqlConnector, SqlQueriesConfig } from '../../connectors/sql';
import { identity, SeededRule } from '../contract/aclSource.contract';
import { request, SeedUser } from '../contract/authenticator.contract';
import { mosquittoHash, seedHash, sha256Hex } from '../helpers/passwordSeeds';
import { SqlServiceSettings, uniqueName } from '../helpers/services';
import { ConnectorTestBackend } from './connectorBackend';

export interface StoredUserRow {
  username: string;
  passwordHash: string | null;
  salt?: string;
  superuser?: boolean;
}

export interface SqlTestConfig extends SqlQueriesConfig {
  host?: string;
  port?: number;
  user: string;
  password?: string;
  database: string;
}

/**
 * A database of its own (dropped at the end) with the documented default
 * schema, so the connector runs its default queries unchanged.
 */
export abstract class SqlTestDatabase<Config extends SqlTestConfig> extends ConnectorTestBackend<SqlConnector, Config, SqlServiceSettings> {
  readonly name: string;

  constructor(prefix: string) {
    super();
    this.name = uniqueName(prefix);
  }

  /** Runs a statement as the administrator of this database; the rows (or result) it gives. */
  abstract sql(text: string, params?: unknown[]): Promise<unknown>;
  /** The dialect's placeholder for the n-th (1-based) bound parameter. */
  protected abstract placeholder(n: number): string;
  /** How the dialect stores the is_superuser flag. */
  protected abstract flag(value: boolean): unknown;
  /** Creates the database and its tables (once) and connects to it. */
  protected abstract open(): Promise<void>;

  async seedUsers(users: StoredUserRow[]): Promise<void> {
    await this.sql('DELETE FROM mqtt_user');
    for (const u of users) {
      await this.sql(`INSERT INTO mqtt_user (username, password_hash, salt, is_superuser) VALUES (${this.placeholders(4)})`, [
        u.username,
        u.passwordHash,
        u.salt ?? null,
        this.flag(u.superuser ?? false),
      ]);
    }
  }

  async seedContractUsers(users: SeedUser[]): Promise<void> {
    await this.seedUsers(users.map((u, i) => ({ username: u.username, passwordHash: seedHash(u.password, i), superuser: u.superuser })));
  }

  async seedRules(rules: SeededRule[]): Promise<void> {
    await this.sql('DELETE FROM mqtt_acl');
    for (const r of rules) {
      await this.sql(`INSERT INTO mqtt_acl (username, clientid, permission, action, topic) VALUES (${this.placeholders(5)})`, [
        r.username ?? null,
        r.clientId ?? null,
        r.rule.permission,
        r.rule.action,
        r.rule.topic,
      ]);
    }
  }

  async config(config: Partial<Config> = {}): Promise<Config> {
    await this.open();
    const s = await this.serviceSettings();
    return { host: s.host, port: s.port, user: s.user, password: s.password, database: this.name, timeoutMs: 3000, ...config } as Config;
  }

  private placeholders(count: number): string {
    return Array.from({ length: count }, (_, i) => this.placeholder(i + 1)).join(', ');
  }
}

export interface SqlDialectFixture {
  /** A fresh test database of this dialect. */
  database(): SqlTestDatabase<SqlTestConfig>;
  /** Builds the dialect's connector directly (configuration checks). */
  build(config: SqlTestConfig): SqlConnector;
  /** Counts mqtt_user as one row `{ n: <number> }`. */
  countUsersSql: string;
  /** An auth query that only lets in client ids "<user>-..." from an address other than the literal text '%a'. */
  clientAndAddressAuthQuery: string;
  /** An auth query that takes 3 s on the server. */
  sleepAuthQuery: string;
}

/** Injection attempts in MySQL and PostgreSQL syntax: every dialect must treat each as a plain name. */
const INJECTION_ATTEMPTS = [
  "' OR '1'='1",
  "' OR 1=1 -- ",
  "alice' -- ",
  "alice' #",
  "alice'::text OR true --",
  "x'; DROP TABLE mqtt_user; -- ",
  "\\' OR 1=1 #",
  "' UNION SELECT '$sha256$x$00', '', 1 -- ",
  "' UNION SELECT '$sha256$x$00', '', true -- ",
  '%u',
  '?',
  '$1',
];

export function describeSqlConnectorSpecifics(name: string, fixture: SqlDialectFixture): void {
  describe(`${name} specifics`, () => {
    const db = fixture.database();
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
      for (const attack of INJECTION_ATTEMPTS) {
        expect((await connector.authenticate(request(attack, 'anything', { clientId: attack }))).result).toBe('ignore');
        expect(await connector.rulesFor(identity(attack, attack))).toEqual([]);
      }
      expect(await db.sql(fixture.countUsersSql)).toEqual([{ n: 2 }]);
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
        expect([username, wrong.result, wrong.refusal]).toEqual([username, 'deny', 'bad-credentials']);
      }
    });

    test('salted SHA-256 with the salt in its own column, salt first or last', async () => {
      await db.seedUsers([{ username: 'carol', passwordHash: sha256Hex('NaCl', 'pw-carol'), salt: 'NaCl' }]);
      const prefix = await db.connector({ passwordScheme: 'sha256-salted' });
      expect((await prefix.authenticate(request('carol', 'pw-carol'))).result).toBe('allow');
      expect((await prefix.authenticate(request('carol', 'pw-caro'))).result).toBe('deny');

      const suffix = await db.connector({ passwordScheme: 'sha256-salted-suffix' });
      // Stored hex in either case.
      for (const passwordHash of [sha256Hex('pw-dave', 'NaCl'), sha256Hex('pw-dave', 'NaCl').toUpperCase()]) {
        await db.seedUsers([{ username: 'dave', passwordHash, salt: 'NaCl' }]);
        expect((await suffix.authenticate(request('dave', 'pw-dave'))).result).toBe('allow');
        expect((await prefix.authenticate(request('dave', 'pw-dave'))).result).toBe('deny');
      }
    });

    test('a user without a stored password, or with a malformed hash, is denied', async () => {
      await db.seedUsers([
        { username: 'nopass', passwordHash: null },
        { username: 'broken', passwordHash: '$2b$10$short' },
      ]);
      const connector = await db.connector();
      expect(await connector.authenticate(request('nopass', ''))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
      expect(await connector.authenticate(request('broken', 'x'))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
      expect(await connector.authenticate(request('nopass', null))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    });

    test('%c and %a are bound too; placeholders inside quotes stay text', async () => {
      await db.seedUsers([{ username: 'erin', passwordHash: hashPassword('pw-erin', 'sha256'), superuser: true }]);
      const connector = await db.connector({ authQuery: fixture.clientAndAddressAuthQuery });
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
      // A client id the database may not even store (PostgreSQL text cannot hold NUL) still gets the rules for everyone.
      expect(await connector.rulesFor(identity(null, 'bad\u0000id'))).toEqual([{ permission: 'allow', action: 'subscribe', topic: 'public/#' }]);
    });

    test('a query slower than the time limit is reported as unavailable', async () => {
      const connector = await db.connector({ timeoutMs: 300, authQuery: fixture.sleepAuthQuery });
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
      expect(() => fixture.build({ ...base, timeoutMs: 0 })).toThrow(/timeoutMs/);
      expect(() => fixture.build({ ...base, timeoutMs: -1 })).toThrow(/timeoutMs/);
      expect(() => fixture.build({ ...base, poolSize: 0 })).toThrow(/poolSize/);
      expect(() => fixture.build({ ...base, passwordScheme: 'md5' as never })).toThrow(/passwordScheme/);
    });
  });
}
