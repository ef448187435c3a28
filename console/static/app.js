// Atlas console: polls the query API with the operator's token and tenant headers and
// renders what it answers. Everything shown is set as text, never as markup: account names,
// topics and dead letters come from players and producers.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1500;
const STATES = ['logged out', 'logged in', 'in transition'];

// The token lives for the browser tab only; the tenant is remembered.
const store = {
  get token() { return sessionStorage.getItem('atlas.token') || ''; },
  set token(v) { sessionStorage.setItem('atlas.token', v); },
  tenant() {
    try {
      const t = JSON.parse(localStorage.getItem('atlas.tenant') || 'null');
      return t && ['id', 'region', 'major', 'minor'].every((k) => typeof t[k] === 'string') ? t : null;
    } catch { return null; }
  },
  saveTenant(t) { localStorage.setItem('atlas.tenant', JSON.stringify(t)); },
};

function tenantFields() {
  return { id: $('tenant-id').value.trim(), region: $('tenant-region').value.trim(),
    major: $('tenant-major').value.trim(), minor: $('tenant-minor').value.trim() };
}

class APIError extends Error {
  constructor(status, detail) { super(detail || ('HTTP ' + status)); this.status = status; }
}

async function api(path, opts = {}) {
  const h = { Accept: 'application/vnd.api+json' };
  if (store.token) h.Authorization = 'Bearer ' + store.token;
  if (opts.tenant !== false) {
    const t = tenantFields();
    h.TENANT_ID = t.id; h.REGION = t.region; h.MAJOR_VERSION = t.major; h.MINOR_VERSION = t.minor;
  }
  if (opts.method === 'POST') h['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method: opts.method || 'GET', headers: h, body: opts.method === 'POST' ? '{}' : undefined, cache: 'no-store' });
  let doc = null;
  try { doc = await resp.json(); } catch { /* not JSON: the status says enough */ }
  if (!resp.ok) {
    const e = doc && doc.errors && doc.errors[0];
    throw new APIError(resp.status, e ? (e.detail || e.title) : '');
  }
  return doc;
}

function status(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.className = isError ? 'error' : '';
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : 'never';
}

function fill(tbody, rows, render) {
  tbody.replaceChildren(...rows.map((r) => { const tr = document.createElement('tr'); render(tr, r); return tr; }));
}

// ---- accounts ----

const accounts = { page: 1, pages: 1, name: '' };

async function refreshAccounts() {
  let rows = [];
  try {
    if (accounts.name) {
      const doc = await api('/api/accounts?name=' + encodeURIComponent(accounts.name));
      rows = [doc.data];
      accounts.pages = 1;
    } else {
      const doc = await api('/api/accounts?page%5Bnumber%5D=' + accounts.page + '&page%5Bsize%5D=50');
      rows = doc.data;
      accounts.pages = Math.max(1, doc.meta.pages);
      if (accounts.page > accounts.pages) { accounts.page = accounts.pages; return refreshAccounts(); }
    }
  } catch (e) {
    if (!(e instanceof APIError && e.status === 404)) throw e;
    accounts.pages = 1; // no such account, or a tenant without accounts: an empty list
  }
  // The state filter applies to the page shown (the API pages by id, not by state).
  const want = $('account-state').value;
  if (want !== '') rows = rows.filter((r) => String(r.attributes.loggedIn) === want);
  if (stale()) return;
  $('page-info').textContent = accounts.name ? '' : 'page ' + accounts.page + ' of ' + accounts.pages;
  fill($('account-rows'), rows, (tr, r) => {
    const a = r.attributes;
    tr.dataset.id = r.id;
    tr.dataset.name = a.name;
    cell(tr, r.id);
    cell(tr, a.name, 'name');
    cell(tr, STATES[a.loggedIn] || String(a.loggedIn), 'state state-' + a.loggedIn);
    cell(tr, when(a.lastLogin), 'last-login');
    cell(tr, a.banned ? 'reason ' + a.ban.reason + (a.ban.until ? ' until ' + when(a.ban.until) : ', permanent') : '', 'ban');
  });
}

// ---- channels ----

async function refreshChannels() {
  const doc = await api('/api/channels');
  if (stale()) return;
  fill($('channel-rows'), doc.data, (tr, r) => {
    const c = r.attributes;
    tr.dataset.id = r.id;
    cell(tr, c.world);
    cell(tr, c.channel);
    cell(tr, c.address);
    cell(tr, c.current + ' / ' + c.max, 'players');
    cell(tr, c.lastSeen.replace('T', ' ').slice(0, 19));
  });
}

// ---- dead letters ----

let shownLetter = null;

async function refreshDeadLetters() {
  const q = new URLSearchParams({ limit: '50' });
  if ($('dlq-topic').value) q.set('topic', $('dlq-topic').value);
  if ($('dlq-reason').value) q.set('reason', $('dlq-reason').value);
  const doc = await api('/api/deadletters?' + q, { tenant: false });
  if (stale()) return;
  fill($('dlq-rows'), doc.data, (tr, r) => {
    const d = r.attributes;
    tr.dataset.at = r.id;
    tr.className = 'clickable';
    cell(tr, d.timestamp.replace('T', ' ').slice(0, 19));
    cell(tr, d.topic, 'topic');
    cell(tr, d.reason, 'reason');
    cell(tr, d.key);
    cell(tr, r.id);
    tr.addEventListener('click', () => showLetter(r.id).catch(report));
  });
}

async function showLetter(at) {
  const doc = await api('/api/deadletters/' + at, { tenant: false });
  const d = doc.data.attributes;
  shownLetter = at;
  $('dlq-detail').hidden = false;
  $('dlq-at').textContent = at;
  const meta = $('dlq-meta');
  meta.replaceChildren();
  for (const [k, v] of [['from', d.topic + ' ' + d.from], ['group', d.group], ['reason', d.reason], ['key', d.key], ['time', d.timestamp]]) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    meta.append(dt, dd);
  }
  $('dlq-headers').textContent = JSON.stringify(d.headers, null, 2);
  $('dlq-value').textContent = d.value !== undefined ? JSON.stringify(d.value, null, 2)
    : d.withheld ? '(' + d.withheld + ')' : '(base64) ' + (d.valueBase64 || '');
  // One replay per opening of a letter: a second click would write the record again.
  $('dlq-replay').disabled = !!d.cut;
  $('dlq-result').textContent = d.cut ? 'its value was cut to fit the dead-letter topic: it cannot be replayed' : '';
}

async function replayLetter() {
  if (!shownLetter || $('dlq-replay').disabled) return;
  $('dlq-replay').disabled = true;
  const at = shownLetter;
  try {
    const doc = await api('/api/deadletters/' + at + '/replay', { method: 'POST', tenant: false });
    const r = doc.data.attributes;
    $('dlq-result').textContent = 'replayed ' + at + ' to ' + r.topic + ' partition ' + r.partition + ' offset ' + r.offset;
  } catch (e) {
    $('dlq-replay').disabled = false; // nothing was written: it may be tried again
    throw e;
  }
}

// ---- tenants ----

async function refreshTenants() {
  const doc = await api('/api/tenants', { tenant: false });
  const pick = $('tenant-pick');
  const chosen = pick.value;
  const opts = [new Option('choose a tenant…', '')];
  for (const r of doc.data) {
    const a = r.attributes;
    const value = JSON.stringify({ id: a.tenantId, region: a.region, major: String(a.majorVersion), minor: String(a.minorVersion) });
    opts.push(new Option(a.tenantId + ' ' + a.region + ' ' + a.majorVersion + '.' + a.minorVersion + ' (' + a.accounts + ' accounts)', value));
  }
  pick.replaceChildren(...opts);
  pick.value = chosen;
}

function useTenant(t) {
  $('tenant-id').value = t.id; $('tenant-region').value = t.region;
  $('tenant-major').value = t.major; $('tenant-minor').value = t.minor;
  store.saveTenant(t);
}

// ---- loop ----

const tabs = { accounts: refreshAccounts, channels: refreshChannels, deadletters: refreshDeadLetters };
let active = 'accounts';
let busy = false;
let again = false; // a change came while a refresh was running: refresh once more after it
// generation counts changes of tenant, tab and filters: an answer to a request made before
// the latest change is not shown.
let generation = 0;
let started = 0;
const stale = () => started !== generation;
function changed() { generation++; tick(); }
// Each dead-letter read opens a Kafka client on the server: those are polled less often.
const DLQ_POLL_MS = 5000;
let lastDeadLetters = 0;

function report(e) {
  if (e instanceof APIError && e.status === 401) status('a bearer token is required: enter one above', true);
  else status(e.message, true);
}

async function tick(ev) {
  if (busy) { if (ev !== 'poll') again = true; return; }
  started = generation;
  if (active === 'deadletters' && ev === 'poll' && Date.now() - lastDeadLetters < DLQ_POLL_MS) return;
  if (active === 'deadletters') lastDeadLetters = Date.now();
  busy = true;
  try {
    if (active !== 'deadletters' && !tenantFields().id) {
      status('choose a tenant, or enter its TENANT_ID', true);
    } else {
      await tabs[active]();
      status('updated ' + new Date().toLocaleTimeString());
    }
  } catch (e) {
    report(e);
  } finally {
    busy = false;
    if (again) { again = false; tick(); }
  }
}

function init() {
  $('token').value = store.token;
  const saved = store.tenant();
  if (saved) useTenant(saved);
  $('token').addEventListener('change', () => { store.token = $('token').value; refreshTenants().catch(report); changed(); });
  for (const id of ['tenant-id', 'tenant-region', 'tenant-major', 'tenant-minor']) {
    $(id).addEventListener('change', () => { store.saveTenant(tenantFields()); accounts.page = 1; changed(); });
  }
  $('tenant-pick').addEventListener('change', () => {
    if ($('tenant-pick').value) { useTenant(JSON.parse($('tenant-pick').value)); accounts.page = 1; changed(); }
  });
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  for (const b of document.querySelectorAll('nav button')) {
    b.addEventListener('click', () => {
      active = b.dataset.tab;
      for (const o of document.querySelectorAll('nav button')) o.classList.toggle('active', o === b);
      for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== active;
      changed();
    });
  }
  $('account-search').addEventListener('submit', (e) => { e.preventDefault(); accounts.name = $('account-name').value.trim(); changed(); });
  $('account-clear').addEventListener('click', () => { $('account-name').value = ''; accounts.name = ''; changed(); });
  $('account-state').addEventListener('change', changed);
  $('page-prev').addEventListener('click', () => { if (accounts.page > 1) { accounts.page--; changed(); } });
  $('page-next').addEventListener('click', () => { if (accounts.page < accounts.pages) { accounts.page++; changed(); } });
  $('dlq-filter').addEventListener('submit', (e) => { e.preventDefault(); changed(); });
  $('dlq-replay').addEventListener('click', () => replayLetter().then(tick).catch(report));
  refreshTenants().catch(report);
  setInterval(() => refreshTenants().catch(() => {}), 10000);
  tick();
  setInterval(() => tick('poll'), POLL_MS);
}

document.addEventListener('DOMContentLoaded', init);
