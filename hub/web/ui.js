// DOM building and formatting shared by every page. Text always goes in
// through text nodes, never as HTML: nothing an agent reports can inject.

/** Makes an element: h('td', {class: 'num', onclick: f}, 'text', child). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 123456789 → "118 MiB". */
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${UNITS[i]}`;
}

/** 41.66 → "42 %". */
export function pct(n) {
  if (n === null || n === undefined) return '–';
  return `${n >= 10 ? Math.round(n) : n.toFixed(1)} %`;
}

/** A duration in ms → "3d 4h", "5m 2s". */
export function dur(ms) {
  if (!(ms >= 0)) return '–';
  const s = Math.floor(ms / 1000);
  const parts = [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  const out = [];
  let rest = s;
  for (const [size, unit] of parts) {
    const q = Math.floor(rest / size);
    if (q > 0 || (unit === 's' && out.length === 0)) out.push(`${q}${unit}`);
    rest -= q * size;
    if (out.length === 2) break;
  }
  return out.join(' ');
}

/**
 * An uptime that counts on screen: "5m 2s" since `since` (Unix ms), kept
 * current by one timer for the whole page; '–' when not running.
 */
export function uptime(since) {
  if (!since) return h('span', {}, '–');
  return h('span', { 'data-since': since }, dur(Date.now() - since));
}

setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) {
    const t = dur(now - Number(el.dataset.since));
    if (el.textContent !== t) el.textContent = t;
  }
}, 1000);

/** An absolute time in the viewer's zone. */
export function abs(ms) {
  return ms ? new Date(ms).toLocaleString() : '–';
}

/** A relative time ("3 min ago") with the absolute one on hover. */
export function ago(ms) {
  if (!ms) return h('span', {}, 'never');
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  const text = s < 5 ? 'just now' : s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago`
    : s < 86400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86400)} d ago`;
  return h('time', { datetime: new Date(ms).toISOString(), title: abs(ms) }, text);
}

const STATUS = {
  online: ['ok', '●'], launching: ['warn', '◐'], stopping: ['warn', '◐'], 'waiting restart': ['warn', '◐'],
  errored: ['bad', '✕'], stopped: ['off', '■'], offline: ['off', '○'],
};

/** A status in words with a shape and a colour (never colour alone). */
export function status(s) {
  const [cls, icon] = STATUS[s] || ['off', '?'];
  return h('span', { class: `status ${cls}` }, h('span', { 'aria-hidden': 'true' }, icon), ` ${s}`);
}

// Why an app restarted, as the agent says it in the event's detail.
const REASONS = {
  crash: 'it crashed: restarted by its restart policy',
  cron: 'its cron schedule',
  watch: 'a watched file changed',
  memory: 'over its memory limit',
  cli: 'pmr restart on the server',
  reload: 'a reload (fork mode)',
};

/** An event's particulars in words: exit code, signal, and why it restarted. */
export function eventDetail(e) {
  let d = e.detail;
  if (e.kind === 'restart' && d) d = d.startsWith('user:') ? `by ${d.slice(5)} (hub)` : REASONS[d] || d;
  return [e.code != null ? `code ${e.code}` : null, e.signal, d].filter(Boolean).join(' · ');
}

/** A short revision in monospace, the full one on hover. */
export function revision(v) {
  const r = v && v.revision;
  if (!r) return h('span', { class: 'muted' }, 'unknown');
  return h('code', { title: r }, r.slice(0, 8));
}

/** A button that copies `text` and says so. */
export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'small' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy';
    }
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

/** A block of text to copy: the exact command, with its button. */
export function copyBlock(text) {
  return h('div', { class: 'copy' }, h('pre', {}, text), copyButton(text));
}

/** Asks before something dangerous; resolves true when confirmed. */
export function confirm(question, verb = 'Confirm') {
  const d = document.getElementById('dialog');
  return new Promise((resolve) => {
    const done = (ok) => { d.close(); resolve(ok); };
    fill(d, h('form', { method: 'dialog', class: 'stack' },
      h('p', {}, question),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, verb),
        h('button', { type: 'button', onclick: () => done(false) }, 'Cancel'))));
    d.addEventListener('cancel', () => resolve(false), { once: true });
    d.showModal();
  });
}

/** A short message at the bottom of the screen. */
export function toast(text, kind = 'info') {
  const t = h('div', { class: `toast ${kind}`, role: 'status' }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), kind === 'bad' ? 8000 : 4000);
}

/** An error shown where the data would be: what failed and what to do. */
export function failure(err) {
  return h('div', { class: 'notice bad', role: 'alert' }, String(err.message || err));
}

/** A `<select>` of `options` ([value, label]) with `value` chosen. */
export function select(options, value, onchange, label) {
  return h('select', { 'aria-label': label, onchange: (e) => onchange(e.target.value) },
    options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

/** A search box bound to `value`; Escape clears it. */
export function search(value, oninput, placeholder) {
  return h('input', {
    type: 'search', class: 'search', placeholder, value, 'aria-label': placeholder,
    oninput: (e) => oninput(e.target.value),
  });
}
