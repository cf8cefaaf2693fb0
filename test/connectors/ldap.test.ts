/**
 * The LDAP authenticator against a real OpenLDAP (our own slapd from
 * scripts/ldap, started on demand and shared by the run, stopped by the global
 * teardown if the run started it): the shared authenticator contract over
 * ldap:// in both modes, ldaps:// and StartTLS, then what is particular to
 * LDAP (injection through the user name, empty passwords, certificates,
 * group sources, user name spelling).
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'ldapts';
import { ISubackPacket } from 'mqtt-packet';
import { ConnectorUnavailable } from '../../auth/types';
import { LdapAuthenticator, LdapAuthenticatorConfig, escapeDnValue } from '../../connectors/ldap';
import type * as LdapLib from '../../scripts/ldap/lib.cjs';
import { AuthenticatorFixture, SeedUser, describeAuthenticatorContract, request } from '../contract/authenticator.contract';
import { TcpProxy, startTcpProxy } from '../helpers/tcpProxy';

/* eslint-disable @typescript-eslint/no-var-requires */
const lib = require(join(__dirname, '..', '..', 'scripts', 'ldap', 'lib.cjs')) as typeof LdapLib;
const SHARED_LDAP = (require('../setup/services') as { SHARED_LDAP: { dir: string; port: number; tlsPort: number } }).SHARED_LDAP;

const ADMIN_GROUP = 'admins';
/** The authenticators' budget in the slow-server case, and the delay the proxy adds (more than the budget). */
const SLOW_TIMEOUT_MS = 1000;
const SLOW_DELAY_MS = 1500;

let server: Promise<LdapLib.LdapServerInfo> | null = null;
function ldapServer(): Promise<LdapLib.LdapServerInfo> {
  server ??= lib.startLdap({ dir: SHARED_LDAP.dir, port: SHARED_LDAP.port, tlsPort: SHARED_LDAP.tlsPort, quiet: true });
  return server;
}

async function asAdmin<T>(fn: (client: Client, info: LdapLib.LdapServerInfo) => Promise<T>): Promise<T> {
  const info = await ldapServer();
  const client = new Client({ url: info.url, timeout: 5000, connectTimeout: 5000 });
  try {
    await client.bind(info.adminDn, info.adminPassword);
    return await fn(client, info);
  } finally {
    await client.unbind();
  }
}

/** Replaces every person and group in the directory with these users and their groups (superusers join ADMIN_GROUP). */
async function seed(users: SeedUser[]): Promise<void> {
  await asAdmin(async (client, info) => {
    // Groups first: with memberof-refint, deleting a person would otherwise rewrite its groups.
    for (const base of [info.groupsDn, info.peopleDn]) {
      const { searchEntries } = await client.search(base, { scope: 'children', attributes: ['1.1'] });
      // Deepest first: an entry with children cannot be deleted (RFC 4511 section 4.8).
      const dns = searchEntries.map((e) => e.dn).sort((a, b) => b.split(',').length - a.split(',').length);
      for (const dn of dns) await client.del(dn);
    }
    const members = new Map<string, string[]>();
    for (const u of users) {
      const dn = `uid=${escapeDnValue(u.username)},${info.peopleDn}`;
      await client.add(dn, {
        objectClass: ['inetOrgPerson'],
        uid: u.username,
        cn: u.username,
        sn: u.username,
        userPassword: lib.sshaPassword(u.password),
      });
      const groups = new Set(u.groups ?? []);
      if (u.superuser) groups.add(ADMIN_GROUP);
      for (const g of groups) members.set(g, [...(members.get(g) ?? []), dn]);
    }
    // groupOfNames needs at least one member (RFC 4519 section 3.5): groups without members are not created.
    for (const [g, dns] of members) {
      await client.add(`cn=${escapeDnValue(g)},${info.groupsDn}`, { objectClass: ['groupOfNames'], cn: g, member: dns });
    }
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

type Transport = 'ldap' | 'ldaps' | 'starttls';

function withPort(url: string, port: number): string {
  return url.replace(/:\d+$/, `:${port}`);
}

/** The authenticator configuration for a transport and mode, optionally through another port. */
function config(info: LdapLib.LdapServerInfo, transport: Transport, mode: 'bind' | 'search', over?: Partial<LdapAuthenticatorConfig>): LdapAuthenticatorConfig {
  const base: LdapAuthenticatorConfig = {
    url: transport === 'ldaps' ? info.ldapsUrl : info.url,
    startTls: transport === 'starttls',
    tls: transport === 'ldap' ? undefined : { caFile: info.caFile },
    mode,
    serviceAccount: { dn: info.serviceDn, password: info.servicePassword },
    timeoutMs: 5000,
  };
  const modeConfig: Partial<LdapAuthenticatorConfig> =
    mode === 'bind' ? { dnTemplate: `uid=%u,${info.peopleDn}` } : { searchBase: info.peopleDn };
  return { ...base, ...modeConfig, ...over };
}

function fixture(transport: Transport, mode: 'bind' | 'search', groups: LdapAuthenticatorConfig['groups']): AuthenticatorFixture {
  const proxies: TcpProxy[] = [];
  const targetPort = (info: LdapLib.LdapServerInfo) => (transport === 'ldaps' ? info.tlsPort : info.port);
  return {
    groups: true,
    superuser: true,
    async create(users) {
      await seed(users);
      return new LdapAuthenticator(config(await ldapServer(), transport, mode, { groups }));
    },
    async createUnreachable() {
      const info = await ldapServer();
      const c = config(info, transport, mode, { groups });
      return new LdapAuthenticator({ ...c, url: withPort(c.url, await closedPort()) });
    },
    async createSlow(users) {
      await seed(users);
      const info = await ldapServer();
      const proxy = await startTcpProxy(targetPort(info));
      proxy.delayMs = SLOW_DELAY_MS;
      proxies.push(proxy);
      const c = config(info, transport, mode, { groups, timeoutMs: SLOW_TIMEOUT_MS });
      return { authenticator: new LdapAuthenticator({ ...c, url: withPort(c.url, proxy.port) }), timeoutMs: SLOW_TIMEOUT_MS };
    },
    async cleanup() {
      await Promise.all(proxies.splice(0).map((p) => p.close()));
    },
  };
}

const memberOf = { source: 'memberOf', adminGroup: ADMIN_GROUP } as const;
const groupSearch = (base: string) => ({ source: 'search', base, adminGroup: ADMIN_GROUP }) as const;
// The group base is only known once the server runs; it is the fixed layout of scripts/ldap.
const GROUPS_DN = `ou=groups,dc=mqlog,dc=test`;

describeAuthenticatorContract('LDAP (bind)', fixture('ldap', 'bind', memberOf));
describeAuthenticatorContract('LDAP (search-then-bind)', fixture('ldap', 'search', groupSearch(GROUPS_DN)));
describeAuthenticatorContract('LDAPS', fixture('ldaps', 'search', memberOf));
describeAuthenticatorContract('StartTLS', fixture('starttls', 'bind', groupSearch(GROUPS_DN)));

const USERS: SeedUser[] = [
  { username: 'alice', password: 'wonder-land!', groups: ['operators'] },
  { username: 'bob', password: 'builder', groups: [] },
  { username: 'root-user', password: 'r00t pass', superuser: true },
];

describe('LDAP authenticator specifics', () => {
  let info: LdapLib.LdapServerInfo;
  const opened: LdapAuthenticator[] = [];
  const make = (c: LdapAuthenticatorConfig) => {
    const a = new LdapAuthenticator(c);
    opened.push(a);
    return a;
  };

  beforeAll(async () => {
    info = await ldapServer();
    await seed(USERS);
    // An account outside the bind template's reach (uid=%u,ou=people,...), whose password a client knows.
    await asAdmin(async (client) => {
      await client.add(`ou=robots,${info.peopleDn}`, { objectClass: ['organizationalUnit'], ou: 'robots' });
      await client.add(`uid=svc,ou=robots,${info.peopleDn}`, { objectClass: ['inetOrgPerson'], uid: 'svc', cn: 'svc', sn: 'svc', userPassword: lib.sshaPassword('robot') });
    });
  });
  afterAll(async () => {
    await Promise.all(opened.map((a) => a.close()));
  });

  test('the test server is the one recorded for the run, and its base DN matches the fixed layout', () => {
    expect(info.groupsDn).toBe(GROUPS_DN);
    expect(info.url).toBe(`ldap://127.0.0.1:${SHARED_LDAP.port}`);
  });

  describe.each(['bind', 'search'] as const)('%s mode', (mode) => {
    // With alice's real password: none of these may authenticate anyone.
    const attempts = [
      '*',
      '*)(uid=*',
      'alice)(|(uid=*',
      'al*',
      '*)(|(objectClass=*',
      'alice,ou=people',
      `uid=alice,${'ou=people,dc=mqlog,dc=test'}`,
      'alice+cn=alice',
      'alice\\',
      'alice\\2a',
      '#alice',
      'alice\u0000',
      'x,uid=alice',
    ];

    test.each(attempts)('the user name %j (filter or DN syntax) authenticates no one', async (name) => {
      const auth = make(config(info, 'ldap', mode, { groups: memberOf }));
      for (const password of ['wonder-land!', 'anything']) {
        const d = await auth.authenticate(request(name, password));
        expect(d.result).toBe('ignore');
      }
    });

    test('a user name with DN syntax does not reach an entry in another branch', async () => {
      const auth = make(config(info, 'ldap', mode, { searchScope: 'one' }));
      // Unescaped, bind mode would bind as uid=svc,ou=robots,ou=people,... with the right password.
      for (const name of ['svc,ou=robots', 'svc,ou=robots ']) expect((await auth.authenticate(request(name, 'robot'))).result).toBe('ignore');
    });

    test('an empty password is never sent: a known user is denied, an unknown one ignored', async () => {
      const auth = make(config(info, 'ldap', mode));
      const bind = jest.spyOn(Client.prototype, 'bind');
      try {
        const known = await auth.authenticate(request('alice', ''));
        expect(known).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
        expect((await auth.authenticate(request('mallory', ''))).result).toBe('ignore');
        const userBinds = bind.mock.calls.filter(([dn]) => dn !== info.serviceDn);
        expect(userBinds).toEqual([]);
        expect(bind.mock.calls.every(([, password]) => password !== '')).toBe(true);
      } finally {
        bind.mockRestore();
      }
    });

    test('a password that is not UTF-8 is never sent and counts as wrong', async () => {
      const auth = make(config(info, 'ldap', mode));
      const d = await auth.authenticate({ ...request('alice', null), password: Buffer.from([0xff, 0xfe, 0x41]) });
      expect(d).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    });

    test('no password at all is left to the next authenticator', async () => {
      const auth = make(config(info, 'ldap', mode));
      expect((await auth.authenticate(request('alice', null))).result).toBe('ignore');
    });

    test('a user name the directory matches loosely continues as the entry spells it', async () => {
      const auth = make(config(info, 'ldap', mode, { groups: memberOf }));
      for (const spelling of ['ALICE', 'Alice', ' alice', 'alice ']) {
        const d = await auth.authenticate(request(spelling, 'wonder-land!'));
        expect(d).toMatchObject({ result: 'allow', username: 'alice' });
        expect(d.groups).toEqual(['operators']);
      }
      const exact = await auth.authenticate(request('alice', 'wonder-land!'));
      expect(exact.result).toBe('allow');
      expect(exact.username).toBeUndefined();
    });

    test('a wrong service account password is a broken back end, not a bad login', async () => {
      const auth = make(config(info, 'ldap', mode, { serviceAccount: { dn: info.serviceDn, password: 'not-it' } }));
      // bind mode uses the service account only after a failed bind.
      const password = mode === 'bind' ? 'wrong' : 'wonder-land!';
      const err = await auth.authenticate(request('alice', password)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorUnavailable);
      expect(String(err)).toMatch(/service account.*InvalidCredentials/);
      expect(String(err)).not.toContain('not-it');
    });
  });

  test('bind mode without a service account cannot tell unknown users from wrong passwords: both are denied', async () => {
    const auth = make(config(info, 'ldap', 'bind', { serviceAccount: undefined, groups: groupSearch(GROUPS_DN) }));
    expect(await auth.authenticate(request('mallory', 'x'))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    expect(await auth.authenticate(request('alice', 'x'))).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    // A good login still works, with groups looked up as the user itself.
    const ok = await auth.authenticate(request('root-user', 'r00t pass'));
    expect(ok).toMatchObject({ result: 'allow', superuser: true, groups: [ADMIN_GROUP] });
  });

  test('with a bind template of just %u, a user name never becomes a SASL mechanism', async () => {
    const auth = make(config(info, 'ldap', 'bind', { dnTemplate: '%u' }));
    const bind = jest.spyOn(Client.prototype, 'bind');
    try {
      for (const name of ['EXTERNAL', 'PLAIN']) expect((await auth.authenticate(request(name, 'x'))).result).toBe('ignore');
      expect(bind).not.toHaveBeenCalled();
    } finally {
      bind.mockRestore();
    }
  });

  test('a user search that finds several entries denies with CONNACK 5', async () => {
    const auth = make(config(info, 'ldap', 'search', { searchFilter: '(&(objectClass=inetOrgPerson)(|(uid=%u)(uid=bob)))' }));
    expect(await auth.authenticate(request('alice', 'wonder-land!'))).toMatchObject({ result: 'deny', refusal: 'not-authorized' });
  });

  test('without an admin group nobody is a superuser, and groups can be switched off', async () => {
    const auth = make(config(info, 'ldap', 'search', { groups: { source: 'memberOf' } }));
    expect(await auth.authenticate(request('root-user', 'r00t pass'))).toMatchObject({ result: 'allow', superuser: false, groups: [ADMIN_GROUP] });
    const none = make(config(info, 'ldap', 'search'));
    expect(await none.authenticate(request('root-user', 'r00t pass'))).toMatchObject({ result: 'allow', superuser: false, groups: [] });
  });

  describe('certificates', () => {
    let otherCa: string;
    let dir: string;
    beforeAll(() => {
      // A CA that did not sign the server certificate.
      dir = mkdtempSync(join(tmpdir(), 'mqlog-ldap-ca-'));
      otherCa = join(dir, 'other-ca.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'other-ca.key'), '-out', otherCa, '-days', '1', '-subj', '/CN=not the mqlog test CA'], { stdio: 'ignore' });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test.each(['ldaps', 'starttls'] as const)('%s with the wrong CA is unavailable, promptly', async (transport) => {
      const auth = make(config(info, transport, 'bind', { tls: { caFile: otherCa } }));
      const t0 = Date.now();
      const err = await auth.authenticate(request('alice', 'wonder-land!')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorUnavailable);
      expect(String(err)).toMatch(/certificate/i);
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    test('ldaps with the right CA but another host name is unavailable', async () => {
      const auth = make(config(info, 'ldaps', 'bind', { tls: { caFile: info.caFile, servername: 'ldap.example.com' } }));
      await expect(auth.authenticate(request('alice', 'wonder-land!'))).rejects.toBeInstanceOf(ConnectorUnavailable);
    });

    test('ldaps to the plain port (no TLS there) is unavailable within the budget', async () => {
      const auth = make(config(info, 'ldaps', 'bind', { url: `ldaps://127.0.0.1:${info.port}`, timeoutMs: 1500 }));
      const t0 = Date.now();
      await expect(auth.authenticate(request('alice', 'wonder-land!'))).rejects.toBeInstanceOf(ConnectorUnavailable);
      expect(Date.now() - t0).toBeLessThan(1500 + 1000);
    });
  });

  test('a server that stops answering in the middle of StartTLS times out as unavailable', async () => {
    const proxy = await startTcpProxy(info.port);
    try {
      const auth = make(config(info, 'starttls', 'bind', { url: `ldap://127.0.0.1:${proxy.port}`, timeoutMs: 600 }));
      expect((await auth.authenticate(request('alice', 'wonder-land!'))).result).toBe('allow');
      proxy.delayMs = 1000;
      const t0 = Date.now();
      const err = await auth.authenticate(request('alice', 'wonder-land!')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorUnavailable);
      expect(String(err)).toMatch(/StartTLS: no answer within 600 ms/);
      expect(Date.now() - t0).toBeLessThan(600 + 500);
    } finally {
      // The proxy still holds the delayed chunks on timers: let them go before the file ends.
      await new Promise((resolve) => setTimeout(resolve, proxy.delayMs));
      await proxy.close();
    }
  });

  test('after close() no login is attempted', async () => {
    const auth = make(config(info, 'ldap', 'search'));
    await auth.close();
    await expect(auth.authenticate(request('alice', 'wonder-land!'))).rejects.toBeInstanceOf(ConnectorUnavailable);
  });

  test('configuration mistakes throw at construction', () => {
    const ok = config(info, 'ldap', 'bind');
    expect(() => new LdapAuthenticator({ ...ok, dnTemplate: 'uid=alice,ou=people' })).toThrow(/%u/);
    expect(() => new LdapAuthenticator({ ...ok, url: 'http://127.0.0.1' })).toThrow(/ldap:\/\//);
    expect(() => new LdapAuthenticator({ ...ok, url: info.ldapsUrl, startTls: true })).toThrow(/startTls/);
    expect(() => new LdapAuthenticator({ ...config(info, 'ldap', 'search'), serviceAccount: undefined })).toThrow(/serviceAccount/);
    expect(() => new LdapAuthenticator({ ...ok, tls: { caFile: '/nonexistent/ca.pem' } })).toThrow(/caFile/);
    expect(() => new LdapAuthenticator({ ...ok, groups: { source: 'search' } })).toThrow(/groups.base/);
  });
});

describe('LDAP through the broker', () => {
  // Uses the same directory as the suites above, so it lives in this file: jest runs a file's tests in order.
  test('auth.connectors "ldap": directory users log in, bad passwords get CONNACK 4, and LDAP groups drive the ACL', async () => {
    const { startBroker } = await import('../helpers/broker');
    const { RawClient } = await import('../helpers/rawClient');
    await seed([
      { username: 'lena', password: 'lena-pass', groups: ['plant-7'] },
      { username: 'otto', password: 'otto-pass', groups: [] },
    ]);
    const info = await ldapServer();
    const broker = await startBroker({
      auth: { allowAnonymous: false, connectors: [{ type: 'ldap', ...config(info, 'ldap', 'search', { groups: { source: 'memberOf', adminGroup: ADMIN_GROUP } }) }] },
      acl: { default: 'deny', rules: [{ permission: 'allow', action: 'all', topic: 'plants/7/#', group: 'plant-7' }] },
    });
    try {
      const login = async (username: string, password: string) => {
        const c = await RawClient.connect(broker.ports.tcp!);
        const ack = await c.handshake(`ldap-${username}-${Math.random()}`, { username, password: Buffer.from(password) });
        return { c, ack };
      };
      expect((await login('otto', 'wrong')).ack.returnCode).toBe(4);
      expect((await login('nobody', 'x')).ack.returnCode).toBe(4);
      const lena = await login('lena', 'lena-pass');
      expect(lena.ack.returnCode).toBe(0);
      lena.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'plants/7/#', qos: 1 }, { topic: 'plants/8/#', qos: 1 }] });
      expect((await lena.c.nextCmd<ISubackPacket>('suback')).granted).toEqual([1, 128]);
      const otto = await login('otto', 'otto-pass');
      expect(otto.ack.returnCode).toBe(0);
      otto.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'plants/7/#', qos: 1 }] });
      expect((await otto.c.nextCmd<ISubackPacket>('suback')).granted).toEqual([128]);
      lena.c.destroy();
      otto.c.destroy();
    } finally {
      await broker.stop();
      broker.cleanup();
    }
  });
});
