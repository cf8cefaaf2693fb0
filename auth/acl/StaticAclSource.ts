/** Rules from the configuration (`acl.rules`) and an optional JSON rules file (`acl.file`), re-read on reload. */
import { readFileSync } from 'fs';
import { AclRule, AclSource } from '../types';
import { validateAclRule } from './validateAclRule';

export class StaticAclSource implements AclSource {
  readonly name = 'acl rules';
  private rules: AclRule[];

  constructor(
    private readonly configured: readonly AclRule[],
    private readonly file: string | null,
  ) {
    this.rules = this.load();
  }

  private load(): AclRule[] {
    const rules = this.configured.map((r, i) => validateAclRule(r, `acl.rules[${i}]`));
    if (!this.file) return rules;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read ACL file '${this.file}': ${(err as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { rules?: unknown }).rules;
    if (!Array.isArray(list)) throw new Error(`ACL file '${this.file}' must hold an array of rules or { "rules": [...] }`);
    return [...rules, ...list.map((r, i) => validateAclRule(r, `${this.file} rule ${i}`))];
  }

  reload(): void {
    this.rules = this.load();
  }

  async rulesFor(): Promise<AclRule[]> {
    return this.rules;
  }
}
