/**
 * Authenticates MQTT clients against an LDAP directory (OpenLDAP, Active
 * Directory, 389 DS...) by binding as the user (RFC 4513 section 5.1.3):
 * the directory checks the password, we never see a hash.
 *
 *   allow   the bind succeeded (with the user's groups and superuser flag);
 *   deny 4  the user exists and the bind failed (wrong or empty password);
 *   deny 5  the user search finds several entries for the user name;
 *   ignore  no user name or password, or no such user: left to the next authenticator;
 *   rejects with ConnectorUnavailable when the directory cannot be reached,
 *           answers too slowly (config.timeoutMs for the whole login), fails
 *           TLS, or answers with an error that is not about the user.
 */
import { Entry, SASL_MECHANISMS } from 'ldapts';
import { AuthDecision, AuthRequest, Authenticator, ConnectorUnavailable } from '../../auth/types';
import { LdapAuthenticatorConfig, ResolvedLdapConfig, resolveConfig } from './config';
import { DeadlineExceeded, withDeadline } from './deadline';
import { failedBind, FailedBind, ResultCode, resultCode, unavailable } from './errors';
import { escapeDnValue, escapeFilterValue, fillTemplate } from './escape';
import { groupNames, memberOfGroups, membership, searchedGroups } from './groups';
import { LdapSession } from './session';
import { canonicalUsername } from './username';

/** Longer user names are nobody's (and would only make long DNs and filters). */
const MAX_USERNAME_LENGTH = 256;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The password as the string ldapts sends (UTF-8); '' when empty or not UTF-8, i.e. nothing that may be sent. */
function passwordText(password: Buffer): string {
  try {
    return utf8.decode(password);
  } catch {
    return '';
  }
}

interface FoundUser {
  dn: string;
  /** The user entry with the attributes we need (user name, memberOf), once read. */
  entry?: Entry;
}

/** The step a login is at, for the message of a ConnectorUnavailable. */
interface Step {
  name: string;
}

const ignore = (reason: string): AuthDecision => ({ result: 'ignore', reason });

export class LdapAuthenticator implements Authenticator {
  readonly name: string;
  private readonly cfg: ResolvedLdapConfig;
  private readonly open = new Set<LdapSession>();
  private closed = false;

  constructor(config: LdapAuthenticatorConfig) {
    this.cfg = resolveConfig(config);
    this.name = this.cfg.name;
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    const username = request.username;
    if (!username) return ignore('no user name');
    if (request.password === null) return ignore('no password');
    if (username.length > MAX_USERNAME_LENGTH) return ignore('user name too long for a directory entry');
    if (this.closed) throw new ConnectorUnavailable(this.name, 'authenticator closed');

    const session = new LdapSession(this.cfg);
    this.open.add(session);
    const step: Step = { name: 'connect' };
    try {
      const login = this.login(session, step, username, passwordText(request.password));
      return await withDeadline(login, this.cfg.timeoutMs, () => void session.close());
    } catch (err) {
      if (err instanceof DeadlineExceeded) throw new ConnectorUnavailable(this.name, `${step.name}: ${err.message}`);
      throw unavailable(this.name, step.name, err);
    } finally {
      void session.close().then(() => this.open.delete(session));
    }
  }

  private async login(session: LdapSession, step: Step, username: string, password: string): Promise<AuthDecision> {
    step.name = this.cfg.startTls ? 'StartTLS' : 'connect';
    await session.open();

    const user = await this.findUser(session, step, username);
    if (user === null) return ignore('unknown user');
    if (user === 'ambiguous') return { result: 'deny', refusal: 'not-authorized', reason: 'the user search matches several entries for this user name' };

    step.name = 'bind as the user';
    // An empty simple bind is an unauthenticated bind that "succeeds" where allowed (RFC 4513 section 5.1.2): never sent.
    const failure = password === '' ? 'rejected' : await this.bindAsUser(session, user.dn, password);
    if (failure === 'no-such-user') return ignore('unknown user');
    if (failure === 'rejected') {
      if (this.cfg.mode === 'bind' && !(await this.userExists(session, step, user.dn))) return ignore('unknown user');
      const why = password === '' ? 'empty or non-UTF-8 password (not sent)' : 'invalid credentials';
      return { result: 'deny', refusal: 'bad-credentials', reason: `${why} for ${user.dn}` };
    }

    // Later lookups run as the service account when there is one (the user may not be allowed to read them), else as the user.
    const entry = user.entry ?? (await this.readUserEntry(session, step, user.dn));
    step.name = 'group lookup';
    const g = this.cfg.groups;
    let dns: string[] = [];
    if (g.source === 'memberOf') dns = memberOfGroups(g.attribute, entry);
    else if (g.source === 'search') {
      await this.bindAsService(session, step);
      step.name = 'group lookup';
      dns = await searchedGroups(session, g, user.dn, username);
    }
    const m = membership(g, groupNames(dns));
    const decision: AuthDecision = { result: 'allow', reason: `bound as ${user.dn}`, groups: m.groups, superuser: m.superuser };
    const canonical = canonicalUsername(entry, this.cfg.usernameAttribute, username);
    if (canonical !== undefined) decision.username = canonical;
    return decision;
  }

  /** Attributes the login reads from the user entry. */
  private entryAttributes(): string[] {
    const attrs: string[] = [];
    if (this.cfg.usernameAttribute !== null) attrs.push(this.cfg.usernameAttribute);
    if (this.cfg.groups.source === 'memberOf') attrs.push(this.cfg.groups.attribute);
    // "1.1": no attributes at all (RFC 4511 section 4.5.1.8).
    return attrs.length > 0 ? attrs : ['1.1'];
  }

  /** The user's DN: from the template (bind mode) or from a search as the service account (search mode). */
  private async findUser(session: LdapSession, step: Step, username: string): Promise<FoundUser | 'ambiguous' | null> {
    if (this.cfg.mode === 'bind') {
      const dn = fillTemplate(this.cfg.dnTemplate ?? '', { u: username }, escapeDnValue);
      // A "DN" such as "PLAIN" (template "%u") would make ldapts start a SASL bind: nobody has that name.
      return (SASL_MECHANISMS as readonly string[]).includes(dn) ? null : { dn };
    }
    await this.bindAsService(session, step);
    step.name = 'user search';
    const filter = fillTemplate(this.cfg.searchFilter, { u: username }, escapeFilterValue);
    const found = await session.search(this.cfg.searchBase ?? '', this.cfg.searchScope, filter, this.entryAttributes(), 2);
    if (found.length === 0) return null;
    // Which of them would the password be for? Refuse rather than guess.
    if (found.length > 1) return 'ambiguous';
    return { dn: found[0].dn, entry: found[0] };
  }

  /** null when the bind succeeded. */
  private async bindAsUser(session: LdapSession, dn: string, password: string): Promise<FailedBind | null> {
    try {
      await session.bind(dn, password);
      return null;
    } catch (err) {
      const failure = failedBind(err);
      if (failure === null) throw err;
      return failure;
    }
  }

  private async bindAsService(session: LdapSession, step: Step): Promise<boolean> {
    const account = this.cfg.serviceAccount;
    if (!account) return false;
    if (session.boundAs === account.dn) return true;
    step.name = 'bind as the service account';
    await session.bind(account.dn, account.password);
    return true;
  }

  /**
   * Bind mode, after a failed bind: whether the DN names an entry, as seen by
   * the service account. Without one we cannot tell, and a failed bind stays a
   * deny (the safe answer: it never hands the login to another authenticator).
   */
  private async userExists(session: LdapSession, step: Step, dn: string): Promise<boolean> {
    if (!(await this.bindAsService(session, step))) return true;
    step.name = 'user lookup';
    return (await this.readEntry(session, dn, ['1.1'])) !== undefined;
  }

  /** Bind mode, after a successful bind: the user entry's user name and memberOf. */
  private async readUserEntry(session: LdapSession, step: Step, dn: string): Promise<Entry | undefined> {
    const attrs = this.entryAttributes();
    if (attrs[0] === '1.1') return undefined;
    await this.bindAsService(session, step);
    step.name = 'user entry read';
    return this.readEntry(session, dn, attrs);
  }

  private async readEntry(session: LdapSession, dn: string, attributes: string[]): Promise<Entry | undefined> {
    try {
      const [entry] = await session.search(dn, 'base', '(objectClass=*)', attributes, 1);
      return entry;
    } catch (err) {
      const code = resultCode(err);
      if (code === ResultCode.noSuchObject || code === ResultCode.invalidDNSyntax) return undefined;
      throw err;
    }
  }

  /** Waits for the connections still open (at most about a second each) and refuses further logins. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.open].map((s) => s.close()));
    this.open.clear();
  }
}
