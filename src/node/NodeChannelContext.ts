/** What every channel of a node reads from it (ChannelContext), made from the node's parts. */
import { randomUUID } from 'crypto';
import { RetainedState } from '../../projections/RetainedProjection';
import { ChannelContext } from '../channel/Channel';
import type { Positions } from '../events/types';
import { BrokerConfig } from '../config';
import { QueueWatch } from '../session/Session';
import { LocalRoutes } from '../router/LocalRoutes';

export interface NodeChannelParts {
  nodeId: () => string;
  config: BrokerConfig;
  now: () => number;
  /** The node's delivery position (read, never kept: a frozen copy is handed out). */
  position: readonly number[];
  routes: LocalRoutes;
  retained: RetainedState;
  queueWatch: QueueWatch;
}

/**
 * The node's position as a frozen copy, the same one for as long as the position
 * does not move: connects and subscriptions keep the position they started at
 * (each subscription's start, each session's served position), and between
 * messages every client of a burst keeps this one array rather than a copy each.
 */
function sharedPosition(live: readonly number[]): () => Positions {
  let shared: Positions = Object.freeze([...live]);
  return () => {
    let same = shared.length === live.length;
    for (let i = 0; same && i < live.length; i++) same = shared[i] === live[i];
    if (!same) shared = Object.freeze([...live]);
    return shared;
  };
}

export function nodeChannelContext(p: NodeChannelParts): ChannelContext {
  const mqtt = p.config.mqtt;
  const position = sharedPosition(p.position);
  return {
    get nodeId() {
      return p.nodeId();
    },
    settings: mqtt,
    now: p.now,
    position,
    newClientId: () => `auto-${randomUUID()}`,
    aclDenyAction: p.config.acl.denyAction,
    subscriptionCount: (clientId) => p.routes.countOf(clientId),
    isSubscribed: (clientId, filter) => p.routes.has(clientId, filter),
    retainedRoom: (topic, bytes) => p.retained.room(topic, bytes, mqtt),
    queueWatch: p.queueWatch,
  };
}
