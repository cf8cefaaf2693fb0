/**
 * Attacks on the HTTP API. It listened on every interface with admin/public
 * and only logged a warning; a replay could target `$SYS/` (measured: 202, and
 * the messages appeared under `$SYS/...`) or any prefix; any number of replays
 * could run at once over the whole log; /metrics needed no credentials. Now:
 * the default password keeps the API on 127.0.0.1 (and says so), /metrics needs
 * credentials unless api.metrics.open, replays never publish under `$`, at most
 * api.replay.maxConcurrent run at once and each scans at most
 * api.replay.maxRecords, and failed logins are rate-limited per address.
 */
import { IPublishPacket } from 'mqtt-packet';
import { Writable } from 'stream';
import pino from 'pino';
import { api, apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { RawClient } from '../helpers/rawClient';

jest.setTimeout(90_000);

async function withBroker<T>(overrides: Parameters<typeof startBroker>[0], run: (b: TestBroker, logs: string[]) => Promise<T>): Promise<T> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const b = await startBroker(overrides, { logger: pino({ level: 'warn' }, sink) });
  try {
    return await run(b, logs);
  } finally {
    await b.stop();
    b.cleanup();
  }
}

test('with the default password the API listens on 127.0.0.1 only, whatever api.host says, and says so at start', async () => {
  await withBroker({ api: { host: '0.0.0.0', port: 0 } }, async (b, logs) => {
    expect(b.node.operator!.apiHost).toBe('127.0.0.1');
    expect(logs.join('')).toContain("the HTTP API uses the default password 'public', so it listens on 127.0.0.1 only");
  });
  await withBroker({ api: { host: '0.0.0.0', port: 0, password: 'a-real-secret' } }, async (b) => {
    expect(b.node.operator!.apiHost).toBe('0.0.0.0');
  });
});

test('/metrics needs the API credentials unless api.metrics.open', async () => {
  await withBroker({}, async (b) => {
    expect((await api(apiBase(b.ports.api), 'GET', '/metrics', undefined, null)).status).toBe(401);
    expect((await api(apiBase(b.ports.api), 'GET', '/metrics')).status).toBe(200);
  });
  await withBroker({ api: { metrics: { open: true } } }, async (b) => {
    expect((await api(apiBase(b.ports.api), 'GET', '/metrics', undefined, null)).status).toBe(200);
  });
});

test('a replay never publishes under $: a $ prefix and a $ filter on its own topics are refused (400), and nothing reaches $SYS', async () => {
  await withBroker({}, async (b) => {
    const base = apiBase(b.ports.api);
    const watch = await RawClient.connect(b.ports.tcp!);
    await watch.handshake('api-watch');
    watch.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$SYS/#', qos: 1 }, { topic: 'sent/#', qos: 1 }] });
    await watch.nextCmd('suback');
    const p = await RawClient.connect(b.ports.tcp!);
    await p.handshake('api-pub');
    const from = Date.now() - 1000;
    p.send({ cmd: 'publish', topic: 'sent/x', payload: Buffer.from('m'), qos: 1, retain: false, dup: false, messageId: 1 });
    await p.nextCmd('puback');
    expect((await watch.nextCmd<IPublishPacket>('publish')).topic).toBe('sent/x');
    for (const body of [
      { topic: 'sent/#', from, target: 'prefix', prefix: '$SYS/' },
      { topic: 'sent/#', from, target: 'prefix', prefix: '$anything/' },
      { topic: '$SYS/#', from, target: 'subscribers' },
    ]) {
      const r = await api<{ error: string }>(base, 'POST', '/api/v1/replay', body);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/\$/);
    }
    // A replay to an ordinary prefix still works; it is the first thing the watcher gets (nothing came under $SYS).
    const ok = await api<{ state: string }>(base, 'POST', '/api/v1/replay', { topic: 'sent/#', from, target: 'prefix', prefix: 'sent/again/' });
    expect([200, 202]).toContain(ok.status);
    expect((await watch.nextCmd<IPublishPacket>('publish')).topic).toBe('sent/again/sent/x');
    watch.destroy();
    p.destroy();
  });
});

test('at most api.replay.maxConcurrent replays at once (429), each over at most api.replay.maxRecords records (400)', async () => {
  await withBroker({ api: { replay: { maxConcurrent: 1, maxRecords: 5000 } } }, async (b) => {
    const base = apiBase(b.ports.api);
    const p = await RawClient.connect(b.ports.tcp!);
    await p.handshake('api-bulk');
    const from = Date.now() - 1000;
    for (let i = 1; i <= 4000; i++) p.send({ cmd: 'publish', topic: 'bulk/t', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
    p.send({ cmd: 'publish', topic: 'bulk/t', payload: Buffer.from('end'), qos: 1, retain: false, dup: false, messageId: 1 });
    await p.nextCmd('puback');
    const first = await api<{ id: string; state: string }>(base, 'POST', '/api/v1/replay', { topic: 'bulk/#', from, target: 'prefix', prefix: 'r1/' });
    expect(first.status).toBe(202);
    const second = await api<{ error: string }>(base, 'POST', '/api/v1/replay', { topic: 'bulk/#', from, target: 'prefix', prefix: 'r2/' });
    expect(second.status).toBe(429);
    expect(second.body.error).toMatch(/maxConcurrent/);
    await api(base, 'DELETE', `/api/v1/replay/${first.body.id}`);
    for (let i = 1; i <= 2000; i++) p.send({ cmd: 'publish', topic: 'bulk/t', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
    p.send({ cmd: 'publish', topic: 'bulk/t', payload: Buffer.from('end'), qos: 1, retain: false, dup: false, messageId: 2 });
    await p.nextCmd('puback');
    const tooLarge = await api<{ error: string }>(base, 'POST', '/api/v1/replay', { topic: 'bulk/#', from, target: 'prefix', prefix: 'r3/' });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.error).toMatch(/api\.replay\.maxRecords/);
    expect(b.node.limits.count('api.replay.maxConcurrent')).toBe(1);
    expect(b.node.limits.count('api.replay.maxRecords')).toBe(1);
    p.destroy();
  });
});

test('failed API logins from one address: after api.rateLimit.maxFailuresPerIp the address is refused (429 with Retry-After), right password or not', async () => {
  await withBroker({ api: { rateLimit: { maxFailuresPerIp: 5, windowMs: 60_000, lockoutMs: 60_000 } } }, async (b) => {
    const base = apiBase(b.ports.api);
    for (let i = 0; i < 5; i++) expect((await api(base, 'GET', '/api/v1/status', undefined, 'admin:guess')).status).toBe(401);
    const locked = await fetch(`${base}/api/v1/status`, { headers: { authorization: `Basic ${Buffer.from('admin:public').toString('base64')}` } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(b.node.limits.count('api.rateLimit')).toBe(1);
  });
});

test('a hostile request body is a 400 with a short message, not a crash', async () => {
  await withBroker({}, async (b) => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const r = await api<{ error: string }>(apiBase(b.ports.api), 'POST', '/api/v1/replay', `{"topic":"a/#","from":0,"prefix":${deep},"target":"prefix"}`);
    expect(r.status).toBe(400);
    expect(r.body.error.length).toBeLessThan(300);
  });
});
