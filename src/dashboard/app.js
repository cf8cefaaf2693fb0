// The mqlog dashboard: a single page over the management API (/api/v1), served
// by the broker itself. No build step, no CDN: plain DOM, uPlot for the charts.
// Everything shown comes from the API and is inserted as text, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const AUTH_KEY = 'mqlog.auth';
let auth = sessionStorage.getItem(AUTH_KEY);
let live = null; // the overview stream's reader
const samples = []; // overview samples for the charts
const COLOURS = ['#3366cc', '#0a7d2c', '#cc6633', '#9933cc', '#cc3366', '#339999'];

// ---- API -------------------------------------------------------------------

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: auth || '', 'x-requested-with': 'mqlog-dashboard', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (res.status === 401) {
    showLogin('Please log in again.');
    throw new Error('not logged in');
  }
  if (res.status >= 400) throw new Error((data && data.error) || `HTTP ${res.status}`);
  return data;
}

// ---- DOM -------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? '' : String(c)));
  return e;
}

function table(columns, rows, rowAttrs) {
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', {}, c[0])))),
    el('tbody', {}, rows.map((r, i) => el('tr', rowAttrs ? rowAttrs(r, i) : {}, columns.map((c) => el('td', {}, c[1](r)))))),
  );
}

const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '');
const page = () => $('page');
function show(...nodes) {
  page().replaceChildren(...nodes);
}
function message(text, cls = 'ok') {
  return el('p', { class: cls, id: 'message' }, text);
}
function failed(err) {
  const old = $('message');
  const m = message(err.message, 'error');
  if (old) old.replaceWith(m);
  else page().prepend(m);
}

// ---- login -----------------------------------------------------------------

function showLogin(error) {
  stopLive();
  $('app').classList.add('hidden');
  $('change-password').classList.add('hidden');
  $('login').classList.remove('hidden');
  $('login-error').textContent = error || '';
}

async function enter() {
  let me;
  try {
    me = await api('GET', '/api/v1/me');
  } catch (err) {
    return showLogin(err.message === 'not logged in' ? 'Wrong user or password.' : err.message);
  }
  $('login').classList.add('hidden');
  $('whoami').textContent = me.name;
  if (me.mustChangePassword) {
    $('change-password').classList.remove('hidden');
    $('default-warning').classList.remove('hidden');
    return;
  }
  $('change-password').classList.add('hidden');
  $('default-warning').classList.add('hidden');
  $('app').classList.remove('hidden');
  route();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  auth = `Basic ${btoa(`${$('login-user').value}:${$('login-password').value}`)}`;
  sessionStorage.setItem(AUTH_KEY, auth);
  enter();
});

$('password-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const password = $('new-password').value;
  if (password !== $('new-password-again').value) return ($('password-error').textContent = 'The two passwords differ.');
  try {
    const me = await api('GET', '/api/v1/me');
    await api('PUT', '/api/v1/me/password', { password });
    auth = `Basic ${btoa(`${me.name}:${password}`)}`;
    sessionStorage.setItem(AUTH_KEY, auth);
    enter();
  } catch (err) {
    $('password-error').textContent = err.message;
  }
});

$('logout').addEventListener('click', () => {
  auth = null;
  sessionStorage.removeItem(AUTH_KEY);
  showLogin();
});

// ---- live overview (server-sent events over fetch, so the credentials travel in a header) ----

function stopLive() {
  if (live) live.cancel().catch(() => undefined);
  live = null;
}

async function startLive(onSample) {
  stopLive();
  const res = await fetch('/api/v1/stream', { headers: { authorization: auth, 'x-requested-with': 'mqlog-dashboard' } });
  if (!res.ok) throw new Error(`live stream: HTTP ${res.status}`);
  const reader = res.body.getReader();
  live = reader;
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ done: true }));
    if (done || live !== reader) return;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (data) onSample(JSON.parse(data.slice(6)));
    }
  }
}

// ---- pages -----------------------------------------------------------------

const pages = {
  async overview() {
    const cards = el('div', { class: 'cards', id: 'overview-cards' });
    const connChart = el('div', { class: 'chart', id: 'chart-connections' });
    const rateChart = el('div', { class: 'chart', id: 'chart-rates' });
    show(el('h2', {}, 'Overview'), cards, el('div', { class: 'charts' }, connChart, rateChart));
    const mk = (target, title, series) => {
      target.replaceChildren();
      return new uPlot({ title, width: 520, height: 240, series: [{}, ...series.map((s, i) => ({ label: s, stroke: COLOURS[i % COLOURS.length] }))], axes: [{}, {}] }, [[], ...series.map(() => [])], target);
    };
    let nodeId = '';
    let nodeSet = '';
    let connections;
    let rates;
    const render = (o) => {
      nodeId = o.nodeId;
      samples.push(o);
      if (samples.length > 300) samples.shift();
      // One series per live node (the others' figures come from their $SYS topics, every sys.intervalMs).
      const ids = o.nodes.map((n) => n.nodeId);
      if (ids.join(' ') !== nodeSet) {
        nodeSet = ids.join(' ');
        connections = mk(connChart, 'Connections per node', ids);
        rates = mk(rateChart, 'Messages per second per node (in / out)', ids.flatMap((id) => [`${id} in`, `${id} out`]));
      }
      const t = samples.map((h) => h.timestamp / 1000);
      const of = (h, id) => h.nodes.find((n) => n.nodeId === id) || { connections: null, messagesReceived: null, messagesSent: null };
      const rate = (id, key) => samples.map((h, i) => (i === 0 ? 0 : Math.max(0, ((of(h, id)[key] - of(samples[i - 1], id)[key]) * 1000) / Math.max(1, h.timestamp - samples[i - 1].timestamp))));
      connections.setData([t, ...ids.map((id) => samples.map((h) => of(h, id).connections))]);
      rates.setData([t, ...ids.flatMap((id) => [rate(id, 'messagesReceived'), rate(id, 'messagesSent')])]);
      cards.replaceChildren(
        ...[
          ['Node', nodeId],
          ['Connections', o.connections],
          ['Sessions', o.sessions],
          ['Subscriptions', o.subscriptions],
          ['Retained', o.retained],
          ['Received', o.messagesReceived],
          ['Sent', o.messagesSent],
          ['Dropped', o.messagesDropped],
          ['Health', o.health],
        ].map(([k, v]) => el('div', { class: 'card' }, k, el('b', { 'data-card': k.toLowerCase() }, v))),
      );
    };
    startLive(render).catch(failed);
  },

  async clients() {
    const search = el('input', { id: 'client-search', placeholder: 'client id, user or address' });
    const list = el('div', { id: 'client-list' });
    const details = el('div', { id: 'client-details' });
    const load = async () => {
      const r = await api('GET', `/api/v1/clients?limit=200&search=${encodeURIComponent(search.value)}`);
      list.replaceChildren(
        el('p', {}, `${r.total} client(s)`),
        table(
          [
            ['Client id', (c) => el('a', { href: `#clients/${encodeURIComponent(c.clientId)}`, 'data-client': c.clientId }, c.clientId)],
            ['User', (c) => c.username || ''],
            ['Connected', (c) => (c.connected ? 'yes' : 'no')],
            ['Node', (c) => c.node],
            ['Address', (c) => c.address],
            ['Subscriptions', (c) => c.subscriptions],
            ['Since', (c) => time(c.connectedAt)],
          ],
          r.items,
        ),
      );
    };
    show(el('h2', {}, 'Clients'), el('form', { class: 'inline', onsubmit: (e) => (e.preventDefault(), load().catch(failed)) }, el('label', {}, 'Search', search), el('button', { type: 'submit', id: 'client-search-button' }, 'Search')), list, details);
    await load();
  },

  async client(id) {
    const c = await api('GET', `/api/v1/clients/${encodeURIComponent(id)}`);
    const h = await api('GET', `/api/v1/clients/${encodeURIComponent(id)}/events?limit=200`);
    const kick = el('button', {
      id: 'kick',
      disabled: !c.connected,
      onclick: async () => {
        try {
          await api('POST', `/api/v1/clients/${encodeURIComponent(id)}/kick`);
          page().prepend(message(`${id} kicked`));
        } catch (err) {
          failed(err);
        }
      },
    }, 'Kick');
    const discard = el('button', {
      id: 'discard',
      onclick: async () => {
        try {
          await api('DELETE', `/api/v1/sessions/${encodeURIComponent(id)}`);
          page().prepend(message(`session of ${id} discarded`));
        } catch (err) {
          failed(err);
        }
      },
    }, 'Discard session');
    const fields = ['clientId', 'username', 'connected', 'node', 'address', 'transport', 'protocolVersion', 'cleanSession', 'keepalive', 'inflight', 'inboundPending', 'queued', 'lagMs', 'hasWill'];
    show(
      el('h2', {}, `Client ${id}`),
      el('p', {}, kick, ' ', discard),
      table([['Field', (f) => f], ['Value', (f) => String(c[f])]], fields),
      el('h3', {}, 'Subscriptions'),
      table([['Filter', (s) => s.filter], ['QoS', (s) => s.qos]], c.subscriptionList),
      el('h3', {}, 'Event history (from the log)'),
      table(
        [
          ['Time', (e) => time(e.timestamp)],
          ['Event', (e) => e.type],
          ['Detail', (e) => e.reasonName || e.reason || (e.subscriptions ? e.subscriptions.map((s) => `${s.filter}@${s.granted}`).join(', ') : '') || (e.filters || []).join(', ') || ''],
        ],
        h.events,
        () => ({ class: 'history-row' }),
      ),
    );
  },

  async subscriptions() {
    const search = el('input', { id: 'subscription-search', placeholder: 'filter' });
    const list = el('div');
    const load = async () => {
      const r = await api('GET', `/api/v1/subscriptions?limit=500&search=${encodeURIComponent(search.value)}`);
      list.replaceChildren(el('p', {}, `${r.total} subscription(s)`), table([['Filter', (s) => s.filter], ['QoS', (s) => s.qos], ['Client', (s) => s.clientId]], r.items));
    };
    show(el('h2', {}, 'Subscriptions'), el('form', { class: 'inline', onsubmit: (e) => (e.preventDefault(), load().catch(failed)) }, el('label', {}, 'Search', search), el('button', { type: 'submit' }, 'Search')), list);
    await load();
  },

  async retained() {
    const search = el('input', { id: 'retained-search', placeholder: 'topic' });
    const list = el('div', { id: 'retained-list' });
    const load = async () => {
      const r = await api('GET', `/api/v1/retained?limit=500&search=${encodeURIComponent(search.value)}`);
      list.replaceChildren(
        el('p', {}, `${r.total} retained message(s)`),
        table(
          [
            ['Topic', (m) => m.topic],
            ['Payload', (m) => (m.payloadEncoding === 'utf8' ? m.payload.slice(0, 200) : `(base64) ${m.payload.slice(0, 100)}`)],
            ['QoS', (m) => m.qos],
            ['Time', (m) => time(m.timestamp)],
            ['', (m) => el('button', { 'data-delete': m.topic, onclick: () => api('DELETE', `/api/v1/retained/${encodeURIComponent(m.topic)}`).then(load).catch(failed) }, 'Delete')],
          ],
          r.items,
        ),
      );
    };
    show(el('h2', {}, 'Retained messages'), el('form', { class: 'inline', onsubmit: (e) => (e.preventDefault(), load().catch(failed)) }, el('label', {}, 'Search', search), el('button', { type: 'submit' }, 'Search')), list);
    await load();
  },

  async topics() {
    const r = await api('GET', '/api/v1/topics?limit=50');
    show(el('h2', {}, 'Busiest topics (last minute)'), table([['Topic', (t) => t.topic], ['Messages/s', (t) => t.messagesPerSecond]], r.topics));
  },

  async nodes() {
    const r = await api('GET', '/api/v1/nodes');
    show(
      el('h2', {}, 'Nodes'),
      table(
        [
          ['Node', (n) => n.nodeId + (n.self ? ' (this one)' : '')],
          ['Live', (n) => (n.live ? 'yes' : 'no')],
          ['Health', (n) => (n.health ? n.health.state : '')],
          ['Version', (n) => n.version || ''],
          ['Up since', (n) => time(n.startedAt)],
          ['Connections', (n) => (n.connections === null ? '' : n.connections)],
          ['Log end / read', (n) => (n.logEnd ? n.logEnd.map((e, i) => `${e}/${n.logPosition[i]}`).join(' ') : '')],
        ],
        r.nodes,
      ),
    );
  },

  async drops() {
    const r = await api('GET', '/api/v1/drops');
    show(
      el('h2', {}, `Dropped messages (${r.total})`),
      table([['Reason', (k) => k], ['Count', (k) => r.byReason[k]]], Object.keys(r.byReason)),
      el('h3', {}, 'Recent'),
      table([['Time', (d) => time(d.timestamp)], ['Client', (d) => d.clientId], ['Count', (d) => d.count], ['Reason', (d) => d.reason], ['Detail', (d) => d.detail]], [...r.recent].reverse()),
    );
  },

  async history() {
    const topic = el('input', { id: 'history-topic', value: '#' });
    const from = el('input', { id: 'history-from', value: '1h', placeholder: 'ISO time or 15m, 24h' });
    const results = el('div', { id: 'history-results' });
    const replayOut = el('div', { id: 'replay-status' });
    // "1h", "15m" (ago) or a time as the API takes it.
    const since = () => (/^\d+[smhd]$/.test(from.value.trim()) ? new Date(Date.now() - durationMs(from.value.trim())).toISOString() : from.value.trim());
    const search = async () => {
      const r = await api('GET', `/api/v1/messages?topic=${encodeURIComponent(topic.value)}&from=${encodeURIComponent(since())}&limit=100`);
      results.replaceChildren(
        el('p', {}, `${r.messages.length} message(s) from ${r.source}`),
        table([['Time', (m) => m.timestamp], ['Topic', (m) => m.topic], ['Payload', (m) => m.payload.slice(0, 200)], ['Client', (m) => m.clientId], ['QoS', (m) => m.qos]], r.messages, () => ({ class: 'history-message' })),
      );
    };
    const prefix = el('input', { id: 'replay-prefix', placeholder: 'replay/<id>/ by default' });
    const replay = async () => {
      let s = await api('POST', '/api/v1/replay', { topic: topic.value, from: since(), target: 'prefix', ...(prefix.value ? { prefix: prefix.value } : {}) });
      const render = () => replayOut.replaceChildren(el('p', { 'data-state': s.state }, `replay ${s.id}: ${s.state}, ${s.progress}% scanned, ${s.replayed} replayed${s.note ? ` (${s.note})` : ''}${s.error ? `, error: ${s.error}` : ''}`));
      render();
      while (s.state === 'running') {
        await new Promise((r) => setTimeout(r, 300));
        s = await api('GET', `/api/v1/replay/${encodeURIComponent(s.id)}`);
        render();
      }
    };
    show(
      el('h2', {}, 'Message history'),
      el('form', { class: 'inline', onsubmit: (e) => (e.preventDefault(), search().catch(failed)) }, el('label', {}, 'Topic filter', topic), el('label', {}, 'From', from), el('button', { type: 'submit', id: 'history-search' }, 'Search')),
      results,
      el('h2', {}, 'Replay'),
      el('form', { class: 'inline', onsubmit: (e) => (e.preventDefault(), replay().catch(failed)) }, el('label', {}, 'Prefix', prefix), el('button', { type: 'submit', id: 'replay-start' }, 'Replay the filter above from "From"')),
      replayOut,
    );
  },

  async publish() {
    const topic = el('input', { id: 'publish-topic', required: true });
    const payload = el('textarea', { id: 'publish-payload', rows: 3 });
    const qos = el('select', { id: 'publish-qos' }, el('option', { value: '0' }, '0'), el('option', { value: '1' }, '1'), el('option', { value: '2' }, '2'));
    const retain = el('input', { id: 'publish-retain', type: 'checkbox' });
    const out = el('div', { id: 'publish-result' });
    const send = async () => {
      const r = await api('POST', '/api/v1/publish', { topic: topic.value, payload: payload.value, qos: Number(qos.value), retain: retain.checked });
      out.replaceChildren(message(`published ${r.published} message to ${topic.value}`));
    };
    show(
      el('h2', {}, 'Publish'),
      el('form', { class: 'inline', onsubmit: (e) => (e.preventDefault(), send().catch(failed)) }, el('label', {}, 'Topic', topic), el('label', {}, 'Payload', payload), el('label', {}, 'QoS', qos), el('label', {}, 'Retain', retain), el('button', { type: 'submit', id: 'publish-send' }, 'Publish')),
      out,
    );
  },

  async audit() {
    const r = await api('GET', '/api/v1/audit?limit=500');
    show(el('h2', {}, 'Operator actions'), table([['Time', (a) => time(a.timestamp)], ['Who', (a) => a.actor], ['From', (a) => a.ip], ['Action', (a) => a.action], ['Target', (a) => a.target], ['Detail', (a) => a.detail]], [...r.actions].reverse()));
  },
};

function durationMs(text) {
  const n = Number(text.slice(0, -1));
  return n * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[text.slice(-1)];
}

async function route() {
  if ($('app').classList.contains('hidden')) return;
  stopLive();
  const [name, arg] = (location.hash.slice(1) || 'overview').split('/');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#${name}`);
  const render = name === 'clients' && arg ? () => pages.client(decodeURIComponent(arg)) : pages[name] || pages.overview;
  try {
    await render();
  } catch (err) {
    if (err.message !== 'not logged in') failed(err);
  }
}

window.addEventListener('hashchange', route);
if (auth) enter();
else showLogin();
