/**
 * Gathers the access rules that apply to a client from every source (the
 * configuration and rules file first, then back ends in order), keeps those
 * whose conditions (client id, user name, group, address) fit the client,
 * substitutes %c and %u, and compiles them into a ConnectionAcl.
 */
import { AddressSet } from '../cidr';
import { AclRule, AclSource, ClientIdentity } from '../types';
import { CompiledRule, ConnectionAcl, AclSettings } from './ConnectionAcl';

function applies(rule: AclRule, who: ClientIdentity): boolean {
  if (rule.clientId !== undefined && rule.clientId !== who.clientId) return false;
  if (rule.username !== undefined && rule.username !== who.username) return false;
  if (rule.group !== undefined && !who.groups.includes(rule.group)) return false;
  if (rule.ip !== undefined && !new AddressSet([rule.ip]).has(who.ip)) return false;
  return true;
}

/**
 * %c and %u replaced. An identity that could change a rule's shape (wildcards or
 * level separators in a client id or user name, or no user name for %u) never
 * widens access: an allow rule is dropped, a deny rule is widened to any level ('+').
 */
function substitute(rule: AclRule, who: ClientIdentity): string | null {
  const unsafe = (s: string | null) => s === null || s === '' || /[+#/]/.test(s);
  const needsC = rule.topic.includes('%c');
  const needsU = rule.topic.includes('%u');
  if ((needsC && unsafe(who.clientId)) || (needsU && unsafe(who.username))) {
    return rule.permission === 'allow' ? null : rule.topic.split('%c').join('+').split('%u').join('+');
  }
  return rule.topic.split('%c').join(who.clientId).split('%u').join(who.username ?? '');
}

export function compileRules(rules: readonly AclRule[], who: ClientIdentity): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const r of rules) {
    if (!applies(r, who)) continue;
    const filter = substitute(r, who);
    if (filter === null) continue;
    out.push({ allow: r.permission === 'allow', publish: r.action !== 'subscribe', subscribe: r.action !== 'publish', filter });
  }
  return out;
}

export class AclEngine {
  /**
   * Without rules of its own a client's access depends on the settings alone, so
   * every such client (and every superuser) shares one ConnectionAcl, its caches
   * included, rather than holding one per connection.
   */
  private readonly noRules: ConnectionAcl;
  private readonly superuser: ConnectionAcl;

  constructor(
    private readonly sources: readonly AclSource[],
    private readonly settings: AclSettings,
  ) {
    this.noRules = new ConnectionAcl([], settings, false);
    this.superuser = new ConnectionAcl([], settings, true);
  }

  /** Throws ConnectorUnavailable when a source cannot answer (the connection is then refused). */
  async compile(who: ClientIdentity): Promise<ConnectionAcl> {
    if (who.superuser) return this.superuser;
    const rules: AclRule[] = [];
    for (const s of this.sources) rules.push(...(await s.rulesFor(who)));
    const compiled = compileRules(rules, who);
    return compiled.length === 0 ? this.noRules : new ConnectionAcl(compiled, this.settings, false);
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close?.().catch(() => undefined)));
  }
}
