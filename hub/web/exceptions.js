// Exceptions across the fleet, grouped by app, message and top frame: how
// often, since when, where, at which revisions, and the latest stack with
// the error lines around it. New occurrences arrive live.

import { api } from './api.js';
import * as live from './live.js';
import { inBucket, link, setQuery } from './nav.js';
import { abs, ago, failure, fill, h, search } from './ui.js';

function group(g) {
  const where = g.servers.map((s) => h('span', { class: 'pill' }, s));
  const revs = g.revisions.map((r) => h('code', { title: r }, r.slice(0, 8)));
  return h('details', { class: 'panel' },
    h('summary', {},
      h('b', {}, g.message), ' ',
      h('span', { class: 'pill bad' }, `${g.count}×`), ' ',
      h('a', { href: link(`/processes?q=${encodeURIComponent(g.app)}`) }, g.app), ' ',
      h('span', { class: 'muted', title: abs(g.last_seen) }, 'last ', ago(g.last_seen))),
    h('dl', { class: 'kv' },
      h('dt', {}, 'top frame'), h('dd', {}, h('code', {}, g.frame || 'none found')),
      h('dt', {}, 'first seen'), h('dd', {}, ago(g.first_seen)),
      h('dt', {}, 'servers'), h('dd', { class: 'row' }, where),
      h('dt', {}, 'revisions'), h('dd', { class: 'row' }, revs.length ? revs : h('span', { class: 'muted' }, 'unknown'))),
    h('p', { class: 'muted' }, 'The latest occurrence: its message and stack (after a crash, the app\'s last error lines).'),
    h('pre', { class: 'sample' }, g.sample));
}

/** The exceptions page. */
export async function render(ctx) {
  let q = ctx.query.get('q') || '';
  let groups = [];
  const list = h('div');
  const draw = () => {
    const shown = groups.filter((g) => g.buckets.some(inBucket) || g.buckets.length === 0)
      .filter((g) => !q || `${g.app} ${g.message} ${g.frame}`.toLowerCase().includes(q.toLowerCase()));
    fill(list, shown.length ? shown.map(group) : h('div', { class: 'notice ok' }, 'No exception reported.'));
  };
  const load = async () => {
    try {
      groups = await api('/api/v1/exceptions?limit=200');
      draw();
    } catch (e) {
      fill(list, failure(e));
    }
  };
  fill(ctx.main, h('h1', {}, 'Exceptions'),
    h('div', { class: 'filters' }, search(q, (v) => { q = v; setQuery({ q }); draw(); }, 'Search apps, messages, frames')),
    list);
  await load();
  const reload = live.throttle(load, 2000);
  ctx.onCleanup(live.on(['event'], (c) => { if (c.event.kind === 'exception') reload(); }, load));
}
