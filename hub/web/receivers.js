// Admins: receivers (a webhook's secret shown once), made with a form that
// shows the API's refusal beside the field it names; test sends; the
// delivery log.

import { api } from './api.js';
import { clear, field, form, refuse } from './form.js';
import { grid } from './table.js';
import { ago, confirm, copyBlock, failure, fill, h, toast } from './ui.js';

/** Admins: receivers (a webhook's secret shown once), test sends, the log. */
export async function render(ctx) {
  const out = h('div');
  const list = h('div');
  const log = h('div');
  const load = async () => {
    const [rs, ds] = await Promise.all([api('/api/v1/receivers'), api('/api/v1/deliveries?limit=100')]);
    const names = new Map(rs.map((r) => [r.id, r.name]));
    fill(list, rs.length ? grid({
      columns: [
        { key: 'name', label: 'Name', cell: (r) => h('b', {}, r.name) },
        { key: 'kind', label: 'Kind' },
        { key: 'host', label: 'Posts to', cell: (r) => h('code', {}, r.host) },
        { key: 'group', label: 'Grouping', cell: (r) => `by ${r.group_by.join(', ')} · wait ${r.group_wait_secs} s · every ${r.group_interval_secs} s · repeat ${r.repeat_interval_secs} s` },
        { key: 'act', label: '', cell: (r) => h('span', { class: 'row' },
          h('button', { type: 'button', class: 'small', onclick: async (e) => {
            e.target.disabled = true;
            try {
              const attempts = await api(`/api/v1/receivers/${r.id}/test`, { method: 'POST' });
              const last = attempts[attempts.length - 1];
              toast(`${r.name}: ${last.outcome} after ${attempts.length} attempt(s)${last.error ? `: ${last.error}` : ''}`, last.outcome === 'delivered' ? 'info' : 'bad');
              load();
            } catch (err) { toast(err.message, 'bad'); } finally { e.target.disabled = false; }
          } }, 'Send a test'),
          h('button', { type: 'button', class: 'small danger', onclick: async () => {
            if (!(await confirm(`Delete receiver ${r.name}?`, 'Delete'))) return;
            try { await api(`/api/v1/receivers/${r.id}`, { method: 'DELETE' }); load(); } catch (err) { toast(err.message, 'bad'); }
          } }, 'Delete')) },
      ], rows: rs,
    }) : h('p', { class: 'muted' }, 'No receiver yet: alerts show here but go nowhere.'));
    fill(log, ds.length ? grid({
      columns: [
        { key: 'at', label: 'When', cell: (d) => ago(d.at) },
        { key: 'receiver', label: 'Receiver', cell: (d) => names.get(d.receiver_id) || `#${d.receiver_id}` },
        { key: 'group_key', label: 'Group', cell: (d) => h('code', {}, d.group_key) },
        { key: 'alerts', label: 'Alerts', num: true },
        { key: 'attempt', label: 'Attempt', num: true },
        { key: 'outcome', label: 'Outcome', cell: (d) => h('span', { class: `pill ${d.outcome === 'delivered' ? 'ok' : d.outcome === 'failed' ? 'bad' : 'warn'}` }, d.outcome) },
        { key: 'http_status', label: 'HTTP', num: true, cell: (d) => d.http_status ?? '–' },
        { key: 'latency_ms', label: 'Latency', num: true, cell: (d) => `${d.latency_ms} ms` },
        { key: 'error', label: 'Error', wrap: true, cell: (d) => d.error || '' },
      ], rows: ds,
    }) : h('p', { class: 'muted' }, 'Nothing sent yet.'));
  };
  const num = (name, value, attrs = {}) => {
    const el = h('input', { name, type: 'number', class: 'w8', step: 1, ...attrs });
    el.defaultValue = String(value); // what a reset returns to
    return el;
  };
  const f = form({ class: 'panel stack', 'aria-label': 'New receiver' },
    h('div', { class: 'inline' },
      field('Name', h('input', { name: 'name', required: true }), 'rules name it'),
      field('Kind', h('select', { name: 'kind' }, ['webhook', 'slack', 'discord'].map((k) => h('option', { value: k }, k)))),
      field('URL', h('input', { name: 'url', type: 'url', required: true, class: 'w22', placeholder: 'https://hooks.example.com/pmr' }), 'Slack and Discord: https://')),
    h('div', { class: 'inline' },
      field('Group by', Object.assign(h('input', { name: 'group_by', class: 'w10' }), { defaultValue: 'alertname' }), 'labels, comma-separated'),
      field('Group wait (s)', num('group_wait_secs', 30, { min: 0 })),
      field('Group interval (s)', num('group_interval_secs', 300, { min: 1 })),
      field('Repeat interval (s)', num('repeat_interval_secs', 14400, { min: 1 })),
      field('Send resolved', h('select', { name: 'send_resolved' }, h('option', { value: 'true' }, 'yes'), h('option', { value: 'false' }, 'no')))),
    h('button', { class: 'primary' }, 'Add receiver'));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(f);
    const d = new FormData(f);
    const n = (k) => (d.get(k) === '' ? undefined : Number.isFinite(Number(d.get(k))) ? Number(d.get(k)) : d.get(k));
    const body = {
      name: d.get('name').trim(), kind: d.get('kind'), url: d.get('url').trim(),
      group_by: d.get('group_by').split(',').map((s) => s.trim()).filter(Boolean),
      group_wait_secs: n('group_wait_secs'), group_interval_secs: n('group_interval_secs'),
      repeat_interval_secs: n('repeat_interval_secs'), send_resolved: d.get('send_resolved') === 'true',
    };
    try {
      const r = await api('/api/v1/receivers', { method: 'POST', body });
      fill(out, r.secret ? h('div', { class: 'panel notice ok stack' }, h('p', {}, `${r.receiver.name} added. Its signing secret (X-Pmr-Signature), shown once:`), copyBlock(r.secret), h('p', { class: 'muted' }, 'See docs/alerts.md to verify it.'))
        : h('div', { class: 'panel notice ok' }, `${r.receiver.name} added.`));
      f.reset();
      load();
    } catch (err) { refuse(f, err); }
  });
  fill(ctx.main, h('h1', {}, 'Receivers'),
    h('p', { class: 'muted' }, 'Where alerts go. Rules pick receivers on the ', h('a', { href: '/admin/rules' }, 'Alert rules'), ' page; none picked: every receiver.'),
    f, out, list, h('h2', {}, 'Delivery log'), log);
  try { await load(); } catch (e) { fill(list, failure(e)); }
}
