/**
 * Access rules from configuration, checked in order; the first rule whose
 * action, topic pattern and (optional) client id / user name match decides.
 * Without a matching rule, access is allowed.
 */
import { topicMatches } from '../src/protocol/topics';

export type AclAction = 'subscribe' | 'publish' | 'all';

export interface AclRule {
  permission: 'allow' | 'deny';
  action: AclAction;
  /** A topic filter; a subscription is covered when it equals the pattern or the pattern matches it. */
  topic: string;
  clientId?: string;
  username?: string;
}

export interface Acl {
  maySubscribe(clientId: string, username: string | null, filter: string): boolean;
}

export class StaticAcl implements Acl {
  constructor(private readonly rules: readonly AclRule[]) {}

  maySubscribe(clientId: string, username: string | null, filter: string): boolean {
    for (const rule of this.rules) {
      if (rule.action !== 'subscribe' && rule.action !== 'all') continue;
      if (rule.clientId !== undefined && rule.clientId !== clientId) continue;
      if (rule.username !== undefined && rule.username !== username) continue;
      if (rule.topic === filter || topicMatches(rule.topic, filter)) return rule.permission === 'allow';
    }
    return true;
  }
}
