/**
 * The usual integration-suite setup: one broker for the file, mqtt.js clients
 * closed after each test, and a collector of received messages.
 */
import mqtt, { MqttClient } from 'mqtt';
import { BrokerConfig, DeepPartial } from '../../src/config';
import { startBroker, TestBroker } from './broker';

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

export interface BrokerSuite {
  /** The suite's broker (set in beforeAll). */
  readonly broker: TestBroker;
  /** An mqtt.js client on the broker, ended after the test. */
  client(clientId: string, opts?: mqtt.IClientOptions): Promise<MqttClient>;
  /** Forgets a client the test ended itself. */
  release(c: MqttClient): void;
}

export function brokerSuite(overrides: DeepPartial<BrokerConfig> = {}): BrokerSuite {
  let broker: TestBroker | null = null;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    broker = await startBroker(overrides);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  afterAll(async () => {
    await broker?.stop();
    broker?.cleanup();
  });
  return {
    get broker() {
      if (!broker) throw new Error('broker not started yet');
      return broker;
    },
    async client(clientId, opts = {}) {
      const c = await mqtt.connectAsync(broker!.url, { clientId, reconnectPeriod: 0, ...opts });
      clients.push(c);
      return c;
    },
    release(c) {
      const i = clients.indexOf(c);
      if (i >= 0) clients.splice(i, 1);
    },
  };
}

export function collect(c: MqttClient): Received[] {
  const got: Received[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
  return got;
}
