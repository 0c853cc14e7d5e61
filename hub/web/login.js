// Signing in, and creating the first owner with the one-time token
// `pmr-hub serve` prints (in the address's fragment: never sent to the
// hub in a request line, never in a log).

import { api, signIn } from './api.js';
import { go } from './nav.js';
import { fill, h } from './ui.js';

function next() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  // Only a path of this hub: never another site.
  return n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/';
}

async function enter(email, password) {
  await signIn(email, password);
  window.dispatchEvent(new Event('pmr:signed-in'));
  go(next());
}

function page(main, title, intro, fields, label, submit) {
  const msg = h('div', { role: 'alert' });
  const button = h('button', { class: 'primary' }, label);
  const f = h('form', { class: 'login panel stack' }, h('h1', {}, title), intro, fields, button, msg);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    fill(msg);
    try {
      await submit(new FormData(f));
    } catch (err) {
      fill(msg, h('div', { class: 'notice bad' }, err.message));
      button.disabled = false;
    }
  });
  fill(main, f);
  f.querySelector('input').focus();
}

const input = (label, attrs) => h('label', {}, label, h('input', attrs));

/** The sign-in page. */
export function renderLogin({ main }) {
  page(main, 'Sign in to pmr-hub', null, [
    input('E-mail', { name: 'email', type: 'email', autocomplete: 'username', required: true }),
    input('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
  ], 'Sign in', (d) => enter(d.get('email'), d.get('password')));
}

/** The first owner's page: the token comes in the fragment (#token=...). */
export function renderSetup({ main }) {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  page(main, 'Create the owner', h('p', { class: 'muted' }, 'This hub has no user yet. The owner can then add the team.'), [
    input('Setup token (printed by pmr-hub serve)', { name: 'token', required: true, value: token, autocomplete: 'off' }),
    input('Your e-mail', { name: 'email', type: 'email', autocomplete: 'username', required: true }),
    input('Password (12 characters or more)', { name: 'password', type: 'password', minlength: 12, autocomplete: 'new-password', required: true }),
  ], 'Create owner and sign in', async (d) => {
    await api('/api/v1/setup', { method: 'POST', body: { token: d.get('token'), email: d.get('email'), password: d.get('password') } });
    history.replaceState(null, '', '/setup');
    await enter(d.get('email'), d.get('password'));
  });
}
