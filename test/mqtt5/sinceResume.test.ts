/**
 * A subscription that starts in the past (`since`) in a persistent session
 * whose connection ends before the feed caught up: when the session resumes,
 * the feed continues from where it was (what it had queued but not sent comes
 * again, what was in flight is resent with DUP [MQTT-4.4.0-1]), then the live
 * flow, with nothing missing and nothing new twice — also across a restart.
 */
import mqttPacket, { IPublishPacket } from 'mqtt-packet';
import mqtt from 'mqtt';
import { startBroker, TestBroker } from '../helpers/broker';
import { RawClient, waitFor } from '../helpers/rawClient';

jest.setTimeout(60_000);

let b: TestBroker | null = null;
afterEach(async () => {
  await b?.stop();
  b?.cleanup();
  b = null;
});

async function persistent(port: number, clientId: string, receiveMaximum: number): Promise<RawClient> {
  const r = await RawClient.connect(port, '127.0.0.1', 5);
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 0, clientId, properties: { sessionExpiryInterval: 600, receiveMaximum } } as never);
  await r.nextCmd('connack');
  return r;
}

const publishes = (r: RawClient) => r.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');

/** Acknowledges everything `r` got so far, returning the payloads in arrival order. */
function ackAll(r: RawClient, from = 0): string[] {
  const ps = publishes(r).slice(from);
  for (const p of ps) r.send({ cmd: 'puback', messageId: p.messageId } as never);
  return ps.map((p) => p.payload.toString());
}

test.each([false, true])('a `since` feed cut short by a disconnect continues when the session resumes (across a restart: %s)', async (restart) => {
  b = await startBroker({ mqtt: { maxQueuedMessages: 40 } });
  const pub = await mqtt.connectAsync({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'sr-pub', protocolVersion: 5, reconnectPeriod: 0 });
  const N = 300;
  for (let i = 0; i < N; i++) await pub.publishAsync('sr/t', String(i), { qos: 1 });
  // A window of 5: the feed can put at most half the queue ahead of the client, so it cannot catch up unacknowledged.
  const first = await persistent(b.ports.tcp!, 'sr-sub', 5);
  first.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sr/t', qos: 1 }], properties: { userProperties: { since: '1h' } } } as never, { protocolVersion: 5 }));
  await first.nextCmd('suback');
  await waitFor(() => publishes(first).length === 5, 'the window full');
  // Take 30 (acknowledged), then go away holding 5 in flight.
  const took: string[] = [];
  while (took.length < 30) {
    took.push(...ackAll(first, took.length));
    await waitFor(() => publishes(first).length >= Math.min(took.length + 5, N), 'more');
  }
  const inflight = publishes(first).slice(took.length).map((p) => p.payload.toString());
  first.destroy();
  await waitFor(() => b!.node.sessions.state.get('sr-sub')?.connected === false, 'the session offline');
  // Live messages while it is away.
  for (let i = N; i < N + 20; i++) await pub.publishAsync('sr/t', String(i), { qos: 1 });
  await pub.endAsync();
  if (restart) {
    const dataDir = b.dataDir;
    await b.stop();
    b = await startBroker({ mqtt: { maxQueuedMessages: 40 } }, { dataDir });
  }
  const back = await persistent(b.ports.tcp!, 'sr-sub', 65535);
  const got: IPublishPacket[] = [];
  await waitFor(() => {
    for (const p of publishes(back).slice(got.length)) {
      got.push(p);
      back.send({ cmd: 'puback', messageId: p.messageId } as never);
    }
    return new Set([...took, ...got.map((p) => p.payload.toString())]).size >= N + 20;
  }, 'the rest of the past and the live messages', 20_000);
  // A sentinel on the live flow: nothing else is coming.
  const late = await mqtt.connectAsync({ host: '127.0.0.1', port: b.ports.tcp, clientId: 'sr-pub2', protocolVersion: 5, reconnectPeriod: 0 });
  await late.publishAsync('sr/t', 'sentinel', { qos: 1 });
  await waitFor(() => publishes(back).some((p) => p.payload.toString() === 'sentinel'), 'the sentinel');
  await late.endAsync();
  const again = publishes(back).map((p) => p.payload.toString()).filter((p) => p !== 'sentinel');
  // The ones in flight come again first, with DUP; then each message exactly once, in order.
  expect(publishes(back).slice(0, inflight.length).map((p) => [p.payload.toString(), p.dup])).toEqual(inflight.map((p) => [p, true]));
  const all = [...took, ...again];
  expect(all).toEqual(Array.from({ length: N + 20 }, (_, i) => String(i)));
  back.destroy();
});
