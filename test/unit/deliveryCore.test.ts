/**
 * The delivery core, table by table: the one decision per (session, message),
 * the session's live state (window, queue, cursor), and pages of the message
 * stream read on a MemoryEventLog.
 */
import { ConnectionAcl } from '../../auth/acl/ConnectionAcl';
import { decidedQos, decidedRetain, decideDelivery, DeliveryPath, NOT_DELIVERED } from '../../src/delivery/DeliveryCore';
import { readPage } from '../../src/delivery/LogPages';
import { encodeEvent } from '../../src/events/codec';
import { MessageSource, publishedEvent, QoS } from '../../src/events/types';
import { createMemoryLogStore, MemoryEventLog } from '../../src/log/memory/MemoryEventLog';
import { Delivery, QueueWatch, Session } from '../../src/session/Session';
import { DeliveryLag } from '../../src/delivery/DeliveryLag';

const open = ConnectionAcl.allowAll();
const denySecret = new ConnectionAcl([{ allow: false, publish: false, subscribe: true, filter: 'secret/#' }], { defaultAllow: true, sysReadableByAll: true }, false);

describe('the decision', () => {
  type Row = [string, { clientId?: string; acl?: ConnectionAcl; topic?: string; qos: QoS; target?: string | null; granted: number; path: DeliveryPath }, number];
  test.each<Row>([
    ['no matching subscription', { qos: 1, granted: -1, path: DeliveryPath.Live }, NOT_DELIVERED],
    ['[MQTT-3.8.4-6] the lower of publish and granted QoS (granted lower)', { qos: 2, granted: 1, path: DeliveryPath.Live }, 1],
    ['[MQTT-3.8.4-6] the lower of publish and granted QoS (publish lower)', { qos: 0, granted: 2, path: DeliveryPath.Live }, 0],
    ['[MQTT-3.3.1-9] retain cleared on live delivery', { qos: 1, granted: 1, path: DeliveryPath.Live }, 1],
    ['[MQTT-3.3.1-8] retain set on a retained message for a new subscription', { qos: 1, granted: 2, path: DeliveryPath.Retained }, 1 | 4],
    ['a read-ACL refusal on a wildcard subscription', { acl: denySecret, topic: 'secret/x', qos: 1, granted: 1, path: DeliveryPath.Live }, NOT_DELIVERED],
    ['the read ACL on a log page too', { acl: denySecret, topic: 'secret/x', qos: 1, granted: 1, path: DeliveryPath.Log }, NOT_DELIVERED],
    ['the read ACL on retained messages too', { acl: denySecret, topic: 'secret/x', qos: 1, granted: 1, path: DeliveryPath.Retained }, NOT_DELIVERED],
    ['a replay aimed at another client', { clientId: 'a', target: 'b', qos: 1, granted: 1, path: DeliveryPath.Live }, NOT_DELIVERED],
    ['a replay aimed at this client', { clientId: 'a', target: 'a', qos: 1, granted: 1, path: DeliveryPath.Log }, 1],
    ['QoS 0 published while the session was offline is not queued', { qos: 0, granted: 1, path: DeliveryPath.Offline }, NOT_DELIVERED],
    ['QoS 1 published while offline is', { qos: 1, granted: 1, path: DeliveryPath.Offline }, 1],
    ['QoS 0 read back on a catch-up page is', { qos: 0, granted: 1, path: DeliveryPath.Log }, 0],
  ])('%s', (_name, r, expected) => {
    const session = { clientId: r.clientId ?? 'c', acl: r.acl ?? open };
    expect(decideDelivery(session, r.topic ?? 'a/b', { qos: r.qos, target: r.target ?? null }, r.granted, r.path)).toBe(expected);
  });

  test('decisions unpack into QoS and retain', () => {
    expect([decidedQos(2 | 4), decidedRetain(2 | 4), decidedRetain(1)]).toEqual([2, true, false]);
  });
});

const d = (offset: number, qos: QoS, source = MessageSource.Messages): Delivery => ({ topic: 't', payload: Buffer.from(String(offset)), qos, retain: false, ref: { source, partition: 0, offset } });

describe('the session', () => {
  class Watch implements QueueWatch {
    waiting = new Set<Session>();
    queueing(s: Session): void {
      this.waiting.add(s);
    }
    drained(s: Session): void {
      this.waiting.delete(s);
    }
  }

  test.each<[string, (s: Session, w: Watch) => unknown, unknown]>([
    ['QoS 1 waits for the window; QoS 0 behind it waits too (FIFO)', (s) => {
      s.enqueue(d(1, 1), () => [10], 0);
      s.enqueue(d(2, 1), () => [10], 0);
      s.enqueue(d(3, 0), () => [10], 0);
      const first = s.take()!;
      s.inflight.set(1, { qos: 1, ref: first.ref, released: false });
      return [first.ref.offset, s.take()?.ref.offset ?? null, s.queued];
    }, [1, null, 2]],
    ['past the queue bound the session reads from the log, from the first message it did not take', (s) => {
      for (let i = 0; i < 4; i++) s.enqueue(d(i, 0), () => [10], 0);
      return [s.enqueue(d(4, 0), () => [10], 0), s.cursor, s.enqueue(d(5, 0), () => [10], 0)];
    }, ['lagging', [4], 'lagging']],
    ['a retained message past the bound is dropped, not read back (it is not in the message stream)', (s) => {
      for (let i = 0; i < 4; i++) s.enqueue(d(i, 0), () => [10], 0);
      return s.enqueue(d(9, 0, MessageSource.Retained), () => [10], 0);
    }, 'full'],
    ['a resumed session reads its backlog from its served position; QoS 0 before the live position is offline', (s) => {
      s.resumeFrom([3], [7]);
      return [s.cursor, s.offlineUntil, s.wantsPage(), s.enqueue(d(8, 1), () => [8], 0)];
    }, [[3], [7], true, 'lagging']],
    ['a page that reaches the node position ends the log reading, in the same step', (s) => {
      s.resumeFrom([3], [7]);
      s.reading = true;
      s.addPage([d(3, 1), d(5, 1)], [9], true, 0);
      return [s.cursor, s.offlineUntil, s.queued, s.enqueue(d(9, 1), () => [10], 0)];
    }, [null, null, 2, 'queued']],
    ['the served floor is the first message not handled', (s) => {
      s.enqueue(d(4, 1), () => [10], 0);
      s.enqueue(d(6, 1), () => [10], 0);
      return s.servedFloor([10]);
    }, [4]],
    ['the watch knows when a queue starts and stops holding deliveries, and how old its head is', (s, w) => {
      s.enqueue(d(1, 0), () => [10], 100);
      const seen = [w.waiting.has(s), s.oldestQueuedAt];
      s.take();
      return [...seen, w.waiting.has(s), s.oldestQueuedAt];
    }, [true, 100, false, null]],
  ])('%s', (_name, act, expected) => {
    const watch = new Watch();
    const s = new Session('c', 1, 4, watch);
    expect(act(s, watch)).toEqual(expected);
  });
});

describe('pages of the message stream', () => {
  async function logWith(messages: Array<{ topic: string; qos: QoS; target?: string }>): Promise<{ log: MemoryEventLog; store: ReturnType<typeof createMemoryLogStore> }> {
    const store = createMemoryLogStore();
    const log = new MemoryEventLog(store);
    await log.open([{ name: 'm', partitions: 1, compacted: false }]);
    await log.append(
      messages.map((m, i) => ({
        stream: 'm',
        key: Buffer.from(m.topic),
        value: encodeEvent(publishedEvent({ topic: m.topic, payload: Buffer.from(String(i)), qos: m.qos, retain: false, publisherId: 'p', origin: 0, nodeId: 'n', timestamp: 1000 + i, target: m.target ?? null })),
        partition: 0,
      })),
    );
    return { log, store };
  }

  const subs = (filter: string, qos: QoS, since = 0) => new Map([[filter, { qos, since: [since] }]]);
  const session = { clientId: 'me', acl: open };

  test('a page holds at most `limit` deliveries and says where the next one starts; the next page continues there', async () => {
    const { log } = await logWith(Array.from({ length: 10 }, () => ({ topic: 'a/b', qos: 1 as QoS })));
    const first = await readPage(log, 'm', { session, subscriptions: subs('a/#', 1), from: [0], upTo: [10], offlineUntil: null, limit: 4 });
    expect(first.deliveries.map((x) => x.ref.offset)).toEqual([0, 1, 2, 3]);
    expect([first.next, first.complete]).toEqual([[4], false]);
    const second = await readPage(log, 'm', { session, subscriptions: subs('a/#', 1), from: first.next, upTo: [10], offlineUntil: null, limit: 100 });
    expect(second.deliveries.map((x) => x.ref.offset)).toEqual([4, 5, 6, 7, 8, 9]);
    expect([second.next, second.complete]).toEqual([[10], true]);
  });

  test('through the one decision: other topics, messages before the subscription, offline QoS 0, other targets are skipped', async () => {
    const { log } = await logWith([
      { topic: 'a/1', qos: 1 },
      { topic: 'other', qos: 1 },
      { topic: 'a/2', qos: 0 },
      { topic: 'a/3', qos: 2, target: 'someone-else' },
      { topic: 'a/4', qos: 2 },
      { topic: 'a/5', qos: 0 },
    ]);
    const page = await readPage(log, 'm', { session, subscriptions: subs('a/+', 1, 1), from: [0], upTo: [6], offlineUntil: [5], limit: 100 });
    expect(page.deliveries.map((x) => [x.topic, x.qos])).toEqual([
      ['a/4', 1],
      ['a/5', 0],
    ]);
  });

  test('what retention deleted before the session read it is counted', async () => {
    const { log, store } = await logWith(Array.from({ length: 6 }, () => ({ topic: 'a/b', qos: 1 as QoS })));
    store.streams.get('m')!.partitions[0].records.splice(0, 4); // retention took the first four
    const page = await readPage(log, 'm', { session, subscriptions: subs('a/#', 1), from: [1], upTo: [6], offlineUntil: null, limit: 100 });
    expect([page.expired, page.deliveries.map((x) => x.ref.offset)]).toEqual([3, [4, 5]]);
  });
});

describe('the delivery lag: when the node holds publishers back', () => {
  const settings = { maxLagMs: 50, slowMs: 1000, maxQueued: 100 };
  function waitingSince(lag: DeliveryLag, queuedAt: number, progressAt: number): Session {
    const s = new Session('c', 32, 100, lag);
    s.enqueue(d(1, 1), () => [10], queuedAt);
    s.progress(progressAt);
    return s;
  }

  test.each<[string, number, number, boolean]>([
    ['a subscriber that keeps up, with a message waiting 60 ms: behind', 940, 990, true],
    ['a message waiting 40 ms: not yet', 960, 990, false],
    ['a subscriber that took nothing for 300 ms: its own fault, not the node\'s', 900, 700, false],
    ['a message waiting longer than slowSubscriberMs: a slow subscriber holds nobody back', -100, 990, false],
  ])('%s', (_name, queuedAt, progressAt, behind) => {
    const lag = new DeliveryLag(settings);
    waitingSince(lag, queuedAt, progressAt);
    expect(lag.check(1000)).toBe(behind);
  });

  test('once behind, it stays behind until the lag is within half the bound (no flapping)', () => {
    const lag = new DeliveryLag(settings);
    const s = waitingSince(lag, 940, 995);
    expect(lag.check(1000)).toBe(true);
    expect(lag.check(970)).toBe(true); // 30 ms: above half of 50
    s.take();
    expect(lag.check(1000)).toBe(false); // nothing waiting
  });
});
