// The one table of the dashboard: sortable columns, rows that open a page
// (click, or j/k and Enter), numbers right-aligned, cards at phone width.
// Large lists render a page of rows and say how many more there are.

import { h } from './ui.js';

/**
 * columns: [{key, label, name (spoken, when the label is a symbol), num,
 * minor (hidden on phones), phoneLabel, value(row), cell(row)}]; sort:
 * {key, dir: 1|-1}; onSort(key); href(row) opens the row; limit rows shown.
 */
export function grid({ columns, rows, sort, onSort, href, limit = 500, more }) {
  const col = columns.find((c) => c.key === (sort && sort.key));
  let list = rows;
  if (col) {
    const v = col.value || ((r) => r[col.key]);
    list = [...rows].sort((a, b) => {
      const x = v(a); const y = v(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''), undefined, { numeric: true });
      return c * sort.dir;
    });
  }
  const shown = list.slice(0, limit);
  // A header a screen reader can say (`name` when the label is a symbol);
  // a sortable one is a button, reached with Tab and pressed with Enter.
  const title = (c) => (c.name ? [h('span', { 'aria-hidden': 'true' }, c.label), h('span', { class: 'sr' }, c.name)] : c.label);
  const head = h('tr', {}, columns.map((c) => h('th', {
    class: c.num ? 'num' : null,
    scope: 'col',
    title: c.name || null,
    'aria-sort': sort && sort.key === c.key ? (sort.dir > 0 ? 'ascending' : 'descending') : null,
  }, onSort && c.label ? h('button', {
    type: 'button', class: 'sort', 'data-sort': c.key, onclick: () => onSort(c.key),
  }, title(c)) : title(c))));
  const body = shown.map((r) => {
    if (r.group) return h('tr', { class: 'group' }, h('td', { colspan: columns.length }, r.group));
    const to = href ? href(r) : null;
    return h('tr', { 'data-href': to },
      columns.map((c) => h('td', {
        class: [c.num ? 'num' : '', c.minor ? 'minor' : '', c.wrap ? 'wrap' : ''].join(' ').trim() || null,
        'data-label': c.phoneLabel ? (c.name || c.label) : null,
      }, c.cell ? c.cell(r) : r[c.key] ?? '')));
  });
  const table = h('table', { class: `grid${href ? ' nav' : ''}` }, h('thead', {}, head), h('tbody', {}, body));
  if (href) {
    table.addEventListener('click', (e) => {
      if (e.target.closest('a, button, input, select')) return;
      const tr = e.target.closest('tr[data-href]');
      if (tr) window.dispatchEvent(new CustomEvent('pmr:open', { detail: tr.dataset.href }));
    });
  }
  const wrap = h('div', { class: 'scroll' }, table);
  if (list.length > shown.length) {
    wrap.append(h('p', { class: 'count' }, `Showing ${shown.length} of ${list.length}: narrow the filter`,
      more ? [' or ', h('button', { type: 'button', class: 'small', onclick: more }, 'show more')] : null, '.'));
  }
  return wrap;
}

/** The next sort state after a click on `key`. */
export function nextSort(sort, key) {
  if (sort && sort.key === key) return { key, dir: -sort.dir };
  return { key, dir: 1 };
}

/** A sort state from the query string (`sort=cpu` or `sort=-cpu`). */
export function parseSort(q, fallback) {
  const s = q.get('sort') || fallback;
  if (!s) return null;
  return s.startsWith('-') ? { key: s.slice(1), dir: -1 } : { key: s, dir: 1 };
}

/** The query string form of a sort state. */
export function sortParam(sort) {
  return sort ? (sort.dir < 0 ? '-' : '') + sort.key : '';
}
