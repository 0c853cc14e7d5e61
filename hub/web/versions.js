// Versions: for each app, which revision runs on which server. The
// revision most instances run is the reference; any other is drift, and
// apps with drift come first. An even split has no reference (no server
// is named the odd one); an app outside git has no revision at all.

import { api } from './api.js';
import * as live from './live.js';
import { inBucket, link, setQuery } from './nav.js';
import { sync } from './process.js';
import { failure, fill, h, revision, search } from './ui.js';

/**
 * The revision most instances run, or null when two or more tie for most
 * (an even split names no server as the odd one).
 */
function majority(instances) {
  const n = new Map();
  for (const i of instances) {
    const r = i.versioning?.revision || '';
    n.set(r, (n.get(r) || 0) + 1);
  }
  const [first, second] = [...n].sort((a, b) => b[1] - a[1]);
  if (!first || (second && second[1] === first[1])) return null;
  return first[0];
}

function badge(a, ref) {
  if (!a.instances.some((i) => i.versioning?.revision)) return h('span', { class: 'pill' }, 'no revision: not run from a git checkout');
  if (!a.differs) return h('span', { class: 'pill ok' }, 'one revision everywhere');
  if (ref === null) return h('span', { class: 'pill warn' }, `${a.revisions} revisions, split evenly: drift`);
  return h('span', { class: 'pill warn' }, `${a.revisions} revisions: drift`);
}

function appCard(a) {
  const ref = majority(a.instances);
  const rows = a.instances.map((i) => {
    const v = i.versioning || {};
    const drift = ref !== null && (v.revision || '') !== ref;
    return h('tr', { class: drift ? 'drift' : null },
      h('td', {}, h('a', { href: link(`/servers/${i.server_id}`) }, i.server)),
      h('td', { class: 'num' }, h('a', { href: link(`/servers/${i.server_id}/processes/${i.pm_id}`) }, `#${i.pm_id}`)),
      h('td', {}, revision(i.versioning), drift ? h('span', { class: 'pill warn' }, ' drift') : null),
      h('td', {}, v.branch || ''),
      h('td', { class: 'wrap' }, v.comment || ''),
      h('td', {}, sync(v) || ''));
  });
  return h('section', { class: 'panel' },
    h('h2', {}, a.app, ' ', badge(a, ref)),
    h('div', { class: 'scroll' }, h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Server', 'id', 'Revision', 'Branch', 'Commit message', 'Against its remote']
        .map((t) => h('th', {}, t)))),
      h('tbody', {}, rows))));
}

/** The versions page. */
export async function render(ctx) {
  let q = ctx.query.get('q') || '';
  let apps = [];
  const list = h('div');
  const draw = () => {
    const shown = apps
      .map((a) => {
        const instances = a.instances.filter((i) => inBucket(i.bucket));
        const revisions = new Set(instances.map((i) => i.versioning?.revision || '')).size;
        return { ...a, instances, revisions, differs: revisions > 1 };
      })
      .filter((a) => a.instances.length && (!q || a.app.toLowerCase().includes(q.toLowerCase())))
      .sort((a, b) => Number(b.differs) - Number(a.differs) || a.app.localeCompare(b.app));
    if (!shown.length) return fill(list, h('p', { class: 'muted' }, 'No app to show.'));
    fill(list, shown.map(appCard));
  };
  const load = async () => {
    try {
      apps = await api('/api/v1/versions');
      draw();
    } catch (e) {
      fill(list, failure(e));
    }
  };
  fill(ctx.main, h('h1', {}, 'Versions'),
    h('div', { class: 'filters' }, search(q, (v) => { q = v; setQuery({ q }); draw(); }, 'Search apps')),
    list);
  await load();
  ctx.onCleanup(live.on(['version', 'server_up', 'process_removed'], live.throttle(load, 1000), load));
}
