/**
 * `$SYS` topics with Mosquitto's names, retained, every sys.intervalMs; also
 * under `$SYS/brokers/<node>/` (EMQX's per-node form); readable only as the
 * access rules allow (acl.sysReadableByAll, superusers).
 */
import mqtt, { MqttClient } from 'mqtt';
import { startBroker, TestBroker } from '../helpers/broker';

jest.setTimeout(30_000);

const NAMES = [
  'version',
  'uptime',
  'clients/connected',
  'clients/disconnected',
  'clients/total',
  'clients/maximum',
  'messages/received',
  'messages/sent',
  'messages/stored',
  'publish/messages/received',
  'publish/messages/sent',
  'publish/messages/dropped',
  'bytes/received',
  'bytes/sent',
  'subscriptions/count',
  'retained messages/count',
  ...['messages/received', 'messages/sent', 'bytes/received', 'bytes/sent', 'publish/received', 'publish/sent', 'connections'].flatMap((n) => ['1min', '5min', '15min'].map((w) => `load/${n}/${w}`)),
];

function connect(b: TestBroker, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error('condition not met');
}

test('every $SYS/broker/ figure of Mosquitto is published, retained, with this node also under $SYS/brokers/<node>/', async () => {
  const b = await startBroker({ sys: { intervalMs: 100 }, acl: { sysReadableByAll: true } });
  try {
    const c = await connect(b, 'sys-reader');
    const got = new Map<string, string>();
    c.on('message', (t, p) => got.set(t, p.toString()));
    await c.subscribeAsync('$SYS/#');
    await waitFor(() => NAMES.every((n) => got.has(`$SYS/broker/${n}`) && got.has(`$SYS/brokers/${b.node.nodeId}/${n}`)));
    expect(got.get('$SYS/broker/version')).toMatch(/^mqlog version \d+\.\d+\.\d+/);
    expect(got.get('$SYS/broker/uptime')).toMatch(/^\d+ seconds$/);
    await waitFor(() => got.get('$SYS/broker/clients/connected') === '1');
    expect(Number(got.get('$SYS/broker/subscriptions/count'))).toBe(1);
    for (const n of NAMES.filter((x) => x.startsWith('load/'))) expect(got.get(`$SYS/broker/${n}`)).toMatch(/^\d+\.\d\d$/);
    // Retained: a later subscriber gets them at once.
    const late = await connect(b, 'sys-late');
    const retained: boolean[] = [];
    late.on('message', (_t, _p, packet) => retained.push(packet.retain));
    await late.subscribeAsync('$SYS/broker/uptime');
    await waitFor(() => retained.length > 0);
    expect(retained[0]).toBe(true);
    c.end(true);
    late.end(true);
  } finally {
    await b.stop();
    b.cleanup();
  }
});

test('without acl.sysReadableByAll a client reads no $SYS topic (proven with a sentinel after a $SYS interval has passed)', async () => {
  const b = await startBroker({ sys: { intervalMs: 100 } });
  try {
    await waitFor(() => b.node.retained.get('$SYS/broker/uptime') !== undefined);
    const c = await connect(b, 'sys-denied');
    const got: string[] = [];
    c.on('message', (t) => got.push(t));
    // The subscription itself is refused (SUBACK 0x80, mqtt.js reports it as an error) ...
    await new Promise<void>((resolve) => c.subscribe(['$SYS/#', 'sentinel/sys'], { qos: 0 }, () => resolve()));
    // ... and nothing arrives: two more intervals, then the sentinel; anything readable would have come first.
    const seen = b.node.stats.messagesReceived;
    await new Promise((r) => setTimeout(r, 250));
    await c.publishAsync('sentinel/sys', 'end', { qos: 1 });
    await waitFor(() => got.includes('sentinel/sys'));
    expect(got).toEqual(['sentinel/sys']);
    expect(b.node.stats.messagesReceived).toBeGreaterThan(seen);
    c.end(true);
  } finally {
    await b.stop();
    b.cleanup();
  }
});

test('sys.enabled false publishes nothing under $SYS; sys.intervalMs is validated', async () => {
  const b = await startBroker({ sys: { enabled: false, intervalMs: 100 } });
  try {
    await new Promise((r) => setTimeout(r, 300));
    expect([...b.node.retained.keys()].filter((t) => t.startsWith('$SYS'))).toEqual([]);
  } finally {
    await b.stop();
    b.cleanup();
  }
  await expect(startBroker({ sys: { intervalMs: 5 } })).rejects.toThrow(/sys.intervalMs/);
});
