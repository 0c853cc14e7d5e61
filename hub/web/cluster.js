// The hub itself: its store and its replicas, which one holds the
// once-only lease (alerting, folding, pruning) and how many agents each
// holds. One row on SQLite; on PostgreSQL, every replica seen this hour.

import { api } from './api.js';
import { grid } from './table.js';
import { abs, ago, failure, fill, h } from './ui.js';

/** The Admin → Hub page. */
export async function render(ctx) {
  try {
    const s = await api('/api/v1/cluster');
    const alone = s.store === 'sqlite';
    fill(ctx.main, h('h1', {}, 'Hub'),
      h('p', { class: 'muted' }, alone
        ? 'One hub on its SQLite file. Several replicas need PostgreSQL (docs/replicas.md).'
        : `${s.replicas.filter((r) => r.alive).length} replica(s) on one PostgreSQL database. This page came from ${s.replica}.`),
      grid({
        columns: [
          { key: 'id', label: 'Replica', cell: (r) => [h('code', {}, r.id), r.this ? [' ', h('span', { class: 'pill' }, 'this one')] : null] },
          { key: 'alive', label: 'State', cell: (r) => h('span', { class: `pill ${r.alive ? 'ok' : 'bad'}` }, r.alive ? 'alive' : 'silent') },
          { key: 'lease', label: 'Lease', cell: (r) => (r.lease ? h('span', { class: 'pill ok', title: 'Runs alerting, folding and pruning' }, 'holder') : '') },
          { key: 'agents', label: 'Agents', num: true },
          { key: 'address', label: 'Address', cell: (r) => h('code', {}, r.address || '—') },
          { key: 'started_at', label: 'Started', cell: (r) => h('span', { title: abs(r.started_at) }, ago(r.started_at)) },
          { key: 'seen_at', label: 'Last heard', cell: (r) => h('span', { title: abs(r.seen_at) }, ago(r.seen_at)) },
        ],
        rows: s.replicas,
      }));
  } catch (e) {
    fill(ctx.main, failure(e));
  }
}
