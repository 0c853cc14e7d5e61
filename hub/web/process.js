// One process: its figures, CPU and memory from the rollups (15 min to
// 7 d, fitted to the data, zoomable by dragging), custom metrics,
// revision, event timeline and, for operators, its actions with a
// confirmation, a pending state and the agent's answer.

import { api, can } from './api.js';
import { chart, clock, dragging } from './chart.js';
import * as live from './live.js';
import { logPanel } from './logs.js';
import { link, setQuery } from './nav.js';
import { abs, ago, bytes, confirm, dur, eventDetail, failure, fill, h, pct, revision, status } from './ui.js';

const RANGES = { '15m': 900e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };
const MiB = 1048576;

function figure(label, value) {
  return h('div', { class: 'figure' }, h('b', {}, value), h('span', {}, label));
}

function metricValue(v) {
  if (v && typeof v === 'object' && 'value' in v) return `${v.value}${v.unit ? ` ${v.unit}` : ''}`;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * The span the charts show: a zoom (from/to in the URL), else the range up
 * to now, cut to where the data starts (an app two minutes old fills its
 * charts, not the right edge of an hour), with its words.
 */
function span(d, view) {
  if (view.zoom) return { ...view.zoom, words: `${clock(view.zoom.from, view.zoom.to - view.zoom.from)} to ${clock(view.zoom.to, view.zoom.to - view.zoom.from)} (zoomed)` };
  const to = Date.now();
  const from = to - RANGES[view.range];
  const first = d.history.length ? d.history[0].start : to;
  if (first - d.span_ms <= from) return { from, to, words: `last ${view.range}` };
  const fitted = Math.min(first, to - 60000);
  return { from: fitted, to, words: `last ${dur(to - fitted)}: no data before, of the last ${view.range}` };
}

function charts(d, view, onZoom) {
  const { from, to, words } = span(d, view);
  const inside = d.history.filter((r) => r.start + d.span_ms >= from && r.start <= to);
  const rows = (key) => inside.map((r) => ({ t: r.start, min: r[key][0], max: r[key][1], avg: r[key][2] }));
  const res = d.span_ms >= 60000 ? `${d.span_ms / 60000}-minute` : `${d.span_ms / 1000}-second`;
  const head = (what) => h('div', { class: 'chart-head' }, h('span', {}, what), h('span', {}, `${words}, ${res} averages, band: min to max`));
  return [
    h('div', { class: 'panel' }, head('CPU, % of one core'), chart({ rows: rows('cpu'), from, to, step: d.span_ms, floor: 1, onZoom, format: (v) => pct(v), label: `CPU, ${words}` })),
    h('div', { class: 'panel' }, head('Memory, resident'), chart({ rows: rows('memory'), from, to, step: d.span_ms, floor: MiB, unit: MiB, onZoom, format: (v) => bytes(v), label: `Memory, ${words}` })),
  ];
}

/** Where a checkout stands against its remote branch, in words. */
export function sync(v) {
  if (v.branch_exists_on_remote === false) return 'no remote branch';
  if (v.ahead === undefined && v.behind === undefined) return null;
  const a = v.ahead_count ?? (v.ahead ? 1 : 0);
  const b = v.behind_count ?? (v.behind ? 1 : 0);
  if (!a && !b) return 'up to date';
  return [a ? `${a} ahead` : null, b ? `${b} behind` : null].filter(Boolean).join(', ');
}

function versionBlock(v) {
  if (!v) return h('p', { class: 'muted' }, 'No git metadata: the app does not run from a git checkout.');
  const rows = [['revision', revision(v)], ['branch', v.branch], ['message', v.comment],
    ['remote', v.url], ['against its remote', sync(v)], ['unstaged changes', v.unstaged === undefined ? null : v.unstaged ? 'yes' : 'none']];
  return h('dl', { class: 'kv' }, rows.filter(([, x]) => x !== undefined && x !== null && x !== '')
    .map(([k, x]) => [h('dt', {}, k), h('dd', {}, x)]));
}

function timeline(events) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events stored for this app.');
  return h('table', { class: 'grid' }, h('tbody', {}, events.map((e) => h('tr', {},
    h('td', {}, ago(e.at)),
    h('td', {}, h('span', { class: `pill ${['exit', 'errored', 'exception'].includes(e.kind) ? 'bad' : ''}` }, e.kind)),
    h('td', { class: 'num' }, `#${e.pm_id}`),
    h('td', { class: 'wrap' }, eventDetail(e))))));
}

/** The action bar: each verb asks the agent and shows its answer. */
function actions(d, after) {
  const p = d.process;
  const result = h('span', { class: 'result', role: 'status' });
  const scope = h('select', { 'aria-label': 'Act on' },
    h('option', { value: p.name }, `app ${p.name} (every instance)`),
    h('option', { value: String(p.pm_id) }, `instance ${p.pm_id} only`));
  const count = h('input', { type: 'number', min: 0, max: 64, value: 1, 'aria-label': 'Instances', class: 'w6' });
  // The actions the app registered (@pm2/io), or a name to type; the
  // list follows the app (it registers them again after a restart).
  const slot = h('span');
  let trig = null;
  let known = null;
  const offer = (actions) => {
    const key = (actions || []).join('\n');
    if (key === known) return;
    known = key;
    trig = actions && actions.length
      ? h('select', { 'aria-label': 'Custom action' }, actions.map((a) => h('option', { value: a }, a)))
      : h('input', { placeholder: 'action name', 'aria-label': 'Custom action', class: 'w10' });
    fill(slot, trig);
  };
  offer(p.actions);
  const param = h('input', { placeholder: 'parameter', 'aria-label': 'Parameter', class: 'w8' });
  const buttons = [];
  // How many instances a verb on `t` touches: the app's, on this server.
  const reach = async (t) => {
    if (t !== p.name) return 1;
    try {
      const s = await api(`/api/v1/servers/${d.server_id}`);
      return s.processes.filter((x) => x.name === p.name).length;
    } catch {
      return 1;
    }
  };
  const run = async (verb, { params, danger, target } = {}) => {
    const t = target || scope.value;
    // Stopping or restarting more than one instance, or anything
    // dangerous, asks first and names what it touches.
    const n = ['restart', 'reload', 'stop', 'delete'].includes(verb) ? await reach(t) : 1;
    const Verb = verb[0].toUpperCase() + verb.slice(1);
    const what = n > 1 ? `${t} on ${d.server}: ${n} instances` : `${t} on ${d.server}`;
    if ((danger || n > 1) && !(await confirm(`${Verb} ${what}?`, Verb))) return;
    for (const b of buttons) b.disabled = true;
    fill(result, h('span', { class: 'status warn' }, `${verb}: waiting for ${d.server}…`));
    try {
      const body = { server: d.server_id, action: verb, targets: [t], wait: true };
      if (params !== undefined) body.params = params;
      const r = await api('/api/v1/actions', { method: 'POST', body });
      // The outcome in words; the agent's own text on hover.
      fill(result, r.status === 'done'
        ? h('span', { class: `status ${r.ok ? 'ok' : 'bad'}`, title: r.message || null }, r.summary || `${verb} ${r.ok ? 'done' : 'failed'}: ${r.message || ''}`)
        : h('span', { class: 'status warn' }, `${verb} sent; no answer yet (action ${r.id})`));
      after();
    } catch (e) {
      fill(result, h('span', { class: 'status bad' }, `${verb} not done: ${e.message}`));
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };
  const btn = (label, fn, cls) => {
    const b = h('button', { type: 'button', class: cls, onclick: fn }, label);
    buttons.push(b);
    return b;
  };
  const el = h('div', { class: 'panel stack' },
    h('div', { class: 'actions' }, scope,
      btn('Restart', () => run('restart')), btn('Reload', () => run('reload')),
      btn('Start', () => run('start')), btn('Stop', () => run('stop', { danger: true }), 'danger'),
      btn('Reset counters', () => run('reset')), btn('Flush logs', () => run('flush')),
      btn('Delete', () => run('delete', { danger: true }), 'danger')),
    h('div', { class: 'actions' }, 'Scale to', count,
      btn('Scale', () => run('scale', { params: Number(count.value), danger: Number(count.value) === 0, target: p.name })),
      h('span', { class: 'muted' }, '·'), 'Custom action', slot, param,
      btn('Trigger', () => run('trigger', { params: { action: trig.value, param: param.value || undefined }, target: String(p.pm_id) }))),
    result);
  el.offer = offer;
  return el;
}

/** The process page. */
export async function render(ctx) {
  const [id, pm] = ctx.params.map(Number);
  // What the charts show: a preset range up to now, or a zoom (from/to in
  // the URL, so a zoomed view can be pasted into a chat).
  const view = { range: RANGES[ctx.query.get('range')] ? ctx.query.get('range') : '1h', zoom: null };
  const [zf, zt] = [Number(ctx.query.get('from')), Number(ctx.query.get('to'))];
  if (zf > 0 && zt > zf) view.zoom = { from: zf, to: zt };
  // The page's parts, made once: a reload fills `top` and `rest` only, so
  // the action bar keeps its pending state and the log view its scroll.
  const top = h('div');
  const barBox = h('div');
  const rest = h('div');
  const logBox = h('div');
  fill(ctx.main, top, barBox, rest, logBox);
  let bar = null;
  let logs = null;
  ctx.onCleanup(() => logs && logs.close());
  const load = async () => {
    // A refresh would replace the chart a user is dragging across: the
    // next one (samples come every 5 s) catches up.
    if (dragging()) return;
    try {
      const since = view.zoom ? view.zoom.from : Date.now() - RANGES[view.range];
      const d = await api(`/api/v1/servers/${id}/processes/${pm}?since=${since}`);
      const p = d.process;
      const ev = await api(`/api/v1/events?server=${id}&app=${encodeURIComponent(p.name)}&limit=30`);
      const up = p.status === 'online' && p.pm_uptime ? dur(Date.now() - p.pm_uptime) : '–';
      const tabs = h('span', { class: 'tabs', role: 'group', 'aria-label': 'Range' }, Object.keys(RANGES).map((r) => h('button', {
        type: 'button', 'aria-pressed': String(!view.zoom && r === view.range),
        onclick: () => { view.range = r; view.zoom = null; setQuery({ range: r, from: null, to: null }); load(); },
      }, r)), view.zoom ? h('button', {
        type: 'button', class: 'small',
        onclick: () => { view.zoom = null; setQuery({ from: null, to: null }); load(); },
      }, 'Reset zoom') : null);
      const zoom = (from, to) => { view.zoom = { from, to }; setQuery({ from, to }); load(); };
      if (!bar && can('operator')) fill(barBox, bar = actions(d, () => load()));
      if (bar) bar.offer(p.actions);
      if (!logs) {
        logs = logPanel(id, p.name);
        fill(logBox, h('h2', {}, 'Live logs'), logs.el);
      }
      const metrics = Object.entries(p.metrics || {});
      fill(top,
        h('h1', {}, p.name, status(p.status), h('span', { class: 'muted' }, 'on '), h('a', { href: link(`/servers/${id}`) }, d.server)),
        h('div', { class: 'cards' },
          figure('CPU', pct(p.cpu)), figure('memory', bytes(p.memory)), figure('uptime', up),
          figure('restarts', `${p.restart_time}${p.unstable_restarts ? ` (${p.unstable_restarts} unstable)` : ''}`),
          figure('pid', h('code', {}, p.pid || '–')), figure('instance', `#${p.pm_id} · ${p.exec_mode.replace('_mode', '')}`),
          figure('namespace', p.namespace), figure('started', p.pm_uptime ? abs(p.pm_uptime) : '–')));
      fill(rest,
        h('div', { class: 'row' }, h('h2', {}, 'History'), tabs, h('span', { class: 'muted' }, 'drag across a chart to zoom')),
        charts(d, view, zoom),
        h('h2', {}, 'Custom metrics'),
        metrics.length ? h('dl', { class: 'kv panel' }, metrics.map(([k, v]) => [h('dt', {}, k), h('dd', {}, metricValue(v))]))
          : h('p', { class: 'muted' }, 'None reported (an app adds them with @pm2/io).'),
        h('h2', {}, 'Revision'), h('div', { class: 'panel' }, versionBlock(p.versioning)),
        h('h2', {}, 'Restarts and events'), timeline(ev.events),
        h('p', {}, h('a', { href: link(`/events?server=${id}&app=${encodeURIComponent(p.name)}`) }, 'All events of this app')));
    } catch (e) {
      fill(rest);
      fill(top, e.status === 404
        ? h('div', { class: 'notice' }, 'This process is not in its server\'s last report (deleted, or the server is offline). ', h('a', { href: link(`/events?server=${id}`) }, 'See the server\'s events'), '.')
        : failure(e));
    }
  };
  await load();
  const reload = live.throttle(load, 1000);
  ctx.onCleanup(live.on(['process_status', 'restart', 'version', 'event', 'server_down', 'server_up'],
    (c) => { if (c.server_id === id) reload(); }, load));
  ctx.onCleanup(live.samples(load, 5000));
}
