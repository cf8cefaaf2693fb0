/** Replays on the embedded file log. */
import { apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { describeReplay } from './replayScenarios';

jest.setTimeout(120_000);
let broker: TestBroker;

describeReplay(
  'embedded file log',
  async () => {
    broker = await startBroker();
    return { replayApi: apiBase(broker.ports.api), publishUrl: broker.url, deliveryUrl: broker.url };
  },
  async () => {
    await broker.stop();
    broker.cleanup();
  },
);
