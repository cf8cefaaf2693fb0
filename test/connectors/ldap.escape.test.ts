/**
 * The LDAP connector's escaping and DN reading, checked against the examples
 * of the RFCs they follow. No server needed.
 */
import { firstRdnValue } from '../../connectors/ldap/dn';
import { escapeDnValue, escapeFilterValue, fillTemplate } from '../../connectors/ldap/escape';
import { canonicalUsername } from '../../connectors/ldap/username';

describe('RFC 4514 DN attribute values', () => {
  test.each([
    ['James "Jim" Smith, III', 'James \\"Jim\\" Smith\\, III'], // RFC 4514 section 4 example
    ['Sales+Marketing', 'Sales\\+Marketing'],
    ['a;b<c>d=e\\f', 'a\\;b\\<c\\>d\\=e\\\\f'],
    ['#hash', '\\#hash'],
    ['mid#hash', 'mid#hash'],
    [' lead and trail ', '\\ lead and trail\\ '],
    ['nul\u0000', 'nul\\00'],
    ['ünïcode', 'ünïcode'],
    ['*)(uid=*', '*)(uid\\=*'],
  ])('%j -> %j', (raw, escaped) => {
    expect(escapeDnValue(raw)).toBe(escaped);
  });
});

describe('RFC 4515 filter assertion values', () => {
  test.each([
    ['Parens R Us (for all your parenthetical needs)', 'Parens R Us \\28for all your parenthetical needs\\29'], // RFC 4515 section 4
    ['*', '\\2a'],
    ['C:\\MyFile', 'C:\\5cMyFile'],
    ['nul\u0000', 'nul\\00'],
    ['*)(uid=*', '\\2a\\29\\28uid=\\2a'],
    ['Lučić', 'Lučić'], // UTF-8 may stay as it is (UTFMB in the ABNF)
  ])('%j -> %j', (raw, escaped) => {
    expect(escapeFilterValue(raw)).toBe(escaped);
  });
});

describe('templates', () => {
  test('every placeholder is escaped, and a value is never expanded again', () => {
    expect(fillTemplate('(&(uid=%u)(member=%d))', { u: '%d*', d: 'cn=x' }, escapeFilterValue)).toBe('(&(uid=%d\\2a)(member=cn=x))');
    expect(fillTemplate('uid=%u,ou=people', { u: 'a,b' }, escapeDnValue)).toBe('uid=a\\,b,ou=people');
  });

  test('unknown placeholders are left as they are', () => {
    expect(fillTemplate('%x=%u', { u: 'v' }, (v) => v)).toBe('%x=v');
  });
});

describe('group names from group DNs (RFC 4514 section 3)', () => {
  test.each([
    ['cn=admins,ou=groups,dc=mqlog,dc=test', 'admins'],
    ['CN=Domain Admins,CN=Users,DC=example,DC=com', 'Domain Admins'],
    ['cn=ops\\, east,ou=groups', 'ops, east'],
    ['cn=\\23hash\\20,ou=groups', '#hash '],
    ['cn=caf\\C3\\A9,ou=groups', 'café'],
    ['cn=ünï,ou=groups', 'ünï'],
    ['cn=a+ou=b,dc=x', 'a'],
    ['no-equals-sign', null],
    ['cn=,ou=groups', null],
  ])('%j -> %j', (dn, name) => {
    expect(firstRdnValue(dn)).toBe(name);
  });
});

describe('user name spelling', () => {
  const entry = { dn: 'uid=alice,ou=people', uid: ['alice'] };
  test.each([
    ['alice', undefined],
    ['ALICE', 'alice'],
    [' alice ', 'alice'],
    ['alice@example.com', undefined],
  ])('%j -> %j', (given, canonical) => {
    expect(canonicalUsername(entry, 'uid', given)).toBe(canonical);
  });

  test('switched off, or no entry: the name stays as given', () => {
    expect(canonicalUsername(entry, null, 'ALICE')).toBeUndefined();
    expect(canonicalUsername(undefined, 'uid', 'ALICE')).toBeUndefined();
  });
});
