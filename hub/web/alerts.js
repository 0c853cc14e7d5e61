// Alerts: what fires now and what fired (everyone), muting (operators);
// rules and receivers with their delivery log (admins). All through
// /api/v1/alerts, /alert-rules, /receivers and /deliveries.

import { api, can } from './api.js';
import * as live from './live.js';
import { inBucket, link } from './nav.js';
import { grid } from './table.js';
import { abs, ago, failure, fill, h, toast } from './ui.js';

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
      }) : h('div', { class: 'notice ok' }, 'Nothing fires. ', rules.length ? `${rules.length} rules are watching.` : 'No rule yet: an admin adds them on the Alert rules page.'));
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
  const manage = can('admin')
    ? h('p', { class: 'muted' }, 'Alerts come from ', h('a', { href: '/admin/rules' }, 'alert rules'), ' and go to ', h('a', { href: '/admin/receivers' }, 'receivers'), '.')
    : h('p', { class: 'muted' }, 'Alerts come from alert rules, which admins make on the Alert rules page.');
  fill(ctx.main, h('h1', {}, 'Alerts'), manage, now, h('h2', {}, 'History'), past);
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
