/**
 * Cluster membership through the log, with no protocol of its own: each node
 * appends a heartbeat to the compacted node stream; every node folds them. The
 * live node with the lowest id is the coordinator: it writes snapshots and
 * closes the sessions of failed nodes, recording a `node failure` disconnect for
 * each. Which disconnect counts is decided by the session fold (the first one for
 * the connection), and the node whose disconnect counted publishes the will, so
 * a will is published once even when views of who failed differ for a moment.
 */
import { VERSION } from '../version';
import { BrokerEvent, ClientDisconnected, DisconnectReason, NodeHeartbeat } from '../events/types';
import { Logger } from '../logger';
import { emptyNodes, foldNode, isNodeLive, liveNodes, NodesState, redirectAddresses, redirectFor } from '../../projections/NodeProjection';
import { SessionsState } from '../../projections/SessionProjection';

export interface MembershipSettings {
  heartbeatIntervalMs: number;
  nodeTimeoutMs: number;
  /** host:port for MQTT clients, said in the heartbeat; '' for none. */
  advertisedAddress: string;
}

export class Membership {
  readonly nodes: NodesState = emptyNodes();
  private readonly closing = new Set<string>();

  constructor(
    private readonly nodeId: () => string,
    private readonly startedAt: number,
    private readonly settings: MembershipSettings,
    private readonly log: Logger,
  ) {}

  fold(event: BrokerEvent): void {
    if (event.type === 'node.heartbeat') foldNode(this.nodes, event);
  }

  heartbeat(now: number, health: string | null = null): NodeHeartbeat {
    const beat: NodeHeartbeat = { type: 'node.heartbeat', nodeId: this.nodeId(), startedAt: this.startedAt, timestamp: now, version: VERSION, health };
    if (this.settings.advertisedAddress !== '') beat.advertisedAddress = this.settings.advertisedAddress;
    return beat;
  }

  /**
   * Where this node's MQTT 5 clients are sent when it shuts down: for each client
   * id, the address of another live node (NodeProjection.redirectFor), or null
   * when no other node advertises one.
   */
  redirectTarget(now: number): ((clientId: string) => string | null) | null {
    const addresses = redirectAddresses(this.nodes, this.nodeId(), now, this.settings.nodeTimeoutMs);
    return addresses.length === 0 ? null : (clientId) => redirectFor(addresses, clientId);
  }

  isLive(nodeId: string, now: number): boolean {
    return nodeId === this.nodeId() || isNodeLive(this.nodes, nodeId, now, this.settings.nodeTimeoutMs);
  }

  /** The live node with the lowest id (this node counts as live). */
  /** Live node ids (this one included), sorted. */
  liveNodeIds(now: number): string[] {
    const live = new Set(liveNodes(this.nodes, now, this.settings.nodeTimeoutMs));
    live.add(this.nodeId());
    return [...live].sort();
  }

  isCoordinator(now: number): boolean {
    return this.liveNodeIds(now)[0] === this.nodeId();
  }

  /**
   * Disconnects to record for sessions still connected on nodes that failed.
   * `own` also closes this node's own leftovers (after an unclean stop).
   */
  failedNodeDisconnects(sessions: SessionsState, now: number, own: boolean): ClientDisconnected[] {
    const me = this.nodeId();
    const out: ClientDisconnected[] = [];
    for (const rec of sessions.values()) {
      if (!rec.connected || this.closing.has(rec.connectionId)) continue;
      const mine = rec.nodeId === me;
      if (mine ? !own : this.isLive(rec.nodeId, now) || now - rec.connectedAt <= this.settings.nodeTimeoutMs) continue;
      this.closing.add(rec.connectionId);
      out.push({
        type: 'client.disconnected',
        clientId: rec.clientId,
        connectionId: rec.connectionId,
        nodeId: me,
        reason: DisconnectReason.NodeFailure,
        willPublished: rec.will !== null,
        servedUpTo: rec.served,
        timestamp: now,
      });
    }
    if (out.length) this.log.info({ sessions: out.length, own }, 'closing sessions of failed nodes');
    return out;
  }

  /** The disconnect for `connectionId` has been folded (whoever recorded it). */
  settled(connectionId: string): void {
    this.closing.delete(connectionId);
  }
}
