/**
 * SCRAM-SHA-256 on the server side (RFC 5802, RFC 7677) and the exchange of
 * AccessControl over a users file: the RFC's test vector, the users file's
 * hashes as SCRAM credentials, decoys that answer like real users, and a
 * property test that no input makes the parser throw anything but ScramError.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { pbkdf2Sync } from 'crypto';
import { accessControlFromConfig } from '../../auth/fromConfig';
import { AccessControl, AuthExchange } from '../../auth/AccessControl';
import { hashPassword } from '../../auth/passwordHash';
import { credentialsFromHash, credentialsFromSaltedPassword, parseClientFirst, ScramError, ScramExchange } from '../../auth/scram/ScramSha256';
import type { AuthRequest } from '../../auth/types';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { ScramClient } from '../helpers/scramClient';

/** RFC 7677 §3: user "user", password "pencil". */
const RFC = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const rfcSalt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const rfcSalted = pbkdf2Sync('pencil', rfcSalt, 4096, 32, 'sha256');

describe('SCRAM-SHA-256 (RFC 5802, RFC 7677)', () => {
  test("the server answers RFC 7677's test vector exactly", () => {
    const exchange = new ScramExchange(parseClientFirst(Buffer.from(RFC.clientFirst)), credentialsFromSaltedPassword(rfcSalt, 4096, rfcSalted), RFC.serverNonce);
    expect(exchange.serverFirst).toBe(RFC.serverFirst);
    expect(exchange.finish(Buffer.from(RFC.clientFinal))).toBe(RFC.serverFinal);
  });

  test("the tests' client computes RFC 7677's client-final and accepts its server-final", () => {
    const client = new ScramClient('user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    expect(client.first().toString()).toBe(RFC.clientFirst);
    expect(client.final(RFC.serverFirst).toString()).toBe(RFC.clientFinal);
    expect(client.verifyServer(RFC.serverFinal)).toBe(true);
    expect(client.verifyServer('v=' + Buffer.alloc(32).toString('base64'))).toBe(false);
  });

  test('a users-file $pbkdf2-sha256$ entry is SCRAM\'s salted password; other formats cannot serve SCRAM', () => {
    const entry = `$pbkdf2-sha256$4096$${rfcSalt.toString('base64')}$${rfcSalted.toString('base64')}`;
    expect(credentialsFromHash(entry)).toEqual(credentialsFromSaltedPassword(rfcSalt, 4096, rfcSalted));
    // passlib's alphabet ('.' for '+', no padding) too.
    expect(credentialsFromHash(entry.replace(/\+/g, '.').replace(/=/g, ''))).toEqual(credentialsFromSaltedPassword(rfcSalt, 4096, rfcSalted));
    expect(credentialsFromHash(hashPassword('pw', 'pbkdf2-sha256', 1000))).not.toBeNull();
    for (const scheme of ['bcrypt', 'pbkdf2-sha512', 'sha256'] as const) expect(credentialsFromHash(hashPassword('pw', scheme, 1000))).toBeNull();
    expect(credentialsFromHash('$7$1000$c2FsdA==$aGFzaA==')).toBeNull();
    expect(credentialsFromHash('$pbkdf2-sha256$0$c2FsdA==$' + Buffer.alloc(32).toString('base64'))).toBeNull();
  });

  test('a wrong password, another nonce, channel binding or a tampered message fail with ScramError', () => {
    const creds = credentialsFromSaltedPassword(rfcSalt, 4096, rfcSalted);
    const run = (password: string, edit: (final: string) => string = (f) => f) => {
      const client = new ScramClient('user', password);
      const exchange = new ScramExchange(parseClientFirst(client.first()), creds);
      return () => exchange.finish(Buffer.from(edit(client.final(exchange.serverFirst).toString())));
    };
    expect(run('pencil')()).toMatch(/^v=/);
    expect(run('pencil2')).toThrow(ScramError);
    expect(run('pencil', (f) => f.replace(/r=([^,]+)/, 'r=$1x'))).toThrow(/nonce differs/);
    expect(run('pencil', (f) => f.replace('c=biws', 'c=eSws'))).toThrow(/channel binding/);
    expect(run('pencil', (f) => f.replace(/p=.*/, 'p=AAAA'))).toThrow(/bad proof/);
    expect(() => parseClientFirst(Buffer.from('p=tls-unique,,n=user,r=abcdefghij'))).toThrow(/channel binding/);
    expect(() => parseClientFirst(Buffer.from('n,,m=ext,n=user,r=abcdefghij'))).toThrow(/mandatory extension/);
    expect(() => parseClientFirst(Buffer.from('n,,n=us=er,r=abcdefghij'))).toThrow(/escape/);
    expect(() => parseClientFirst(Buffer.from('n,,n=user,r=short'))).toThrow(/nonce/);
    expect(() => parseClientFirst(Buffer.alloc(2049, 0x61))).toThrow(/size/);
    expect(parseClientFirst(Buffer.from('n,a=we=2Cird,n=we=2Cird,r=abcdefghij')).username).toBe('we,ird');
  });

  test('any bytes as client-first or client-final: a ScramError or a valid result, never another kind of throw', () => {
    const creds = credentialsFromSaltedPassword(rfcSalt, 4096, rfcSalted);
    // Messages made of SCRAM-looking pieces reach deeper than random bytes alone.
    const piece = fc.oneof(
      fc.constantFrom('n', 'y', 'p=tls', '', 'a=user', 'n=user', 'n=us=3Der', 'n==', 'r=abcdefghijk', 'r=', 'm=x', 'c=biws', 'p=', 's=x', 'i=1', 'x=y'),
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const message = fc.oneof(fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)), fc.array(piece, { maxLength: 8 }).map((p) => Buffer.from(p.join(','), 'latin1')));
    const ok = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        if (!(err instanceof ScramError)) throw err;
      }
    };
    fc.assert(
      fc.property(message, message, (first, final) => {
        ok(() => parseClientFirst(first));
        const exchange = new ScramExchange(parseClientFirst(Buffer.from('n,,n=user,r=abcdefghijkl')), creds);
        ok(() => exchange.finish(final));
        // With the right prefix, the garbage is where the proof is.
        ok(() => exchange.finish(Buffer.concat([Buffer.from(`c=biws,r=abcdefghijkl,p=`), final])));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('AccessControl exchanges over a users file', () => {
  let dir: string;
  let access: AccessControl;
  const request = (username: string | null = null, clientId = 'c'): AuthRequest => ({ clientId, username, password: null, ip: '10.0.0.1', remoteAddress: '10.0.0.1:5', protocolVersion: 5, transport: 'tcp', certificate: null });
  const file = () => join(dir, 'users');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqlog-scram-'));
    writeFileSync(file(), [`alice:${hashPassword('secret', 'pbkdf2-sha256', 1000)}`, `bob:${hashPassword('secret', 'bcrypt')}`, `carol:${hashPassword('secret', 'pbkdf2-sha256', 1000)}`].join('\n'));
    const config = loadConfig({ object: { auth: { usersFile: file(), rateLimit: { maxFailuresPerIp: 0, maxFailuresPerClientId: 3, windowMs: 60_000, lockoutMs: 60_000 } } } });
    access = accessControlFromConfig(config, silentLogger());
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function start(username: string, password: string, req = request()): { client: ScramClient; exchange: AuthExchange } {
    const client = new ScramClient(username, password);
    const started = access.startExchange('SCRAM-SHA-256', req, client.first());
    if (!('exchange' in started)) throw new Error(`refused: ${started.refused.reason}`);
    return { client, exchange: started.exchange };
  }

  test('the right password: allowed as the SCRAM user, and the server proves itself', async () => {
    const { client, exchange } = start('alice', 'secret');
    const outcome = await access.finishExchange(exchange, request(), client.final(exchange.challenge));
    expect(outcome.decision).toMatchObject({ result: 'allow', source: 'users file' });
    expect(outcome.identity?.username).toBe('alice');
    expect(client.verifyServer(outcome.serverFinal!)).toBe(true);
  });

  test('unknown users and users whose hash cannot serve SCRAM (bcrypt) get challenges like real users and fail like a wrong password', async () => {
    const shape = (challenge: Buffer) => {
      const attrs = new Map(challenge.toString().split(',').map((a) => [a[0], a.slice(2)] as const));
      return { saltBytes: Buffer.from(attrs.get('s')!, 'base64').length, iterations: attrs.get('i') };
    };
    const answers = [];
    for (const [user, password] of [['alice', 'wrong'], ['nobody', 'secret'], ['bob', 'secret']] as const) {
      const { client, exchange } = start(user, password, request(null, user));
      answers.push({ shape: shape(exchange.challenge), outcome: await access.finishExchange(exchange, request(null, user), client.final(exchange.challenge)) });
    }
    // The decoys take the iteration count the file's users have, and a salt as long.
    expect(answers.map((a) => a.shape)).toEqual([{ saltBytes: 16, iterations: '1000' }, { saltBytes: 16, iterations: '1000' }, { saltBytes: 16, iterations: '1000' }]);
    expect(answers.map((a) => [a.outcome.decision.result, a.outcome.decision.refusal, a.outcome.serverFinal])).toEqual([
      ['deny', 'bad-credentials', null],
      ['deny', 'bad-credentials', null],
      ['deny', 'bad-credentials', null],
    ]);
    // A decoy is the same at every try (a changing salt would tell it apart).
    expect(start('nobody', 'x').exchange.challenge.toString().split(',')[1]).toBe(start('nobody', 'y').exchange.challenge.toString().split(',')[1]);
  });

  test('failures count for the login rate limiter: past its limit the client id is refused before any exchange', async () => {
    for (let i = 0; i < 3; i++) {
      const { client, exchange } = start('alice', 'wrong', request(null, 'locked'));
      await access.finishExchange(exchange, request(null, 'locked'), client.final(exchange.challenge));
    }
    const refused = access.startExchange('SCRAM-SHA-256', request(null, 'locked'), new ScramClient('alice', 'secret').first());
    expect(refused).toMatchObject({ refused: { source: 'rate limiter', refusal: 'not-authorized' } });
  });

  test("a CONNECT user name other than the SCRAM user's is refused; an unknown method is 'bad-auth-method'", () => {
    expect(access.startExchange('SCRAM-SHA-256', request('carol'), new ScramClient('alice', 'secret').first())).toMatchObject({ refused: { refusal: 'not-authorized' } });
    expect(access.startExchange('SCRAM-SHA-1', request(), new ScramClient('alice', 'secret').first())).toMatchObject({ refused: { refusal: 'bad-auth-method' } });
  });

  test('a password changed between the challenge and the answer refuses the login; an exchange is answered once', async () => {
    const { client, exchange } = start('alice', 'secret');
    const final = client.final(exchange.challenge);
    writeFileSync(file(), `alice:${hashPassword('changed', 'pbkdf2-sha256', 1000)}\n`);
    access.reload();
    expect((await access.finishExchange(exchange, request(), final)).decision).toMatchObject({ result: 'deny', refusal: 'bad-credentials' });
    expect((await access.finishExchange(exchange, request(), final)).decision.reason).toMatch(/answered already/);
  });
});
