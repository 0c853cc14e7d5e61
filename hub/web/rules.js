// Admins: alert rules, made with a form that offers each kind's own fields
// (docs/alerts.md's table of kinds) and the receivers that exist; the
// API's refusal shows beside the field it names. Listed below, with mute
// state and a delete button.

import { api } from './api.js';
import { field, form, group, clear, refuse } from './form.js';
import { grid } from './table.js';
import { abs, confirm, failure, fill, h, toast } from './ui.js';

const SEVERITY = { critical: 'bad', warning: 'warn', info: '' };

/** Each kind: what it watches in words, and the fields it takes. */
const KINDS = {
  restarts: ['an app restarts too often', ['count', 'window_secs']],
  errored: ['an app is errored', []],
  stopped: ['an app stopped by its own exit', []],
  cpu: ['an app\'s CPU is high', ['above']],
  memory: ['an app\'s memory is high', ['above_bytes']],
  host_cpu: ['a server\'s CPU is high', ['above']],
  host_memory: ['a server\'s memory is high', ['above']],
  metric: ['a custom metric crosses a threshold', ['metric', 'above', 'below']],
  offline: ['a server is offline', ['grace_secs']],
  deploy: ['an app is deployed (its revision changed)', []],
  new_exception: ['a new kind of exception occurs', []],
  exception_rate: ['an exception repeats too often', ['count', 'window_secs']],
};

/** The kind-specific inputs: label, hint by kind, default, input attributes. */
const FIELDS = {
  count: ['Count', { restarts: 'restarts that fire', exception_rate: 'occurrences that fire' }, 5, { min: 1, step: 1 }],
  window_secs: ['Within (seconds)', {}, 300, { min: 1, step: 1 }],
  above: ['Above', { cpu: 'percent of one core', host_cpu: 'percent of all CPUs', host_memory: 'percent used', metric: 'fires above this' }, 90, { step: 'any' }],
  below: ['Below', { metric: 'fires below this (optional)' }, '', { step: 'any' }],
  above_bytes: ['Above (MiB)', { memory: 'resident memory of its largest instance' }, 1024, { min: 1, step: 'any' }],
  metric: ['Metric', { metric: 'its name, as the app reports it' }, '', { type: 'text' }],
  grace_secs: ['Grace (seconds)', { offline: 'how long a server may be away' }, 120, { min: 0, step: 1 }],
};

/** A number input whose default (what a reset returns to) is `value`. */
function input(name, value, attrs = {}) {
  const el = h('input', { name, type: 'number', class: 'w8', ...attrs });
  el.defaultValue = String(value);
  return el;
}

/** What a rule's own fields say, in words ("5 in 300 s", "above 90"). */
function condition(r) {
  const parts = [];
  if (r.count !== undefined) parts.push(`${r.count} in ${r.window_secs} s`);
  if (r.metric) parts.push(r.metric);
  if (r.above !== undefined && r.above !== null) parts.push(`above ${r.above}`);
  if (r.below !== undefined && r.below !== null) parts.push(`below ${r.below}`);
  if (r.above_bytes) parts.push(`above ${Math.round(r.above_bytes / 1048576)} MiB`);
  if (r.grace_secs !== undefined) parts.push(`after ${r.grace_secs} s`);
  if (r.for_secs) parts.push(`for ${r.for_secs} s`);
  return parts.join(', ');
}

/** The rule form; `receivers` are the existing receivers' names. */
function ruleForm(receivers, added) {
  const kind = h('select', { name: 'kind' }, Object.entries(KINDS).map(([k, [what]]) => h('option', { value: k }, `${k}: ${what}`)));
  const own = Object.fromEntries(Object.entries(FIELDS).map(([name, [label, , value, attrs]]) => [name, field(label, input(name, value, attrs))]));
  const showKind = () => {
    for (const [name, el] of Object.entries(own)) {
      el.hidden = !KINDS[kind.value][1].includes(name);
      const hint = FIELDS[name][1][kind.value];
      let slot = el.querySelector('.hint');
      if (!slot) { slot = h('span', { class: 'muted hint' }); el.querySelector('.field-error').before(slot); }
      fill(slot, hint || '');
    }
  };
  kind.addEventListener('change', () => { showKind(); clear(f); });
  const severity = h('select', { name: 'severity' }, ['critical', 'warning', 'info'].map((s) => h('option', { value: s, selected: s === 'warning' }, s)));
  const scope = ['bucket', 'server', 'app', 'namespace'].map((k) => field(k[0].toUpperCase() + k.slice(1), h('input', { name: `scope.${k}`, class: 'w10', placeholder: 'any' })));
  const boxes = receivers.map((n) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'receivers', value: n }), n));
  const f = form({ class: 'panel stack rule-form', 'aria-label': 'New rule' },
    h('div', { class: 'inline' },
      field('Name', h('input', { name: 'name', class: 'w22', required: true }), 'the alert\'s name; unique'),
      field('Kind', kind)),
    h('div', { class: 'inline' }, Object.values(own),
      field('For (seconds)', input('for_secs', 0, { min: 0, step: 1 }), 'pending until it holds this long'),
      field('Severity', severity)),
    h('div', { class: 'inline' }, h('span', { class: 'muted' }, 'Only for'), scope),
    group('Send to', 'receivers', boxes.length ? h('div', { class: 'row' }, boxes, h('span', { class: 'muted' }, 'none ticked: every receiver'))
      : h('span', { class: 'muted' }, 'No receiver yet: add one on the Receivers page, or the alert only shows here.')),
    h('div', { class: 'inline' },
      field('Summary', h('input', { name: 'annotations.summary', class: 'w22', placeholder: '{app} restarts on {server}' }), 'optional; {server}, {app}, {value}')),
    h('button', { class: 'primary' }, 'Add rule'));
  showKind();
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(f);
    const d = new FormData(f);
    const body = { name: d.get('name').trim(), kind: kind.value, severity: d.get('severity'), for_secs: num(d.get('for_secs')) ?? 0 };
    for (const name of KINDS[kind.value][1]) {
      const v = d.get(name).trim();
      if (v === '') continue;
      body[name] = name === 'metric' ? v : name === 'above_bytes' ? Math.round(Number(v) * 1048576) : num(v);
    }
    body.scope = {};
    for (const k of ['bucket', 'server', 'app', 'namespace']) {
      const v = d.get(`scope.${k}`).trim();
      if (v) body.scope[k] = v;
    }
    body.receivers = d.getAll('receivers');
    const summary = d.get('annotations.summary').trim();
    if (summary) body.annotations = { summary };
    try {
      const r = await api('/api/v1/alert-rules', { method: 'POST', body });
      toast(`Rule ${r.name} added`);
      f.reset();
      showKind();
      added();
    } catch (err) { refuse(f, err); }
  });
  return f;
}

/** A number as typed; a non-number goes as typed, for the API to name. */
function num(v) {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/** Admins: the rules page. */
export async function render(ctx) {
  const list = h('div');
  const slot = h('div');
  const load = async () => {
    const rules = await api('/api/v1/alert-rules');
    fill(list, rules.length ? grid({
      columns: [
        { key: 'name', label: 'Name', cell: (r) => h('b', {}, r.name) },
        { key: 'kind', label: 'Kind', cell: (r) => h('code', {}, r.kind) },
        { key: 'when', label: 'When', cell: condition },
        { key: 'scope', label: 'Scope', cell: (r) => Object.entries(r.scope).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ') || 'everything' },
        { key: 'receivers', label: 'Sent to', cell: (r) => (r.receivers.length ? r.receivers.join(', ') : 'every receiver') },
        { key: 'severity', label: 'Severity', cell: (r) => h('span', { class: `pill ${SEVERITY[r.severity] || ''}` }, r.severity) },
        { key: 'muted', label: 'Muted', cell: (r) => (r.muted_until > Date.now() ? `until ${abs(r.muted_until)}` : '') },
        { key: 'act', label: '', cell: (r) => (r.source === 'file' ? h('span', { class: 'muted', title: 'from the rules file' }, 'file') : h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete rule ${r.name}`, onclick: async () => {
          if (!(await confirm(`Delete rule ${r.name}? Its alerts resolve.`, 'Delete'))) return;
          try { await api(`/api/v1/alert-rules/${r.id}`, { method: 'DELETE' }); load(); } catch (e) { toast(e.message, 'bad'); }
        } }, 'Delete')) },
      ], rows: rules,
    }) : h('p', { class: 'muted' }, 'No rule yet.'));
  };
  fill(ctx.main, h('h1', {}, 'Alert rules'),
    h('p', { class: 'muted' }, 'Firing alerts are on the ', h('a', { href: '/alerts' }, 'Alerts'), ' page; where they go, on ',
      h('a', { href: '/admin/receivers' }, 'Receivers'), '. The API takes the same rules as JSON (',
      h('a', { href: '/api/v1/openapi.json' }, 'RuleSpec'), ').'),
    slot, list);
  try {
    const receivers = await api('/api/v1/receivers');
    fill(slot, ruleForm(receivers.map((r) => r.name), () => load().catch((e) => fill(list, failure(e)))));
    await load();
  } catch (e) { fill(list, failure(e)); }
}
