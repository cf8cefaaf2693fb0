import { EventLog } from '../../src/log/EventLog';
import { KafkaEventLog } from '../../src/log/kafka/KafkaEventLog';
import { kafkaBrokers } from '../helpers/kafka';
import { describeEventLogContract } from './eventLog.contract';

jest.setTimeout(60_000);

let brokers: string[];
let current: KafkaEventLog | null = null;

beforeAll(async () => {
  brokers = await kafkaBrokers();
});

function make(): EventLog {
  current = new KafkaEventLog({ brokers, clientId: 'contract', replicationFactor: 1, minInsyncReplicas: 1, startupTimeoutMs: 30_000 });
  return current;
}

// Each test opens streams with fresh random names, so reopening means a new client on the same topics.
describeEventLogContract('KafkaEventLog', {
  async create() {
    return make();
  },
  async reopen() {
    return make();
  },
  async destroy() {},
});
