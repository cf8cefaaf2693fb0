/**
 * The authenticator contract: every connector (LDAP, MySQL, PostgreSQL, Redis,
 * HTTP) and the built-in users file run this suite unchanged against their real
 * back end: a good login, a bad password, an unknown user, the server down, a
 * slow server.
 */
import { AuthRequest, Authenticator, ConnectorUnavailable } from '../../auth/types';

export interface SeedUser {
  username: string;
  password: string;
  groups?: string[];
  superuser?: boolean;
}

export interface AuthenticatorFixture {
  /** Seeds the back end with these users (replacing earlier ones) and returns an authenticator on it. */
  create(users: SeedUser[]): Promise<Authenticator>;
  /** An authenticator whose back end cannot be reached. */
  createUnreachable(): Promise<Authenticator>;
  /** An authenticator whose back end answers slower than the authenticator's timeout (`timeoutMs`). */
  createSlow(users: SeedUser[]): Promise<{ authenticator: Authenticator; timeoutMs: number }>;
  cleanup(): Promise<void>;
  /** The back end reports group membership / superusers (checked when true). */
  groups?: boolean;
  superuser?: boolean;
}

export function request(username: string | null, password: string | null, extra: Partial<AuthRequest> = {}): AuthRequest {
  return {
    clientId: `client-${username ?? 'anon'}`,
    username,
    password: password === null ? null : Buffer.from(password),
    ip: '127.0.0.1',
    remoteAddress: '127.0.0.1:50000',
    protocolVersion: 4,
    transport: 'tcp',
    certificate: null,
    ...extra,
  };
}

const USERS: SeedUser[] = [
  { username: 'alice', password: 'wonder-land!', groups: ['operators'], superuser: false },
  { username: 'root-user', password: 'r00t pass', groups: ['admins'], superuser: true },
  { username: 'ünïcode', password: 'pässwörd€', groups: [] },
];

export function describeAuthenticatorContract(name: string, fixture: AuthenticatorFixture): void {
  describe(`Authenticator contract: ${name}`, () => {
    const opened: Authenticator[] = [];
    const track = <T extends Authenticator>(a: T): T => {
      opened.push(a);
      return a;
    };

    afterAll(async () => {
      await Promise.all(opened.map((a) => a.close?.()));
      await fixture.cleanup();
    });

    test('a good login is allowed', async () => {
      const auth = track(await fixture.create(USERS));
      const d = await auth.authenticate(request('alice', 'wonder-land!'));
      expect(d.result).toBe('allow');
      if (fixture.groups) expect(d.groups).toEqual(expect.arrayContaining(['operators']));
      if (fixture.superuser) expect(d.superuser ?? false).toBe(false);
      const u = await auth.authenticate(request('ünïcode', 'pässwörd€'));
      expect(u.result).toBe('allow');
    });

    test('a superuser is reported as one', async () => {
      const auth = track(await fixture.create(USERS));
      const d = await auth.authenticate(request('root-user', 'r00t pass'));
      expect(d.result).toBe('allow');
      if (fixture.superuser) expect(d.superuser).toBe(true);
      if (fixture.groups) expect(d.groups).toEqual(expect.arrayContaining(['admins']));
    });

    test('a bad password is denied with CONNACK 4, and the reason does not contain it', async () => {
      const auth = track(await fixture.create(USERS));
      for (const wrong of ['wonder-land', 'WONDER-LAND!', '', 'wonder-land!x']) {
        const d = await auth.authenticate(request('alice', wrong));
        expect(d.result).toBe('deny');
        expect(d.refusal ?? 'bad-credentials').toBe('bad-credentials');
        if (wrong) expect(d.reason ?? '').not.toContain(wrong);
      }
    });

    test('an unknown user is left to the next authenticator (ignore)', async () => {
      const auth = track(await fixture.create(USERS));
      const d = await auth.authenticate(request('mallory', 'anything'));
      expect(d.result).toBe('ignore');
    });

    test('a client without a user name is left to the next authenticator (ignore)', async () => {
      const auth = track(await fixture.create(USERS));
      expect((await auth.authenticate(request(null, null))).result).toBe('ignore');
    });

    test('a back end that is down is reported as unavailable, promptly', async () => {
      const auth = track(await fixture.createUnreachable());
      const t0 = Date.now();
      await expect(auth.authenticate(request('alice', 'wonder-land!'))).rejects.toBeInstanceOf(ConnectorUnavailable);
      expect(Date.now() - t0).toBeLessThan(10_000);
    });

    test('a slow back end times out as unavailable', async () => {
      const { authenticator, timeoutMs } = await fixture.createSlow(USERS);
      track(authenticator);
      const t0 = Date.now();
      await expect(authenticator.authenticate(request('alice', 'wonder-land!'))).rejects.toBeInstanceOf(ConnectorUnavailable);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(took).toBeLessThan(timeoutMs + 3000);
    });
  });
}
