/**
 * Cluster membership, folded from the compacted node stream: the last
 * heartbeat of every node. A node whose last heartbeat is older than the node
 * timeout is considered failed; survivors then close its sessions.
 */
import { NodeHeartbeat } from '../src/events/types';
import { murmur2 } from '../src/log/partitioner';

export interface NodeEntry {
  nodeId: string;
  startedAt: number;
  lastHeartbeat: number;
  version: string | null;
  health: string | null;
  /** Where MQTT clients reach it (cluster.advertisedAddress), or null. */
  advertisedAddress: string | null;
}

export type NodesState = Map<string, NodeEntry>;

export function emptyNodes(): NodesState {
  return new Map();
}

export function foldNode(state: NodesState, event: NodeHeartbeat): NodesState {
  const prev = state.get(event.nodeId);
  if (!prev || event.timestamp >= prev.lastHeartbeat) {
    state.set(event.nodeId, { nodeId: event.nodeId, startedAt: event.startedAt, lastHeartbeat: event.timestamp, version: event.version, health: event.health, advertisedAddress: event.advertisedAddress ?? null });
  }
  return state;
}

/** Nodes heard from within `timeoutMs` of `now`, by id. */
export function liveNodes(state: NodesState, now: number, timeoutMs: number): string[] {
  return [...state.values()].filter((n) => now - n.lastHeartbeat <= timeoutMs).map((n) => n.nodeId).sort();
}

export function isNodeLive(state: NodesState, nodeId: string, now: number, timeoutMs: number): boolean {
  const n = state.get(nodeId);
  return n !== undefined && now - n.lastHeartbeat <= timeoutMs;
}

/**
 * Where the clients of node `self` may be sent when it shuts down (MQTT 5 Server
 * Reference): the advertised addresses of the other live nodes that are not
 * failed, in node-id order (so every node lists them alike). Empty: nowhere.
 */
export function redirectAddresses(state: NodesState, self: string, now: number, timeoutMs: number): string[] {
  return [...state.values()]
    .filter((n) => n.nodeId !== self && n.advertisedAddress !== null && n.health !== 'failed' && now - n.lastHeartbeat <= timeoutMs)
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
    .map((n) => n.advertisedAddress!);
}

/**
 * The address for one client: a hash of its client id over the addresses, so the
 * clients of a node that stops spread over the others rather than all landing on one.
 */
export function redirectFor(addresses: readonly string[], clientId: string): string | null {
  if (addresses.length === 0) return null;
  return addresses[(murmur2(Buffer.from(clientId, 'utf8')) & 0x7fffffff) % addresses.length];
}
