// The dashboard's only way to the hub: /api/v1, as any script would use
// it. The session cookie rides along; every state-changing request repeats
// the session's CSRF token in X-CSRF-Token.

let me = null;

/** Who is signed in ({name, role, buckets, csrf}), or null. */
export function session() {
  return me;
}

const RANK = { viewer: 0, operator: 1, admin: 2, owner: 3 };

/** Whether the signed-in user has `role` or above. */
export function can(role) {
  return !!me && RANK[me.role] >= RANK[role];
}

/** An API error: the hub's message, status and the field at fault, if named. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || null;
  }
}

/** Calls the API; resolves to the parsed JSON (null for 204). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && me && me.csrf) headers['X-CSRF-Token'] = me.csrf;
  let r;
  try {
    r = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'The hub did not answer: check the network, then retry.');
  }
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (r.ok) return data;
  const message = (data && data.error) || `${r.status} ${r.statusText}`;
  if (r.status === 401 && path !== '/api/v1/session') {
    me = null;
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  throw new ApiError(r.status, message, data && data.field);
}

/** Loads who is signed in; null when no one is. */
export async function loadSession() {
  // The hub marks the page it served to a browser without a session
  // cookie: no one is signed in, and asking would log a 401 error.
  const none = document.querySelector('meta[name="pmr-session"][content="none"]');
  if (none) {
    none.remove();
    me = null;
    return me;
  }
  try {
    me = await api('/api/v1/session');
  } catch (e) {
    if (e.status !== 401) throw e;
    me = null;
  }
  return me;
}

/** Signs in; the cookie is set by the answer. */
export async function signIn(email, password) {
  me = await api('/api/v1/session', { method: 'POST', body: { email, password } });
  return me;
}

/** Signs out and forgets the session. */
export async function signOut() {
  try {
    await api('/api/v1/session', { method: 'DELETE' });
  } finally {
    me = null;
  }
}
