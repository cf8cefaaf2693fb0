export { RedisConnector } from './RedisConnector';
export { DEFAULT_ACL_KEYS, DEFAULT_REDIS_POOL_SIZE, DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_USER_KEY } from './redisConfig';
export type { RedisConnectorConfig } from './redisConfig';
