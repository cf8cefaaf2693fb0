/**
 * The Redis connector against the real Redis (started when down): the shared
 * authenticator and ACL source contracts, then what is particular to Redis —
 * key patterns and odd user names, field names, the hash formats, invalid
 * entries, wrong key types, and coming back after the server was gone.
 */
import Redis from 'ioredis';
import pino from 'pino';
import { hashPassword } from '../../auth/passwordHash';
import { ConnectorUnavailable } from '../../auth/types';
import { RedisConnector, RedisConnectorConfig } from '../../connectors/redis';
import { identity, SeededRule } from '../contract/aclSource.contract';
import { request, SeedUser } from '../contract/authenticator.contract';
import { mosquittoHash, seedHash, sha256Hex } from '../helpers/passwordSeeds';
import { ensureRedis, RedisServiceSettings, uniqueName } from '../helpers/services';
import { ConnectorTestBackend, describeConnectorContracts } from './connectorBackend';

/**
 * Keys of its own (a unique prefix, deleted at the end); the connector is
 * configured with the default key layout under that prefix.
 */
class TestKeyspace extends ConnectorTestBackend<RedisConnector, RedisConnectorConfig, RedisServiceSettings> {
  readonly type = 'redis';
  readonly prefix = uniqueName('mqlog_redis');
  private admin: Redis | null = null;

  /** The key layout under this run's prefix, plus a list of rules for everyone. */
  get layout(): Pick<RedisConnectorConfig, 'userKey' | 'aclKeys'> {
    return { userKey: `${this.prefix}:mqtt_user:%u`, aclKeys: [`${this.prefix}:mqtt_acl:user:%u`, `${this.prefix}:mqtt_acl:client:%c`, `${this.prefix}:mqtt_acl:all`] };
  }

  async redis(): Promise<Redis> {
    if (this.admin) return this.admin;
    const s = await this.serviceSettings();
    this.admin = new Redis({ host: s.host, port: s.port, password: s.password || undefined, lazyConnect: true, maxRetriesPerRequest: 1 });
    await this.admin.connect();
    return this.admin;
  }

  async clear(): Promise<void> {
    const redis = await this.redis();
    const keys = await redis.keys(`${this.prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }

  async seedUser(username: string, fields: Record<string, string>): Promise<void> {
    await (await this.redis()).hset(`${this.prefix}:mqtt_user:${username}`, fields);
  }

  async seedContractUsers(users: SeedUser[]): Promise<void> {
    await this.clear();
    for (const [i, u] of users.entries()) {
      await this.seedUser(u.username, { password_hash: seedHash(u.password, i), is_superuser: u.superuser ? '1' : '0' });
    }
  }

  async seedRules(rules: SeededRule[], replace = true): Promise<void> {
    if (replace) await this.clear();
    const redis = await this.redis();
    for (const r of rules) {
      const key = r.username !== undefined ? `mqtt_acl:user:${r.username}` : r.clientId !== undefined ? `mqtt_acl:client:${r.clientId}` : 'mqtt_acl:all';
      await redis.rpush(`${this.prefix}:${key}`, JSON.stringify(r.rule));
    }
  }

  /** Users and rules share the prefix: the rules are added to the users, not replacing them. */
  override async seedUsersAndRules(users: SeedUser[], rules: SeededRule[]): Promise<void> {
    await this.seedContractUsers(users);
    await this.seedRules(rules, false);
  }

  async config(config: Partial<RedisConnectorConfig> = {}): Promise<RedisConnectorConfig> {
    const s = await this.serviceSettings();
    return { host: s.host, port: s.port, password: s.password || undefined, timeoutMs: 3000, ...this.layout, ...config };
  }

  protected ensureService(): Promise<RedisServiceSettings> {
    return ensureRedis();
  }

  protected build(config: RedisConnectorConfig): RedisConnector {
    return new RedisConnector(config);
  }

  protected async dropStore(): Promise<void> {
    if (this.admin) {
      await this.clear();
      await this.admin.quit();
      this.admin = null;
    }
  }
}

describeConnectorContracts('RedisConnector', () => new TestKeyspace());

describe('RedisConnector specifics', () => {
  const keys = new TestKeyspace();
  afterAll(() => keys.drop());
  beforeEach(() => keys.clear());

  test('user names with glob characters, separators or spaces reach only their own key', async () => {
    await keys.seedUser('alice', { password_hash: hashPassword('secret-a', 'sha256') });
    await keys.seedUser('a:b', { password_hash: hashPassword('secret-ab', 'sha256') });
    const connector = await keys.connector();
    for (const name of ['*', 'alice*', '?lice', '[a]lice', 'ALICE', 'alice ', 'a', 'a:', 'a:b:c', '%u']) {
      expect([name, (await connector.authenticate(request(name, 'secret-a'))).result]).toEqual([name, 'ignore']);
    }
    expect((await connector.authenticate(request('a:b', 'secret-ab'))).result).toBe('allow');
  });

  test('bcrypt, PBKDF2 (Mosquitto $7$, $pbkdf2-sha256$, $pbkdf2-sha512$) and $sha256$ hashes each verify', async () => {
    const formats: Array<[string, string]> = [
      ['bcrypt', hashPassword('pw-1', 'bcrypt')],
      ['mosquitto-7', mosquittoHash('pw-2')],
      ['pbkdf2-sha256', hashPassword('pw-3', 'pbkdf2-sha256', 2000)],
      ['pbkdf2-sha512', hashPassword('pw-4', 'pbkdf2-sha512', 2000)],
      ['sha256', hashPassword('pw-5', 'sha256')],
    ];
    for (const [username, passwordHash] of formats) await keys.seedUser(username, { password_hash: passwordHash });
    const connector = await keys.connector();
    for (const [i, [username]] of formats.entries()) {
      expect([username, (await connector.authenticate(request(username, `pw-${i + 1}`))).result]).toEqual([username, 'allow']);
      expect([username, (await connector.authenticate(request(username, `pw-${i + 2}`))).result]).toEqual([username, 'deny']);
    }
  });

  test('salted SHA-256 with the salt in its own field, under configured field names', async () => {
    await keys.seedUser('carol', { pw: sha256Hex('NaCl', 'pw-carol'), pepper: 'NaCl', admin: 'true' });
    const connector = await keys.connector({ passwordScheme: 'sha256-salted', fields: { passwordHash: 'pw', salt: 'pepper', superuser: 'admin' } });
    expect(await connector.authenticate(request('carol', 'pw-carol'))).toEqual({ result: 'allow', superuser: true });
    expect(await connector.authenticate(request('carol', 'NaClpw-carol'))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    const suffix = await keys.connector({ passwordScheme: 'sha256-salted-suffix', fields: { passwordHash: 'pw', salt: 'pepper' } });
    expect((await suffix.authenticate(request('carol', 'pw-carol'))).result).toBe('deny');
  });

  test('a user hash without a password field is denied, not ignored', async () => {
    await keys.seedUser('nopass', { is_superuser: '1' });
    const connector = await keys.connector();
    expect(await connector.authenticate(request('nopass', 'x'))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
  });

  test('ACL lists are read in key order; entries that are not JSON or not valid rules are skipped and logged', async () => {
    const redis = await keys.redis();
    await redis.rpush(`${keys.prefix}:mqtt_acl:all`, JSON.stringify({ permission: 'allow', action: 'subscribe', topic: 'public/#' }));
    await redis.rpush(
      `${keys.prefix}:mqtt_acl:user:alice`,
      'allow publish a/b',
      JSON.stringify({ permission: 'allow', action: 'read', topic: 'a' }),
      JSON.stringify({ permission: 'deny', action: 'publish', topic: 'a/#/b' }),
      JSON.stringify(['allow', 'publish', 'a']),
      JSON.stringify({ permission: 'deny', action: 'publish', topic: 'private/%u' }),
    );
    await redis.rpush(`${keys.prefix}:mqtt_acl:client:dev-1`, JSON.stringify({ permission: 'allow', action: 'publish', topic: 'devices/%c' }));
    const warnings: Array<{ why: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const connector = await keys.connector({ logger });
    expect(await connector.rulesFor(identity('alice', 'dev-1'))).toEqual([
      { permission: 'deny', action: 'publish', topic: 'private/%u' },
      { permission: 'allow', action: 'publish', topic: 'devices/%c' },
      { permission: 'allow', action: 'subscribe', topic: 'public/#' },
    ]);
    expect(warnings.map((w) => w.why)).toEqual(['not JSON', expect.stringContaining('action'), expect.stringContaining('#'), expect.stringContaining('not an object')]);
    // Without a user name, the %u list is not read at all.
    expect(await connector.rulesFor(identity(null, 'dev-1'))).toEqual([
      { permission: 'allow', action: 'publish', topic: 'devices/%c' },
      { permission: 'allow', action: 'subscribe', topic: 'public/#' },
    ]);
  });

  test('a key of the wrong type is reported as unavailable, with the reason', async () => {
    await (await keys.redis()).set(`${keys.prefix}:mqtt_user:alice`, 'not a hash');
    const connector = await keys.connector();
    const failure = connector.authenticate(request('alice', 'x'));
    await expect(failure).rejects.toBeInstanceOf(ConnectorUnavailable);
    await expect(failure).rejects.toThrow(/WRONGTYPE/);
  });

  test('a dropped connection fails the call at once; when Redis is back, even after retries ran out, it is used again', async () => {
    await keys.seedUser('alice', { password_hash: hashPassword('secret-a', 'sha256') });
    const proxy = await keys.proxy();
    const connector = await keys.connector({ host: '127.0.0.1', port: proxy.port, timeoutMs: 2000, poolSize: 1 });
    expect((await connector.authenticate(request('alice', 'secret-a'))).result).toBe('allow');
    proxy.setDown(true);
    const t0 = Date.now();
    await expect(connector.authenticate(request('alice', 'secret-a'))).rejects.toBeInstanceOf(ConnectorUnavailable);
    expect(Date.now() - t0).toBeLessThan(1500);
    // Long enough for the background reconnection attempts to give up.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    proxy.setDown(false);
    expect((await connector.authenticate(request('alice', 'secret-a'))).result).toBe('allow');
  });

  test('configuration mistakes are refused when the connector is built', () => {
    expect(() => new RedisConnector({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new RedisConnector({ userKey: 'mqtt_user' })).toThrow(/userKey/);
    expect(() => new RedisConnector({ poolSize: 0 })).toThrow(/poolSize/);
    expect(() => new RedisConnector({ passwordScheme: 'md5' as never })).toThrow(/passwordScheme/);
  });
});
