/**
 * `$SYS` topics, with Mosquitto's names: every `sys.intervalMs` the node
 * publishes its figures, retained at QoS 0 (origin system), through the one
 * append path, so they are in the log and every node's retained store:
 *
 *   $SYS/brokers/<node>/...   this node's figures (EMQX's per-node form), from every node;
 *   $SYS/broker/...           Mosquitto's form: on a single node its figures; in a
 *                             cluster the coordinator writes the cluster's totals
 *                             (the sum over live nodes of their `$SYS/brokers/<node>/`
 *                             counters), so the topic has one writer and one meaning.
 *
 * Load figures are Mosquitto's: exponential moving averages, per minute, over
 * 1, 5 and 15 minutes. Who may read `$SYS` is the access rules' (acl.sysReadableByAll).
 */
import { RetainedState } from '../../projections/RetainedProjection';
import { MessageOrigin, MessagePublished, publishedEvent } from '../events/types';
import { VERSION } from '../version';
import { Stats } from './Stats';

/** Figures summed over the cluster for `$SYS/broker/` (the rest are the coordinator's own). */
const SUMMED = new Set([
  'clients/connected',
  'clients/disconnected',
  'clients/maximum',
  'messages/received',
  'messages/sent',
  'publish/messages/received',
  'publish/messages/sent',
  'publish/messages/dropped',
  'bytes/received',
  'bytes/sent',
  'subscriptions/count',
]);
const LOAD_WINDOWS: Array<[string, number]> = [
  ['1min', 60_000],
  ['5min', 300_000],
  ['15min', 900_000],
];
type LoadName = 'messages/received' | 'messages/sent' | 'bytes/received' | 'bytes/sent' | 'publish/received' | 'publish/sent' | 'connections';

export interface SysSources {
  nodeId: () => string;
  stats: Stats;
  /** Sessions connected and disconnected (persistent, offline) in the projection; subscriptions of this node's clients. */
  sessionCounts: () => { connected: number; disconnected: number };
  subscriptions: () => number;
  retained: RetainedState;
  /** True when this node is the cluster's coordinator; the live node ids otherwise known. */
  coordinator: () => boolean;
  liveNodes: () => string[];
}

export class SysTopics {
  private readonly last = new Map<LoadName, number>();
  private readonly loads = new Map<string, number>();
  private lastAt: number;

  constructor(
    private readonly s: SysSources,
    now = Date.now(),
  ) {
    this.lastAt = now;
  }

  /** The messages of one interval: this node's, and `$SYS/broker/` when it is alone or the coordinator. */
  messages(now: number): MessagePublished[] {
    const own = this.figures(now);
    const node = this.s.nodeId();
    const out: MessagePublished[] = [];
    const msg = (topic: string, value: string) =>
      publishedEvent({ topic, payload: Buffer.from(value), qos: 0, retain: true, publisherId: '$SYS', origin: MessageOrigin.System, nodeId: node, timestamp: now });
    for (const [name, value] of own) out.push(msg(`$SYS/brokers/${node}/${name}`, value));
    const live = this.s.liveNodes();
    if (live.length <= 1) {
      for (const [name, value] of own) out.push(msg(`$SYS/broker/${name}`, value));
    } else if (this.s.coordinator()) {
      for (const [name, value] of own) out.push(msg(`$SYS/broker/${name}`, SUMMED.has(name) ? String(this.clusterSum(name, live, node, value)) : value));
    }
    return out;
  }

  private figures(now: number): Array<[string, string]> {
    const st = this.s.stats;
    const sessions = this.s.sessionCounts();
    const sent = st.publishOut[0] + st.publishOut[1] + st.publishOut[2];
    const out: Array<[string, string]> = [
      ['version', `mqlog version ${VERSION}`],
      ['uptime', `${Math.floor((now - st.startedAt) / 1000)} seconds`],
      ['clients/connected', String(st.clientsConnected)],
      ['clients/disconnected', String(sessions.disconnected)],
      ['clients/total', String(sessions.connected + sessions.disconnected)],
      ['clients/maximum', String(st.clientsMaximum)],
      ['messages/received', String(st.messagesReceived)],
      ['messages/sent', String(sent)],
      ['messages/stored', String(this.s.retained.size)],
      ['publish/messages/received', String(st.messagesReceived)],
      ['publish/messages/sent', String(sent)],
      ['publish/messages/dropped', String(st.publishDropped)],
      ['bytes/received', String(st.bytesReceived)],
      ['bytes/sent', String(st.bytesSent)],
      ['subscriptions/count', String(this.s.subscriptions())],
      ['retained messages/count', String(this.s.retained.size)],
    ];
    const totals: Record<LoadName, number> = {
      'messages/received': st.messagesReceived,
      'messages/sent': sent,
      'bytes/received': st.bytesReceived,
      'bytes/sent': st.bytesSent,
      'publish/received': st.messagesReceived,
      'publish/sent': sent,
      connections: st.connectionsTotal,
    };
    const elapsed = Math.max(1, now - this.lastAt);
    this.lastAt = now;
    for (const [name, total] of Object.entries(totals) as Array<[LoadName, number]>) {
      const perMinute = ((total - (this.last.get(name) ?? total)) * 60_000) / elapsed;
      this.last.set(name, total);
      for (const [label, window] of LOAD_WINDOWS) {
        const key = `load/${name}/${label}`;
        const k = Math.exp(-elapsed / window);
        const prev = this.loads.get(key);
        const next = prev === undefined ? perMinute : prev * k + perMinute * (1 - k);
        this.loads.set(key, next);
        out.push([key, next.toFixed(2)]);
      }
    }
    return out;
  }

  private clusterSum(name: string, live: string[], self: string, own: string): number {
    let sum = Number(own);
    for (const node of live) {
      if (node === self) continue;
      const e = this.s.retained.get(`$SYS/brokers/${node}/${name}`);
      const v = e ? Number(e.message.payload.toString()) : 0;
      if (Number.isFinite(v)) sum += v;
    }
    return sum;
  }
}
