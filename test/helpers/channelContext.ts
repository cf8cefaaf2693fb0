/**
 * A ChannelContext for driving a Channel without a node: the defaults a single
 * test node would give, any member replaced by `over` (a test's clock, its
 * position, what the routes hold, the retained store's room).
 */
import type { ChannelContext } from '../../src/channel/Channel';
import { defaultConfig } from '../../src/config';

export function channelContext(over: Partial<ChannelContext> = {}): ChannelContext {
  return {
    nodeId: 'n1',
    settings: defaultConfig().mqtt,
    now: () => 1_000_000,
    position: () => [0],
    newClientId: () => 'auto-1',
    aclDenyAction: 'ignore',
    subscriptionCount: () => 0,
    isSubscribed: () => false,
    retainedRoom: () => true,
    queueWatch: null,
    ...over,
  };
}
