// The dashboard's frame: who is signed in, the header, the router (each
// address is a page, filters live in the query string so a view can be
// pasted into a chat), the keyboard, the theme.

import { api, can, loadSession, session, signOut } from './api.js';
import * as live from './live.js';
import { bucket, go, link, setQuery } from './nav.js';
import { fill, h } from './ui.js';

const ROUTES = [
  [/^\/$/, 'fleet.js', 'render'],
  [/^\/servers\/(\d+)$/, 'fleet.js', 'renderServer'],
  [/^\/processes$/, 'processes.js', 'render'],
  [/^\/servers\/(\d+)\/processes\/(\d+)$/, 'process.js', 'render'],
  [/^\/versions$/, 'versions.js', 'render'],
  [/^\/events$/, 'events.js', 'render'],
  [/^\/alerts$/, 'alerts.js', 'render'],
  [/^\/exceptions$/, 'exceptions.js', 'render'],
  [/^\/admin\/rules$/, 'rules.js', 'render'],
  [/^\/admin\/hub$/, 'cluster.js', 'render'],
  [/^\/admin\/receivers$/, 'receivers.js', 'render'],
  [/^\/admin\/(keys|users|tokens|audit)$/, 'admin.js', 'render'],
  [/^\/login$/, 'login.js', 'renderLogin'],
  [/^\/setup$/, 'login.js', 'renderSetup'],
];

const NAV = [
  ['/', 'Fleet', 'viewer'],
  ['/processes', 'Processes', 'viewer'],
  ['/versions', 'Versions', 'viewer'],
  ['/events', 'Events', 'viewer'],
  ['/alerts', 'Alerts', 'viewer'],
  ['/exceptions', 'Exceptions', 'viewer'],
  ['/admin', 'Admin', 'admin'],
];

// The admin pages, in a second row under the header when on one of them.
const ADMIN = [
  ['/admin/keys', 'Keys'], ['/admin/users', 'Users'], ['/admin/tokens', 'Tokens'],
  ['/admin/rules', 'Alert rules'], ['/admin/receivers', 'Receivers'], ['/admin/audit', 'Audit'], ['/admin/hub', 'Hub'],
];

let cleanup = [];
let buckets = [];

function theme() {
  const saved = localStorage.getItem('theme');
  if (saved) document.documentElement.dataset.theme = saved;
}

function toggleTheme() {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  const next = dark ? 'light' : 'dark';
  localStorage.setItem('theme', next);
  document.documentElement.dataset.theme = next;
}

/** The navigation entry a page belongs to: a process page is under Processes. */
function section(path) {
  if (/^\/servers\/\d+\/processes\//.test(path)) return '/processes';
  if (path === '/' || path.startsWith('/servers')) return '/';
  return (NAV.find(([href]) => href !== '/' && path.startsWith(href)) || [null])[0];
}

function header() {
  const top = document.getElementById('top');
  const me = session();
  if (!me) return fill(top);
  const path = location.pathname;
  const nav = NAV.filter(([, , role]) => can(role)).map(([href, label]) => h('a', {
    href: link(href === '/admin' ? '/admin/keys' : href),
    'aria-current': section(path) === href ? 'page' : null,
  }, label));
  const pick = buckets.length > 1 ? h('select', {
    'aria-label': 'Bucket', class: 'bucket',
    onchange: (e) => { setQuery({ bucket: e.target.value }); route(); },
  }, h('option', { value: '' }, 'All buckets'),
  buckets.map((b) => h('option', { value: b, selected: b === bucket() }, b))) : null;
  fill(top,
    h('a', { href: link('/'), class: 'brand' }, h('img', { src: '/assets/icon.svg', alt: '', width: 20, height: 20 }), 'pmr-hub'),
    h('nav', {}, nav),
    h('div', { class: 'grow' }),
    h('form', { role: 'search', class: 'jump', onsubmit: (e) => {
      e.preventDefault();
      const q = e.target.elements.q.value.trim();
      if (q) go(link(`/processes?q=${encodeURIComponent(q)}`));
    } }, h('input', { name: 'q', type: 'search', placeholder: 'Find…', title: 'Find a server, app, namespace or revision', 'aria-label': 'Find anywhere' })),
    pick,
    h('span', { class: 'live', title: 'Live updates' }, h('span', { 'aria-hidden': 'true' }, '●'), ' live'),
    h('button', { type: 'button', class: 'small', title: 'Light or dark theme', 'aria-label': 'Light or dark theme', onclick: toggleTheme }, '◑'),
    h('span', { class: 'who', title: me.buckets ? `buckets: ${me.buckets.join(', ')}` : 'every bucket' },
      `${me.name} · ${me.role}`),
    h('button', {
      type: 'button', class: 'small', onclick: async () => {
        await signOut().catch(() => {});
        live.stop();
        go('/login');
      },
    }, 'Sign out'),
    path.startsWith('/admin') ? h('nav', { class: 'sub', 'aria-label': 'Admin' }, ADMIN.map(([href, label]) => h('a', {
      href: link(href), 'aria-current': path === href ? 'page' : null,
    }, label))) : null);
}

async function loadBuckets() {
  try {
    const servers = await api('/api/v1/servers');
    buckets = [...new Set(servers.map((s) => s.bucket))].sort();
  } catch {
    buckets = [];
  }
}

/** Renders the page of the current address. */
async function route() {
  for (const fn of cleanup) fn();
  cleanup = [];
  const main = document.getElementById('main');
  const path = location.pathname;
  const open = path === '/login' || path === '/setup';
  if (!open && !session()) {
    // The sign-in page is this same shell: no second load on the way.
    history.replaceState(null, '', `/login?next=${encodeURIComponent(path + location.search)}`);
    return route();
  }
  header();
  const found = ROUTES.map(([re, file, fn]) => [path.match(re), file, fn]).find(([m]) => m);
  if (!found) {
    fill(main, h('h1', {}, 'No such page'), h('p', {}, h('a', { href: '/' }, 'Go to the fleet')));
    return;
  }
  const [m, file, fn] = found;
  live.scope(path.startsWith('/servers/') ? Number(m[1]) : null, path === '/' || path === '/processes');
  const mod = await import(`./${file}`);
  const ctx = {
    main, params: m.slice(1), query: new URLSearchParams(location.search),
    onCleanup: (f) => cleanup.push(f),
  };
  fill(main);
  try {
    await mod[fn](ctx);
  } catch (e) {
    fill(main, h('div', { class: 'notice bad', role: 'alert' }, String(e.message || e)));
  }
}

// The shortcuts, as the README lists them (a test holds the two together).
const KEYS = [[['/'], 'search'], [['j', 'k'], 'next / previous row'], [['Enter'], 'open the row'],
  [['g f', 'g p', 'g v', 'g e', 'g a'], 'go to fleet, processes, versions, events, alerts'], [['?'], 'this list']];

function help() {
  const d = document.getElementById('dialog');
  const keys = (ks) => ks.map((k, i) => [i ? ' / ' : '', h('kbd', {}, k)]);
  fill(d, h('form', { method: 'dialog', class: 'stack', 'aria-label': 'Keyboard shortcuts' }, h('h2', {}, 'Keyboard'),
    h('table', {}, KEYS.map(([k, v]) => h('tr', {}, h('td', {}, keys(k)), h('td', {}, v)))),
    h('button', {}, 'Close')));
  d.showModal();
}

let pendingG = false;

function keyboard(e) {
  const t = e.target;
  if (t.matches('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) {
    if (e.key === 'Escape' && t.blur) t.blur();
    return;
  }
  if (pendingG) {
    pendingG = false;
    const to = { f: '/', p: '/processes', v: '/versions', e: '/events', a: '/alerts' }[e.key];
    if (to) { e.preventDefault(); go(link(to)); }
    return;
  }
  if (e.key === 'g') { pendingG = true; return; }
  if (e.key === '/') {
    const s = document.querySelector('main .search') || document.querySelector('#top .jump input');
    if (s) { e.preventDefault(); s.focus(); }
  } else if (e.key === '?') {
    help();
  } else if (e.key === 'j' || e.key === 'k') {
    const rows = [...document.querySelectorAll('main table.nav tbody tr[data-href]')];
    if (!rows.length) return;
    let i = rows.findIndex((r) => r.classList.contains('sel'));
    if (i >= 0) rows[i].classList.remove('sel');
    i = Math.max(0, Math.min(rows.length - 1, i + (e.key === 'j' ? 1 : -1)));
    rows[i].classList.add('sel');
    rows[i].scrollIntoView({ block: 'nearest' });
  } else if (e.key === 'Enter') {
    const r = document.querySelector('main table.nav tbody tr.sel');
    if (r) go(r.dataset.href);
  }
}

// Links inside the app navigate without reloading.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href^="/"]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || a.target || a.hasAttribute('download')) return;
  if (a.getAttribute('href').startsWith('/api/')) return;
  e.preventDefault();
  go(a.getAttribute('href'));
});
document.addEventListener('keydown', keyboard);
window.addEventListener('popstate', route);
window.addEventListener('pmr:navigate', route);
window.addEventListener('pmr:open', (e) => go(e.detail));

// The sign-in page says when someone signed in.
window.addEventListener('pmr:signed-in', async () => {
  await loadBuckets();
  live.start();
});

async function boot() {
  theme();
  const me = await loadSession().catch(() => null);
  if (me) {
    await loadBuckets();
    live.start();
  }
  route();
}

boot();
