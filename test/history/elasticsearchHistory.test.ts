/**
 * Message history answered from the Elasticsearch archive (a real node), fed
 * by the archiver running inside a broker on the embedded log: the same
 * queries as on the log.
 */
import { Client } from '@elastic/elasticsearch';
import { randomBytes } from 'crypto';
import { apiBase, api } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { elasticsearchUrl } from '../helpers/elasticsearch';
import { sleep } from '../helpers/rawClient';
import { describeHistoryQueries } from './historyQueries';

jest.setTimeout(180_000);

let broker: TestBroker;
let es: Client;

describeHistoryQueries(
  'Elasticsearch archive',
  async () => {
    const url = await elasticsearchUrl();
    const indexPrefix = `t-hist-${randomBytes(3).toString('hex')}`;
    es = new Client({ node: url });
    broker = await startBroker({ elasticsearch: { nodes: [url], indexPrefix, replicas: 0 }, archive: { enabled: true } });
    const apiUrl = apiBase(broker.ports.api);
    return {
      apiUrl,
      mqttUrl: broker.url,
      source: 'elasticsearch',
      settle: async () => {
        // Archived (lag 0), then refreshed so a search sees it.
        const deadline = Date.now() + 60_000;
        for (;;) {
          const r = await api<{ lag: number; running: boolean }>(apiUrl, 'GET', '/api/v1/archiver');
          if (r.body.running && r.body.lag === 0) break;
          if (Date.now() > deadline) throw new Error(`archiver did not catch up: ${JSON.stringify(r.body)}`);
          await sleep(200);
        }
        await es.indices.refresh({ index: `${indexPrefix}-*` });
      },
    };
  },
  async () => {
    await broker.stop();
    broker.cleanup();
    await es.close();
  },
);
