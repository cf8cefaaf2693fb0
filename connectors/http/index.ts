export { HttpConnector } from './HttpConnector';
export { AuthCache } from './AuthCache';
export {
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_HTTP_POOL_SIZE,
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
} from './httpConfig';
export type { HttpConnectorConfig } from './httpConfig';
