// Alerts: what fires now and what fired (everyone), muting (operators);
// rules and receivers with their delivery log (admins). All through
// /api/v1/alerts, /alert-rules, /receivers and /deliveries.

import { api, can } from './api.js';
import * as live from './live.js';
import { inBucket, link } from './nav.js';
import { grid } from './table.js';
import { abs, ago, confirm, copyBlock, failure, fill, h, toast } from './ui.js';

const SEVERITY = { critical: 'bad', warning: 'warn', info: '' };

function where(l) {
  const server = l.server ? h('span', {}, l.app ? `${l.app} on ` : '', l.server) : '';
  return server;
}

function stateCell(a) {
  const cls = a.state === 'firing' ? 'bad' : a.state === 'pending' ? 'warn' : 'off';
  return h('span', { class: `status ${cls}` }, a.state);
}

/** The alerts page: now, then history. */
export async function render(ctx) {
  const now = h('div');
  const past = h('div');
  const load = async () => {
    try {
      const [cur, hist, rules] = await Promise.all([
        api('/api/v1/alerts'), api('/api/v1/alerts/history?limit=200'), api('/api/v1/alert-rules'),
      ]);
      const byId = new Map(rules.map((r) => [r.id, r]));
      const shown = cur.filter((a) => inBucket(a.labels.bucket));
      fill(now, shown.length ? grid({
        columns: [
          { key: 'state', label: 'State', cell: stateCell },
          { key: 'alertname', label: 'Alert', cell: (a) => h('b', {}, a.labels.alertname) },
          { key: 'severity', label: 'Severity', cell: (a) => h('span', { class: `pill ${SEVERITY[a.labels.severity] || ''}` }, a.labels.severity) },
          { key: 'where', label: 'Where', cell: (a) => h('a', { href: link(a.labels.app ? `/processes?q=${encodeURIComponent(a.labels.app)}` : `/servers/${a.server_id}`) }, where(a.labels)) },
          { key: 'summary', label: 'Summary', wrap: true, cell: (a) => a.annotations.summary },
          { key: 'since', label: 'Since', cell: (a) => ago(a.starts_at || a.active_since) },
          { key: 'mute', label: '', cell: (a) => muteButton(byId.get(a.rule_id), load) },
        ], rows: shown,
      }) : h('div', { class: 'notice ok' }, 'Nothing fires. ', rules.length ? `${rules.length} rules are watching.` : 'No rule yet: an admin adds them on the Rules page.'));
      const fired = hist.filter((a) => inBucket(a.labels.bucket));
      if (!fired.length) fill(past, h('p', { class: 'muted' }, 'No alert has fired yet.'));
      else fill(past, grid({
        columns: [
          { key: 'rule', label: 'Alert', cell: (a) => h('b', {}, a.rule) },
          { key: 'where', label: 'Where', cell: (a) => where(a.labels) },
          { key: 'summary', label: 'Summary', wrap: true, cell: (a) => a.annotations.summary },
          { key: 'starts_at', label: 'Fired', cell: (a) => ago(a.starts_at) },
          { key: 'ends_at', label: 'Resolved', cell: (a) => (a.ends_at ? h('span', { title: abs(a.ends_at) }, `after ${Math.round((a.ends_at - a.starts_at) / 1000)} s`) : h('span', { class: 'status bad' }, 'firing')) },
        ], rows: fired,
      }));
    } catch (e) {
      fill(now, failure(e));
    }
  };
  fill(ctx.main, h('h1', {}, 'Alerts'), now, h('h2', {}, 'History'), past);
  await load();
  ctx.onCleanup(live.on(['process_status', 'restart', 'server_up', 'server_down', 'version'], live.throttle(load, 2000), load));
  const tick = setInterval(load, 15000);
  ctx.onCleanup(() => clearInterval(tick));
}

function muteButton(rule, after) {
  if (!rule || !can('operator')) return '';
  const muted = rule.muted_until && rule.muted_until > Date.now();
  return h('button', {
    type: 'button', class: 'small', title: muted ? `muted until ${abs(rule.muted_until)}` : 'send nothing for this rule for an hour',
    onclick: async () => {
      try {
        await api(`/api/v1/alert-rules/${rule.id}/mute`, { method: 'POST', body: { minutes: muted ? 0 : 60 } });
        toast(muted ? `${rule.name}: unmuted` : `${rule.name}: muted for an hour`);
        after();
      } catch (e) { toast(e.message, 'bad'); }
    },
  }, muted ? 'Unmute' : 'Mute 1 h');
}

const EXAMPLES = {
  restarts: { name: 'crash loop', kind: 'restarts', count: 5, window_secs: 300, severity: 'critical' },
  errored: { name: 'app errored', kind: 'errored', for_secs: 30, severity: 'critical' },
  cpu: { name: 'busy app', kind: 'cpu', above: 90, for_secs: 300 },
  memory: { name: 'big app', kind: 'memory', above_bytes: 1073741824, for_secs: 300 },
  host_cpu: { name: 'busy server', kind: 'host_cpu', above: 90, for_secs: 300 },
  host_memory: { name: 'server memory', kind: 'host_memory', above: 90, for_secs: 300 },
  metric: { name: 'queue backlog', kind: 'metric', metric: 'queue', above: 1000, for_secs: 60 },
  offline: { name: 'server offline', kind: 'offline', grace_secs: 120, severity: 'critical' },
  deploy: { name: 'deploy', kind: 'deploy', severity: 'info' },
};

/** Admins: rules, as JSON (the API's own shape), with an example per kind. */
export async function renderRules(ctx) {
  const list = h('div');
  const text = h('textarea', { rows: 8, class: 'mono wide', 'aria-label': 'Rule (JSON)' });
  const pick = h('select', { 'aria-label': 'Kind', onchange: () => { text.value = JSON.stringify({ ...EXAMPLES[pick.value], scope: {} }, null, 2); } },
    Object.keys(EXAMPLES).map((k) => h('option', { value: k }, k)));
  text.value = JSON.stringify({ ...EXAMPLES.restarts, scope: {} }, null, 2);
  const load = async () => {
    const rules = await api('/api/v1/alert-rules');
    fill(list, rules.length ? grid({
      columns: [
        { key: 'name', label: 'Name', cell: (r) => h('b', {}, r.name) },
        { key: 'kind', label: 'Kind', cell: (r) => h('code', {}, r.kind) },
        { key: 'scope', label: 'Scope', cell: (r) => Object.entries(r.scope).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ') || 'everything' },
        { key: 'severity', label: 'Severity', cell: (r) => h('span', { class: `pill ${SEVERITY[r.severity] || ''}` }, r.severity) },
        { key: 'muted', label: 'Muted', cell: (r) => (r.muted_until > Date.now() ? `until ${abs(r.muted_until)}` : '') },
        { key: 'act', label: '', cell: (r) => h('button', { type: 'button', class: 'small danger', onclick: async () => {
          if (!(await confirm(`Delete rule ${r.name}? Its alerts resolve.`, 'Delete'))) return;
          try { await api(`/api/v1/alert-rules/${r.id}`, { method: 'DELETE' }); load(); } catch (e) { toast(e.message, 'bad'); }
        } }, 'Delete') },
      ], rows: rules,
    }) : h('p', { class: 'muted' }, 'No rule yet.'));
  };
  const add = h('button', { type: 'button', class: 'primary', onclick: async () => {
    let body;
    try { body = JSON.parse(text.value); } catch (e) { toast(`Not JSON: ${e.message}`, 'bad'); return; }
    try { await api('/api/v1/alert-rules', { method: 'POST', body }); toast('Rule added'); load(); } catch (e) { toast(e.message, 'bad'); }
  } }, 'Add rule');
  fill(ctx.main, h('h1', {}, 'Alert rules'),
    h('div', { class: 'panel stack' }, h('div', { class: 'row' }, 'Start from', pick, h('a', { href: '/api/v1/openapi.json' }, 'the RuleSpec schema')), text, add),
    list);
  try { await load(); } catch (e) { fill(list, failure(e)); }
}

/** Admins: receivers (a webhook's secret shown once), test sends, the log. */
export async function renderReceivers(ctx) {
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
  const f = h('form', { class: 'inline panel' },
    h('label', {}, 'Name', h('input', { name: 'name', required: true })),
    h('label', {}, 'Kind', h('select', { name: 'kind' }, ['webhook', 'slack', 'discord'].map((k) => h('option', { value: k }, k)))),
    h('label', {}, 'URL', h('input', { name: 'url', type: 'url', required: true, class: 'w22' })),
    h('label', {}, 'Group wait (s)', h('input', { name: 'group_wait_secs', type: 'number', min: 0, value: 30, class: 'w6' })),
    h('button', { class: 'primary' }, 'Add receiver'));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(f);
    try {
      const r = await api('/api/v1/receivers', { method: 'POST', body: { name: d.get('name'), kind: d.get('kind'), url: d.get('url'), group_wait_secs: Number(d.get('group_wait_secs')) } });
      fill(out, r.secret ? h('div', { class: 'panel notice ok stack' }, h('p', {}, `${r.receiver.name} added. Its signing secret (X-Pmr-Signature), shown once:`), copyBlock(r.secret), h('p', { class: 'muted' }, 'See docs/alerts.md to verify it.'))
        : h('div', { class: 'panel notice ok' }, `${r.receiver.name} added.`));
      f.reset();
      load();
    } catch (err) { toast(err.message, 'bad'); }
  });
  fill(ctx.main, h('h1', {}, 'Receivers'), f, out, list, h('h2', {}, 'Delivery log'), log);
  try { await load(); } catch (e) { fill(list, failure(e)); }
}
