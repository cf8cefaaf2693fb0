/**
 * Replays on the Kafka log, across two stateless nodes: the replay runs on
 * node A, subscribers sit on node B, publishers on A.
 */
import { apiBase } from '../helpers/api';
import { TestBroker } from '../helpers/broker';
import { startKafkaNode, uniquePrefix } from '../helpers/cluster';
import { kafkaBrokers } from '../helpers/kafka';
import { describeReplay } from './replayScenarios';

jest.setTimeout(180_000);
let a: TestBroker;
let b: TestBroker;

describeReplay(
  'Kafka log, two nodes',
  async () => {
    const brokers = await kafkaBrokers();
    const prefix = uniquePrefix('replay');
    a = await startKafkaNode(brokers, prefix, 'replay-a');
    b = await startKafkaNode(brokers, prefix, 'replay-b');
    return { replayApi: apiBase(a.ports.api), publishUrl: a.url, deliveryUrl: b.url };
  },
  async () => {
    for (const n of [a, b]) {
      await n?.stop();
      n?.cleanup();
    }
  },
);
