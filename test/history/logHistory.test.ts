/** Message history answered from the embedded file log's time index (no Elasticsearch). */
import { apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { describeHistoryQueries } from './historyQueries';

let broker: TestBroker;

describeHistoryQueries(
  'embedded file log',
  async () => {
    broker = await startBroker();
    return { apiUrl: apiBase(broker.ports.api), mqttUrl: broker.url, settle: async () => undefined, source: 'log' };
  },
  async () => {
    await broker.stop();
    broker.cleanup();
  },
);
