import { compileRules } from '../../auth/acl/AclEngine';
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import { AddressSet } from '../../auth/cidr';
import { hashPassword, verifyPassword, verifyWithScheme } from '../../auth/passwordHash';
import { LoginRateLimiter } from '../../auth/LoginRateLimiter';
import { AclRule, ClientIdentity } from '../../auth/types';
import { createHash } from 'crypto';

const who = (over: Partial<ClientIdentity> = {}): ClientIdentity => ({ clientId: 'c1', username: 'alice', ip: '10.1.2.3', groups: ['ops'], superuser: false, ...over });
const acl = (rules: AclRule[], w = who(), defaultAllow = false) => new ConnectionAcl(compileRules(rules, w), { defaultAllow, sysReadableByAll: false }, w.superuser);

describe('ACL rules', () => {
  test('first matching rule decides; no match falls to the default', () => {
    const a = acl([
      { permission: 'deny', action: 'publish', topic: 'a/secret' },
      { permission: 'allow', action: 'all', topic: 'a/#' },
    ]);
    expect(a.mayPublish('a/secret')).toBe(false);
    expect(a.mayPublish('a/x')).toBe(true);
    expect(a.mayPublish('b')).toBe(false);
    expect(acl([], who(), true).mayPublish('b')).toBe(true);
  });

  test('%c and %u are substituted; identities with wildcards never widen access', () => {
    const rules: AclRule[] = [
      { permission: 'deny', action: 'publish', topic: 'x/%c/locked' },
      { permission: 'allow', action: 'all', topic: 'x/%c/#' },
      { permission: 'allow', action: 'all', topic: 'u/%u/#' },
    ];
    expect(acl(rules).mayPublish('x/c1/state')).toBe(true);
    expect(acl(rules).mayPublish('x/c2/state')).toBe(false);
    expect(acl(rules).mayPublish('u/alice/a')).toBe(true);
    expect(acl(rules, who({ username: null })).mayPublish('u/alice/a')).toBe(false);
    const sneaky = acl(rules, who({ clientId: '#' }));
    expect(sneaky.mayPublish('x/anything/state')).toBe(false); // the allow rule is dropped
    expect(sneaky.mayPublish('x/z/locked')).toBe(false); // the deny rule widened to x/+/locked
  });

  test('conditions on client id, user name, group and address', () => {
    const rules: AclRule[] = [
      { permission: 'allow', action: 'publish', topic: 'g', group: 'ops' },
      { permission: 'allow', action: 'publish', topic: 'n', ip: '10.0.0.0/8' },
      { permission: 'allow', action: 'publish', topic: 'i', clientId: 'c9' },
      { permission: 'allow', action: 'publish', topic: 'u', username: 'alice' },
    ];
    const a = acl(rules);
    expect([a.mayPublish('g'), a.mayPublish('n'), a.mayPublish('i'), a.mayPublish('u')]).toEqual([true, true, false, true]);
    const b = acl(rules, who({ groups: [], ip: '192.168.0.1', username: 'bob' }));
    expect([b.mayPublish('g'), b.mayPublish('n'), b.mayPublish('u')]).toEqual([false, false, false]);
  });

  test('subscribe checks the filter literally; reading checks each concrete topic', () => {
    const a = acl([
      { permission: 'deny', action: 'subscribe', topic: 'p/secret' },
      { permission: 'allow', action: 'subscribe', topic: '#' },
    ]);
    expect(a.maySubscribe('#')).toBe(true);
    expect(a.maySubscribe('p/secret')).toBe(false);
    expect(a.mayRead('p/secret')).toBe(false);
    expect(a.mayRead('p/open')).toBe(true);
  });

  test('$SYS is for superusers unless configured otherwise', () => {
    const rules: AclRule[] = [{ permission: 'allow', action: 'all', topic: '#' }];
    expect(acl(rules).maySubscribe('$SYS/#')).toBe(false);
    expect(acl(rules).mayRead('$SYS/broker/uptime')).toBe(false);
    const su = new ConnectionAcl([], { defaultAllow: false, sysReadableByAll: false }, true);
    expect(su.mayRead('$SYS/broker/uptime') && su.mayPublish('anything')).toBe(true);
    const open = new ConnectionAcl([], { defaultAllow: true, sysReadableByAll: true }, false);
    expect(open.unrestricted).toBe(true);
  });
});

describe('addresses', () => {
  test('IPv4, IPv6 and IPv4-mapped IPv6 in CIDR ranges', () => {
    const s = new AddressSet(['10.0.0.0/8', '2001:db8::/32', '192.168.1.7']);
    expect(s.has('10.200.3.4')).toBe(true);
    expect(s.has('::ffff:10.1.1.1')).toBe(true);
    expect(s.has('11.0.0.1')).toBe(false);
    expect(s.has('2001:db8:1::5')).toBe(true);
    expect(s.has('2001:db9::1')).toBe(false);
    expect(s.has('192.168.1.7')).toBe(true);
    expect(s.has('192.168.1.8')).toBe(false);
    expect(() => new AddressSet(['10.0.0.0/33'])).toThrow(/prefix/);
  });
});

describe('password hashes', () => {
  test.each(['pbkdf2-sha512', 'pbkdf2-sha256', 'bcrypt', 'sha256'] as const)('%s round-trips and refuses wrong passwords', async (scheme) => {
    const h = hashPassword('s3cret ü', scheme, 1000);
    expect(await verifyPassword(h, 's3cret ü')).toBe(true);
    expect(await verifyPassword(h, 's3cret u')).toBe(false);
    expect(await verifyPassword(h, '')).toBe(false);
  });

  test("Mosquitto's $7$ PBKDF2-SHA512 format and passlib's alphabet verify", async () => {
    const { pbkdf2Sync } = require('crypto') as typeof import('crypto');
    const salt = Buffer.from('0123456789ab');
    const hash = pbkdf2Sync('pw', salt, 101, 64, 'sha512');
    expect(await verifyPassword(`$7$101$${salt.toString('base64')}$${hash.toString('base64')}`, 'pw')).toBe(true);
    const passlib = `$pbkdf2-sha512$101$${salt.toString('base64').replace(/\+/g, '.').replace(/=/g, '')}$${hash.toString('base64').replace(/\+/g, '.').replace(/=/g, '')}`;
    expect(await verifyPassword(passlib, 'pw')).toBe(true);
  });

  test('salted SHA-256 with the salt in a separate column, before or after the password', async () => {
    const salt = 'pepper';
    expect(await verifyWithScheme('sha256-salted', createHash('sha256').update(salt + 'pw').digest('hex'), 'pw', salt)).toBe(true);
    expect(await verifyWithScheme('sha256-salted-suffix', createHash('sha256').update('pw' + salt).digest('hex'), 'pw', salt)).toBe(true);
    expect(await verifyWithScheme('sha256-salted', createHash('sha256').update('pw' + salt).digest('hex'), 'pw', salt)).toBe(false);
  });

  test('unknown formats never match', async () => {
    expect(await verifyPassword('plaintext', 'plaintext')).toBe(false);
    expect(await verifyPassword('$9$x$y$z', 'x')).toBe(false);
  });
});

describe('login rate limiter', () => {
  test('locks a client id after its failures and an address after more; a success clears the client id', () => {
    const r = new LoginRateLimiter({ maxFailuresPerIp: 6, maxFailuresPerClientId: 3, windowMs: 1000, lockoutMs: 5000 });
    for (let i = 0; i < 3; i++) r.failure('1.1.1.1', 'a', i);
    expect(r.blocked('1.1.1.1', 'a', 10)).toMatch(/client a/);
    expect(r.blocked('1.1.1.1', 'b', 10)).toBeNull();
    for (let i = 0; i < 3; i++) r.failure('1.1.1.1', `x${i}`, 20 + i);
    expect(r.blocked('1.1.1.1', 'fresh', 30)).toMatch(/ip 1.1.1.1/);
    expect(r.blocked('1.1.1.1', 'fresh', 6000)).toBeNull();
    r.failure('2.2.2.2', 'z', 0);
    r.failure('2.2.2.2', 'z', 1);
    r.success('z');
    r.failure('2.2.2.2', 'z', 2);
    expect(r.blocked('2.2.2.2', 'z', 3)).toBeNull();
  });
});
