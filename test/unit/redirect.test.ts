/**
 * Where a stopping node sends its MQTT 5 clients (DISCONNECT 0x9C with a Server
 * Reference): chosen from the membership fold, the same way on every node.
 */
import fc from 'fast-check';
import { emptyNodes, foldNode, redirectAddresses, redirectFor } from '../../projections/NodeProjection';
import { NodeHeartbeat } from '../../src/events/types';
import { Membership } from '../../src/node/Membership';
import { silentLogger } from '../../src/logger';

const beat = (nodeId: string, timestamp: number, advertisedAddress?: string, health = 'healthy'): NodeHeartbeat => ({
  type: 'node.heartbeat',
  nodeId,
  startedAt: 0,
  timestamp,
  version: '0.1.0',
  health,
  ...(advertisedAddress ? { advertisedAddress } : {}),
});

describe('redirection at shutdown', () => {
  const now = 100_000;
  const timeout = 10_000;

  test('only other live nodes that advertise an address and are not failed, in node-id order', () => {
    const state = emptyNodes();
    foldNode(state, beat('self', now, 'self:18883'));
    foldNode(state, beat('c', now - 1000, 'c:18883'));
    foldNode(state, beat('a', now - 2000, 'a:18883'));
    foldNode(state, beat('quiet', now - 1000)); // advertises nothing
    foldNode(state, beat('gone', now - timeout - 1, 'gone:18883')); // silent past the node timeout
    foldNode(state, beat('broken', now, 'broken:18883', 'failed'));
    foldNode(state, beat('b', now - 500, 'b:18883', 'degraded'));
    expect(redirectAddresses(state, 'self', now, timeout)).toEqual(['a:18883', 'b:18883', 'c:18883']);
  });

  test('a node whose later heartbeat stops advertising is no longer a target', () => {
    const state = emptyNodes();
    foldNode(state, beat('a', now - 2000, 'a:18883'));
    foldNode(state, beat('a', now - 1000));
    expect(redirectAddresses(state, 'self', now, timeout)).toEqual([]);
  });

  test('each client goes to one address, the same for the same client id, and the clients spread over all of them', () => {
    const addresses = ['a:1', 'b:1', 'c:1'];
    expect(redirectFor([], 'x')).toBeNull();
    fc.assert(fc.property(fc.string(), (clientId) => redirectFor(addresses, clientId) === redirectFor([...addresses], clientId) && addresses.includes(redirectFor(addresses, clientId)!)));
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) counts.set(redirectFor(addresses, `client-${i}`)!, (counts.get(redirectFor(addresses, `client-${i}`)!) ?? 0) + 1);
    for (const a of addresses) expect(counts.get(a)).toBeGreaterThan(800);
  });

  test('the membership: its own heartbeat says its address, and it is never its own target; alone, nowhere to go', () => {
    const m = new Membership(() => 'self', 0, { heartbeatIntervalMs: 1000, nodeTimeoutMs: timeout, advertisedAddress: 'self:18883' }, silentLogger());
    const own = m.heartbeat(now);
    expect(own.advertisedAddress).toBe('self:18883');
    m.fold(own);
    expect(m.redirectTarget(now)).toBeNull();
    m.fold(beat('other', now, 'other:18883'));
    expect(m.redirectTarget(now)?.('any-client')).toBe('other:18883');
    const without = new Membership(() => 'x', 0, { heartbeatIntervalMs: 1000, nodeTimeoutMs: timeout, advertisedAddress: '' }, silentLogger());
    expect(without.heartbeat(now).advertisedAddress).toBeUndefined();
  });
});
