/**
 * The ordered authenticator chain. Each authenticator answers allow, deny or
 * ignore; the first decisive answer wins, and when all ignore the configured
 * default applies. A back end that fails or is slower than `timeoutMs` is logged
 * and answered with the configured fallback: deny (CONNACK 3, server
 * unavailable) by default, never an open door; or ignore, to let the next
 * authenticator decide.
 */
import { Logger } from '../src/logger';
import { AuthDecision, AuthRequest, Authenticator, ConnectorUnavailable } from './types';

export interface ChainSettings {
  /** When every authenticator ignores the client. */
  default: 'allow' | 'deny';
  /** When an authenticator fails: deny the client, or ask the next authenticator. */
  onError: 'deny' | 'ignore';
  timeoutMs: number;
}

export interface ChainDecision extends AuthDecision {
  /** The authenticator that decided, or "default". */
  source: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectorUnavailable(name, `no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The decision with the authenticator that made it. Every field is named rather
 * than `{ ...decision, source }`: V8 (Node 20) gives each object made by a spread
 * and then extended a hidden class of its own, in the old generation: one dead
 * hidden class per CONNECT (docs/performance.md, memory per connection).
 */
function decidedBy(d: AuthDecision, source: string): ChainDecision {
  const out: ChainDecision = { result: d.result, source };
  if (d.refusal !== undefined) out.refusal = d.refusal;
  if (d.reason !== undefined) out.reason = d.reason;
  if (d.groups !== undefined) out.groups = d.groups;
  if (d.superuser !== undefined) out.superuser = d.superuser;
  if (d.username !== undefined) out.username = d.username;
  return out;
}

export class AuthChain {
  constructor(
    readonly authenticators: readonly Authenticator[],
    private readonly settings: ChainSettings,
    private readonly log: Logger,
  ) {}

  async authenticate(request: AuthRequest): Promise<ChainDecision> {
    for (const a of this.authenticators) {
      let decision: AuthDecision;
      try {
        decision = await (a.immediate === true ? a.authenticate(request) : withTimeout(a.authenticate(request), this.settings.timeoutMs, a.name));
      } catch (err) {
        this.log.warn({ authenticator: a.name, clientId: request.clientId, err: (err as Error).message, fallback: this.settings.onError }, 'authenticator failed');
        if (this.settings.onError === 'deny') return { result: 'deny', refusal: 'unavailable', reason: `${a.name} unavailable`, source: a.name };
        continue;
      }
      if (decision.result !== 'ignore') return decidedBy(decision, a.name);
    }
    if (this.settings.default === 'allow') return { result: 'allow', reason: 'no authenticator objected', source: 'default' };
    return { result: 'deny', refusal: request.username === null ? 'not-authorized' : 'bad-credentials', reason: 'no authenticator accepted the client', source: 'default' };
  }

  async close(): Promise<void> {
    await Promise.all(this.authenticators.map((a) => a.close?.().catch(() => undefined)));
  }
}
