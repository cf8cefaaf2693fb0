/**
 * One set of message-history queries, run unchanged against every history
 * source (the embedded log, the Kafka log, the Elasticsearch archive): the API
 * must answer the same on each.
 */
import mqtt from 'mqtt';
import { HistoryMessage } from '../../src/history/HistoryMessage';
import { api } from '../helpers/api';
import { sleep } from '../helpers/rawClient';

export interface HistoryFixture {
  /** The API base URL of a node. */
  apiUrl: string;
  /** The MQTT URL of a node (publishers connect here). */
  mqttUrl: string;
  /** Resolves once everything published so far is queryable (e.g. archived and refreshed). */
  settle(): Promise<void>;
  /** What `source` the API reports. */
  source: 'log' | 'elasticsearch';
}

interface Page {
  source: string;
  messages: HistoryMessage[];
  next: string | null;
}

/** The fixture's messages, in publish order: [client, user, topic, payload, qos, retain]. */
const GROUPS: Array<Array<[string, string | null, string, string | Buffer, 0 | 1 | 2, boolean]>> = [
  [
    ['dev-1', 'alice', 'plant/a/temp', 'Temperature reading 21', 1, false],
    ['dev-1', 'alice', 'plant/a/hum', 'humidity reading 40', 0, false],
    ['dev-2', 'bob', 'plant/b/temp', 'temperature ALARM high', 1, true],
  ],
  [
    ['dev-2', 'bob', 'plant/b/temp/raw', Buffer.from([0, 255, 1, 254]), 0, false],
    ['dev-3', null, 'office/door', 'door opened', 2, false],
    ['dev-3', null, '$app/status', 'online', 1, false],
  ],
  [
    ['dev-1', 'alice', 'plant/a/temp', 'temperature reading 22', 1, false],
    ['dev-4', 'carol', 'plant', 'root level', 0, false],
  ],
];

export function describeHistoryQueries(name: string, setup: () => Promise<HistoryFixture>, teardown: () => Promise<void>): void {
  describe(`message history: ${name}`, () => {
    let f: HistoryFixture;
    let all: HistoryMessage[];

    const query = async (params: Record<string, string>): Promise<Page> => {
      const r = await api<Page>(f.apiUrl, 'GET', `/api/v1/messages?${new URLSearchParams(params)}`);
      expect(r.status).toBe(200);
      return r.body;
    };
    const topics = async (params: Record<string, string>): Promise<string[]> => (await query({ limit: '1000', ...params })).messages.map((m) => m.topic);

    beforeAll(async () => {
      f = await setup();
      const clients = new Map<string, mqtt.MqttClient>();
      for (const group of GROUPS) {
        for (const [clientId, username, topic, payload, qos, retain] of group) {
          let c = clients.get(clientId);
          if (!c) {
            c = await mqtt.connectAsync(f.mqttUrl, { clientId, reconnectPeriod: 0, ...(username ? { username, password: 'pw' } : {}) });
            clients.set(clientId, c);
          }
          await c.publishAsync(topic, payload, { qos, retain });
          await sleep(5); // distinct publish times within a group too
        }
        await sleep(60);
      }
      for (const c of clients.values()) await c.endAsync();
      await f.settle();
      all = (await query({ limit: '1000' })).messages;
    }, 120_000);

    afterAll(teardown, 60_000);

    test('every message is there once, in publish order, with who published it and how', async () => {
      expect(all.map((m) => m.topic)).toEqual(GROUPS.flat().map((g) => g[2]));
      const first = all[0];
      expect(first).toMatchObject({ topic: 'plant/a/temp', payload: 'Temperature reading 21', payloadEncoding: 'utf8', payloadSize: 22, qos: 1, retain: false, clientId: 'dev-1', username: 'alice', origin: 'client' });
      expect(first.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Date.parse(first.timestamp)).toBeGreaterThan(Date.now() - 10 * 60_000);
      expect(all.find((m) => m.topic === 'plant/b/temp')!.retain).toBe(true);
      expect(all.find((m) => m.topic === 'office/door')!).toMatchObject({ username: null, qos: 2 });
      const times = all.map((m) => Date.parse(m.timestamp));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    });

    test('a binary payload comes back as base64 with its size', () => {
      const raw = all.find((m) => m.topic === 'plant/b/temp/raw')!;
      expect(raw).toMatchObject({ payloadEncoding: 'base64', payloadSize: 4 });
      expect(Buffer.from(raw.payload, 'base64')).toEqual(Buffer.from([0, 255, 1, 254]));
    });

    test('the API says which source answered', async () => {
      expect((await query({})).source).toBe(f.source);
    });

    test('topic filter: an exact topic', async () => {
      expect(await topics({ topic: 'plant/a/temp' })).toEqual(['plant/a/temp', 'plant/a/temp']);
    });

    test('topic filter: + matches one level [MQTT-4.7.1-3]', async () => {
      expect(await topics({ topic: 'plant/+/temp' })).toEqual(['plant/a/temp', 'plant/b/temp', 'plant/a/temp']);
    });

    test('topic filter: # matches the parent level and everything below [MQTT-4.7.1-2]', async () => {
      expect(await topics({ topic: 'plant/#' })).toEqual(['plant/a/temp', 'plant/a/hum', 'plant/b/temp', 'plant/b/temp/raw', 'plant/a/temp', 'plant']);
      expect(await topics({ topic: 'plant/b/#' })).toEqual(['plant/b/temp', 'plant/b/temp/raw']);
    });

    test('topic filter: wildcards at the start do not match $ topics [MQTT-4.7.2-1]', async () => {
      expect(await topics({ topic: '#' })).not.toContain('$app/status');
      expect(await topics({ topic: '+/status' })).toEqual([]);
      expect(await topics({ topic: '$app/#' })).toEqual(['$app/status']);
    });

    test('time range: from inclusive, to exclusive', async () => {
      const second = GROUPS[0].length;
      const third = second + GROUPS[1].length;
      const from = String(Date.parse(all[second].timestamp));
      const to = String(Date.parse(all[third].timestamp));
      expect(await topics({ from, to })).toEqual(GROUPS[1].map((g) => g[2]));
      expect(await topics({ from: all[third].timestamp })).toEqual(GROUPS[2].map((g) => g[2]));
      expect(await topics({ to: all[second].timestamp })).toEqual(GROUPS[0].map((g) => g[2]));
    });

    test('client id and username', async () => {
      expect(await topics({ clientId: 'dev-2' })).toEqual(['plant/b/temp', 'plant/b/temp/raw']);
      expect(await topics({ username: 'alice' })).toEqual(['plant/a/temp', 'plant/a/hum', 'plant/a/temp']);
      expect(await topics({ username: 'nobody' })).toEqual([]);
    });

    test('full text on the payload: every word, any case', async () => {
      expect((await query({ text: 'temperature' })).messages.map((m) => m.payload)).toEqual(['Temperature reading 21', 'temperature ALARM high', 'temperature reading 22']);
      expect((await query({ text: 'READING temperature' })).messages.map((m) => m.payload)).toEqual(['Temperature reading 21', 'temperature reading 22']);
      expect((await query({ text: 'temperature absent' })).messages).toEqual([]);
    });

    test('filters combine', async () => {
      expect((await query({ topic: 'plant/#', username: 'alice', text: 'reading', from: all[1].timestamp })).messages.map((m) => m.payload)).toEqual(['humidity reading 40', 'temperature reading 22']);
    });

    test('stable paging: pages of 3 walk every message once, in order', async () => {
      const seen: HistoryMessage[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page: Page = await query({ limit: '3', ...(after ? { after } : {}) });
        expect(page.messages.length).toBeLessThanOrEqual(3);
        seen.push(...page.messages);
        after = page.next;
        if (!after) break;
      }
      expect(after).toBeNull();
      expect(seen).toEqual(all);
    });

    test('bad input is a 400 with a message', async () => {
      const bad = async (qs: string, pattern: RegExp) => {
        const r = await api<{ error: string }>(f.apiUrl, 'GET', `/api/v1/messages?${qs}`);
        expect(r.status).toBe(400);
        expect(r.body.error).toMatch(pattern);
      };
      await bad(`topic=${encodeURIComponent('a/#/b')}`, /not a valid MQTT topic filter/);
      await bad(`topic=${encodeURIComponent('a/b+')}`, /not a valid MQTT topic filter/);
      await bad('from=yesterday', /'from' must be epoch milliseconds or an ISO 8601 time/);
      await bad('from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z', /empty time range/);
      await bad('limit=0', /'limit' must be an integer from 1 to 1000/);
      await bad('after=bm9wZQ', /not a cursor/);
      await bad('colour=blue', /unknown parameter 'colour'/);
    });

    test('without credentials: 401', async () => {
      const r = await api<{ error: string }>(f.apiUrl, 'GET', '/api/v1/messages', undefined, null);
      expect(r.status).toBe(401);
      const wrong = await api<{ error: string }>(f.apiUrl, 'GET', '/api/v1/messages', undefined, 'admin:wrong');
      expect(wrong.status).toBe(401);
    });
  });
}
