/**
 * A connector test back end of its own (a database or key prefix, removed at
 * the end) on a real service, and the shared authenticator, ACL source and
 * broker contracts run against it. MySQL, PostgreSQL and Redis subclass it with
 * how they seed users and rules and how they build a connector.
 */
import { AclSource, Authenticator } from '../../auth/types';
import type { ConnectorConfig } from '../../src/config';
import { describeAclSourceContract, SeededRule } from '../contract/aclSource.contract';
import { describeAuthenticatorContract, SeedUser } from '../contract/authenticator.contract';
import { describeBrokerConnectorContract } from '../contract/brokerConnector.contract';
import { closedPort } from '../helpers/services';
import { startTcpProxy, TcpProxy } from '../helpers/tcpProxy';

/** The time limit of slow connectors (their proxy delays every packet by more). */
export const SLOW_TIMEOUT_MS = 500;

export interface TestConnector extends Authenticator, AclSource {
  close(): Promise<void>;
}

export interface TestConnectorConfig {
  host?: string;
  port?: number;
  timeoutMs?: number;
}

export abstract class ConnectorTestBackend<C extends TestConnector, Config extends TestConnectorConfig, Service extends { host: string; port: number }> {
  /** The connector's `type` in `auth.connectors`. */
  abstract readonly type: string;
  private settings: Service | null = null;
  private readonly connectors: C[] = [];
  private readonly proxies: TcpProxy[] = [];

  /** Replaces the stored users with the contract's (their hashes in the SEED_SCHEMES formats). */
  abstract seedContractUsers(users: SeedUser[]): Promise<void>;
  /** Replaces the stored rules, order kept. */
  abstract seedRules(rules: SeededRule[]): Promise<void>;
  /** The connector settings for this back end, as `auth.connectors` would hold them. */
  abstract config(config?: Partial<Config>): Promise<Config>;
  protected abstract ensureService(): Promise<Service>;
  protected abstract build(config: Config): C;
  /** Removes what this back end stored (after its connectors and proxies are closed). */
  protected abstract dropStore(): Promise<void>;

  /** Users and rules for the broker contract, replacing earlier ones. */
  async seedUsersAndRules(users: SeedUser[], rules: SeededRule[]): Promise<void> {
    await this.seedContractUsers(users);
    await this.seedRules(rules);
  }

  /** A connector on this back end, closed by drop(). */
  async connector(config: Partial<Config> = {}): Promise<C> {
    const connector = this.build(await this.config(config));
    this.connectors.push(connector);
    return connector;
  }

  /** A proxy in front of the service, closed by drop(). */
  async proxy(): Promise<TcpProxy> {
    const s = await this.serviceSettings();
    const proxy = await startTcpProxy(s.port, s.host);
    this.proxies.push(proxy);
    return proxy;
  }

  /** A connector whose every packet is delayed by more than its time limit. */
  async slowConnector(): Promise<C> {
    const proxy = await this.proxy();
    proxy.delayMs = SLOW_TIMEOUT_MS + 1500;
    return this.connector({ host: '127.0.0.1', port: proxy.port, timeoutMs: SLOW_TIMEOUT_MS } as Partial<Config>);
  }

  async unreachableConnector(): Promise<C> {
    return this.connector({ host: '127.0.0.1', port: await closedPort() } as Partial<Config>);
  }

  async drop(): Promise<void> {
    await Promise.all(this.connectors.splice(0).map((c) => this.closeConnector(c)));
    await Promise.all(this.proxies.splice(0).map((p) => p.close()));
    await this.dropStore();
  }

  protected closeConnector(connector: C): Promise<void> {
    return connector.close();
  }

  protected async serviceSettings(): Promise<Service> {
    this.settings ??= await this.ensureService();
    return this.settings;
  }
}

/**
 * The authenticator, ACL source and broker connector contracts, each on a
 * back end of its own from `backend()`.
 */
export function describeConnectorContracts<C extends TestConnector, Config extends TestConnectorConfig>(
  name: string,
  backend: () => ConnectorTestBackend<C, Config, { host: string; port: number }>,
): void {
  const auth = backend();
  describeAuthenticatorContract(name, {
    superuser: true,
    async create(users) {
      await auth.seedContractUsers(users);
      return auth.connector();
    },
    createUnreachable: () => auth.unreachableConnector(),
    async createSlow(users) {
      await auth.seedContractUsers(users);
      return { authenticator: await auth.slowConnector(), timeoutMs: SLOW_TIMEOUT_MS };
    },
    cleanup: () => auth.drop(),
  });

  const acl = backend();
  describeAclSourceContract(name, {
    async create(rules) {
      await acl.seedRules(rules);
      return acl.connector();
    },
    createUnreachable: () => acl.unreachableConnector(),
    cleanup: () => acl.drop(),
  });

  const broker = backend();
  describeBrokerConnectorContract(broker.type, {
    async seed(users, rules) {
      await broker.seedUsersAndRules(users, rules);
      return entry(broker.type, await broker.config());
    },
    unreachable: async () => entry(broker.type, await broker.config({ host: '127.0.0.1', port: await closedPort() } as Partial<Config>)),
    cleanup: () => broker.drop(),
  });
}

/** The `auth.connectors` entry for a connector's settings. */
function entry(type: string, config: object): ConnectorConfig {
  return { type, ...config };
}
