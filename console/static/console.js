// The region console: plain JavaScript, no build step, nothing loaded
// from elsewhere. It polls regiond's API as the logged-in token (kept in
// an HttpOnly cookie the page cannot read) and renders what it gets.
'use strict';

const FAST_MS = 500;      // poll interval while a switch runs or is being prepared
const SLOW_MS = 2000;     // poll interval otherwise
const OVERVIEW_MS = 2000; // the overview fans out to every region: not faster
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#9c755f', '#86bcb6', '#bab0ac', '#d4a6c8'];

const $ = (id) => document.getElementById(id);

const state = {
  who: null,          // {name, role}
  table: null,        // router.Table from GET /v1/routes
  routers: [],
  overview: null,
  switches: { active: [], history: [] },
  drills: null,       // GET /v1/drills; null until read or without a controller
  selected: new Set(),
  anchor: null,       // last clicked bucket, for shift-click ranges
  previewKey: null,   // the request a shown preview answers
  lastOverview: 0,
  timer: null,
  ticking: false,     // a refresh is in flight
  again: false,       // refresh again when it ends
};

// el builds an element; children are nodes or strings (always text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'style') Object.assign(e.style, v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: cols, class: 'muted' }, empty))]));
}

// APIError keeps the API's {"error","hint"} to show it verbatim.
class APIError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : 'HTTP ' + status);
    this.status = status;
    this.hint = body && body.hint ? body.hint : '';
  }
  toString() { return this.hint ? this.message + '\n' + this.hint : this.message; }
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new APIError(0, { error: 'cannot reach regiond: ' + e.message, hint: 'check that regiond is running and reload the page' });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text.trim() }; }
  if (resp.status === 401 && path !== '/console/login') {
    showLogin('Your session has ended: log in again.');
  }
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

// Bucket ranges: "0-255,300" <-> Set of numbers.
function parseRanges(text, n) {
  const out = new Set();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a bucket or a range like 0-255`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > b) throw new Error(`range "${part}" runs backwards`);
    if (n && b >= n) throw new Error(`bucket ${b} does not exist: buckets are 0-${n - 1}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

function formatRanges(set) {
  const xs = [...set].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? String(xs[i]) : xs[i] + '-' + xs[j]);
    i = j + 1;
  }
  return parts.join(',');
}

function ms(x) {
  if (x === null || x === undefined) return '';
  if (x >= 120000) return (x / 60000).toFixed(1) + ' min';
  return x >= 10000 ? (x / 1000).toFixed(1) + ' s' : Math.round(x) + ' ms';
}

function durationMS(start, end) {
  if (!start) return null;
  const e = end ? Date.parse(end) : Date.now();
  return e - Date.parse(start);
}

function timeOf(t) {
  return t ? new Date(t).toLocaleString(undefined, { hour12: false }) : '';
}

function isOperator() { return state.who && state.who.role === 'operator'; }

function cellColor(name) {
  const cells = state.table ? state.table.cells : [];
  const i = cells.findIndex((c) => c.name === name);
  return i < 0 ? '#999' : PALETTE[i % PALETTE.length];
}

function cellRegion(name) {
  const c = state.table && state.table.cells.find((x) => x.name === name);
  return c ? c.region : '?';
}

// --- login ---------------------------------------------------------------

function showLogin(msg) {
  state.who = null;
  clearTimeout(state.timer);
  $('app').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login-panel').hidden = false;
  $('login-error').textContent = msg || '';
  $('token').focus();
}

async function login(ev) {
  ev.preventDefault();
  $('login-error').textContent = '';
  const body = new URLSearchParams({ token: $('token').value.trim() });
  try {
    const resp = await fetch('/console/login', { method: 'POST', body, credentials: 'same-origin' });
    const data = await resp.json().catch(() => null);
    if (!resp.ok) throw new APIError(resp.status, data);
    $('token').value = '';
    start(data);
  } catch (e) {
    $('login-error').textContent = e.toString();
  }
}

async function logout() {
  await fetch('/console/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => {});
  showLogin('Logged out.');
}

function start(who) {
  state.who = who;
  $('login-panel').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${who.name} (${who.role})`;
  const ro = !isOperator();
  $('readonly').hidden = !ro;
  for (const id of ['buckets', 'target', 'stages', 'reason', 'preview']) $(id).disabled = ro;
  $('confirm').disabled = true;
  state.lastOverview = 0;
  tick();
}

// --- polling ---------------------------------------------------------------

// tick refreshes everything once and schedules the next refresh. A
// call while a refresh is in flight makes that one run again at its end.
async function tick() {
  if (state.ticking) { state.again = true; return; }
  clearTimeout(state.timer);
  if (!state.who) return;
  state.ticking = true;
  try {
    await refresh();
  } finally {
    state.ticking = false;
  }
  if (!state.who) return;
  if (state.again) { state.again = false; tick(); return; }
  const busy = state.switches.active.length > 0 || state.previewKey !== null;
  state.timer = setTimeout(tick, busy ? FAST_MS : SLOW_MS);
}

async function refresh() {
  const errors = [];
  const jobs = [
    api('GET', '/v1/routes').then((r) => { state.table = r.table; state.routers = r.routers || []; })
      .catch((e) => errors.push('routing table: ' + e)),
    api('GET', '/v1/switches').then((r) => { state.switches = { active: r.active || [], history: r.history || [] }; })
      .catch((e) => errors.push('switches: ' + e)),
  ];
  if (Date.now() - state.lastOverview >= OVERVIEW_MS) {
    state.lastOverview = Date.now();
    jobs.push(api('GET', '/v1/overview').then((r) => { state.overview = r; })
      .catch((e) => errors.push('regions: ' + e)));
    jobs.push(api('GET', '/v1/drills').then((r) => { state.drills = r; })
      .catch((e) => { if (e.status !== 404) errors.push('drills: ' + e); }));
  }
  await Promise.all(jobs);
  if (!state.who) return;
  $('banner').textContent = errors.join('\n');
  render();
}

function render() {
  renderRegions();
  renderMap();
  renderGlobals();
  renderTargets();
  renderActive();
  renderHistory();
  renderDrills();
  renderSelection();
}

// --- regions, links, routers ---------------------------------------------

function renderRegions() {
  const t = state.table;
  const o = state.overview;
  if (o) $('deployment').textContent = o.deployment;
  $('epoch').textContent = t ? `routing epoch ${t.epoch}` : '';
  const owned = {};
  if (t) for (const s of t.spans) owned[s.cell] = (owned[s.cell] || 0) + s.last - s.first + 1;
  const regions = o ? o.regions : [];
  fill($('regions').tBodies[0], regions.map((r) => {
    const st = r.status;
    const fenced = t && (t.regions.find((x) => x.name === r.region) || {}).fenced;
    let health;
    if (r.error) health = el('span', { class: 'badge bad', title: r.error }, 'unreachable');
    else if (!st.healthy) health = el('span', { class: 'badge bad' }, 'unhealthy');
    else health = el('span', { class: 'badge ok' }, 'healthy');
    const deps = r.error ? el('span', { class: 'error' }, r.error)
      : st.checks.map((c) => el('span', { class: 'badge ' + (c.ok ? 'ok' : 'bad'), title: c.error || `${c.latency_ms.toFixed(1)} ms` }, c.name, ' '));
    const cells = (t ? t.cells.filter((c) => c.region === r.region) : []).map((c) =>
      el('span', {}, el('span', { class: 'swatch', style: { background: cellColor(c.name) } }), `${c.name} (${owned[c.name] || 0})  `));
    return el('tr', {}, el('td', {}, r.region, fenced ? el('span', { class: 'badge bad' }, ' fenced') : null),
      el('td', {}, health), el('td', {}, deps), el('td', {}, cells));
  }), 'loading…', 4);

  const links = [];
  for (const r of regions) for (const l of (r.status ? r.status.links : [])) links.push(l);
  fill($('links').tBodies[0], links.map((l) => el('tr', {},
    el('td', {}, `${l.from} → ${l.to}`),
    el('td', {}, el('span', { class: 'badge ' + (l.state === 'running' ? 'ok' : 'bad'), title: l.error || '' }, l.state)),
    el('td', { class: 'num' }, `${(l.lag_seconds || 0).toFixed(2)} s`),
    el('td', { class: 'num' }, l.lag_txns || 0),
    el('td', { class: 'num' }, (l.throughput || 0).toFixed(0)),
    el('td', { class: 'num' }, l.violations
      ? el('span', { class: 'badge bad', title: `writes by ${l.from} of buckets it did not own: SELECT * FROM _region.violations in ${l.to}` }, String(l.violations))
      : '0'))), 'no links', 6);

  renderVerification(regions);
  renderReads(regions);

  fill($('routers').tBodies[0], state.routers.map((r) => el('tr', {},
    el('td', {}, `${r.id} (${r.kind})`), el('td', {}, r.region),
    el('td', {}, r.epoch, t && r.epoch < t.epoch ? el('span', { class: 'badge warn' }, ' behind') : null))), 'no live routers', 3);
}

// renderReads shows, per region, the reads its gateway served by
// consistency level: in the region, or forwarded to the owner's.
function renderReads(regions) {
  const levels = ['strong', 'session', 'bounded', 'eventual'];
  const rows = regions.filter((r) => r.status && r.status.reads).map((r) => {
    const rs = r.status.reads;
    const by = Object.fromEntries((rs.levels || []).map((l) => [l.level, l]));
    const wait = rs.session_waits ? ms(1000 * rs.session_wait_seconds / rs.session_waits) : '–';
    return el('tr', { 'data-region': r.region }, el('td', {}, r.region),
      ...levels.map((lv) => {
        const l = by[lv] || { local: 0, owner: 0 };
        return el('td', { class: 'num', 'data-level': lv, title: `${l.local} served in ${r.region}, ${l.owner} by the owner's region` },
          `${l.local} / ${l.owner}`);
      }),
      el('td', { class: 'num' }, wait));
  });
  fill($('reads').tBodies[0], rows, 'no gateway reads yet', 6);
}

// renderVerification shows the newest continuous verification pass any
// region reports: identical, or the rows that differ after re-checks.
function renderVerification(regions) {
  let p = null;
  for (const r of regions) {
    const v = r.status && r.status.verify;
    if (v && (!p || v.finished > p.finished)) p = v;
  }
  const box = $('verification');
  if (!p) {
    box.replaceChildren('no continuous verification pass yet');
    return;
  }
  const ago = `${Math.max(0, Math.round((Date.now() - Date.parse(p.finished)) / 1000))} s ago`;
  if (!p.differing_rows && !(p.errors || []).length) {
    box.replaceChildren(el('span', { class: 'badge ok' }, 'identical'), ` ${p.tables} tables, ${p.rows} rows, pass ${ago}`);
    return;
  }
  const items = (p.diffs || []).map((d) => el('li', {}, `${d.table} ${d.key}: ${d.kind} in ${d.region} (compared with ${p.reference})` + (d.columns ? ` (${d.columns.join(', ')})` : '')));
  for (const e of (p.errors || [])) items.push(el('li', {}, `not compared: ${e}`));
  box.replaceChildren(el('span', { class: 'badge bad' }, 'drift'), ` ${p.differing_rows} row(s) differ after re-checks, pass ${ago}; repair with regionctl verify --repair`,
    el('ul', {}, ...items));
}

// --- bucket map ------------------------------------------------------------

function buildMap(n) {
  const map = $('map');
  const cols = n >= 512 ? 64 : 32;
  map.style.gridTemplateColumns = `36px repeat(${cols}, 1fr)`;
  const nodes = [];
  for (let b = 0; b < n; b++) {
    if (b % cols === 0) nodes.push(el('div', { class: 'rowlabel' }, b));
    nodes.push(el('div', { class: 'bucket', 'data-b': b }));
  }
  map.replaceChildren(...nodes);
  map.dataset.n = n;
  map.dataset.epoch = '';
}

function renderMap() {
  const t = state.table;
  if (!t) return;
  const map = $('map');
  if (Number(map.dataset.n) !== t.buckets) buildMap(t.buckets);
  const moving = new Set();
  for (const s of state.switches.active) {
    try { for (const b of parseRanges(s.buckets, t.buckets)) moving.add(b); } catch (e) { /* shown by the API */ }
  }
  const buckets = map.querySelectorAll('.bucket');
  for (const s of t.spans) {
    for (let b = s.first; b <= s.last; b++) {
      const d = buckets[b];
      d.dataset.cell = s.cell;
      d.dataset.state = s.state;
      d.style.background = cellColor(s.cell);
      d.classList.toggle('fenced', s.state !== 'serving');
      d.classList.toggle('moving', moving.has(b));
      d.title = `bucket ${b} · ${s.cell} (region ${cellRegion(s.cell)}) · ${s.state}${s.switch ? ' · switch ' + s.switch : ''}`;
    }
  }
  for (const d of buckets) d.classList.toggle('selected', state.selected.has(Number(d.dataset.b)));
  const fenced = t.spans.filter((s) => s.state !== 'serving').reduce((a, s) => a + s.last - s.first + 1, 0);
  $('map-summary').textContent = `${t.buckets} buckets${fenced ? `, ${fenced} fenced` : ''}`;
  const counts = {};
  for (const s of t.spans) counts[s.cell] = (counts[s.cell] || 0) + s.last - s.first + 1;
  $('legend').replaceChildren(...t.cells.map((c) => el('span', {},
    el('span', { class: 'swatch', style: { background: cellColor(c.name) } }), `${c.name} (region ${c.region}): ${counts[c.name] || 0}`)),
  el('span', {}, el('span', { class: 'swatch bucket fenced' }), 'write-forbidden'));
}

function clickBucket(ev) {
  const d = ev.target.closest('.bucket');
  if (!d || !isOperator()) return;
  const b = Number(d.dataset.b);
  if (ev.shiftKey && state.anchor !== null) {
    const [a, z] = state.anchor < b ? [state.anchor, b] : [b, state.anchor];
    for (let i = a; i <= z; i++) state.selected.add(i);
  } else if (state.selected.has(b)) {
    state.selected.delete(b);
  } else {
    state.selected.add(b);
  }
  state.anchor = b;
  $('buckets').value = formatRanges(state.selected);
  selectionChanged();
}

// --- switch controls -------------------------------------------------------

function renderTargets() {
  const t = state.table;
  if (!t) return;
  const sel = $('target');
  const want = t.cells.map((c) => c.name).join(',');
  if (sel.dataset.cells === want) return;
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, 'choose…'),
    ...t.cells.map((c) => el('option', { value: c.name }, `${c.name} (region ${c.region})`)));
  sel.value = t.cells.some((c) => c.name === cur) ? cur : '';
  sel.dataset.cells = want;
}

function selectionChanged() {
  const n = state.table ? state.table.buckets : 0;
  try {
    state.selected = parseRanges($('buckets').value, n);
    $('switch-error').textContent = '';
  } catch (e) {
    $('switch-error').textContent = e.message;
  }
  invalidatePreview();
  renderMap();
  renderSelection();
}

function renderSelection() {
  const t = state.table;
  if (!t || state.selected.size === 0) { $('selection').textContent = ''; return; }
  const from = {};
  for (const b of state.selected) { const c = owner(b); from[c] = (from[c] || 0) + 1; }
  $('selection').textContent = `${state.selected.size} selected: ` + Object.entries(from).map(([c, k]) => `${k} in ${c}`).join(', ');
}

function owner(b) {
  for (const s of state.table.spans) if (b >= s.first && b <= s.last) return s.cell;
  return '?';
}

function request(dryRun) {
  const req = { buckets: $('buckets').value.trim(), to: $('target').value, reason: $('reason').value.trim(), dry_run: dryRun };
  const stages = $('stages').value.trim();
  if (stages) req.stages = stages.split(',').map((s) => Number(s.trim()));
  return req;
}

function invalidatePreview() {
  state.previewKey = null;
  $('confirm').disabled = true;
  $('preview-out').replaceChildren();
}

async function preview() {
  invalidatePreview();
  $('switch-error').textContent = '';
  const req = request(true);
  try {
    const p = await api('POST', '/v1/switches', req);
    state.previewKey = JSON.stringify(request(false));
    renderPreview(p);
    $('confirm').disabled = !isOperator();
    tick();
  } catch (e) {
    $('switch-error').textContent = e.toString();
  }
}

function renderPreview(p) {
  const out = $('preview-out');
  out.replaceChildren(
    el('p', { class: 'summary' }, `Preview: move ${p.count} bucket${p.count === 1 ? '' : 's'} (${p.buckets}) to ${p.to} in region ${p.to_region}. ` +
      `Expected write-forbidden window ≈ ${ms(p.expected_fence_ms)}.`),
    el('table', { id: 'preview-moves' },
      el('thead', {}, el('tr', {}, el('th', {}, 'from cell'), el('th', {}, 'region'), el('th', {}, 'buckets'), el('th', {}, 'count'))),
      el('tbody', {}, (p.moves || []).map((m) => el('tr', {}, el('td', {}, m.cell), el('td', {}, m.region), el('td', {}, m.buckets), el('td', { class: 'num' }, m.count))))),
    el('table', { id: 'preview-links' },
      el('thead', {}, el('tr', {}, el('th', {}, 'link to wait for'), el('th', {}, 'state'), el('th', {}, 'lag'), el('th', {}, 'txns behind'))),
      el('tbody', {}, (p.links || []).map((l) => el('tr', {}, el('td', {}, `${l.from} → ${l.to}`),
        el('td', {}, el('span', { class: 'badge ' + (l.state === 'running' ? 'ok' : 'bad'), title: l.error || '' }, l.state)),
        el('td', { class: 'num' }, `${(l.lag_seconds || 0).toFixed(2)} s`), el('td', { class: 'num' }, l.lag_txns || 0))))),
    ...(p.warnings || []).map((w) => el('p', { class: 'badge warn' }, '⚠ ' + w)),
    el('p', { class: 'muted' }, 'Nothing has changed yet. Confirm to start the switch; changing the form discards this preview.'));
}

async function confirmSwitch() {
  const req = request(false);
  if (JSON.stringify(req) !== state.previewKey) {
    invalidatePreview();
    $('switch-error').textContent = 'The form changed since the preview: preview again.';
    return;
  }
  $('confirm').disabled = true;
  try {
    const rec = await api('POST', '/v1/switches', req);
    state.previewKey = null;
    state.selected = new Set();
    $('buckets').value = '';
    $('preview-out').replaceChildren(el('p', { class: 'summary' }, `Switch ${rec.id} started: ${rec.count} buckets to ${rec.to}.`));
    tick();
  } catch (e) {
    $('switch-error').textContent = e.toString();
    $('confirm').disabled = false;
  }
}

// --- global tables -------------------------------------------------------

function renderGlobals() {
  const t = state.table;
  const globals = (t && t.globals) || [];
  $('globals-panel').hidden = globals.length === 0;
  fill($('globals').tBodies[0], globals.map((g) => {
    const others = t.regions.filter((r) => r.name !== g.home && !r.fenced).map((r) => r.name);
    const move = isOperator() && g.state === 'serving' && others.length > 0
      ? others.map((r) => el('button', { type: 'button', class: 'move-home', 'data-table': g.table, 'data-from': g.home, 'data-to': r }, `to ${r}`))
      : null;
    return el('tr', { 'data-table': g.table },
      el('td', {}, g.table),
      el('td', {}, el('b', {}, g.home)),
      el('td', {}, el('span', { class: 'badge ' + (g.state === 'serving' ? 'ok' : 'warn') }, g.state + (g.switch ? ' by ' + g.switch : ''))),
      el('td', {}, move));
  }), 'no global tables', 4);
}

async function moveGlobal(table, from, to) {
  const reason = window.prompt(`Move the home of ${table} from region ${from} to ${to}? Its writes are refused (503, retried) until region ${to} has applied ${from}'s last ones. Reason:`);
  if (reason === null) return;
  $('global-error').textContent = '';
  try {
    await api('POST', '/v1/switches', { tables: [table], to, reason });
    tick();
  } catch (e) {
    $('global-error').textContent = e.toString();
  }
}

async function abortSwitch(id) {
  const reason = window.prompt(`Abort switch ${id}? The fence is cleared and the old owner keeps serving. Reason:`);
  if (reason === null) return;
  try {
    await api('POST', `/v1/switches/${encodeURIComponent(id)}/abort`, { reason });
    tick();
  } catch (e) {
    $('switch-error').textContent = e.toString();
  }
}

// --- switches ----------------------------------------------------------------

function progress(rec) {
  if (rec.state === 'done') return 1;
  const total = Math.max(1, (rec.stages && rec.stages.length ? rec.stages.length : 1) * 4);
  const done = (rec.steps || []).filter((s) => s.end && s.ok).length;
  return Math.min(1, done / total);
}

function stepsTable(rec) {
  return el('table', { class: 'steps' },
    el('thead', {}, el('tr', {}, el('th', {}, 'stage'), el('th', {}, 'step'), el('th', {}, 'took'), el('th', {}, 'result'), el('th', {}, 'detail'))),
    el('tbody', {}, (rec.steps || []).map((s) => el('tr', {},
      el('td', {}, s.stage !== undefined ? s.stage + '%' : ''), el('td', {}, s.name),
      el('td', { class: 'num' }, ms(durationMS(s.start, s.end)) + (s.end ? '' : ' …')),
      el('td', {}, s.end ? el('span', { class: 'badge ' + (s.ok ? 'ok' : 'bad') }, s.ok ? 'ok' : 'failed') : el('span', { class: 'badge warn' }, 'running')),
      el('td', {}, s.detail || '')))));
}

function renderActive() {
  const act = state.switches.active;
  if (!act.length) { $('active').replaceChildren(el('p', { class: 'muted' }, 'none')); return; }
  $('active').replaceChildren(...act.map((r) => {
    const pct = Math.round(progress(r) * 100);
    return el('div', { class: 'switch', 'data-id': r.id },
      el('div', {}, el('b', {}, r.id), ` ${moved(r)} · ${r.state} · ${pct}% · by ${r.actor}: ${r.reason}`,
        ' ', isOperator() ? el('button', { type: 'button', class: 'abort', 'data-id': r.id }, 'Abort') : null),
      el('div', { class: 'progress' }, el('div', { style: { width: pct + '%' } })),
      el('div', { class: 'muted' }, `write-forbidden so far: ${ms(r.write_forbidden_ms || 0)} · running ${ms(durationMS(r.started, r.ended))}`),
      stepsTable(r));
  }));
}

// moved says what a switch moves: buckets to a cell, global tables' homes
// to a region, or both.
function moved(r) {
  const parts = [];
  if (r.count) parts.push(`${r.count} buckets (${r.buckets}) ${(r.from || []).join(',')} → ${r.to}`);
  if ((r.tables || []).length) parts.push(`global ${r.tables.join(', ')} ${(r.from_homes || []).join(',')} → region ${r.to_region}`);
  return parts.join(' and ');
}

function stepSummary(rec) {
  const per = {};
  for (const s of rec.steps || []) {
    const d = durationMS(s.start, s.end);
    if (d !== null) per[s.name] = (per[s.name] || 0) + d;
  }
  return Object.entries(per).map(([k, v]) => `${k} ${ms(v)}`).join(' · ');
}

function renderHistory() {
  fill($('history').tBodies[0], state.switches.history.map((r) => el('tr', { 'data-id': r.id },
    el('td', {}, timeOf(r.started)),
    el('td', {}, r.id),
    el('td', {}, r.actor, el('div', { class: 'muted' }, r.reason)),
    el('td', {}, r.count ? `${r.buckets} (${r.count})` : '', (r.tables || []).map((t) => el('div', {}, 'global ' + t))),
    el('td', {}, `${[...(r.from || []), ...(r.from_homes || [])].join(',')} → ${r.count ? r.to : r.to_region}`),
    el('td', {}, el('span', { class: 'badge ' + (r.state === 'done' ? 'ok' : 'bad'), title: r.error || '' }, r.state),
      r.error ? el('div', { class: 'error' }, r.error) : null),
    el('td', { class: 'num wf' }, ms(r.write_forbidden_ms)),
    el('td', { class: 'muted' }, stepSummary(r)))), 'no switches yet', 8);
}

const outcomeClass = { passed: 'ok', 'passed-with-conditions': 'warn', running: 'warn', failed: 'bad' };

function renderDrills() {
  const d = state.drills || { drills: [], schedules: [] };
  $('drill-schedules').textContent = d.schedules.length === 0 ? '' : 'scheduled: ' + d.schedules.map((s) =>
    `${s.plan} "${s.cron}" UTC${s.enabled ? '' : ' (disabled)'}`).join(' · ');
  fill($('drills').tBodies[0], d.drills.map((r) => el('tr', { 'data-id': r.id },
    el('td', {}, timeOf(r.started_at)),
    el('td', {}, r.id),
    el('td', {}, r.plan, r.scenario ? el('div', { class: 'muted' }, r.scenario) : null),
    el('td', {}, el('span', { class: 'badge ' + (outcomeClass[r.outcome] || 'bad') }, r.outcome)),
    el('td', { class: 'num' }, r.ended_at ? ms(durationMS(r.started_at, r.ended_at)) : '…'),
    el('td', {}, r.actor || ''),
    el('td', { class: 'muted' }, r.summary || '', r.report ? el('div', {}, 'report: ' + r.report) : null))),
  state.drills ? 'no drills recorded yet' : 'this deployment runs no failover controller', 7);
}

// --- wiring ------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('map').addEventListener('click', clickBucket);
  $('buckets').addEventListener('input', selectionChanged);
  for (const id of ['target', 'stages', 'reason']) $(id).addEventListener('input', invalidatePreview);
  $('preview').addEventListener('click', preview);
  $('confirm').addEventListener('click', confirmSwitch);
  $('globals').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.move-home');
    if (b) moveGlobal(b.dataset.table, b.dataset.from, b.dataset.to);
  });
  $('active').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.abort');
    if (b) abortSwitch(b.dataset.id);
  });
  try {
    start(await api('GET', '/v1/whoami'));
  } catch (e) {
    showLogin(e.status === 401 ? '' : e.toString());
  }
});
