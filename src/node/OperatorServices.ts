/**
 * The operator-facing side of a node, started after the node itself: the HTTP
 * API (history, replay, status, metrics), the replays it runs and, when
 * configured, the archiver. `mqlog archiver` runs the same archiver and API on
 * a log without a broker.
 */
import { Client } from '@elastic/elasticsearch';
import { Archiver, ElasticsearchHistory, elasticsearchClient } from '../../connectors/elasticsearch';
import { elasticsearchClientEvents } from '../../connectors/elasticsearch/ElasticsearchClientEvents';
import { ApiServer, NotFound, Route } from '../api/ApiServer';
import { messagesRoute } from '../api/routes/messages';
import { metricsRoute } from '../api/routes/metrics';
import { VERSION } from '../version';
import { ApiAccess } from '../api/ApiAccess';
import { adminRoutes } from '../api/routes/admins';
import { clientRoutes } from '../api/routes/clients';
import { clusterRoutes } from '../api/routes/cluster';
import { openApiRoute } from '../api/routes/openapi';
import { publishRoutes } from '../api/routes/publish';
import { retainedRoutes } from '../api/routes/retained';
import { dashboardRoutes } from '../api/routes/dashboard';
import { replayRoutes } from '../api/routes/replay';
import { BrokerConfig, DEFAULT_API_PASSWORD } from '../config';
import { topicLimitError, topicNameError } from '../protocol/topics';
import { HistorySource } from '../history/HistorySource';
import { LogHistory } from '../history/LogHistory';
import { EventLog } from '../log/EventLog';
import { Logger } from '../logger';
import { Replays } from '../replay/Replays';
import { recordsFor } from './EventRouting';
import type { BrokerNode } from './BrokerNode';
import { NodeMetrics } from './NodeMetrics';
import { StreamLayout } from './streams';

export interface OperatorContext {
  config: BrokerConfig;
  log: EventLog;
  streams: StreamLayout;
  nodeId: string;
  logger: Logger;
  /** The broker node, when there is one (not in `mqlog archiver`). */
  node?: BrokerNode;
}

export class OperatorServices {
  readonly replays: Replays | null;
  readonly archiver: Archiver | null;
  readonly history: HistorySource;
  private api: ApiServer | null = null;
  private readonly es: Client | null;
  apiPort: number | null = null;
  private readonly metrics: NodeMetrics;
  /** The address the API listens on (127.0.0.1 while the password is the default). */
  apiHost: string | null = null;

  constructor(private readonly ctx: OperatorContext) {
    const c = ctx.config;
    this.es = c.elasticsearch.nodes.length > 0 ? elasticsearchClient(c.elasticsearch) : null;
    const useEs = c.history.source === 'elasticsearch' || (c.history.source === 'auto' && this.es !== null);
    this.history = useEs ? new ElasticsearchHistory(this.es!, c.elasticsearch.indexPrefix) : new LogHistory(ctx.log, ctx.streams.messages);
    this.replays = ctx.node
      ? new Replays(
          {
            log: ctx.log,
            messagesStream: ctx.streams.messages,
            nodeId: ctx.nodeId,
            append: async (events) => {
              await ctx.log.append(recordsFor(events, ctx.streams));
            },
            topicRefused: (topic) => topicNameError(topic) ?? topicLimitError(topic, c.mqtt)?.detail ?? null,
          },
          ctx.logger.child({ component: 'replay' }),
          c.api.replay,
        )
      : null;
    this.archiver =
      c.archive.enabled && this.es
        ? new Archiver({
            log: ctx.log,
            streams: ctx.streams,
            client: this.es,
            settings: c.elasticsearch,
            group: c.archive.group,
            batchSize: c.archive.batchSize,
            logger: ctx.logger.child({ component: 'archiver' }),
          })
        : null;
    this.metrics = ctx.node?.metrics ?? new NodeMetrics();
    this.metrics.watch(ctx.node ?? null, this.archiver);
  }

  async start(): Promise<void> {
    this.archiver?.start();
    if (!this.ctx.config.api.enabled) return;
    const api = this.ctx.config.api;
    // With the password every install shares, the API is for this machine only (EMQX asks for a new one at first login).
    const defaultPassword = api.password === DEFAULT_API_PASSWORD;
    const host = defaultPassword ? '127.0.0.1' : api.host;
    const access = new ApiAccess(this.ctx.config.dataDir, api, DEFAULT_API_PASSWORD);
    this.api = new ApiServer(
      { ...api, host },
      this.routes(access),
      access,
      this.ctx.logger.child({ component: 'api' }),
      (detail) => this.ctx.node?.limits.hit('api.rateLimit', detail),
      (route, method, status) => this.metrics.apiRequests.inc({ route, method, status: String(status) }),
    );
    this.apiPort = await this.api.listen();
    this.apiHost = host;
    if (defaultPassword) {
      this.ctx.logger.warn(
        { host, port: this.apiPort, configuredHost: api.host, username: api.username },
        `the HTTP API uses the default password '${DEFAULT_API_PASSWORD}', so it listens on 127.0.0.1 only: set api.password to listen on api.host`,
      );
    }
  }

  async close(): Promise<void> {
    await this.api?.close();
    await this.replays?.close();
    await this.archiver?.close();
    await this.es?.close();
  }

  private routes(access: ApiAccess): Route[] {
    const node = this.ctx.node;
    const routes: Route[] = [
      metricsRoute(() => this.metrics.text(), this.ctx.config.api.metrics.open),
      openApiRoute(() => routes, VERSION),
      { method: 'GET', path: '/api/v1/status', summary: "This node's health, backend, connections and counters", handle: () => ({ status: 200, json: this.status() }) },
      ...adminRoutes(access, node?.management ?? null),
      {
        method: 'GET',
        path: '/api/v1/archiver',
        summary: "The archiver's progress and lag",
        handle: async () => {
          if (!this.archiver) throw new NotFound('no archiver runs here (archive.enabled is false)');
          await this.archiver.refreshLag();
          return { status: 200, json: this.archiver.status() };
        },
      },
    ];
    routes.push(...dashboardRoutes());
    if (node) routes.push(messagesRoute(this.history), ...publishRoutes(node.management), ...clientRoutes(node.management, this.history.name === 'elasticsearch' && this.es ? elasticsearchClientEvents(this.es, this.ctx.config.elasticsearch.indexPrefix) : undefined), ...retainedRoutes(node.management), ...clusterRoutes(node.management));
    if (this.replays) routes.push(...replayRoutes(this.replays, this.ctx.log.partitionCount(this.ctx.streams.messages), (limit, detail) => this.ctx.node?.limits.hit(limit, detail)));
    return routes;
  }

  private status(): Record<string, unknown> {
    const node = this.ctx.node;
    return {
      nodeId: this.ctx.nodeId,
      health: node?.healthReport() ?? null,
      backend: this.ctx.config.log.backend,
      history: this.history.name,
      connections: node?.connectionCount ?? null,
      stats: node ? { ...node.stats } : null,
      archiver: this.archiver?.status() ?? null,
    };
  }
}
