/**
 * The operator-facing side of a node, started after the node itself: the HTTP
 * API (history, replay, status, metrics), the replays it runs and, when
 * configured, the archiver. `mqlog archiver` runs the same archiver and API on
 * a log without a broker.
 */
import { Client } from '@elastic/elasticsearch';
import { Archiver, ElasticsearchHistory, elasticsearchClient } from '../../connectors/elasticsearch';
import { ApiServer, NotFound, Route } from '../api/ApiServer';
import { messagesRoute } from '../api/routes/messages';
import { MetricSample, metricsRoute } from '../api/routes/metrics';
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
import { healthGauge } from './NodeHealth';
import { LIMIT_NAMES } from '../channel/limits';
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
  }

  async start(): Promise<void> {
    this.archiver?.start();
    if (!this.ctx.config.api.enabled) return;
    const api = this.ctx.config.api;
    // With the password every install shares, the API is for this machine only (EMQX asks for a new one at first login).
    const defaultPassword = api.password === DEFAULT_API_PASSWORD;
    const host = defaultPassword ? '127.0.0.1' : api.host;
    this.api = new ApiServer({ ...api, host }, this.routes(), this.ctx.logger.child({ component: 'api' }), (detail) => this.ctx.node?.limits.hit('api.rateLimit', detail));
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

  private routes(): Route[] {
    const routes: Route[] = [
      metricsRoute(() => this.metrics(), this.ctx.config.api.metrics.open),
      { method: 'GET', path: '/api/v1/status', handle: () => ({ status: 200, json: this.status() }) },
      {
        method: 'GET',
        path: '/api/v1/archiver',
        handle: async () => {
          if (!this.archiver) throw new NotFound('no archiver runs here (archive.enabled is false)');
          await this.archiver.refreshLag();
          return { status: 200, json: this.archiver.status() };
        },
      },
    ];
    if (this.ctx.node) routes.push(messagesRoute(this.history));
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

  private metrics(): MetricSample[] {
    const out: MetricSample[] = [];
    const node = this.ctx.node;
    if (node) {
      const s = node.stats;
      out.push(
        { name: 'mqlog_node_health', help: 'Node health: 0 healthy, 1 degraded, 2 failed', type: 'gauge', value: healthGauge(node.healthReport().state) },
        { name: 'mqlog_connections', help: 'Open client connections on this node', type: 'gauge', value: node.connectionCount },
        { name: 'mqlog_messages_received_total', help: 'PUBLISH packets received from clients', type: 'counter', value: s.messagesReceived },
        { name: 'mqlog_messages_sent_total', help: 'PUBLISH packets sent to clients', type: 'counter', value: s.messagesSent },
        { name: 'mqlog_messages_dropped_total', help: 'Messages dropped (QoS 0 to slow clients, full offline queues)', type: 'counter', value: s.publishDropped },
        { name: 'mqlog_publish_denied_total', help: 'PUBLISH packets refused by the access rules', type: 'counter', value: s.publishDenied },
        { name: 'mqlog_bytes_received_total', help: 'Bytes received from clients', type: 'counter', value: s.bytesReceived },
        { name: 'mqlog_bytes_sent_total', help: 'Bytes sent to clients', type: 'counter', value: s.bytesSent },
        { name: 'mqlog_session_takeovers_refused_total', help: "CONNECTs refused because their client id names another user's session", type: 'counter', value: s.sessionTakeoversRefused },
        { name: 'mqlog_log_pages_read_total', help: 'Pages of the message stream read for sessions (offline backlogs, subscribers catching up)', type: 'counter', value: s.logPagesRead },
        { name: 'mqlog_deliveries_from_log_total', help: 'Deliveries read back from the log rather than handed over live', type: 'counter', value: s.deliveriesFromLog },
        { name: 'mqlog_messages_expired_unread_total', help: 'Messages log retention deleted before a session read them', type: 'counter', value: s.messagesExpiredUnread },
        { name: 'mqlog_sessions_expired_total', help: 'Persistent sessions discarded after mqtt.sessionExpiryMs offline (by this node, the coordinator)', type: 'counter', value: s.sessionsExpired },
      );
      for (const limit of LIMIT_NAMES) {
        out.push({ name: 'mqlog_limit_hits_total', help: 'Times a configured limit refused something, by limit', type: 'counter', value: node.limits.count(limit), labels: { limit } });
      }
    }
    if (this.archiver) {
      const a = this.archiver.status();
      out.push(
        { name: 'mqlog_archiver_lag_records', help: 'Log records not yet archived to Elasticsearch', type: 'gauge', value: a.lag },
        { name: 'mqlog_archiver_indexed_total', help: 'Documents indexed into Elasticsearch', type: 'counter', value: a.indexed },
        { name: 'mqlog_archiver_duplicates_total', help: 'Records found already archived (re-runs after a crash)', type: 'counter', value: a.duplicates },
        { name: 'mqlog_archiver_rejected_total', help: 'Documents Elasticsearch refused', type: 'counter', value: a.rejected },
        { name: 'mqlog_archiver_elasticsearch_up', help: '1 when the last request reached Elasticsearch', type: 'gauge', value: a.elasticsearchDown ? 0 : 1 },
      );
    }
    return out;
  }
}
