// Fleet: every server with its state, host figures and apps by status;
// and one server's page. Status changes arrive live; each server's host
// figures come with its samples, paced by the hub to one every 5 s (a
// per-second sample stream for a whole fleet would cost more than it shows).

import { api, can } from './api.js';
import * as live from './live.js';
import { logPanel } from './logs.js';
import { inBucket, link, setQuery } from './nav.js';
import { processColumns } from './processes.js';
import { grid, nextSort, parseSort, sortParam } from './table.js';
import { ago, bytes, dur, failure, fill, h, pct, search, select, status } from './ui.js';

const CHANGES = ['server_up', 'server_down', 'process_status', 'restart', 'process_removed'];

function appsCell(c) {
  const order = [['online', 'ok'], ['errored', 'bad'], ['stopped', ''], ['launching', 'warn'],
    ['stopping', 'warn'], ['waiting restart', 'warn']];
  const parts = order.filter(([s]) => c[s]).map(([s, cls]) => h('span', { class: `pill ${cls}` }, `${c[s]} ${s}`));
  return parts.length ? h('span', { class: 'row' }, parts) : h('span', { class: 'muted' }, 'no apps');
}

function mem(host) {
  return host ? `${bytes(host.mem_used)} / ${bytes(host.mem_total)}` : '–';
}

const COLUMNS = [
  { key: 'online', label: 'State', value: (s) => (s.online ? 0 : 1), cell: (s) => status(s.online ? 'online' : 'offline') },
  { key: 'name', label: 'Server', cell: (s) => h('a', { href: link(`/servers/${s.id}`) }, s.name) },
  { key: 'bucket', label: 'Bucket', minor: true },
  { key: 'apps', label: 'Apps', value: (s) => -(s.statuses.errored || 0), cell: (s) => appsCell(s.statuses) },
  { key: 'cpu', label: 'CPU', num: true, phoneLabel: true, value: (s) => s.host?.cpu ?? -1, cell: (s) => pct(s.host?.cpu) },
  { key: 'mem', label: 'Memory', num: true, phoneLabel: true, value: (s) => s.host?.mem_used ?? -1, cell: (s) => mem(s.host) },
  { key: 'load', label: 'Load', num: true, minor: true, value: (s) => s.host?.load[0] ?? -1, cell: (s) => (s.host ? s.host.load.map((l) => l.toFixed(2)).join(' ') : '–') },
  { key: 'last_seen', label: 'Last seen', value: (s) => -s.last_seen, cell: (s) => ago(s.last_seen) },
  { key: 'agent_version', label: 'Agent', minor: true, cell: (s) => h('code', {}, s.agent_version) },
];

function matches(s, q) {
  if (!q) return true;
  const hay = [s.name, s.bucket, s.agent_version, s.machine_id, s.host?.hostname].join(' ').toLowerCase();
  return q.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

/** Shown when no server is linked: the exact command, for admins at once. */
function empty() {
  const box = h('div', { class: 'panel stack' }, h('h2', {}, 'No server is linked yet'),
    h('p', {}, 'Each server runs pmr and links to this hub with a bucket key.'));
  if (!can('admin')) {
    box.append(h('p', {}, 'Ask an admin of this hub for a key and the `pmr link` command.'));
    return box;
  }
  const out = h('div');
  const make = h('button', {
    type: 'button', class: 'primary', onclick: async () => {
      make.disabled = true;
      const { keyResult } = await import('./admin.js');
      try {
        const k = await api('/api/v1/keys', { method: 'POST', body: { bucket: 'default' } });
        fill(out, keyResult(k));
      } catch (e) {
        fill(out, failure(e));
        make.disabled = false;
      }
    },
  }, 'Create a key for bucket "default" and show the command');
  box.append(h('div', { class: 'row' }, make, h('a', { href: '/admin/keys' }, 'or manage keys')), out);
  return box;
}

/** The fleet page. */
export async function render(ctx) {
  const { main, query } = ctx;
  let q = query.get('q') || '';
  let state = query.get('state') || '';
  let sort = parseSort(query, 'name');
  let servers = [];
  const list = h('div');
  const summary = h('span', { class: 'count' });
  const draw = () => {
    const shown = servers.filter((s) => inBucket(s.bucket) && matches(s, q)
      && (!state || (state === 'online') === s.online));
    const down = shown.filter((s) => !s.online).length;
    fill(summary, `${shown.length} servers, ${down} offline`);
    if (!servers.length) return fill(list, empty());
    fill(list, grid({
      columns: COLUMNS, rows: shown, sort, href: (s) => link(`/servers/${s.id}`),
      onSort: (k) => { sort = nextSort(sort, k); setQuery({ sort: sortParam(sort) }); draw(); },
    }));
  };
  const load = async () => {
    try {
      servers = await api('/api/v1/servers');
      draw();
    } catch (e) {
      fill(list, failure(e));
    }
  };
  fill(main,
    h('h1', {}, 'Fleet', summary),
    h('div', { class: 'filters' },
      search(q, (v) => { q = v; setQuery({ q }); draw(); }, 'Search servers, buckets, versions'),
      select([['', 'All states'], ['online', 'Online'], ['offline', 'Offline']], state,
        (v) => { state = v; setQuery({ state }); draw(); }, 'State')),
    list);
  await load();
  // Changes are applied where they land; the whole list (host figures,
  // new servers, removed processes) is fetched again every 30 s, and 5 s
  // after what a change cannot say by itself. At 10,000 servers the list is
  // megabytes: refetching it on every change would cost more than it shows.
  const redraw = live.throttle(draw, 250);
  const refetch = live.throttle(load, 5000);
  const apply = (c) => {
    const s = servers.find((x) => x.id === c.server_id);
    if (!s || c.type === 'process_removed') return refetch();
    if (c.type === 'sample') {
      // Each server's figures every 5 s: host CPU and memory, apps by status.
      if (c.host) s.host = { ...s.host, ...c.host };
      if (c.processes) {
        s.statuses = {};
        for (const p of c.processes) s.statuses[p.status] = (s.statuses[p.status] || 0) + 1;
      }
      s.online = true;
      s.last_seen = Date.now();
    } else if (c.type === 'server_up' || c.type === 'server_down') {
      s.online = c.type === 'server_up';
      s.last_seen = Date.now();
    } else if (c.type === 'process_status') {
      if (c.was) s.statuses[c.was] = Math.max(0, (s.statuses[c.was] || 1) - 1);
      s.statuses[c.status] = (s.statuses[c.status] || 0) + 1;
    }
    redraw();
  };
  ctx.onCleanup(live.on([...CHANGES, 'sample'], apply, load));
  const tick = setInterval(load, 30000);
  ctx.onCleanup(() => clearInterval(tick));
}

function figures(s) {
  const host = s.host;
  const f = (label, value) => h('div', { class: 'figure' }, h('b', {}, value), h('span', {}, label));
  return h('div', { class: 'cards' },
    f('state', status(s.online ? 'online' : 'offline')),
    f('host CPU', host ? pct(host.cpu) : '–'),
    f('memory', mem(host)),
    f('load 1 / 5 / 15 min', host ? host.load.map((l) => l.toFixed(2)).join(' ') : '–'),
    f('disk', host ? `${bytes(host.disk_used)} / ${bytes(host.disk_total)}` : '–'),
    f('host up', host ? dur(host.uptime * 1000) : '–'),
    f('last seen', ago(s.last_seen)),
    f('agent', s.agent_version));
}

/** One server: its figures and processes. */
export async function renderServer(ctx) {
  const id = Number(ctx.params[0]);
  // The log view is made once, outside what a reload refills.
  const body = h('div');
  const logBox = h('div');
  fill(ctx.main, body, logBox);
  let logs = null;
  ctx.onCleanup(() => logs && logs.close());
  const load = async () => {
    try {
      const s = await api(`/api/v1/servers/${id}`);
      if (!logs) {
        logs = logPanel(id, null);
        fill(logBox, h('h2', {}, 'Live logs of every app'), logs.el);
      }
      const rows = s.processes.map((p) => ({ ...p, server: s.name, server_id: s.id, server_online: s.online }));
      fill(body,
        h('h1', {}, s.name, h('span', { class: 'pill' }, s.bucket), h('code', { class: 'muted' }, s.machine_id)),
        figures(s),
        h('h2', {}, `Processes (${rows.length})`),
        grid({ columns: processColumns(false), rows, sort: { key: 'name', dir: 1 },
          href: (p) => link(`/servers/${id}/processes/${p.pm_id}`) }),
        h('p', {}, h('a', { href: link(`/events?server=${id}`) }, `Events of ${s.name}`)));
    } catch (e) {
      fill(body, e.status === 404
        ? h('div', { class: 'notice' }, `Server ${id} is not connected and has no live data: `, h('a', { href: link(`/events?server=${id}`) }, 'see its events'), '.')
        : failure(e));
    }
  };
  await load();
  const reload = live.throttle(load, 500);
  ctx.onCleanup(live.on(CHANGES, (c) => { if (c.server_id === id) reload(); }, load));
  ctx.onCleanup(live.samples(load));
}
