// Events across the fleet, newest first, filterable by server and app,
// paged with the API's cursor; new ones appear at the top as they come.

import { api } from './api.js';
import * as live from './live.js';
import { inBucket, link, setQuery } from './nav.js';
import { ago, eventDetail, failure, fill, h, select } from './ui.js';

function row(e) {
  const bad = ['exit', 'errored', 'exception'].includes(e.kind);
  return h('tr', {},
    h('td', {}, ago(e.at)),
    h('td', {}, h('span', { class: `pill ${bad ? 'bad' : ''}` }, e.kind)),
    h('td', {}, h('a', { href: link(`/servers/${e.server_id}`) }, e.server)),
    h('td', {}, h('a', { href: link(`/servers/${e.server_id}/processes/${e.pm_id}`) }, `${e.app} #${e.pm_id}`)),
    h('td', { class: 'wrap' }, eventDetail(e)));
}

/** The events page. */
export async function render(ctx) {
  let server = ctx.query.get('server') || '';
  let app = ctx.query.get('app') || '';
  let next = null;
  let bucketOf = new Map();
  const body = h('tbody');
  const more = h('div');
  const page = async (before) => {
    const p = new URLSearchParams({ limit: '100' });
    if (server) p.set('server', server);
    if (app) p.set('app', app);
    if (before) p.set('before', before);
    const r = await api(`/api/v1/events?${p}`);
    next = r.next_before;
    body.append(...r.events.filter((e) => inBucket(bucketOf.get(e.server_id))).map(row));
    fill(more, next ? h('button', { type: 'button', onclick: () => page(next).catch((e) => fill(more, failure(e))) }, 'Older events') : h('p', { class: 'muted' }, 'No older events.'));
  };
  const reset = async () => {
    fill(body);
    try {
      await page(null);
    } catch (e) {
      fill(more, failure(e));
    }
  };
  const servers = await api('/api/v1/servers');
  bucketOf = new Map(servers.map((s) => [s.id, s.bucket]));
  const appBox = h('input', {
    type: 'search', class: 'search', placeholder: 'App name (exact)', value: app, 'aria-label': 'App',
    onchange: (e) => { app = e.target.value.trim(); setQuery({ app }); reset(); },
  });
  fill(ctx.main, h('h1', {}, 'Events'),
    h('div', { class: 'filters' },
      select([['', 'All servers'], ...servers.filter((s) => inBucket(s.bucket)).map((s) => [String(s.id), s.name])], server,
        (v) => { server = v; setQuery({ server }); reset(); }, 'Server'),
      appBox),
    h('div', { class: 'scroll' }, h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['When', 'Kind', 'Server', 'Process', 'Detail'].map((t) => h('th', {}, t)))), body)),
    more);
  await reset();
  ctx.onCleanup(live.on(['event'], (c) => {
    if ((server && String(c.server_id) !== server) || (app && c.event.name !== app)) return;
    // The feed carries the agent's event; the stored row adds the server.
    const s = servers.find((x) => x.id === c.server_id);
    if (!s || !inBucket(s.bucket)) return;
    body.prepend(row({ ...c.event, app: c.event.name, server_id: c.server_id, server: s.name }));
  }, reset));
}
