/**
 * The Kafka the tests run against: MQLOG_KAFKA_BROKERS when set (an existing
 * cluster), otherwise a single KRaft broker started on demand by
 * scripts/kafka (real Kafka jars from Maven Central), shared by every test file
 * of the run and stopped by the global teardown. Never a mock.
 */
import { join } from 'path';

/* eslint-disable @typescript-eslint/no-var-requires */
const lib = require(join(__dirname, '..', '..', 'scripts', 'kafka', 'lib.cjs')) as KafkaLib;

export interface KafkaLib {
  startKafka(o: { brokers?: number; dir?: string; port?: number; version?: string; quiet?: boolean }): Promise<{ bootstrap: string; brokers: Array<{ id: number; pid: number; port: number }> }>;
  stopKafka(o: { dir?: string; brokers?: number; rm?: boolean }): Promise<void>;
  killBroker(o: { dir?: string; broker: number; brokers?: number }): Promise<void>;
  restartBroker(o: { dir?: string; broker: number; brokers?: number }): Promise<unknown>;
  findFreePortBase(brokers: number, range: { min: number; max: number }): Promise<number>;
}

export const kafkaLib = lib;

/**
 * Directory and port of the shared single-broker test cluster (see
 * test/setup/services.js). Test Kafka ports stay below the kernel's ephemeral
 * range (32768+), where any outgoing connection could be holding them.
 */
export const SHARED_KAFKA = { dir: (require('../setup/services') as { SHARED_KAFKA_DIR: string }).SHARED_KAFKA_DIR, port: 31092 };

export async function kafkaBrokers(): Promise<string[]> {
  const fromEnv = process.env.MQLOG_KAFKA_BROKERS;
  if (fromEnv) return fromEnv.split(',');
  const { bootstrap } = await lib.startKafka({ brokers: 1, dir: SHARED_KAFKA.dir, port: SHARED_KAFKA.port, quiet: true });
  return bootstrap.split(',');
}
