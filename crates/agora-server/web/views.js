// The dashboard's views. Each is `async (root, ctx, params) => ({onEvent, stop})`:
// it renders into `root` from the public API and refreshes itself when the
// event stream (ctx.subscribe) reports something.

import { api, el, fmtTime, fmtDur, num, ApiError } from './api.js';
import { SiteMap, COLORS, LEGEND } from './map.js';

const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

// Run `f` at most once per `ms`, the last call winning.
function throttle(f, ms) {
  let t = 0;
  let pending = false;
  return () => {
    if (pending) return;
    const wait = Math.max(0, t + ms - performance.now());
    pending = true;
    setTimeout(async () => { pending = false; t = performance.now(); await f(); }, wait);
  };
}

function errorBox(root, e) {
  root.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message || String(e)));
}

function legend(me) {
  const admin = me && me.role === 'site-admin';
  const mine = me && me.role === 'member' ? 'your jobs' : 'jobs in your scope';
  return el('ul', { class: 'legend', 'aria-label': 'Legend' },
    LEGEND.filter(([k]) => !(admin && k === 'mine')).map(([k, label]) => [k, k === 'mine' ? mine : label]).map(([k, label]) => el('li', {}, el('span', { class: 'swatch', style: `background:${COLORS[k]}` }), label)));
}

function stat(label, value, id) {
  return el('div', { class: 'stat' }, el('span', { class: 'v', id }, value), el('span', { class: 'l' }, label));
}

// ---------------------------------------------------------------- site map
export async function mapView(root, ctx) {
  const canvas = el('canvas', {
    id: 'sitemap', tabindex: '0', role: 'img',
    'aria-label': 'Site map: every node, coloured by use. Arrow keys pan, + and - zoom, 0 fits, [ and ] step through blocks, Enter lists the jobs of the selected block; double-click zooms into a block.',
  });
  const tip = el('div', { class: 'tip', role: 'status', hidden: true });
  const side = el('aside', { class: 'side', 'aria-live': 'polite' }, el('p', {}, 'Click a block (or press [ / ] then Enter) to see its nodes and your jobs on them.'));
  const stats = el('div', { class: 'stats', id: 'map-stats' });
  const summary = el('p', { class: 'sr', id: 'map-summary' });
  root.replaceChildren(el('h1', {}, 'Site map'), stats, legend(ctx.me), summary,
    el('div', { class: 'mapwrap' }, el('div', { class: 'canvaswrap' }, canvas, tip), side));
  let data = null;
  const map = new SiteMap(canvas, {
    onHover: (n, x, y) => {
      if (n < 0 || !data) { tip.hidden = true; return; }
      const bi = map.blockOf(n);
      const b = data.blocks[bi];
      const st = { u: 'up', f: 'failed', s: 'hot spare', h: 'held for a reservation' }[data.state[n]];
      tip.textContent = `${data.pods[b.pod].name} / ${b.name} / node ${n - b.first_node + 1}: ${data.used[n]}/${data.accels[n]} in use, ${st}`;
      tip.style.left = `${x + 14}px`;
      tip.style.top = `${y + 10}px`;
      tip.hidden = false;
    },
    onSelect: (bi) => showBlock(bi),
    showMine: !(ctx.me && ctx.me.role === 'site-admin'),
  });
  async function showBlock(bi) {
    try {
      const b = await api(`/v1/map/blocks/${bi}`);
      const rows = b.nodes.map((n) => el('tr', {},
        el('td', {}, n.name), el('td', {}, `${n.used}/${n.accels}`),
        el('td', {}, { u: 'up', f: 'failed', s: 'spare', h: 'held' }[n.state]),
        el('td', {}, n.jobs.length ? n.jobs.map((j) => el('div', {}, el('a', { href: `#/jobs/${j.id}` }, `#${j.id} ${j.name}`), ` ${j.accelerators} acc`)) : '')));
      side.replaceChildren(el('h2', {}, `${b.pod} / ${b.name}`),
        el('table', { class: 'compact', id: 'block-table' }, el('thead', {}, el('tr', {}, ['Node', 'Used', 'State', ctx.me && ctx.me.role === 'member' ? 'Your jobs' : 'Jobs you can see'].map((t) => el('th', { scope: 'col' }, t)))), el('tbody', {}, rows)));
    } catch (e) { errorBox(side, e); }
  }
  async function load() {
    const [d, c] = await Promise.all([api('/v1/map'), api('/v1/cluster')]);
    data = d;
    map.setData(d);
    const k = map.counts;
    stats.replaceChildren(
      stat('accelerators', num(c.capacity)), stat('free', num(c.free)), stat('stranded', num(c.stranded)),
      stat('running jobs', num(c.running)), stat('pending jobs', num(c.pending)),
      stat('nodes', num(d.accels.length), 'map-nodes'), stat('blocks', num(d.blocks.length), 'map-blocks'),
      stat('failed nodes', num(k.failed)), stat('held nodes', num(k.held)), stat('spares', num(k.spare)),
      stat(ctx.me && ctx.me.role === 'member' ? 'nodes with your jobs' : 'nodes with jobs you can see', num(d.mine.length), 'map-mine'));
    summary.textContent = `${d.name}: ${num(d.accels.length)} nodes in ${num(d.blocks.length)} blocks; ${num(k.full)} fully used, ${num(k.partial)} partly, ${num(k.free)} free, ${num(k.failed)} failed.`;
    if (!window.agoraMapFirstDraw) window.agoraMapFirstDraw = performance.now();
    if (map.selected >= 0) showBlock(map.selected);
  }
  await load();
  window.agoraMap = map;
  const refresh = throttle(() => load().catch(() => {}), 2000);
  const timer = setInterval(refresh, 5000);
  return { onEvent: refresh, stop: () => clearInterval(timer) };
}

// ------------------------------------------------------------------- queue
export async function queueView(root, ctx) {
  const tenants = await api('/v1/tenants');
  const f = {
    tenant: el('select', { id: 'q-tenant' }, el('option', { value: '' }, 'all'),
      tenants.map((t) => el('option', { value: t.path }, `${t.level}: ${t.path}`))),
    user: el('input', { id: 'q-user', type: 'text', placeholder: 'any', size: 10 }),
    state: el('select', { id: 'q-state' }, ['', 'pending', 'held', 'dependency', 'running', 'preempting', 'completed', 'failed', 'cancelled']
      .map((s) => el('option', { value: s, selected: s === 'pending' }, s || 'any'))),
    min: el('input', { id: 'q-min', type: 'number', min: 1, placeholder: 'min', size: 6 }),
    max: el('input', { id: 'q-max', type: 'number', min: 1, placeholder: 'max', size: 6 }),
  };
  const lab = (t, c) => el('label', {}, el('span', {}, t), c);
  const form = el('form', { class: 'filters', 'aria-label': 'Filters' },
    lab('Programme / organisation / project', f.tenant), lab('User', f.user), lab('State', f.state),
    lab('Accelerators from', f.min), lab('to', f.max), el('button', { type: 'submit' }, 'Apply'));
  const table = el('table', { id: 'queue-table' });
  const status = el('p', { role: 'status', id: 'queue-status' });
  const prev = el('button', { type: 'button', id: 'q-prev' }, '← Previous');
  const next = el('button', { type: 'button', id: 'q-next' }, 'Next →');
  root.replaceChildren(el('h1', {}, 'Queue'), form, status, table, el('div', { class: 'pager' }, prev, next));
  let cursors = [''];
  let page = 0;
  function qs() {
    const p = new URLSearchParams({ limit: '50' });
    if (f.tenant.value) p.set('tenant', f.tenant.value);
    if (f.user.value.trim()) p.set('user', f.user.value.trim());
    if (f.state.value) p.set('state', f.state.value);
    if (f.min.value) p.set('min_accelerators', f.min.value);
    if (f.max.value) p.set('max_accelerators', f.max.value);
    if (cursors[page]) p.set('cursor', cursors[page]);
    return p.toString();
  }
  async function load() {
    let r;
    try { r = await api(`/v1/jobs?${qs()}`); } catch (e) { status.textContent = e.message; return; }
    cursors[page + 1] = r.next_cursor || null;
    prev.disabled = page === 0;
    next.disabled = !r.next_cursor;
    // Reasons and estimated starts of waiting jobs, asked of the server per job.
    const whys = await Promise.all(r.jobs.map((j) => (['pending', 'held', 'dependency'].includes(j.state)
      ? api(`/v1/jobs/${j.id}/why`).catch(() => null) : null)));
    const head = el('thead', {}, el('tr', {}, ['Job', 'Name', 'Project', 'User', 'Accelerators', 'State', 'Submitted', 'Reason', 'Estimated start']
      .map((t) => el('th', { scope: 'col' }, t))));
    const body = el('tbody', {}, r.jobs.map((j, i) => el('tr', { 'data-job': j.id },
      el('td', {}, el('a', { href: `#/jobs/${j.id}` }, `#${j.id}`)), el('td', {}, j.name), el('td', {}, j.project),
      el('td', {}, j.user), el('td', { class: 'n' }, num(j.accelerators)),
      el('td', {}, el('span', { class: `state s-${j.state}` }, j.state)), el('td', {}, fmtTime(j.submitted)),
      el('td', { class: 'reason' }, whys[i] ? whys[i].reason : ''),
      el('td', {}, whys[i] && whys[i].estimated_start ? fmtTime(whys[i].estimated_start) : ''))));
    table.replaceChildren(el('caption', {}, `Page ${page + 1}`), head, body);
    status.textContent = r.jobs.length ? `${r.jobs.length} jobs on this page` : 'No jobs match.';
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); cursors = ['']; page = 0; load(); });
  prev.addEventListener('click', () => { if (page > 0) { page--; load(); } });
  next.addEventListener('click', () => { if (cursors[page + 1]) { page++; load(); } });
  await load();
  return { onEvent: throttle(load, 2000) };
}

// ------------------------------------------------------------------ shares
function borrowing(rows) {
  // Those above their entitlement borrow what those below it leave unused:
  // from their siblings first, then from anyone at the same level, in
  // proportion to what each leaves unused and never more than that.
  const lenders = rows.filter((r) => r.now < r.ent).map((r) => ({ ...r, left: r.ent - r.now }));
  const borrowers = rows.filter((r) => r.now > r.ent).map((r) => ({ ...r, over: r.now - r.ent }));
  const owed = new Map();
  for (const siblingsOnly of [true, false]) {
    for (const b of borrowers) {
      const ls = lenders.filter((l) => l.left > 0 && (!siblingsOnly || l.parent === b.parent));
      const pool = ls.reduce((a, l) => a + l.left, 0);
      if (pool <= 0 || b.over <= 0) continue;
      const take = Math.min(b.over, pool);
      for (const l of ls) {
        const amt = (take * l.left) / pool;
        l.left -= amt;
        const k = `${b.path}\u0000${l.path}`;
        owed.set(k, (owed.get(k) || 0) + amt);
      }
      b.over -= take;
    }
  }
  return [...owed].map(([k, a]) => [...k.split('\u0000'), Math.round(a)]).filter((x) => x[2] > 0).sort((a, b) => b[2] - a[2]);
}

export async function sharesView(root, ctx) {
  // Start at the level just below the caller's scope (programmes for the site).
  const levels = ['funder', 'programme', 'organisation', 'project'];
  const depth = ctx.me && ctx.me.scope ? ctx.me.scope.split('/').length : 1;
  const start = levels[Math.min(3, Math.max(1, depth))];
  const level = el('select', { id: 's-level' }, levels.map((l) => el('option', { value: l, selected: l === start }, l)));
  const charts = el('div', { class: 'charts', id: 'share-charts' });
  const now = el('div');
  root.replaceChildren(el('h1', {}, 'Shares against entitlements'),
    el('p', {}, 'Accelerators each tenant holds (solid), its nominal entitlement (dashed) and its guaranteed floor (dotted), over time.'),
    el('label', {}, 'Level ', level), now, charts);
  let plots = [];
  async function load() {
    let s;
    try { s = await api(`/v1/shares?level=${level.value}&points=360`); } catch (e) { errorBox(charts, e); return; }
    plots.forEach((p) => p.destroy());
    plots = [];
    charts.replaceChildren();
    const rows = s.tenants.map((t) => ({ path: t.path, parent: t.parent, ent: t.entitlement.at(-1) || 0, now: t.allocated.at(-1) || 0, floor: t.floor }));
    const pairs = borrowing(rows);
    now.replaceChildren(
      el('table', { id: 'shares-table' }, el('caption', {}, 'Now'),
        el('thead', {}, el('tr', {}, ['Tenant', 'Holds', 'Entitlement', 'Floor', 'Against entitlement'].map((t) => el('th', { scope: 'col' }, t)))),
        el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, r.path), el('td', { class: 'n' }, num(r.now)), el('td', { class: 'n' }, num(Math.round(r.ent))),
          el('td', { class: 'n' }, r.floor ? num(r.floor) : ''), el('td', { class: 'n' }, r.ent ? `${Math.round((100 * r.now) / r.ent)}%` : ''))))),
      el('h2', {}, 'Who borrows from whom now'),
      pairs.length ? el('ul', { id: 'borrowing' }, pairs.slice(0, 30).map(([b, l, a]) => el('li', {}, `${b} borrows ${num(a)} accelerators of ${l}'s entitlement`)))
        : el('p', { id: 'borrowing' }, 'Nobody holds more than their entitlement.'));
    const w = Math.min(440, Math.max(280, (charts.clientWidth || 900) / 2 - 20));
    // One small chart per tenant (the first 48 at the project level).
    s.tenants.slice(0, 48).forEach((t) => {
      const box = el('figure', { class: 'chart' }, el('figcaption', {}, t.path));
      charts.append(box);
      const floor = t.floor ? s.times.map(() => t.floor) : s.times.map(() => null);
      plots.push(new uPlot({
        width: w, height: 170, legend: { show: true },
        scales: { x: { time: true } },
        axes: [{}, { label: 'accelerators', size: 60 }],
        series: [{},
          { label: 'holds', stroke: PALETTE[0], width: 2, fill: 'rgba(0,114,178,0.10)' },
          { label: 'entitlement', stroke: PALETTE[1], width: 2, dash: [6, 4] },
          { label: 'floor', stroke: PALETTE[3], width: 2, dash: [2, 3] }],
      }, [s.times, t.allocated, t.entitlement, floor], box));
    });
  }
  level.addEventListener('change', load);
  await load();
  const timer = setInterval(load, 10000);
  return { stop: () => { clearInterval(timer); plots.forEach((p) => p.destroy()); } };
}

// --------------------------------------------------------------------- job
export async function jobView(root, ctx, [id]) {
  let job;
  try { job = await api(`/v1/jobs/${encodeURIComponent(id)}`); } catch (e) {
    root.replaceChildren(el('h1', {}, `Job ${id}`), el('p', { class: 'error', role: 'alert', id: 'job-error' }, e.message));
    return {};
  }
  const head = el('div');
  const actions = el('div', { class: 'actions' });
  const msg = el('p', { role: 'status', id: 'job-msg' });
  const timeline = el('ol', { class: 'timeline', id: 'timeline' });
  const canvas = el('canvas', { id: 'placement', tabindex: '0', role: 'img', 'aria-label': 'Where the job runs on the site map (outlined)' });
  const log = el('pre', { class: 'log', id: 'job-log' });
  root.replaceChildren(el('h1', {}, `Job #${job.id}`), head, actions, msg,
    el('h2', {}, 'Timeline'), timeline, el('h2', {}, 'Placement'), el('div', { class: 'placementwrap' }, canvas),
    el('h2', {}, 'Log'), log);
  const map = new SiteMap(canvas);
  async function act(a) {
    try { await api(`/v1/jobs/${job.id}/${a}`, { method: 'POST' }); msg.textContent = `${a}: done`; } catch (e) { msg.textContent = e.message; }
    await load();
  }
  async function load() {
    job = await api(`/v1/jobs/${job.id}`);
    const [events, why, m] = await Promise.all([
      api(`/v1/jobs/${job.id}/events`),
      ['pending', 'held', 'dependency'].includes(job.state) ? api(`/v1/jobs/${job.id}/why`).catch(() => null) : null,
      api(`/v1/map?job=${job.id}`),
    ]);
    const facts = [['State', el('span', { class: `state s-${job.state}`, id: 'job-state' }, job.state)], ['Name', job.name], ['Project', job.project], ['User', job.user],
      ['Accelerators', num(job.accelerators)], ['Time limit', fmtDur(job.time_limit)], ['Submitted', fmtTime(job.submitted)],
      ['Started', fmtTime(job.started)], ['Ended', fmtTime(job.ended)], ['Restarts', job.restarts],
      ['Exit code', job.exit_code ?? ''], ['Reason', why ? why.reason : ''],
      ['Estimated start', why && why.estimated_start ? fmtTime(why.estimated_start) : '']];
    head.replaceChildren(el('dl', { class: 'facts' }, facts.filter(([, v]) => v !== '' && v !== undefined).map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
    const terminal = ['completed', 'failed', 'cancelled'].includes(job.state);
    actions.replaceChildren(
      el('button', { type: 'button', id: 'act-cancel', disabled: terminal, onclick: () => act('cancel') }, 'Cancel'),
      el('button', { type: 'button', id: 'act-hold', disabled: job.state !== 'pending' && job.state !== 'dependency', onclick: () => act('hold') }, 'Hold'),
      el('button', { type: 'button', id: 'act-release', disabled: job.state !== 'held', onclick: () => act('release') }, 'Release'));
    timeline.replaceChildren(...events.map((e) => el('li', { class: `ev-${e.kind}` },
      el('time', {}, fmtTime(e.time)), ' ', el('strong', {}, e.kind), e.detail ? ` — ${e.detail}` : '')));
    map.highlight = m.job_nodes || [];
    map.setData(m);
    if (map.highlight.length) { map.zoomTo(map.highlight); map.draw(); }
    try {
      const r = await api(`/v1/jobs/${job.id}/log`, { raw: true });
      log.textContent = (await r.text()).slice(-20000) || '(empty)';
    } catch (e) { log.textContent = e.message; }
  }
  await load();
  return {
    onEvent: (e) => { if (e.job === job.id) load(); },
  };
}

// ------------------------------------------------------------------- usage
export async function usageView(root) {
  const by = el('select', { id: 'u-by' }, ['programme', 'organisation', 'project', 'user', 'funder'].map((b) => el('option', { value: b }, b)));
  const from = el('input', { id: 'u-from', type: 'datetime-local' });
  const to = el('input', { id: 'u-to', type: 'datetime-local' });
  const csv = el('button', { type: 'button', id: 'u-csv' }, 'Export CSV');
  const table = el('table', { id: 'usage-table' });
  const chart = el('div', { id: 'usage-chart' });
  const status = el('p', { role: 'status' });
  const form = el('form', { class: 'filters' }, el('label', {}, el('span', {}, 'By'), by),
    el('label', {}, el('span', {}, 'From (UTC)'), from), el('label', {}, el('span', {}, 'To (UTC)'), to),
    el('button', { type: 'submit' }, 'Show'), csv);
  root.replaceChildren(el('h1', {}, 'Usage'), el('p', {}, 'Accelerator-hours delivered in the period.'), form, status, chart, table);
  const secs = (i) => (i.value ? Math.floor(Date.parse(`${i.value}:00Z`) / 1000) : null);
  function qs(format) {
    const p = new URLSearchParams({ by: by.value, format });
    if (secs(from) !== null) p.set('from', secs(from));
    if (secs(to) !== null) p.set('to', secs(to));
    return p.toString();
  }
  let plot = null;
  async function load() {
    let rows;
    try { rows = await api(`/v1/usage?${qs('json')}`); status.textContent = ''; } catch (e) { status.textContent = e.message; return; }
    rows.sort((a, b) => b.accelerator_hours - a.accelerator_hours);
    table.replaceChildren(el('thead', {}, el('tr', {}, [by.value, 'Accelerator-hours', 'Jobs'].map((t) => el('th', { scope: 'col' }, t)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, r.key), el('td', { class: 'n' }, num(r.accelerator_hours)), el('td', { class: 'n' }, num(r.jobs))))));
    if (plot) plot.destroy();
    chart.replaceChildren();
    const top = rows.slice(0, 20);
    if (!top.length) { status.textContent = 'No usage in this period.'; return; }
    plot = new uPlot({
      width: Math.min(900, chart.clientWidth || 900), height: 240,
      scales: { x: { time: false } },
      axes: [{ values: (u, vals) => vals.map((v) => (Number.isInteger(v) && top[v] ? top[v].key.split('/').pop() : '')), label: by.value }, { label: 'accelerator-hours', size: 70 }],
      series: [{}, { label: 'accelerator-hours', fill: PALETTE[0], stroke: PALETTE[0], paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
    }, [top.map((_, i) => i), top.map((r) => r.accelerator_hours)], chart);
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  csv.addEventListener('click', async () => {
    try {
      const r = await api(`/v1/usage?${qs('csv')}`, { raw: true });
      const blob = new Blob([await r.text()], { type: 'text/csv' });
      const a = el('a', { href: URL.createObjectURL(blob), download: `agora-usage-${by.value}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) { status.textContent = e.message; }
  });
  await load();
  // Jobs that start or end change the figures: reload, at most every 5 s.
  return { onEvent: throttle(load, 5000) };
}

// ------------------------------------------------------------------ submit
export async function submitView(root, ctx) {
  const tenants = await api('/v1/tenants');
  const leaves = tenants.filter((t) => t.level === 'project' || !tenants.some((u) => u.path.startsWith(`${t.path}/`)));
  const fields = [
    ['project', 'Project', el('select', { name: 'project' }, el('option', { value: '' }, '(choose)'), leaves.map((t) => el('option', { value: t.path.split('/').pop() }, t.path)))],
    ['name', 'Name', el('input', { name: 'name', type: 'text' })],
    ['accelerators', 'Accelerators', el('input', { name: 'accelerators', type: 'text', inputmode: 'numeric' })],
    ['time_limit', 'Time limit (e.g. 2h, 1-00:00:00)', el('input', { name: 'time_limit', type: 'text', value: '1h' })],
    ['duration', 'Run time on the virtual site (e.g. 30m)', el('input', { name: 'duration', type: 'text' })],
    ['class', 'Class', el('select', { name: 'class' }, ['', 'standard', 'opportunistic', 'reserved'].map((c) => el('option', { value: c }, c || '(default)')))],
    ['scope', 'Topology scope', el('select', { name: 'scope' }, ['', 'block', 'pod', 'site'].map((c) => el('option', { value: c }, c || '(default)')))],
    ['command', 'Command (local executor)', el('input', { name: 'command', type: 'text' })],
  ];
  const errs = {};
  const rows = fields.map(([k, label, input]) => {
    input.id = `f-${k}`;
    errs[k] = el('span', { class: 'field-error', id: `err-${k}`, role: 'alert' });
    input.setAttribute('aria-describedby', `err-${k}`);
    return el('div', { class: 'field' }, el('label', { for: input.id }, label), input, errs[k]);
  });
  const general = el('p', { class: 'field-error', id: 'err-general', role: 'alert' });
  const done = el('p', { role: 'status', id: 'submit-done' });
  const form = el('form', { id: 'submit-form', novalidate: true }, rows, general, el('button', { type: 'submit' }, 'Submit job'));
  const script = el('textarea', { id: 'f-script', rows: 12, cols: 70, 'aria-describedby': 'err-script', spellcheck: 'false' },
    `#!/bin/bash\n#SBATCH -A ${leaves.length ? leaves[0].path.split('/').pop() : 'PROJECT'}\n#SBATCH -J train\n#SBATCH --gpus=16\n#SBATCH -t 2:00:00\nsrun python train.py\n`);
  const scriptErr = el('span', { class: 'field-error', id: 'err-script', role: 'alert' });
  const sform = el('form', { id: 'script-form' }, el('label', { for: 'f-script' }, 'Slurm batch script (#SBATCH directives)'), script, scriptErr,
    el('button', { type: 'submit' }, 'Submit script'));
  root.replaceChildren(el('h1', {}, 'Submit'), done, el('div', { class: 'two' },
    el('section', { 'aria-label': 'Job form' }, el('h2', {}, 'A job'), form),
    el('section', { 'aria-label': 'Batch script' }, el('h2', {}, 'Or a batch script'), sform)));
  const clear = () => { Object.values(errs).forEach((e) => { e.textContent = ''; }); general.textContent = ''; scriptErr.textContent = ''; fields.forEach(([, , i]) => i.removeAttribute('aria-invalid')); };
  function ok(r) {
    done.replaceChildren('Submitted: ', ...r.jobs.map((id) => el('a', { href: `#/jobs/${id}`, class: 'submitted' }, `job #${id} `)));
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear();
    const body = {};
    for (const [k, , input] of fields) {
      const v = input.value.trim();
      if (!v) continue;
      body[k] = k === 'accelerators' && /^\d+$/.test(v) ? Number(v) : v;
    }
    try { ok(await api('/v1/jobs', { method: 'POST', body: JSON.stringify(body) })); } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const f = (err.field || '').replace(/^\./, '').split(/[.[]/)[0];
      if (errs[f]) {
        errs[f].textContent = err.message;
        fields.find(([k]) => k === f)[2].setAttribute('aria-invalid', 'true');
        fields.find(([k]) => k === f)[2].focus();
      } else general.textContent = err.message;
    }
  });
  sform.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear();
    try { ok(await api('/v1/jobs', { method: 'POST', body: script.value, type: 'text/x-shellscript' })); } catch (err) {
      scriptErr.textContent = err.message;
      script.setAttribute('aria-invalid', 'true');
    }
  });
  return {};
}
