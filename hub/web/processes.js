// Processes: every process of every server in one table, like `pmr list`
// for the fleet. Sort, filter, group by app; a status change (a crash, a
// restart) changes its row the moment the change feed brings it.

import { api } from './api.js';
import * as live from './live.js';
import { inBucket, link, setQuery } from './nav.js';
import { grid, nextSort, parseSort, sortParam } from './table.js';
import { bytes, failure, fill, h, pct, revision, search, select, status, uptime } from './ui.js';

function since(p) {
  return p.status === 'online' && p.pm_uptime ? p.pm_uptime : 0;
}

/** The process table's columns (the server column on the fleet-wide list). */
export function processColumns(withServer) {
  return [
    { key: 'status', label: 'Status', cell: (p) => status(p.server_online === false ? 'offline' : p.status) },
    { key: 'name', label: 'App', cell: (p) => h('a', { href: link(`/servers/${p.server_id}/processes/${p.pm_id}`) }, p.name) },
    withServer && { key: 'server', label: 'Server', cell: (p) => h('a', { href: link(`/servers/${p.server_id}`) }, p.server) },
    { key: 'pm_id', label: 'id', num: true, phoneLabel: true, cell: (p) => h('code', {}, p.pm_id) },
    { key: 'namespace', label: 'Namespace', minor: true },
    { key: 'pid', label: 'pid', num: true, phoneLabel: true, cell: (p) => h('code', {}, p.pid || '–') },
    { key: 'uptime', label: 'Uptime', num: true, phoneLabel: true, value: (p) => (since(p) ? Date.now() - since(p) : -1), cell: (p) => uptime(since(p)) },
    { key: 'restart_time', label: '↺', name: 'Restarts', num: true, phoneLabel: true },
    { key: 'cpu', label: 'CPU', num: true, phoneLabel: true, cell: (p) => pct(p.cpu) },
    { key: 'memory', label: 'Memory', num: true, phoneLabel: true, cell: (p) => bytes(p.memory) },
    { key: 'revision', label: 'Revision', minor: true, value: (p) => p.versioning?.revision || '', cell: (p) => revision(p.versioning) },
    { key: 'exec_mode', label: 'Mode', minor: true, cell: (p) => (p.exec_mode || '').replace('_mode', '') },
  ].filter(Boolean);
}

function matches(p, q) {
  if (!q) return true;
  const hay = [p.name, p.server, p.namespace, p.status, p.versioning?.revision, p.versioning?.branch].join(' ').toLowerCase();
  return q.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

/** Rows grouped under one header row per app, with the app's totals. */
function grouped(rows) {
  const apps = new Map();
  for (const p of rows) {
    if (!apps.has(p.name)) apps.set(p.name, []);
    apps.get(p.name).push(p);
  }
  const out = [];
  for (const [name, ps] of [...apps].sort(([a], [b]) => a.localeCompare(b))) {
    const online = ps.filter((p) => p.status === 'online').length;
    const cpu = ps.reduce((a, p) => a + p.cpu, 0);
    const memory = ps.reduce((a, p) => a + p.memory, 0);
    const servers = new Set(ps.map((p) => p.server_id)).size;
    out.push({ group: `${name} · ${online}/${ps.length} online on ${servers} server${servers === 1 ? '' : 's'} · ${pct(cpu)} · ${bytes(memory)}` });
    out.push(...ps);
  }
  return out;
}

/** The processes page. */
export async function render(ctx) {
  const { main, query } = ctx;
  let q = query.get('q') || '';
  let st = query.get('status') || '';
  let group = query.get('group') === 'app';
  let sort = parseSort(query, null);
  let limit = 500;
  let procs = [];
  let byServer = new Map();
  const list = h('div');
  const summary = h('span', { class: 'count' });
  const draw = () => {
    const shown = procs.filter((p) => inBucket(p.bucket) && matches(p, q) && (!st || p.status === st));
    const errored = shown.filter((p) => p.status === 'errored').length;
    fill(summary, `${shown.length} processes${errored ? `, ${errored} errored` : ''}`);
    const columns = processColumns(true);
    fill(list, grid({
      columns, rows: group ? grouped(shown) : shown, sort: group ? null : sort, limit,
      href: (p) => link(`/servers/${p.server_id}/processes/${p.pm_id}`),
      onSort: group ? null : (k) => { sort = nextSort(sort, k); setQuery({ sort: sortParam(sort) }); draw(); },
      more: () => { limit += 1000; draw(); },
    }));
  };
  const load = async () => {
    try {
      procs = await api('/api/v1/processes');
      byServer = new Map();
      for (const p of procs) {
        if (!byServer.has(p.server_id)) byServer.set(p.server_id, new Map());
        byServer.get(p.server_id).set(p.pm_id, p);
      }
      draw();
    } catch (e) {
      fill(list, failure(e));
    }
  };
  const statuses = ['online', 'errored', 'stopped', 'launching', 'stopping', 'waiting restart'];
  fill(main,
    h('h1', {}, 'Processes', summary),
    h('div', { class: 'filters' },
      search(q, (v) => { q = v; setQuery({ q }); draw(); }, 'Search apps, servers, revisions'),
      select([['', 'All statuses'], ...statuses.map((s) => [s, s])], st,
        (v) => { st = v; setQuery({ status: st }); draw(); }, 'Status'),
      h('label', { class: 'row' }, h('input', {
        type: 'checkbox', checked: group,
        onchange: (e) => { group = e.target.checked; setQuery({ group: group ? 'app' : '' }); draw(); },
      }), 'Group by app')),
    list);
  await load();
  // Every figure of a row follows the change feed: a status change or a
  // restart lands at once with the new pid and start time, each server's
  // figures (CPU, memory, pid, uptime) come every 5 s, and the uptime
  // counts on screen. Only what a change cannot say by itself (a new
  // process, a returning server) brings a refetch, at most every 5 s.
  const redraw = live.throttle(draw, 250);
  const refetch = live.throttle(load, 5000);
  const row = (server, pm) => byServer.get(server)?.get(pm);
  const running = (p, c) => {
    if (c.pid !== undefined) p.pid = c.pid;
    if (c.pm_uptime !== undefined) p.pm_uptime = c.pm_uptime;
  };
  ctx.onCleanup(live.on(['process_status', 'restart', 'process_removed', 'server_up', 'server_down', 'version', 'sample'], (c) => {
    if (c.type === 'sample') {
      const mine = byServer.get(c.server_id) || new Map();
      for (const f of c.processes || []) {
        const p = mine.get(f.pm_id);
        if (!p) { refetch(); continue; }
        Object.assign(p, f);
        p.server_online = true;
      }
      if (c.processes && mine.size > c.processes.length) refetch();
      return redraw();
    }
    const p = row(c.server_id, c.pm_id);
    if (p && c.type === 'process_status') {
      p.status = c.status;
      running(p, c);
    } else if (p && c.type === 'restart') {
      p.restart_time = c.restarts;
      running(p, c);
    } else if (p && c.type === 'version') {
      p.versioning = { ...p.versioning, revision: c.revision };
    } else if (c.type === 'server_down') {
      for (const x of procs) if (x.server_id === c.server_id) x.server_online = false;
    } else refetch();
    redraw();
  }, load));
}
