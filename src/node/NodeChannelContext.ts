/** What every channel of a node reads from it (ChannelContext), made from the node's parts. */
import { randomUUID } from 'crypto';
import { RetainedState } from '../../projections/RetainedProjection';
import { ChannelContext } from '../channel/Channel';
import { BrokerConfig } from '../config';
import { QueueWatch } from '../session/Session';
import { LocalRoutes } from '../router/LocalRoutes';

export interface NodeChannelParts {
  nodeId: () => string;
  config: BrokerConfig;
  now: () => number;
  /** The node's delivery position (read, never kept: a copy is handed out). */
  position: readonly number[];
  routes: LocalRoutes;
  retained: RetainedState;
  queueWatch: QueueWatch;
}

export function nodeChannelContext(p: NodeChannelParts): ChannelContext {
  const mqtt = p.config.mqtt;
  return {
    get nodeId() {
      return p.nodeId();
    },
    settings: mqtt,
    now: p.now,
    position: () => [...p.position],
    newClientId: () => `auto-${randomUUID()}`,
    aclDenyAction: p.config.acl.denyAction,
    subscriptionCount: (clientId) => p.routes.countOf(clientId),
    isSubscribed: (clientId, filter) => p.routes.has(clientId, filter),
    retainedRoom: (topic, bytes) => p.retained.room(topic, bytes, mqtt),
    queueWatch: p.queueWatch,
  };
}
