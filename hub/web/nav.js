// Addresses: every view has one (filters in the query string, so a view
// can be pasted into a chat), and the chosen bucket follows every link.

/** The bucket chosen in the switcher ('' for all). */
export function bucket() {
  return new URLSearchParams(location.search).get('bucket') || '';
}

/** `path` with the chosen bucket kept. */
export function link(path) {
  const b = bucket();
  if (!b) return path;
  return path + (path.includes('?') ? '&' : '?') + `bucket=${encodeURIComponent(b)}`;
}

/** Whether something of bucket `b` is shown under the switcher's choice. */
export function inBucket(b) {
  const want = bucket();
  return !want || b === want;
}

/** Goes to `path` without reloading (the app re-renders on the event). */
export function go(path) {
  history.pushState(null, '', path);
  window.dispatchEvent(new Event('pmr:navigate'));
}

/** Writes `values` into the query string (empty ones removed), no reload. */
export function setQuery(values) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === '' || v === null || v === undefined || v === false) q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  history.replaceState(null, '', location.pathname + (s ? `?${s}` : ''));
}
