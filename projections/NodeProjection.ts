/**
 * Cluster membership, folded from the compacted node stream: the last
 * heartbeat of every node. A node whose last heartbeat is older than the node
 * timeout is considered failed; survivors then close its sessions.
 */
import { NodeHeartbeat } from '../src/events/types';

export interface NodeEntry {
  nodeId: string;
  startedAt: number;
  lastHeartbeat: number;
  version: string | null;
  health: string | null;
}

export type NodesState = Map<string, NodeEntry>;

export function emptyNodes(): NodesState {
  return new Map();
}

export function foldNode(state: NodesState, event: NodeHeartbeat): NodesState {
  const prev = state.get(event.nodeId);
  if (!prev || event.timestamp >= prev.lastHeartbeat) {
    state.set(event.nodeId, { nodeId: event.nodeId, startedAt: event.startedAt, lastHeartbeat: event.timestamp, version: event.version, health: event.health });
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
