// Global setup and teardown for jest: services the suites start on demand
// (scripts/kafka/lib.cjs for Kafka) are stopped after the run when this run
// started them; ones that were already running are left as they were.
const { join } = require('path');
const { tmpdir } = require('os');

const kafka = require(join(__dirname, '..', '..', 'scripts', 'kafka', 'lib.cjs'));
const SHARED_KAFKA_DIR = join(tmpdir(), 'mqlog-test-kafka-1');

async function setup() {
  const status = await kafka.kafkaStatus({ dir: SHARED_KAFKA_DIR });
  globalThis.__MQLOG_KAFKA_WAS_RUNNING__ = status.running;
  await ldapSetup();
}

async function teardown() {
  await ldapTeardown();
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

module.exports = { setup, teardown, SHARED_KAFKA_DIR, SHARED_LDAP };
