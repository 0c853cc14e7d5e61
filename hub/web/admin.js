// Admin pages: bucket keys (a new key shows the exact `pmr link` command
// and the PMR_* variables once), users, API tokens and the audit log. The
// hub checks every role; these pages only offer what the API allows.

import { api, session } from './api.js';
import { grid } from './table.js';
import { ago, confirm, copyBlock, failure, fill, h, toast } from './ui.js';

const ROLES = ['viewer', 'operator', 'admin', 'owner'];

/** What a new key's answer shows: the secret once, and how to link. */
export function keyResult(k) {
  const env = Object.entries(k.env).map(([n, v]) => `${n}=${v}`).join('\n');
  return h('div', { class: 'panel stack notice ok' },
    h('p', {}, h('b', {}, `Key for bucket ${k.key.bucket} created.`), ' The secret is shown this once; the hub keeps only the public half.'),
    h('p', {}, 'On each server, run:'), copyBlock(k.link_command),
    h('p', {}, 'or, to keep the secret out of the shell history (paste it when asked):'), copyBlock(k.link_command_stdin),
    h('p', {}, 'In a container, give pmr-runtime these variables:'), copyBlock(env),
    k.fingerprint ? h('p', { class: 'muted' }, `The hub's certificate is self-signed; agents pin its SHA-256 fingerprint ${k.fingerprint}.`) : null);
}

function form(fields, label, onsubmit) {
  const f = h('form', { class: 'inline panel' }, fields, h('button', { class: 'primary' }, label));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const b = f.querySelector('button.primary');
    b.disabled = true;
    try {
      await onsubmit(new FormData(f));
      f.reset();
    } catch (err) {
      toast(err.message, 'bad');
    } finally {
      b.disabled = false;
    }
  });
  return f;
}

const field = (label, input) => h('label', {}, label, input);
const roleSelect = () => h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'viewer' }, r)));

async function keys(main) {
  const out = h('div');
  const list = h('div');
  const load = async () => {
    const ks = await api('/api/v1/keys');
    fill(list, ks.length ? grid({
      columns: [
        { key: 'bucket', label: 'Bucket' },
        { key: 'public_key', label: 'Public key', cell: (k) => h('code', {}, k.public_key) },
        { key: 'created_at', label: 'Created', cell: (k) => ago(k.created_at) },
        { key: 'state', label: 'State', cell: (k) => (k.revoked_at ? h('span', { class: 'pill' }, 'revoked ', ago(k.revoked_at)) : h('span', { class: 'pill ok' }, 'active')) },
        { key: 'act', label: '', cell: (k) => (k.revoked_at ? '' : h('button', {
          type: 'button', class: 'small danger', onclick: async () => {
            if (!(await confirm(`Revoke this key of bucket ${k.bucket}? Every server linked with it is disconnected at once.`, 'Revoke'))) return;
            try { await api(`/api/v1/keys/${k.id}`, { method: 'DELETE' }); load(); } catch (e) { toast(e.message, 'bad'); }
          },
        }, 'Revoke')) },
      ], rows: ks,
    }) : h('p', { class: 'muted' }, 'No key yet.'));
  };
  fill(main, h('h1', {}, 'Bucket keys'),
    h('p', { class: 'muted' }, 'A server links to this hub with a bucket\'s key; users can be limited to buckets.'),
    form([field('Bucket', h('input', { name: 'bucket', required: true, pattern: '[A-Za-z0-9._\\-]{1,64}', value: 'default' }))], 'Create key',
      async (d) => {
        const k = await api('/api/v1/keys', { method: 'POST', body: { bucket: d.get('bucket') } });
        fill(out, keyResult(k));
        load();
      }),
    out, list);
  await load();
}

async function users(main) {
  const out = h('div');
  const list = h('div');
  const me = session();
  const load = async () => {
    const us = await api('/api/v1/users');
    fill(list, grid({
      columns: [
        { key: 'email', label: 'E-mail' },
        { key: 'role', label: 'Role', cell: (u) => h('span', { class: 'pill' }, u.role) },
        { key: 'buckets', label: 'Buckets', cell: (u) => (u.buckets ? u.buckets.join(', ') : h('span', { class: 'muted' }, 'every bucket')) },
        { key: 'created_at', label: 'Added', cell: (u) => ago(u.created_at) },
        { key: 'act', label: '', cell: (u) => (u.email === me.name ? h('span', { class: 'muted' }, 'you') : h('span', { class: 'row' },
          h('button', { type: 'button', class: 'small', onclick: async () => {
            if (!(await confirm(`Give ${u.email} a new password? Their sessions end.`, 'Reset'))) return;
            try {
              const r = await api(`/api/v1/users/${encodeURIComponent(u.email)}/password`, { method: 'POST' });
              fill(out, h('div', { class: 'panel notice ok stack' }, h('p', {}, `New password for ${r.email}, shown once:`), copyBlock(r.password)));
            } catch (e) { toast(e.message, 'bad'); }
          } }, 'Reset password'),
          h('button', { type: 'button', class: 'small danger', onclick: async () => {
            if (!(await confirm(`Remove ${u.email}? Their sessions and tokens stop working.`, 'Remove'))) return;
            try { await api(`/api/v1/users/${encodeURIComponent(u.email)}`, { method: 'DELETE' }); load(); } catch (e) { toast(e.message, 'bad'); }
          } }, 'Remove'))) },
      ], rows: us,
    }));
  };
  fill(main, h('h1', {}, 'Users'),
    form([field('E-mail', h('input', { name: 'email', type: 'email', required: true })), field('Role', roleSelect()),
      field('Buckets (comma-separated; empty: all)', h('input', { name: 'buckets' }))], 'Add user',
    async (d) => {
      const b = String(d.get('buckets') || '').split(',').map((x) => x.trim()).filter(Boolean);
      const r = await api('/api/v1/users', { method: 'POST', body: { email: d.get('email'), role: d.get('role'), buckets: b.length ? b : null } });
      fill(out, h('div', { class: 'panel notice ok stack' }, h('p', {}, `${r.email} added. Their password, shown once:`), copyBlock(r.password)));
      load();
    }),
    out, list);
  await load();
}

async function tokens(main) {
  const out = h('div');
  const list = h('div');
  const load = async () => {
    const ts = await api('/api/v1/tokens');
    fill(list, ts.length ? grid({
      columns: [
        { key: 'name', label: 'Name' },
        { key: 'user', label: 'Acts for', cell: (t) => t.user || h('span', { class: 'muted' }, 'no user (full access)') },
        { key: 'role', label: 'Role', cell: (t) => h('span', { class: 'pill' }, t.role || 'all') },
        { key: 'created_at', label: 'Created', cell: (t) => ago(t.created_at) },
        { key: 'act', label: '', cell: (t) => h('button', { type: 'button', class: 'small danger', onclick: async () => {
          if (!(await confirm(`Delete token ${t.name}? Scripts using it stop working at once.`, 'Delete'))) return;
          try { await api(`/api/v1/tokens/${t.id}`, { method: 'DELETE' }); load(); } catch (e) { toast(e.message, 'bad'); }
        } }, 'Delete') },
      ], rows: ts,
    }) : h('p', { class: 'muted' }, 'No token yet.'));
  };
  fill(main, h('h1', {}, 'API tokens'),
    h('p', { class: 'muted' }, 'Scripts call /api/v1 with Authorization: Bearer <token>. A token acts for a user, with a role no higher than theirs.'),
    form([field('Name', h('input', { name: 'name', required: true, maxlength: 64 })),
      field('For user (empty: you)', h('input', { name: 'user', type: 'email' })), field('Role', roleSelect())], 'Create token',
    async (d) => {
      const body = { name: d.get('name'), role: d.get('role') };
      if (d.get('user')) body.user = d.get('user');
      const r = await api('/api/v1/tokens', { method: 'POST', body });
      fill(out, h('div', { class: 'panel notice ok stack' }, h('p', {}, `Token for ${r.user} (${r.role}), shown once:`), copyBlock(r.token)));
      load();
    }),
    out, list);
  await load();
}

async function audit(main) {
  const rows = await api('/api/v1/audit?limit=500');
  fill(main, h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, 'Every sign-in, action and admin change: who, what, when, from where, and how it went.'),
    grid({
      columns: [
        { key: 'at', label: 'When', cell: (a) => ago(a.at) },
        { key: 'actor', label: 'Who' },
        { key: 'action', label: 'What', cell: (a) => h('code', {}, a.action) },
        { key: 'target', label: 'On', wrap: true },
        { key: 'result', label: 'Result', wrap: true, cell: (a) => h('span', { class: `pill ${a.result === 'ok' || a.result.startsWith('ok:') ? 'ok' : 'bad'}` }, a.result) },
        { key: 'address', label: 'From', minor: true, cell: (a) => h('code', {}, a.address) },
      ], rows,
    }));
}

/** The admin page named by the address. */
export async function render(ctx) {
  const page = { keys, users, tokens, audit }[ctx.params[0]];
  try {
    await page(ctx.main);
  } catch (e) {
    fill(ctx.main, failure(e));
  }
}
