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
}

async function teardown() {
  if (process.env.MQLOG_KAFKA_BROKERS || globalThis.__MQLOG_KAFKA_WAS_RUNNING__) return;
  const status = await kafka.kafkaStatus({ dir: SHARED_KAFKA_DIR });
  if (status.brokers.length > 0) await kafka.stopKafka({ dir: SHARED_KAFKA_DIR, rm: true });
}

module.exports = { setup, teardown, SHARED_KAFKA_DIR };
