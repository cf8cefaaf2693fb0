/**
 * MQTT 5 Server Reference over real sockets: a full node names another server
 * (mqtt.serverReference, CONNACK 0x9C), and a node that stops sends its v5
 * clients to another live node of the cluster that advertises an address
 * (cluster.advertisedAddress, DISCONNECT 0x9C), or says it is shutting down
 * (0x8B) when there is none. On the embedded file log a node's own heartbeat is
 * the only one; the other node of the cluster case is a heartbeat appended to
 * the node stream, as a second node sharing the log would append it.
 */
import { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import { NodeHeartbeat } from '../../src/events/types';
import { api, apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { RawClient } from '../helpers/rawClient';

jest.setTimeout(30_000);

async function connect5(port: number, clientId: string): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await RawClient.connect(port, '127.0.0.1', 5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId, properties: {} } as never);
  return { c, connack: await c.nextCmd<IConnackPacket>('connack') };
}

async function withBroker(config: Parameters<typeof startBroker>[0], run: (b: TestBroker) => Promise<void>): Promise<void> {
  const b = await startBroker(config);
  try {
    await run(b);
  } finally {
    await b.stop();
    b.cleanup();
  }
}

test('a full node (limits.maxConnections) with mqtt.serverReference answers CONNECT with 0x9C naming it; 3.1.1 clients get CONNACK 3', async () => {
  await withBroker({ limits: { maxConnections: 1 }, mqtt: { serverReference: 'spare.example:18883', connectTimeoutMs: 300 } }, async (b) => {
    const { c: first, connack } = await connect5(b.ports.tcp!, 'sr-first');
    expect(connack.reasonCode).toBe(0);
    const { c: second, connack: refused } = await connect5(b.ports.tcp!, 'sr-second');
    expect(refused.reasonCode).toBe(0x9c);
    expect(refused.properties?.serverReference).toBe('spare.example:18883');
    expect(await second.waitClosed()).toBe(true);
    const old = await RawClient.connect(b.ports.tcp!);
    expect((await old.handshake('sr-v3')).returnCode).toBe(3);
    expect(await old.waitClosed()).toBe(true);
    // One that never sends its CONNECT is closed after mqtt.connectTimeoutMs, as any.
    const silent = await RawClient.connect(b.ports.tcp!);
    expect(await silent.waitClosed(5000)).toBe(true);
    // The node still holds its one client, and the redirected ones never counted.
    first.send(Buffer.from([0xc0, 0x00]));
    await first.nextCmd('pingresp');
    expect(b.node.connectionCount).toBe(1);
    first.destroy();
  });
});

test('without mqtt.serverReference a full node closes new sockets unread, as before', async () => {
  await withBroker({ limits: { maxConnections: 1 } }, async (b) => {
    const { c: first } = await connect5(b.ports.tcp!, 'full-first');
    const second = await RawClient.connect(b.ports.tcp!, '127.0.0.1', 5);
    second.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'full-second', properties: {} } as never);
    expect(await second.waitClosed()).toBe(true);
    expect(second.packets).toEqual([]);
    first.destroy();
  });
});

test('a node that stops with no other live node advertising an address: v5 clients get DISCONNECT 0x8B (its own heartbeat does not count)', async () => {
  const b = await startBroker({ cluster: { advertisedAddress: '127.0.0.1:18830' } });
  try {
    const { c } = await connect5(b.ports.tcp!, 'stop-alone');
    await b.stop();
    const d = await c.next<IDisconnectPacket>((p) => p.cmd === 'disconnect');
    expect(d.reasonCode).toBe(0x8b);
    expect(d.properties?.serverReference).toBeUndefined();
  } finally {
    await b.stop();
    b.cleanup();
  }
});

test('a node that stops while another live node advertises an address: v5 clients get DISCONNECT 0x9C with that Server Reference; 3.1.1 clients are closed', async () => {
  const b = await startBroker({ cluster: { advertisedAddress: '127.0.0.1:18830' } });
  try {
    const other: NodeHeartbeat = { type: 'node.heartbeat', nodeId: 'other-node', startedAt: Date.now(), timestamp: Date.now(), version: '0.1.0', health: 'healthy', advertisedAddress: 'other.example:18883' };
    await b.node.appender.append([other]);
    // Folded from the node stream like any heartbeat: the API lists it with its address.
    const listed = async () => (await api<{ nodes: Array<{ nodeId: string; advertisedAddress: string | null }> }>(apiBase(b.ports.api), 'GET', '/api/v1/nodes')).body.nodes.map((n) => [n.nodeId, n.advertisedAddress]);
    for (let i = 0; i < 100 && !(await listed()).some(([id]) => id === 'other-node'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await listed()).toEqual([
      [b.node.nodeId, '127.0.0.1:18830'],
      ['other-node', 'other.example:18883'],
    ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)));
    const { c } = await connect5(b.ports.tcp!, 'stop-redirect');
    const old = await RawClient.connect(b.ports.tcp!);
    expect((await old.handshake('stop-redirect-v3')).returnCode).toBe(0);
    await b.stop();
    const d = await c.next<IDisconnectPacket>((p) => p.cmd === 'disconnect');
    expect(d.reasonCode).toBe(0x9c);
    expect(d.properties?.serverReference).toBe('other.example:18883');
    expect(await old.waitClosed()).toBe(true);
    expect(old.packets.map((p) => p.cmd)).toEqual([]);
  } finally {
    await b.stop();
    b.cleanup();
  }
});
