/**
 * The Elasticsearch the tests run against: MQLOG_ELASTICSEARCH_URL when set (an
 * existing node), otherwise a single node started on demand by
 * scripts/elasticsearch (Elastic's integ-test-zip from Maven Central), shared by
 * every test file of the run and stopped by the global teardown when this run
 * started it. Never a mock.
 */
import { join } from 'path';
import type * as ElasticsearchLib from '../../scripts/elasticsearch/lib.cjs';

/* eslint-disable @typescript-eslint/no-var-requires */
const lib = require(join(__dirname, '..', '..', 'scripts', 'elasticsearch', 'lib.cjs')) as typeof ElasticsearchLib;

export const elasticsearchLib = lib;

/**
 * Directory and ports of the shared test node (see test/setup/services.js).
 * They stay below the kernel's ephemeral range (32768+), where any outgoing
 * connection could be holding them, and clear of the Kafka and LDAP test ports.
 */
export const SHARED_ELASTICSEARCH = (require('../setup/services') as { SHARED_ELASTICSEARCH: { dir: string; port: number; transportPort: number } })
  .SHARED_ELASTICSEARCH;

/** Base URL (no trailing slash) of the Elasticsearch to use, e.g. "http://127.0.0.1:31920". */
export async function elasticsearchUrl(): Promise<string> {
  const fromEnv = process.env.MQLOG_ELASTICSEARCH_URL;
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  const { url } = await lib.startElasticsearch({
    dir: SHARED_ELASTICSEARCH.dir,
    port: SHARED_ELASTICSEARCH.port,
    transportPort: SHARED_ELASTICSEARCH.transportPort,
    quiet: true,
  });
  return url;
}
