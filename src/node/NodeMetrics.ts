/**
 * The node's Prometheus metrics (prom-client), one registry per node so several
 * nodes in one process (tests) never share series. Hot-path counters stay plain
 * numbers in Stats; a scrape turns them into prom-client counters by adding what
 * grew since the last scrape. Labels are bounded sets only: transport, QoS, drop
 * reason, limit, authenticator, partition, API route — never a client id or topic.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DROP_REASONS } from '../events/types';
import { LIMIT_NAMES } from '../channel/limits';
import type { Archiver } from '../../connectors/elasticsearch';
import type { BrokerNode } from './BrokerNode';
import { healthGauge } from './NodeHealth';

/** A counter fed from a running total: each scrape adds the growth. */
class TotalCounter<L extends string> {
  private readonly seen = new Map<string, number>();
  readonly counter: Counter<L>;

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
    this.counter = new Counter<L>({ name, help, labelNames, registers: [registry] });
  }

  set(total: number, labels: Partial<Record<L, string | number>> = {}): void {
    const key = JSON.stringify(labels);
    const grew = total - (this.seen.get(key) ?? 0);
    this.seen.set(key, total);
    if (grew > 0) this.counter.inc(labels, grew);
    else if (grew === 0 && !this.seen.has(`${key}#`)) {
      this.seen.set(`${key}#`, 0);
      this.counter.inc(labels, 0); // a series from the first scrape on, at zero
    }
  }
}

const QOS = ['0', '1', '2'] as const;

export class NodeMetrics {
  readonly registry = new Registry();
  /** Appends from submission to durable (s), and records per append. */
  readonly appendSeconds: Histogram;
  readonly appendRecords: Histogram;
  readonly apiRequests: Counter<'route' | 'method' | 'status'>;
  private readonly rebuildSeconds: Gauge;
  private readonly refreshers: Array<() => Promise<void>> = [];
  private node: BrokerNode | null = null;
  private archiver: Archiver | null = null;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.appendSeconds = new Histogram({
      name: 'mqlog_log_append_seconds',
      help: 'Time from submitting an append to the log until it is durable',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.appendRecords = new Histogram({ name: 'mqlog_log_append_records', help: 'Records in one append to the log', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers });
    this.apiRequests = new Counter({ name: 'mqlog_api_requests_total', help: 'HTTP API requests by route, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.rebuildSeconds = new Gauge({ name: 'mqlog_projection_rebuild_seconds', help: 'Time the last start took to rebuild the projections from the log', registers });
  }

  appended(ms: number, records: number): void {
    this.appendSeconds.observe(ms / 1000);
    this.appendRecords.observe(records);
  }

  rebuilt(ms: number): void {
    this.rebuildSeconds.set(ms / 1000);
  }

  /** Exposes a node's counters, gauges and (when it runs one) its archiver. */
  watch(node: BrokerNode | null, archiver: Archiver | null): void {
    this.node = node;
    this.archiver = archiver;
    if (node) this.nodeMetrics(node);
    if (archiver) this.archiverMetrics();
  }

  async text(): Promise<{ body: string; contentType: string }> {
    for (const refresh of this.refreshers) await refresh();
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  private nodeMetrics(node: BrokerNode): void {
    const registers = [this.registry];
    const r = this.registry;
    const totals = {
      received: new TotalCounter(r, 'mqlog_messages_received_total', 'PUBLISH packets received from clients, by QoS', ['qos']),
      sent: new TotalCounter(r, 'mqlog_messages_sent_total', 'PUBLISH packets sent to clients (retransmissions included), by QoS', ['qos']),
      dropped: new TotalCounter(r, 'mqlog_messages_dropped_total', 'Messages not delivered, by reason', ['reason']),
      denied: new TotalCounter(r, 'mqlog_publish_denied_total', 'PUBLISH packets refused by the access rules'),
      bytesIn: new TotalCounter(r, 'mqlog_bytes_received_total', 'Bytes received from clients'),
      bytesOut: new TotalCounter(r, 'mqlog_bytes_sent_total', 'Bytes sent to clients'),
      takeovers: new TotalCounter(r, 'mqlog_session_takeovers_refused_total', "CONNECTs refused because their client id names another user's session"),
      pages: new TotalCounter(r, 'mqlog_log_pages_read_total', 'Pages of the message stream read for sessions (offline backlogs, subscribers catching up)'),
      fromLog: new TotalCounter(r, 'mqlog_deliveries_from_log_total', 'Deliveries read back from the log rather than handed over live'),
      expiredUnread: new TotalCounter(r, 'mqlog_messages_expired_unread_total', 'Messages log retention deleted before a session read them'),
      sessionsExpired: new TotalCounter(r, 'mqlog_sessions_expired_total', 'Persistent sessions discarded after their expiry (by the coordinator node)'),
      connections: new TotalCounter(r, 'mqlog_connections_total', 'Client sessions opened since start'),
      limits: new TotalCounter(r, 'mqlog_limit_hits_total', 'Times a configured limit refused something, by limit', ['limit']),
      auth: new TotalCounter(r, 'mqlog_auth_results_total', 'CONNECT decisions by authenticator and result', ['authenticator', 'result']),
      protocolErrors: new TotalCounter(r, 'mqlog_protocol_errors_total', 'Connections closed for breaking the protocol'),
    };
    const connections = new Gauge({ name: 'mqlog_connections', help: 'Open client connections on this node, by transport', labelNames: ['transport'], registers });
    const health = new Gauge({ name: 'mqlog_node_health', help: 'Node health: 0 healthy, 1 degraded, 2 failed', registers });
    const sessions = new Gauge({ name: 'mqlog_sessions', help: 'Sessions in the projection (connected or persistent)', registers });
    const retained = new Gauge({ name: 'mqlog_retained_messages', help: 'Retained messages held', registers });
    const subscriptions = new Gauge({ name: 'mqlog_subscriptions', help: 'Subscriptions of the clients connected to this node', registers });
    const lag = new Gauge({ name: 'mqlog_delivery_lag_seconds', help: 'Longest wait of a keeping-up subscriber for its message', registers });
    const tailLag = new Gauge({ name: 'mqlog_tail_lag_records', help: 'Message-stream records appended but not yet read by this node, by partition', labelNames: ['partition'], registers });
    // Read the node once per scrape, before the registry renders (prom-client collects metrics concurrently).
    this.refreshers.push(async () => {
        const s = node.stats;
        QOS.forEach((q, i) => {
          totals.received.set(s.publishIn[i], { qos: q });
          totals.sent.set(s.publishOut[i], { qos: q });
        });
        for (const reason of DROP_REASONS) totals.dropped.set(s.dropsByReason[reason], { reason });
        totals.denied.set(s.publishDenied);
        totals.bytesIn.set(s.bytesReceived);
        totals.bytesOut.set(s.bytesSent);
        totals.takeovers.set(s.sessionTakeoversRefused);
        totals.pages.set(s.logPagesRead);
        totals.fromLog.set(s.deliveriesFromLog);
        totals.expiredUnread.set(s.messagesExpiredUnread);
        totals.sessionsExpired.set(s.sessionsExpired);
        totals.connections.set(s.connectionsTotal);
        totals.protocolErrors.set(s.protocolErrors);
        for (const limit of LIMIT_NAMES) totals.limits.set(node.limits.count(limit), { limit });
        for (const [key, n] of s.authResults) {
          const [authenticator, allowed] = key.split('|');
          totals.auth.set(n, { authenticator, result: allowed === 'true' ? 'allowed' : 'refused' });
        }
        connections.reset();
        for (const transport of ['tcp', 'tls', 'ws', 'wss']) connections.set({ transport }, 0); // every transport's series, at 0 too
        for (const [transport, n] of node.management.connectionsByTransport()) connections.set({ transport }, n);
        health.set(healthGauge(node.healthReport().state));
        sessions.set(node.sessions.state.size);
        retained.set(node.retained.size);
        subscriptions.set(node.routes.size);
        lag.set(node.deliveryLagReport().lagMs / 1000);
        const ends = await node.management.messageEndOffsets();
        ends.forEach((end, p) => tailLag.set({ partition: String(p) }, Math.max(0, end - (node.position[p] ?? end))));
    });
  }

  private archiverMetrics(): void {
    const registers = [this.registry];
    const archiver = (): Archiver => this.archiver!;
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect(this: Gauge) {
          this.set(value());
        },
      });
    gauge('mqlog_archiver_lag_records', 'Log records not yet archived to Elasticsearch', () => archiver().status().lag);
    gauge('mqlog_archiver_elasticsearch_up', '1 when the last request reached Elasticsearch', () => (archiver().status().elasticsearchDown ? 0 : 1));
    const indexed = new TotalCounter(this.registry, 'mqlog_archiver_indexed_total', 'Documents indexed into Elasticsearch');
    const duplicates = new TotalCounter(this.registry, 'mqlog_archiver_duplicates_total', 'Records found already archived (re-runs after a crash)');
    const rejected = new TotalCounter(this.registry, 'mqlog_archiver_rejected_total', 'Documents Elasticsearch refused');
    this.refreshers.push(async () => {
      const a = archiver().status();
      indexed.set(a.indexed);
      duplicates.set(a.duplicates);
      rejected.set(a.rejected);
    });
  }
}
