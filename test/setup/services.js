// Global setup and teardown for jest: services the suites start on demand
// (scripts/kafka/lib.cjs for Kafka, scripts/ldap for LDAP,
// scripts/elasticsearch for Elasticsearch) are stopped after the run when this
// run started them; ones that were already running are left as they were.
const { join } = require('path');
const { tmpdir } = require('os');

const kafka = require(join(__dirname, '..', '..', 'scripts', 'kafka', 'lib.cjs'));
const SHARED_KAFKA_DIR = join(tmpdir(), 'mqlog-test-kafka-1');

async function setup() {
  const status = await kafka.kafkaStatus({ dir: SHARED_KAFKA_DIR });
  globalThis.__MQLOG_KAFKA_WAS_RUNNING__ = status.running;
  await ldapSetup();
  await elasticsearchSetup();
}

async function teardown() {
  await ldapTeardown();
  await elasticsearchTeardown();
  if (process.env.MQLOG_KAFKA_BROKERS || globalThis.__MQLOG_KAFKA_WAS_RUNNING__) return;
  const status = await kafka.kafkaStatus({ dir: SHARED_KAFKA_DIR });
  if (status.brokers.length > 0) await kafka.stopKafka({ dir: SHARED_KAFKA_DIR, rm: true });
}

// --- LDAP: the shared test slapd (scripts/ldap/lib.cjs), started on demand by
// test/connectors/ldap*.test.ts on ports outside the ephemeral range.
const ldap = require(join(__dirname, '..', '..', 'scripts', 'ldap', 'lib.cjs'));
const SHARED_LDAP = { dir: join(tmpdir(), 'mqlog-test-ldap'), port: 30389, tlsPort: 30636 };

async function ldapSetup() {
  globalThis.__MQLOG_LDAP_WAS_RUNNING__ = (await ldap.ldapStatus({ dir: SHARED_LDAP.dir })).alive;
}

async function ldapTeardown() {
  if (globalThis.__MQLOG_LDAP_WAS_RUNNING__) return;
  if ((await ldap.ldapStatus({ dir: SHARED_LDAP.dir })).alive) await ldap.stopLdap({ dir: SHARED_LDAP.dir, rm: true, quiet: true });
}

// --- Elasticsearch: the shared test node (scripts/elasticsearch/lib.cjs), started
// on demand by test/helpers/elasticsearch.ts on ports outside the ephemeral range.
const elasticsearch = require(join(__dirname, '..', '..', 'scripts', 'elasticsearch', 'lib.cjs'));
const SHARED_ELASTICSEARCH = { dir: join(tmpdir(), 'mqlog-test-es'), port: 31920, transportPort: 31930 };

async function elasticsearchSetup() {
  globalThis.__MQLOG_ELASTICSEARCH_WAS_RUNNING__ = (await elasticsearch.elasticsearchStatus({ dir: SHARED_ELASTICSEARCH.dir })).alive;
}

async function elasticsearchTeardown() {
  if (process.env.MQLOG_ELASTICSEARCH_URL || globalThis.__MQLOG_ELASTICSEARCH_WAS_RUNNING__) return;
  const status = await elasticsearch.elasticsearchStatus({ dir: SHARED_ELASTICSEARCH.dir });
  if (status.port) await elasticsearch.stopElasticsearch({ dir: SHARED_ELASTICSEARCH.dir, rm: true, quiet: true });
}

module.exports = { setup, teardown, SHARED_KAFKA_DIR, SHARED_LDAP, SHARED_ELASTICSEARCH };
