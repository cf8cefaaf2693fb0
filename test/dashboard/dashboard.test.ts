/**
 * The dashboard end to end in real headless Chromium (Debian's chromium,
 * driven by playwright-core; no browser download): log in with the default
 * password and change it, watch the connection count rise when an MQTT client
 * connects, find that client and kick it (the client sees the disconnect),
 * publish from the page and receive it over MQTT, search history and run a
 * replay to its end, open every page. Screenshots of every page are saved in
 * test/artifacts/dashboard/; the page must log no console error.
 */
import { mkdirSync } from 'fs';
import { join } from 'path';
import mqtt, { MqttClient } from 'mqtt';
import { Browser, chromium, Page } from 'playwright-core';
import { apiBase } from '../helpers/api';
import { startBroker, TestBroker } from '../helpers/broker';
import { chromiumPath } from '../helpers/chromium';

jest.setTimeout(120_000);

const ARTIFACTS = join(__dirname, '..', 'artifacts', 'dashboard');
let b: TestBroker;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  b = await startBroker({ api: { port: 0 } });
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await browser?.close();
  await b.stop();
  b.cleanup();
});

function connect(clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port: b.ports.tcp, clientId, reconnectPeriod: 0 });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const cardValue = async (name: string) => Number(await page.locator(`[data-card="${name}"]`).textContent());

test('log in with the default password, which must be changed first; the new one works and the old one no longer does', async () => {
  await page.goto(`${apiBase(b.ports.api)}/`);
  await page.locator('#login').waitFor();
  await shot('01-login');
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', 'public');
  await page.click('#login-submit');
  await page.locator('#change-password').waitFor();
  await shot('02-change-password');
  await page.fill('#new-password', 'a-new-secret-9');
  await page.fill('#new-password-again', 'a-new-secret-9');
  await page.click('#password-submit');
  await page.locator('#overview-cards [data-card="connections"]').waitFor();
  await shot('03-overview');
  const old = await fetch(`${apiBase(b.ports.api)}/api/v1/me`, { headers: { authorization: `Basic ${Buffer.from('admin:public').toString('base64')}` } });
  expect(old.status).toBe(401);
});

test('the overview counts a new MQTT connection live', async () => {
  const before = await cardValue('connections');
  await connect('dash-watch-me');
  // Polls the card (not a browser-side function: the test compiles without the DOM types).
  for (let i = 0; i < 200 && (await cardValue('connections')) <= before; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await cardValue('connections')).toBe(before + 1);
  await shot('04-overview-live');
});

test('find the client on the clients page, open it, kick it: the MQTT client is disconnected', async () => {
  const victim = await connect('dash-kick-me');
  const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
  await page.click('a[href="#clients"]');
  await page.fill('#client-search', 'dash-kick');
  await page.click('#client-search-button');
  await page.locator('[data-client="dash-kick-me"]').click();
  await page.locator('#kick').waitFor();
  await shot('05-client-details');
  await page.click('#kick');
  await closed;
  await page.locator('#message').waitFor();
  expect(await page.locator('#message').textContent()).toContain('kicked');
  await shot('06-client-kicked');
});

test('publish from the page: an MQTT subscriber receives it', async () => {
  const sub = await connect('dash-sub');
  await sub.subscribeAsync('dash/pub', { qos: 1 });
  const got = new Promise<string>((resolve) => sub.once('message', (_t, p) => resolve(p.toString())));
  await page.click('a[href="#publish"]');
  await page.fill('#publish-topic', 'dash/pub');
  await page.fill('#publish-payload', 'from the dashboard');
  await page.selectOption('#publish-qos', '1');
  await page.click('#publish-send');
  expect(await got).toBe('from the dashboard');
  await page.locator('#message').waitFor();
  await shot('07-publish');
});

test('search message history and run a replay to its end, with its progress shown', async () => {
  await page.click('a[href="#history"]');
  await page.fill('#history-topic', 'dash/#');
  await page.click('#history-search');
  await page.locator('.history-message').first().waitFor();
  expect(await page.locator('.history-message').first().textContent()).toContain('from the dashboard');
  const sub = await connect('dash-replay-sub');
  await sub.subscribeAsync('replay/#');
  const replayed = new Promise<string>((resolve) => sub.once('message', (t, p) => resolve(`${t}=${p}`)));
  await page.click('#replay-start');
  await page.locator('#replay-status [data-state="completed"]').waitFor({ timeout: 30_000 });
  expect(await replayed).toMatch(/^replay\/[^/]+\/dash\/pub=from the dashboard$/);
  await shot('08-history-replay');
});

test('every page renders (screenshots saved) and the page logged no console error', async () => {
  for (const name of ['subscriptions', 'retained', 'topics', 'nodes', 'drops', 'audit', 'overview']) {
    await page.click(`a[href="#${name}"]`);
    await page.locator('#page h2').first().waitFor();
    await shot(`09-${name}`);
  }
  expect(await page.locator('#page').textContent()).toContain('Overview');
  expect(consoleErrors).toEqual([]);
});
