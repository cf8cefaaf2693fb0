/**
 * The names of the limits the broker enforces, as they appear in the
 * configuration, the metrics (`mqlog_limit_hits_total{limit=...}`) and the log.
 * docs/configuration.md gives each one's default and what happens at limit + 1.
 */
export const LIMIT_NAMES = [
  'mqtt.maxPacketSize',
  'mqtt.maxPacketSizeBeforeConnect',
  'mqtt.maxTopicLength',
  'mqtt.maxTopicLevels',
  'mqtt.maxSubscriptionsPerClient',
  'mqtt.maxFiltersPerSubscribe',
  'mqtt.maxRetainedMessages',
  'mqtt.maxRetainedBytes',
  'mqtt.maxQueuedMessages',
  'mqtt.maxClientIdLength',
  'mqtt.connectTimeoutMs',
  'mqtt.sessionExpiryMs',
  'limits.maxConnections',
  'limits.maxConnectionsPerIp',
  'auth.audit.refusedLoginsPerIp',
  'auth.rateLimit',
  'api.replay.maxConcurrent',
  'api.replay.maxRecords',
  'api.rateLimit',
  'shared.maxGroupsPerMessage',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];
