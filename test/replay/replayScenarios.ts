/**
 * Replay behaviour, run unchanged on each log backend: order, the three
 * targets, the replay marker (not history, not retained), positions,
 * cancellation, empty ranges and bad input. `replayNode` runs the replay;
 * `deliveryNode` is where subscribers connect (another node on Kafka).
 */
import mqtt, { MqttClient } from 'mqtt';
import { HistoryMessage } from '../../src/history/HistoryMessage';
import type { ReplayStatus } from '../../src/replay/ReplayJob';
import { api } from '../helpers/api';
import { sleep, waitFor } from '../helpers/rawClient';
import { collect, Received } from '../helpers/suite';

export interface ReplayFixture {
  replayApi: string;
  publishUrl: string;
  deliveryUrl: string;
}

const N = 60;

export function describeReplay(name: string, setup: () => Promise<ReplayFixture>, teardown: () => Promise<void>): void {
  describe(`replay: ${name}`, () => {
    let f: ReplayFixture;
    const clients: MqttClient[] = [];
    let t0 = 0;
    let t1 = 0;

    const client = async (clientId: string, url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> => {
      const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, ...opts });
      clients.push(c);
      return c;
    };
    const history = async (topic: string): Promise<HistoryMessage[]> => {
      const r = await api<{ messages: HistoryMessage[] }>(f.replayApi, 'GET', `/api/v1/messages?${new URLSearchParams({ topic, limit: '1000' })}`);
      expect(r.status).toBe(200);
      return r.body.messages;
    };
    const replay = async (body: Record<string, unknown>): Promise<ReplayStatus> => {
      const r = await api<ReplayStatus>(f.replayApi, 'POST', '/api/v1/replay', body);
      expect([200, 202]).toContain(r.status);
      let s = r.body;
      const deadline = Date.now() + 60_000;
      while (s.state === 'running') {
        if (Date.now() > deadline) throw new Error(`replay ${s.id} still running: ${JSON.stringify(s)}`);
        await sleep(50);
        s = (await api<ReplayStatus>(f.replayApi, 'GET', `/api/v1/replay/${s.id}`)).body;
      }
      return s;
    };
    /** Publishes a plain message after the replay and waits for it: whatever the replay sent on that topic came before. */
    const fence = async (topic: string, got: Received[]): Promise<void> => {
      const p = await client(`fence-${Math.random()}`, f.publishUrl);
      await p.publishAsync(topic, 'fence', { qos: 1 });
      await waitFor(() => got.some((g) => g.payload === 'fence'), `the fence on ${topic}`, 30_000);
    };

    beforeAll(async () => {
      f = await setup();
      const pub = await client('rp-pub', f.publishUrl, { username: 'olga' });
      t0 = Date.now();
      await pub.publishAsync('rp/ret', 'v1', { qos: 1, retain: true });
      for (let i = 0; i < N; i++) await pub.publishAsync(i % 3 === 0 ? 'rp/b' : 'rp/a', `m${i}`, { qos: 1 });
      await sleep(20);
      t1 = Date.now();
      await sleep(20);
      await pub.publishAsync('rp/ret', 'v2', { qos: 1, retain: true });
      await pub.publishAsync('rp/a', 'late', { qos: 1 });
    }, 120_000);

    afterEach(async () => {
      for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    });

    afterAll(teardown, 60_000);

    test('to the current subscribers: every message again, in order per topic, retain cleared', async () => {
      const sub = await client('rp-sub-all', f.deliveryUrl);
      const got = collect(sub);
      await sub.subscribeAsync('rp/#', { qos: 1 });
      await waitFor(() => got.some((g) => g.topic === 'rp/ret'), 'the retained message on subscribe', 10_000);
      got.length = 0;
      const s = await replay({ topic: 'rp/#', from: t0, to: t1, target: 'subscribers' });
      expect(s).toMatchObject({ state: 'completed', replayed: N + 1, error: null });
      await fence('rp/a', got);
      const replayed = got.filter((g) => g.payload !== 'fence');
      expect(replayed.filter((g) => g.topic === 'rp/a').map((g) => g.payload)).toEqual([...Array(N).keys()].filter((i) => i % 3 !== 0).map((i) => `m${i}`));
      expect(replayed.filter((g) => g.topic === 'rp/b').map((g) => g.payload)).toEqual([...Array(N).keys()].filter((i) => i % 3 === 0).map((i) => `m${i}`));
      expect(replayed.filter((g) => g.topic === 'rp/ret').map((g) => g.payload)).toEqual(['v1']);
      expect(replayed.every((g) => !g.retain && g.qos === 1)).toBe(true);
    });

    test('the replay marker: replays are not history and not stored as retained again', async () => {
      const before = await history('rp/#');
      await replay({ topic: 'rp/ret', from: t0, to: t1, target: 'subscribers' });
      expect(await history('rp/#')).toEqual(before);
      // v1 was replayed after v2 was retained: the retained message is still v2.
      const late = await client('rp-late', f.deliveryUrl);
      const got = collect(late);
      await late.subscribeAsync('rp/ret', { qos: 1 });
      await waitFor(() => got.length > 0, 'the retained message', 10_000);
      await sleep(200);
      expect(got).toEqual([{ topic: 'rp/ret', payload: 'v2', qos: 1, retain: true }]);
    });

    test('to one client id: only that session gets them', async () => {
      const chosen = await client('rp-chosen', f.deliveryUrl);
      const other = await client('rp-other', f.deliveryUrl);
      const gotChosen = collect(chosen);
      const gotOther = collect(other);
      await chosen.subscribeAsync('rp/a', { qos: 1 });
      await other.subscribeAsync('rp/a', { qos: 1 });
      const s = await replay({ topic: 'rp/a', from: t0, to: t1, target: 'client', clientId: 'rp-chosen' });
      expect(s.replayed).toBe(N - N / 3);
      await fence('rp/a', gotOther);
      await waitFor(() => gotChosen.some((g) => g.payload === 'fence'), 'the fence at the chosen client', 10_000);
      expect(gotOther.map((g) => g.payload)).toEqual(['fence']);
      expect(gotChosen.filter((g) => g.payload !== 'fence').map((g) => g.payload)).toEqual([...Array(N).keys()].filter((i) => i % 3 !== 0).map((i) => `m${i}`));
    });

    test('to one client id that is offline with a persistent session: queued until it returns', async () => {
      const away = await client('rp-away', f.deliveryUrl, { clean: false });
      await away.subscribeAsync('rp/b', { qos: 1 });
      await away.endAsync();
      const s = await replay({ topic: 'rp/b', from: t0, to: t1, target: 'client', clientId: 'rp-away' });
      expect(s.replayed).toBe(N / 3);
      // Listening before the CONNACK: the queued messages follow it at once.
      const back = mqtt.connect(f.deliveryUrl, { clientId: 'rp-away', clean: false, reconnectPeriod: 0 });
      clients.push(back);
      const got = collect(back);
      await waitFor(() => got.length >= N / 3, 'the queued replay', 30_000);
      expect(got.map((g) => g.payload)).toEqual([...Array(N).keys()].filter((i) => i % 3 === 0).map((i) => `m${i}`));
    });

    test('to a prefix: replay/<id>/<topic> by default (never a $ topic), or a prefix of choice', async () => {
      const sub = await client('rp-prefix', f.deliveryUrl);
      const got = collect(sub);
      await sub.subscribeAsync('replay/#', { qos: 1 });
      await sub.subscribeAsync('recovered/#', { qos: 1 });
      const s = await replay({ topic: 'rp/b', from: t0, to: t1, target: 'prefix' });
      expect(s.target).toEqual({ type: 'prefix', prefix: `replay/${s.id}/` });
      await waitFor(() => got.length === N / 3, 'the replay under replay/', 30_000);
      expect(got.map((g) => `${g.topic} ${g.payload}`)).toEqual([...Array(N).keys()].filter((i) => i % 3 === 0).map((i) => `replay/${s.id}/rp/b m${i}`));
      got.length = 0;
      await replay({ topic: 'rp/b', from: t0, to: t1, target: 'prefix', prefix: 'recovered/' });
      await waitFor(() => got.length === N / 3, 'the replay under recovered/', 30_000);
      expect(got[0].topic).toBe('recovered/rp/b');
    });

    test('by log positions instead of times', async () => {
      const msgs = (await history('rp/#')).filter((m) => m.payload.startsWith('m'));
      const first = msgs[3];
      const sameP = msgs.filter((m) => m.partition === first.partition && m.offset >= first.offset).slice(0, 4);
      const sub = await client('rp-pos', f.deliveryUrl);
      const got = collect(sub);
      await sub.subscribeAsync('replay/#', { qos: 1 });
      const s = await replay({ topic: 'rp/#', positions: { [first.partition]: [first.offset, sameP[sameP.length - 1].offset + 1] }, target: 'prefix' });
      expect(s.state).toBe('completed');
      await waitFor(() => got.length >= s.replayed && s.replayed > 0, 'the replay by positions', 30_000);
      expect(s.replayed).toBe(sameP.length);
      // Order holds per topic (replayed topics may land in different partitions).
      for (const topic of ['rp/a', 'rp/b']) {
        expect(got.filter((g) => g.topic.endsWith(`/${topic}`)).map((g) => g.payload)).toEqual(sameP.filter((m) => m.topic === topic).map((m) => m.payload));
      }
    });

    test('cancellation stops a replay part way', async () => {
      const pub = await client('rp-bulk', f.publishUrl);
      const from = Date.now();
      const total = 40_000;
      for (let i = 0; i < total; i += 1000) {
        for (let j = 0; j < 999; j++) pub.publish('bulk/t', `b${i + j}`, { qos: 0 });
        await pub.publishAsync('bulk/t', `b${i + 999}`, { qos: 1 });
      }
      const started = await api<ReplayStatus>(f.replayApi, 'POST', '/api/v1/replay', { topic: 'bulk/#', from, target: 'prefix', prefix: 'cancelled/' });
      expect(started.status).toBe(202);
      const cancelled = await api<ReplayStatus & { cancelRequested: boolean }>(f.replayApi, 'DELETE', `/api/v1/replay/${started.body.id}`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.state).toBe('cancelled');
      expect(cancelled.body.replayed).toBeLessThan(total);
      const later = await api<ReplayStatus>(f.replayApi, 'GET', `/api/v1/replay/${started.body.id}`);
      expect(later.body).toMatchObject({ state: 'cancelled', replayed: cancelled.body.replayed });
      const list = await api<{ replays: ReplayStatus[] }>(f.replayApi, 'GET', '/api/v1/replay');
      expect(list.body.replays.some((r) => r.id === started.body.id)).toBe(true);
    });

    test('a range with no data is a clear empty result', async () => {
      const future = Date.now() + 3600_000;
      const r = await api<ReplayStatus>(f.replayApi, 'POST', '/api/v1/replay', { topic: 'rp/#', from: future, target: 'subscribers' });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ state: 'completed', total: 0, replayed: 0, note: 'the range holds no messages' });
      const none = await replay({ topic: 'nothing/here/#', from: t0, to: t1 });
      expect(none).toMatchObject({ state: 'completed', replayed: 0, note: "no message in the range matched 'nothing/here/#'" });
    });

    test('bad input is a 400 with a message; an unknown replay is a 404', async () => {
      const bad = async (body: unknown, pattern: RegExp) => {
        const r = await api<{ error: string }>(f.replayApi, 'POST', '/api/v1/replay', body);
        expect(r.status).toBe(400);
        expect(r.body.error).toMatch(pattern);
      };
      await bad({ from: t0 }, /'topic' is required/);
      await bad({ topic: 'a/#/b', from: t0 }, /not a valid MQTT topic filter/);
      await bad({ topic: 'a', from: t1, to: t0 }, /empty time range/);
      await bad({ topic: 'a', from: 'last tuesday' }, /'from' must be epoch milliseconds or an ISO 8601 time/);
      await bad({ topic: 'a' }, /give a time range/);
      await bad({ topic: 'a', from: t0, positions: { 0: [0, 1] } }, /either a time range/);
      await bad({ topic: 'a', positions: { 99: [0, 1] } }, /partition '99' does not exist/);
      await bad({ topic: 'a', positions: { 0: [5, 1] } }, /fromOffset <= toOffset/);
      await bad({ topic: 'a', from: t0, target: 'everyone' }, /'target' must be subscribers, client or prefix/);
      await bad({ topic: 'a', from: t0, target: 'client' }, /needs 'clientId'/);
      await bad({ topic: 'a', from: t0, target: 'prefix', prefix: 'x/#/' }, /'prefix' cannot start a topic name/);
      await bad('{not json', /not valid JSON/);
      await bad([1, 2], /must be a JSON object/);
      const missing = await api<{ error: string }>(f.replayApi, 'GET', '/api/v1/replay/nope');
      expect(missing.status).toBe(404);
      expect(missing.body.error).toMatch(/no replay 'nope'/);
    });
  });
}
