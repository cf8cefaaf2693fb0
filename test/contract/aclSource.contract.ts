/**
 * The ACL source contract: every back end that stores access rules (file,
 * MySQL, PostgreSQL, Redis, HTTP) returns the rules of one client, in order, and
 * reports itself unavailable when it cannot answer. Substitution of %c/%u and
 * matching happen in the ACL engine, not in sources.
 */
import { AclRule, AclSource, ClientIdentity, ConnectorUnavailable } from '../../auth/types';

export interface SeededRule {
  /** Whose rule it is; neither: a rule for everyone. */
  username?: string;
  clientId?: string;
  rule: Pick<AclRule, 'permission' | 'action' | 'topic'>;
}

export interface AclSourceFixture {
  /** Seeds the back end with these rules (replacing earlier ones, order kept) and returns a source on it. */
  create(rules: SeededRule[]): Promise<AclSource>;
  createUnreachable(): Promise<AclSource>;
  cleanup(): Promise<void>;
}

export function identity(username: string | null, clientId = `client-${username ?? 'anon'}`): ClientIdentity {
  return { clientId, username, ip: '127.0.0.1', groups: [], superuser: false };
}

const RULES: SeededRule[] = [
  { username: 'alice', rule: { permission: 'allow', action: 'publish', topic: 'sensors/%u/#' } },
  { username: 'alice', rule: { permission: 'deny', action: 'subscribe', topic: 'secret/#' } },
  { username: 'alice', rule: { permission: 'allow', action: 'all', topic: 'shared/+' } },
  { username: 'bob', rule: { permission: 'allow', action: 'subscribe', topic: '#' } },
  { clientId: 'device-7', rule: { permission: 'allow', action: 'publish', topic: 'devices/%c/state' } },
];

const strip = (r: AclRule) => ({ permission: r.permission, action: r.action, topic: r.topic });

export function describeAclSourceContract(name: string, fixture: AclSourceFixture): void {
  describe(`ACL source contract: ${name}`, () => {
    const opened: AclSource[] = [];
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close?.()));
      await fixture.cleanup();
    });

    test("returns a user's rules in order, and only theirs", async () => {
      const src = await fixture.create(RULES);
      opened.push(src);
      expect((await src.rulesFor(identity('alice'))).map(strip)).toEqual(RULES.filter((r) => r.username === 'alice').map((r) => r.rule));
      expect((await src.rulesFor(identity('bob'))).map(strip)).toEqual([RULES[3].rule]);
      expect(await src.rulesFor(identity('nobody'))).toEqual([]);
    });

    test("returns a client id's rules", async () => {
      const src = await fixture.create(RULES);
      opened.push(src);
      expect((await src.rulesFor(identity(null, 'device-7'))).map(strip)).toEqual([RULES[4].rule]);
    });

    test('a back end that is down is reported as unavailable', async () => {
      const src = await fixture.createUnreachable();
      opened.push(src);
      await expect(src.rulesFor(identity('alice'))).rejects.toBeInstanceOf(ConnectorUnavailable);
    });
  });
}
