import { readFileSync } from 'fs';
import { request } from 'http';
import mqtt, { MqttClient } from 'mqtt';
import { join } from 'path';
import { WebSocket } from 'ws';
import { startBroker, TestBroker } from '../helpers/broker';
import { waitFor } from '../helpers/rawClient';

const tlsDir = join(__dirname, '..', 'fixtures', 'tls');
const ca = readFileSync(join(tlsDir, 'ca.pem'));
const files = { keyFile: join(tlsDir, 'server.key'), certFile: join(tlsDir, 'server.pem') };

let broker: TestBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  broker = await startBroker({
    listeners: {
      tcp: { enabled: true, host: '127.0.0.1', port: 0 },
      tls: { enabled: true, host: '127.0.0.1', port: 0, ...files },
      ws: { enabled: true, host: '127.0.0.1', port: 0, path: '/mqtt' },
      wss: { enabled: true, host: '127.0.0.1', port: 0, path: '/mqtt', ...files },
    },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

afterAll(async () => {
  await broker.stop();
  broker.cleanup();
});

function urls(): Record<string, string> {
  const p = broker.ports;
  return {
    tcp: `mqtt://127.0.0.1:${p.tcp}`,
    tls: `mqtts://localhost:${p.tls}`,
    ws: `ws://127.0.0.1:${p.ws}/mqtt`,
    wss: `wss://localhost:${p.wss}/mqtt`,
  };
}

async function client(url: string, clientId: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId, ca, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(c);
  return c;
}

describe('transports', () => {
  test('every listener is up on its own port', () => {
    const p = broker.ports;
    expect(new Set([p.tcp, p.tls, p.ws, p.wss]).size).toBe(4);
  });

  test.each(['tcp', 'tls', 'ws', 'wss'])('%s: publish and subscribe at QoS 1 and 2, across transports', async (kind) => {
    const u = urls();
    const sub = await client(u[kind], `sub-${kind}`);
    const got: string[] = [];
    sub.on('message', (t, payload) => got.push(`${t}=${payload.toString()}`));
    await sub.subscribeAsync(`tr/${kind}/#`, { qos: 2 });
    // Every other transport publishes to this subscriber.
    for (const from of ['tcp', 'tls', 'ws', 'wss']) {
      const pub = await client(u[from], `pub-${from}-to-${kind}`);
      await pub.publishAsync(`tr/${kind}/${from}`, from, { qos: from === 'tls' || from === 'wss' ? 2 : 1 });
    }
    await waitFor(() => got.length === 4, `four messages over ${kind}`);
    expect(got.sort()).toEqual(['tcp', 'tls', 'ws', 'wss'].map((f) => `tr/${kind}/${f}=${f}`).sort());
  });

  test('WebSocket negotiates the mqtt subprotocol', async () => {
    const ws = new WebSocket(urls().ws, ['mqtt']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe('mqtt');
    ws.close();
  });

  test('WebSocket on another path is refused', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: broker.ports.ws, path: '/elsewhere', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => resolve(101));
      req.on('error', reject);
      req.end();
    });
    expect(status).not.toBe(101);
  });

  test('a TLS client that does not trust the server certificate cannot connect', async () => {
    await expect(mqtt.connectAsync(urls().tls, { clientId: 'untrusting', reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow();
  });
});

describe('MQTT 5 on every transport', () => {
  test.each(['tcp', 'tls', 'ws', 'wss'])('%s: a v5 client publishes with properties to a v5 subscriber on every other transport', async (kind) => {
    const u = urls();
    const v5 = async (url: string, clientId: string) => {
      const c = await mqtt.connectAsync(url, { clientId, ca, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 });
      clients.push(c);
      return c;
    };
    const subs = await Promise.all(['tcp', 'tls', 'ws', 'wss'].map((k) => v5(u[k], `v5-sub-${kind}-${k}`)));
    const got: string[] = [];
    for (const s of subs) {
      s.on('message', (_t, p, packet) => got.push(`${p}|${JSON.stringify(packet.properties?.userProperties)}`));
      await s.subscribeAsync(`v5t/${kind}`, { qos: 1 });
    }
    const pub = await v5(u[kind], `v5-pub-${kind}`);
    await pub.publishAsync(`v5t/${kind}`, 'over all', { qos: 1, properties: { userProperties: { via: kind } } });
    await waitFor(() => got.length === 4, 'a delivery on each transport');
    expect(got).toEqual(Array(4).fill(`over all|{"via":"${kind}"}`));
  });
});
