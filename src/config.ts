/**
 * Configuration: defaults, overridden by a JSON file, then by environment
 * variables, then by command-line flags. Every key and default is documented in
 * docs/configuration.md; unknown keys and wrong types are refused with the path
 * of the offending key, so a typo never silently falls back to a default.
 */
import { readFileSync } from 'fs';
import { AclRule } from '../auth/types';
import { MqttSettings } from './channel/MqttSettings';
import { MAX_REMAINING_LENGTH } from './protocol/PacketDecoder';
import { validateAclRule } from '../auth/acl/validateAclRule';
import { parseRange } from '../auth/cidr';
import type { ElasticsearchSettings } from '../connectors/elasticsearch/ElasticsearchSettings';

export interface TcpListenerConfig {
  enabled: boolean;
  host: string;
  port: number;
}

export interface TlsListenerConfig extends TcpListenerConfig {
  keyFile: string;
  certFile: string;
  caFile: string;
  requireClientCert: boolean;
}

export interface WsListenerConfig extends TcpListenerConfig {
  path: string;
}

export interface WssListenerConfig extends TlsListenerConfig {
  path: string;
}

export interface FileLogConfig {
  /** Segment size before a new segment file is started (bytes). */
  segmentBytes: number;
  /** 'os': acknowledge once written to the OS (survives kill -9); 'batch': fsync every batch; 'interval': fsync every fsyncIntervalMs. */
  fsync: 'os' | 'batch' | 'interval';
  fsyncIntervalMs: number;
}

export interface KafkaConfig {
  /** Bootstrap brokers, host:port. */
  brokers: string[];
  /** Kafka client id; empty: mqlog-<nodeId>. */
  clientId: string;
  replicationFactor: number;
  minInsyncReplicas: number;
  lingerMs: number;
  maxRequestBytes: number;
  maxBufferedBytes: number;
  fetchMaxWaitMs: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  startupTimeoutMs: number;
  tls: { enabled: boolean; caFile: string; certFile: string; keyFile: string; rejectUnauthorized: boolean };
  sasl: { mechanism: '' | 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

export interface LogConfig {
  /** 'file': the embedded segmented log; 'kafka': Apache Kafka. */
  backend: 'file' | 'kafka';
  /** Prefix of stream (Kafka topic) names. */
  streamPrefix: string;
  messagePartitions: number;
  sessionPartitions: number;
  messageRetentionMs: number;
  messageRetentionBytes: number;
  sessionRetentionMs: number;
  file: FileLogConfig;
  kafka: KafkaConfig;
}

/** A back end (connector) entry: `type` selects it, the rest is its own configuration (docs/connectors.md). */
export interface ConnectorConfig {
  type: string;
  [setting: string]: unknown;
}

export interface AuthConfig {
  /** Let clients without a user name in. */
  allowAnonymous: boolean;
  /** When no authenticator decides: 'auto' allows only if no users file and no connectors are configured. */
  default: 'auto' | 'allow' | 'deny';
  /** When a back end fails or times out: deny (CONNACK 3) or ask the next authenticator. */
  onConnectorError: 'deny' | 'ignore';
  /** Longest wait for any one back end (ms). */
  timeoutMs: number;
  /** Mosquitto-style `user:hash` file maintained with `mqlog passwd`; empty: none. */
  usersFile: string;
  /** User names that pass every ACL check and may read $SYS. */
  superusers: string[];
  clientIds: { allow: string[]; deny: string[] };
  addresses: { allow: string[]; deny: string[] };
  /** Clients whose TLS certificate was verified log in with its CN as user name. */
  certificateAsUsername: boolean;
  /** Failed logins per IP address and per client id in `windowMs` before a lockout of `lockoutMs` (0: no limit). */
  rateLimit: { maxFailuresPerIp: number; maxFailuresPerClientId: number; windowMs: number; lockoutMs: number };
  /** Authentication back ends in order: { "type": "ldap" | "mysql" | "postgres" | "redis" | "http", ... }. */
  connectors: ConnectorConfig[];
  /**
   * What the audit trail keeps of refused logins: client ids and user names cut to
   * `maxFieldLength` characters, and at most `refusedLoginsPerIp` records per address
   * per `windowMs` (the rest are counted, and summed up in one record per window).
   */
  audit: { maxFieldLength: number; refusedLoginsPerIp: number; windowMs: number };
}

export interface AclConfig {
  /** Rules checked first, in order (see docs/configuration.md). */
  rules: AclRule[];
  /** A JSON file of more rules; empty: none. */
  file: string;
  /** When no rule matches. */
  default: 'allow' | 'deny';
  /** Whether clients other than superusers may read $SYS topics. */
  sysReadableByAll: boolean;
  /** A refused PUBLISH is dropped and counted ('ignore'), or also ends the connection ('disconnect'). */
  denyAction: 'ignore' | 'disconnect';
  /** Back ends that hold rules, in order (same entries as auth.connectors). */
  connectors: ConnectorConfig[];
  /** Access decisions cached per connection (publish and read topics each). */
  cacheMaxEntries: number;
}

export interface BrokerConfig {
  /** Node identity; empty: generated once and kept in <dataDir>/node-id. */
  nodeId: string;
  dataDir: string;
  listeners: {
    tcp: TcpListenerConfig;
    tls: TlsListenerConfig;
    ws: WsListenerConfig;
    wss: WssListenerConfig;
  };
  mqtt: MqttSettings;
  /** Limits on the node as a whole (per-client ones are in `mqtt`). */
  limits: {
    /** Open client connections on this node (every transport); beyond, new sockets are closed at once. */
    maxConnections: number;
    /** Open client connections from one IP address. */
    maxConnectionsPerIp: number;
    /** A limit that is hit is logged at most once per this interval (ms), with how often it was hit. */
    logIntervalMs: number;
  };
  log: LogConfig;
  /** `$SYS` topics (src/node/SysTopics): published every `intervalMs`, retained. */
  sys: { enabled: boolean; intervalMs: number };
  snapshots: {
    /** Snapshot a session partition after this many folded events... */
    everyEvents: number;
    /** ...or after this long with any change (ms). */
    intervalMs: number;
  };
  cluster: {
    /** How often this node appends its heartbeat (ms). */
    heartbeatIntervalMs: number;
    /** A node silent for this long is failed: its sessions are closed and their wills published (ms). */
    nodeTimeoutMs: number;
    /**
     * host:port where MQTT clients reach this node, told to the cluster in its
     * heartbeat: when another node shuts down, its MQTT 5 clients are sent here
     * (DISCONNECT 0x9C with a Server Reference). Empty: none.
     */
    advertisedAddress: string;
  };
  auth: AuthConfig;
  acl: AclConfig;
  /** The HTTP API (history, replay, status) and Prometheus metrics. */
  api: {
    enabled: boolean;
    host: string;
    port: number;
    /** HTTP Basic credentials for /api/v1 and /metrics. While the password is the default, the API listens on 127.0.0.1 only. */
    username: string;
    password: string;
    /** `open`: /metrics needs no credentials (for a scraper on a trusted network). */
    metrics: { open: boolean };
    /** Replays running at once, and the most log records one replay may scan. */
    replay: { maxConcurrent: number; maxRecords: number };
    /** Failed API logins per address within `windowMs` before it is refused (429) for `lockoutMs`. */
    rateLimit: { maxFailuresPerIp: number; windowMs: number; lockoutMs: number };
  };
  /** Elasticsearch, for the audit archive and history queries; `nodes` empty: none. */
  elasticsearch: ElasticsearchSettings;
  archive: {
    /** Run the archiver inside this node (or run `mqlog archiver` on its own). Needs elasticsearch.nodes. */
    enabled: boolean;
    /** Consumer group the archived positions are committed under. */
    group: string;
    /** Documents per bulk request. */
    batchSize: number;
  };
  history: {
    /** Where GET /api/v1/messages reads: 'auto' is Elasticsearch when elasticsearch.nodes is set, else the log. */
    source: 'auto' | 'log' | 'elasticsearch';
  };
  logging: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
}

const DAY = 24 * 3600 * 1000;

/** The API password of a fresh install (EMQX's): while it is in use the API listens on 127.0.0.1 only. */
export const DEFAULT_API_PASSWORD = 'public';

export function defaultConfig(): BrokerConfig {
  return {
    nodeId: '',
    dataDir: './data',
    listeners: {
      tcp: { enabled: true, host: '0.0.0.0', port: 1883 },
      tls: { enabled: false, host: '0.0.0.0', port: 8883, keyFile: '', certFile: '', caFile: '', requireClientCert: false },
      ws: { enabled: true, host: '0.0.0.0', port: 8083, path: '/mqtt' },
      wss: { enabled: false, host: '0.0.0.0', port: 8084, path: '/mqtt', keyFile: '', certFile: '', caFile: '', requireClientCert: false },
    },
    mqtt: {
      // EMQX's default; the protocol allows up to 256 MiB (MAX_REMAINING_LENGTH + 5).
      maxPacketSize: 1024 * 1024,
      // Until a client is authenticated it may not make the broker buffer more than this.
      maxPacketSizeBeforeConnect: 64 * 1024,
      maxTopicLength: 65_535,
      maxTopicLevels: 128,
      maxSubscriptionsPerClient: 10_000,
      maxFiltersPerSubscribe: 1_000,
      maxRetainedMessages: 100_000,
      maxRetainedBytes: 256 * 1024 * 1024,
      // EMQX's default session_expiry_interval (Mosquitto's persistent_client_expiration has none).
      sessionExpiryMs: 2 * 3600 * 1000,
      allowSessionTakeoverByOtherUser: false,
      // Short: what waits longer for a subscriber that keeps up outlives the young generation's collections and is
      // copied and promoted (50 ms: fan-in QoS 1 at 0.6-0.7x of what 5 ms gives, most of the difference in GC; docs/performance.md).
      maxDeliveryLagMs: 5,
      slowSubscriberMs: 1000,
      // Deliveries to a session refill once per round trip of the event loop: a window of 32 (EMQX's) caps a
      // fast subscriber near 80k msg/s here, 128 lets it take 130k+ (docs/performance.md). MQTT 5 clients cap it with their receive maximum.
      maxInflight: 128,
      receiveMaximum: 128,
      maxKeepalive: 0,
      maxTopicAlias: 16,
      maxQueuedMessages: 10_000,
      allowZeroLengthClientId: true,
      maxClientIdLength: 65535,
      connectTimeoutMs: 15_000,
      maxQos: 2,
      maxSocketBufferBytes: 8 * 1024 * 1024,
      retainAvailable: true,
      responseInformation: '',
      serverReference: '',
    },
    limits: { maxConnections: 100_000, maxConnectionsPerIp: 20_000, logIntervalMs: 10_000 },
    log: {
      backend: 'file',
      streamPrefix: 'mqlog.',
      messagePartitions: 1,
      sessionPartitions: 1,
      messageRetentionMs: 7 * DAY,
      messageRetentionBytes: -1,
      sessionRetentionMs: 7 * DAY,
      file: { segmentBytes: 64 * 1024 * 1024, fsync: 'os', fsyncIntervalMs: 1000 },
      kafka: {
        brokers: ['127.0.0.1:9092'],
        clientId: '',
        replicationFactor: 3,
        minInsyncReplicas: 2,
        lingerMs: 0,
        maxRequestBytes: 512 * 1024,
        maxBufferedBytes: 64 * 1024 * 1024,
        fetchMaxWaitMs: 250,
        connectionTimeoutMs: 3000,
        requestTimeoutMs: 30000,
        startupTimeoutMs: 0,
        tls: { enabled: false, caFile: '', certFile: '', keyFile: '', rejectUnauthorized: true },
        sasl: { mechanism: '', username: '', password: '' },
      },
    },
    sys: { enabled: true, intervalMs: 10_000 },
    snapshots: { everyEvents: 10_000, intervalMs: 60_000 },
    cluster: { heartbeatIntervalMs: 2000, nodeTimeoutMs: 10_000, advertisedAddress: '' },
    auth: {
      allowAnonymous: true,
      default: 'auto',
      onConnectorError: 'deny',
      timeoutMs: 5000,
      usersFile: '',
      superusers: [],
      clientIds: { allow: [], deny: [] },
      addresses: { allow: [], deny: [] },
      certificateAsUsername: false,
      rateLimit: { maxFailuresPerIp: 100, maxFailuresPerClientId: 10, windowMs: 60_000, lockoutMs: 300_000 },
      connectors: [],
      audit: { maxFieldLength: 256, refusedLoginsPerIp: 20, windowMs: 60_000 },
    },
    acl: { rules: [], file: '', default: 'allow', sysReadableByAll: false, denyAction: 'ignore', connectors: [], cacheMaxEntries: 256 },
    api: {
      enabled: true,
      host: '0.0.0.0',
      port: 18083,
      username: 'admin',
      password: DEFAULT_API_PASSWORD,
      metrics: { open: false },
      replay: { maxConcurrent: 2, maxRecords: 10_000_000 },
      rateLimit: { maxFailuresPerIp: 10, windowMs: 60_000, lockoutMs: 300_000 },
    },
    elasticsearch: { nodes: [], indexPrefix: 'mqlog', retentionDays: 30, replicas: 1, username: '', password: '', requestTimeoutMs: 30_000 },
    archive: { enabled: false, group: 'mqlog-archiver', batchSize: 1000 },
    history: { source: 'auto' },
    logging: { level: 'info' },
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merges `patch` into `base`, checking every key exists and keeps its type. */
function mergeChecked(base: Record<string, unknown>, patch: Record<string, unknown>, path: string, source: string): void {
  for (const [key, value] of Object.entries(patch)) {
    const here = path ? `${path}.${key}` : key;
    if (!(key in base)) throw new ConfigError(`${source}: unknown setting '${here}'`);
    const current = base[key];
    if (isObject(current)) {
      if (!isObject(value)) throw new ConfigError(`${source}: '${here}' must be an object`);
      mergeChecked(current, value, here, source);
    } else if (Array.isArray(current)) {
      if (!Array.isArray(value)) throw new ConfigError(`${source}: '${here}' must be an array`);
      base[key] = value;
    } else {
      if (typeof value !== typeof current) throw new ConfigError(`${source}: '${here}' must be a ${typeof current}, got ${JSON.stringify(value)}`);
      base[key] = value;
    }
  }
}

/** Sets one dotted path from a string (environment or flag), converting to the default's type. */
function setPath(config: BrokerConfig, path: string, raw: string, source: string): void {
  const parts = path.split('.');
  let node: Record<string, unknown> = config as unknown as Record<string, unknown>;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = node[parts[i]];
    if (!isObject(next)) throw new ConfigError(`${source}: unknown setting '${path}'`);
    node = next;
  }
  const key = parts[parts.length - 1];
  if (!(key in node)) throw new ConfigError(`${source}: unknown setting '${path}'`);
  const current = node[key];
  let value: unknown = raw;
  if (typeof current === 'number') {
    value = Number(raw);
    if (!Number.isFinite(value as number)) throw new ConfigError(`${source}: '${path}' must be a number, got '${raw}'`);
  } else if (typeof current === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${source}: '${path}' must be true or false, got '${raw}'`);
    value = raw === 'true';
  } else if (typeof current !== 'string') {
    try {
      value = JSON.parse(raw) as Json;
    } catch {
      throw new ConfigError(`${source}: '${path}' must be JSON, got '${raw}'`);
    }
    mergeChecked(node, { [key]: value }, parts.slice(0, -1).join('.'), source);
    return;
  }
  node[key] = value;
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted paths to string values, e.g. from flags: { 'listeners.tcp.port': '1884' }. */
  overrides?: Record<string, string>;
  /** Already-typed overrides (embedding API). */
  object?: DeepPartial<BrokerConfig>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<infer U> ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/**
 * Environment: MQLOG_PORT, MQLOG_DATA_DIR, MQLOG_NODE_ID, MQLOG_LOG_LEVEL, and any
 * setting as MQLOG__<dotted path with __ for dots>, e.g. MQLOG__mqtt__maxInflight=64.
 */
const ENV_SHORTCUTS: Record<string, string> = {
  MQLOG_PORT: 'listeners.tcp.port',
  MQLOG_DATA_DIR: 'dataDir',
  MQLOG_NODE_ID: 'nodeId',
  MQLOG_LOG_LEVEL: 'logging.level',
};

export function loadConfig(sources: ConfigSources = {}): BrokerConfig {
  const config = defaultConfig();
  if (sources.file) {
    let text: string;
    try {
      text = readFileSync(sources.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file '${sources.file}': ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file '${sources.file}' is not valid JSON: ${(err as Error).message}`);
    }
    if (!isObject(parsed)) throw new ConfigError(`config file '${sources.file}' must hold a JSON object`);
    mergeChecked(config as unknown as Record<string, unknown>, parsed, '', `config file '${sources.file}'`);
  }
  if (sources.object) mergeChecked(config as unknown as Record<string, unknown>, sources.object as Record<string, unknown>, '', 'config');
  const env = sources.env ?? {};
  for (const [name, path] of Object.entries(ENV_SHORTCUTS)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(config, path, v, `environment ${name}`);
  }
  for (const [name, v] of Object.entries(env)) {
    if (!name.startsWith('MQLOG__') || v === undefined) continue;
    setPath(config, name.slice('MQLOG__'.length).split('__').join('.'), v, `environment ${name}`);
  }
  for (const [path, v] of Object.entries(sources.overrides ?? {})) setPath(config, path, v, `option ${path}`);
  validate(config);
  return config;
}

function validate(c: BrokerConfig): void {
  const positive = (v: number, path: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`'${path}' must be a positive integer, got ${v}`);
  };
  const port = (v: number, path: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(`'${path}' must be a port number (0-65535), got ${v}`);
  };
  for (const [name, l] of Object.entries(c.listeners)) port(l.port, `listeners.${name}.port`);
  port(c.api.port, 'api.port');
  const es = c.elasticsearch;
  for (const n of es.nodes) {
    if (typeof n !== 'string' || !/^https?:\/\/[^/]+/.test(n)) throw new ConfigError(`'elasticsearch.nodes' must list http(s) URLs, got ${JSON.stringify(n)}`);
  }
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(es.indexPrefix)) throw new ConfigError(`'elasticsearch.indexPrefix' must be lower-case letters, digits, '_', '.', '-', got '${es.indexPrefix}'`);
  if (!Number.isInteger(es.retentionDays) || es.retentionDays < 0) throw new ConfigError(`'elasticsearch.retentionDays' must be a whole number of days (0 keeps everything)`);
  if (!Number.isInteger(es.replicas) || es.replicas < 0) throw new ConfigError(`'elasticsearch.replicas' must be 0 or more`);
  positive(es.requestTimeoutMs, 'elasticsearch.requestTimeoutMs');
  positive(c.archive.batchSize, 'archive.batchSize');
  if (c.archive.enabled && es.nodes.length === 0) throw new ConfigError(`'archive.enabled' needs 'elasticsearch.nodes' (the Elasticsearch to archive to)`);
  if (!['auto', 'log', 'elasticsearch'].includes(c.history.source)) throw new ConfigError(`'history.source' must be auto, log or elasticsearch`);
  if (c.history.source === 'elasticsearch' && es.nodes.length === 0) throw new ConfigError(`'history.source' elasticsearch needs 'elasticsearch.nodes'`);
  for (const name of ['tls', 'wss'] as const) {
    const l = c.listeners[name];
    if (l.enabled && (!l.keyFile || !l.certFile)) throw new ConfigError(`listeners.${name} is enabled but keyFile and certFile are not both set`);
  }
  positive(c.mqtt.maxPacketSize, 'mqtt.maxPacketSize');
  if (c.mqtt.maxPacketSize > MAX_REMAINING_LENGTH + 5) throw new ConfigError(`'mqtt.maxPacketSize' must be at most ${MAX_REMAINING_LENGTH + 5} (the protocol's largest packet)`);
  positive(c.mqtt.maxPacketSizeBeforeConnect, 'mqtt.maxPacketSizeBeforeConnect');
  positive(c.mqtt.maxTopicLength, 'mqtt.maxTopicLength');
  if (c.mqtt.maxTopicLength > 65_535) throw new ConfigError(`'mqtt.maxTopicLength' must be at most 65535 (the protocol's longest string)`);
  positive(c.mqtt.maxTopicLevels, 'mqtt.maxTopicLevels');
  positive(c.mqtt.maxSubscriptionsPerClient, 'mqtt.maxSubscriptionsPerClient');
  positive(c.mqtt.maxFiltersPerSubscribe, 'mqtt.maxFiltersPerSubscribe');
  positive(c.mqtt.maxRetainedMessages, 'mqtt.maxRetainedMessages');
  positive(c.mqtt.maxRetainedBytes, 'mqtt.maxRetainedBytes');
  if (!Number.isInteger(c.mqtt.sessionExpiryMs) || c.mqtt.sessionExpiryMs < 0) throw new ConfigError(`'mqtt.sessionExpiryMs' must be 0 (never) or a positive number of ms`);
  if (c.mqtt.sessionExpiryMs > 0xfffffffe * 1000) throw new ConfigError(`'mqtt.sessionExpiryMs' is too large (at most ${0xfffffffe * 1000}; 0 is forever)`);
  positive(c.mqtt.maxDeliveryLagMs, 'mqtt.maxDeliveryLagMs');
  positive(c.mqtt.slowSubscriberMs, 'mqtt.slowSubscriberMs');
  if (c.mqtt.slowSubscriberMs <= c.mqtt.maxDeliveryLagMs) throw new ConfigError(`'mqtt.slowSubscriberMs' must be longer than 'mqtt.maxDeliveryLagMs'`);
  positive(c.limits.maxConnections, 'limits.maxConnections');
  positive(c.limits.maxConnectionsPerIp, 'limits.maxConnectionsPerIp');
  positive(c.limits.logIntervalMs, 'limits.logIntervalMs');
  positive(c.mqtt.maxInflight, 'mqtt.maxInflight');
  if (c.mqtt.maxInflight > 65535) throw new ConfigError(`'mqtt.maxInflight' must be at most 65535`);
  positive(c.mqtt.receiveMaximum, 'mqtt.receiveMaximum');
  if (!Number.isInteger(c.mqtt.maxTopicAlias) || c.mqtt.maxTopicAlias < 0 || c.mqtt.maxTopicAlias > 65535) throw new ConfigError(`'mqtt.maxTopicAlias' must be an integer from 0 to 65535`);
  if (!Number.isInteger(c.mqtt.maxKeepalive) || c.mqtt.maxKeepalive < 0 || c.mqtt.maxKeepalive > 65535) throw new ConfigError(`'mqtt.maxKeepalive' must be an integer from 0 to 65535`);
  if (c.mqtt.receiveMaximum > 65535) throw new ConfigError(`'mqtt.receiveMaximum' must be at most 65535`);
  positive(c.mqtt.maxQueuedMessages, 'mqtt.maxQueuedMessages');
  positive(c.mqtt.connectTimeoutMs, 'mqtt.connectTimeoutMs');
  positive(c.mqtt.maxSocketBufferBytes, 'mqtt.maxSocketBufferBytes');
  if (![0, 1, 2].includes(c.mqtt.maxQos)) throw new ConfigError(`'mqtt.maxQos' must be 0, 1 or 2`);
  // Sent in CONNACK and DISCONNECT properties: protocol strings (no U+0000, at most 65,535 bytes; %c adds the client id).
  for (const key of ['responseInformation', 'serverReference'] as const) {
    const v = c.mqtt[key];
    if (v.includes('\u0000') || Buffer.byteLength(v) > 1024) throw new ConfigError(`'mqtt.${key}' must be at most 1024 bytes without U+0000`);
  }
  if (c.cluster.advertisedAddress !== '' && !/^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}$/.test(c.cluster.advertisedAddress)) {
    throw new ConfigError(`'cluster.advertisedAddress' must be host:port (an IPv6 address in brackets), got '${c.cluster.advertisedAddress}'`);
  }
  positive(c.log.messagePartitions, 'log.messagePartitions');
  positive(c.log.sessionPartitions, 'log.sessionPartitions');
  positive(c.log.file.segmentBytes, 'log.file.segmentBytes');
  if (!['os', 'batch', 'interval'].includes(c.log.file.fsync)) throw new ConfigError(`'log.file.fsync' must be os, batch or interval`);
  if (c.log.backend !== 'file' && c.log.backend !== 'kafka') throw new ConfigError(`'log.backend' must be 'file' or 'kafka'`);
  if (c.log.backend === 'kafka') {
    const k = c.log.kafka;
    if (k.brokers.length === 0 || k.brokers.some((b) => typeof b !== 'string' || !/^[^:]+:\d+$/.test(b))) {
      throw new ConfigError(`'log.kafka.brokers' must list host:port entries, got ${JSON.stringify(k.brokers)}`);
    }
    positive(k.replicationFactor, 'log.kafka.replicationFactor');
    positive(k.minInsyncReplicas, 'log.kafka.minInsyncReplicas');
    if (k.minInsyncReplicas > k.replicationFactor) throw new ConfigError(`'log.kafka.minInsyncReplicas' cannot exceed 'log.kafka.replicationFactor'`);
    positive(k.maxBufferedBytes, 'log.kafka.maxBufferedBytes');
    if (!['', 'plain', 'scram-sha-256', 'scram-sha-512'].includes(k.sasl.mechanism)) throw new ConfigError(`'log.kafka.sasl.mechanism' must be plain, scram-sha-256 or scram-sha-512`);
  }
  positive(c.snapshots.everyEvents, 'snapshots.everyEvents');
  positive(c.cluster.heartbeatIntervalMs, 'cluster.heartbeatIntervalMs');
  positive(c.cluster.nodeTimeoutMs, 'cluster.nodeTimeoutMs');
  if (c.cluster.nodeTimeoutMs < 2 * c.cluster.heartbeatIntervalMs) throw new ConfigError(`'cluster.nodeTimeoutMs' must be at least twice 'cluster.heartbeatIntervalMs'`);
  positive(c.snapshots.intervalMs, 'snapshots.intervalMs');
  if (typeof c.sys.enabled !== 'boolean') throw new ConfigError('sys.enabled must be true or false');
  if (!Number.isInteger(c.sys.intervalMs) || c.sys.intervalMs < 100) throw new ConfigError('sys.intervalMs must be an integer of at least 100 (ms)');
  for (const [i, r] of c.acl.rules.entries()) {
    try {
      validateAclRule(r, `acl.rules[${i}]`);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (!['allow', 'deny'].includes(c.acl.default)) throw new ConfigError(`'acl.default' must be allow or deny`);
  if (!['ignore', 'disconnect'].includes(c.acl.denyAction)) throw new ConfigError(`'acl.denyAction' must be ignore or disconnect`);
  if (!['auto', 'allow', 'deny'].includes(c.auth.default)) throw new ConfigError(`'auth.default' must be auto, allow or deny`);
  if (!['deny', 'ignore'].includes(c.auth.onConnectorError)) throw new ConfigError(`'auth.onConnectorError' must be deny or ignore`);
  positive(c.auth.timeoutMs, 'auth.timeoutMs');
  positive(c.auth.audit.maxFieldLength, 'auth.audit.maxFieldLength');
  positive(c.auth.audit.refusedLoginsPerIp, 'auth.audit.refusedLoginsPerIp');
  positive(c.auth.audit.windowMs, 'auth.audit.windowMs');
  positive(c.acl.cacheMaxEntries, 'acl.cacheMaxEntries');
  positive(c.api.replay.maxConcurrent, 'api.replay.maxConcurrent');
  positive(c.api.replay.maxRecords, 'api.replay.maxRecords');
  positive(c.api.rateLimit.maxFailuresPerIp, 'api.rateLimit.maxFailuresPerIp');
  positive(c.api.rateLimit.windowMs, 'api.rateLimit.windowMs');
  positive(c.api.rateLimit.lockoutMs, 'api.rateLimit.lockoutMs');
  for (const [name, list] of [['auth.addresses.allow', c.auth.addresses.allow], ['auth.addresses.deny', c.auth.addresses.deny]] as const) {
    for (const a of list) {
      try {
        parseRange(a);
      } catch (err) {
        throw new ConfigError(`'${name}': ${(err as Error).message}`);
      }
    }
  }
  for (const [i, k] of [...c.auth.connectors, ...c.acl.connectors].entries()) {
    if (typeof k !== 'object' || k === null || typeof k.type !== 'string') throw new ConfigError(`connector ${i} must be an object with a "type"`);
  }
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(c.logging.level)) {
    throw new ConfigError(`'logging.level' must be one of trace, debug, info, warn, error, fatal, silent`);
  }
}
