/** Message history answered from the Kafka log (no Elasticsearch): the same queries, three message partitions, two nodes. */
import { apiBase } from '../helpers/api';
import { TestBroker } from '../helpers/broker';
import { startKafkaNode, uniquePrefix } from '../helpers/cluster';
import { kafkaBrokers } from '../helpers/kafka';
import { describeHistoryQueries } from './historyQueries';

jest.setTimeout(120_000);
let a: TestBroker;
let b: TestBroker;

describeHistoryQueries(
  'Kafka log',
  async () => {
    const brokers = await kafkaBrokers();
    const prefix = uniquePrefix('history');
    a = await startKafkaNode(brokers, prefix, 'history-a');
    b = await startKafkaNode(brokers, prefix, 'history-b');
    // Published on node B, asked on node A: history is the cluster's, not one node's.
    return { apiUrl: apiBase(a.ports.api), mqttUrl: b.url, settle: async () => undefined, source: 'log' };
  },
  async () => {
    for (const n of [a, b]) {
      await n?.stop();
      n?.cleanup();
    }
  },
);
