// The project's own small SVG chart: one line (averages) over a band
// (min to max) on a time axis, with its range and resolution in words.

const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A time on an axis of `span` ms: with the date past a day, seconds under 10 minutes. */
export function clock(ms, span) {
  const d = new Date(ms);
  if (span > 86400000) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleTimeString(undefined, span < 600000 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' });
}

/** The axis top: at least `floor`, rounded up to 1, 2 or 5 times a power of ten of `unit`s. */
function niceTop(max, floor, unit) {
  const v = Math.max(max * 1.1, floor) / unit;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= v) * unit;
}

/**
 * rows: [{t, avg, min, max}] in time order; from/to: the x range (ms);
 * format(v): axis and hover text; floor: the least top of the value axis
 * (an idle app's CPU reads 0 / 0.5 / 1 %, not 0 / 0 / 0); unit: what the
 * top is a round number of (MiB for memory). Gaps longer than
 * 3 rows break the line. onZoom(from, to): called when a span is dragged
 * across the chart.
 */
export function chart({ rows, from, to, format, label, step, floor = 1e-9, unit = 1, onZoom }) {
  // Drawn at the width it will show at, so text is never stretched.
  const W = Math.max(280, (document.querySelector('main')?.clientWidth || 640) - 60);
  const H = 160; const L = 64; const B = 18; const T = 8;
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label });
  const top = niceTop(Math.max(0, ...rows.map((r) => r.max)), floor, unit);
  const x = (t) => L + ((t - from) / Math.max(1, to - from)) * (W - L - 4);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    svg.append(el('line', { class: 'axis', x1: L, x2: W - 4, y1: y(v), y2: y(v) }));
    svg.append(el('text', { class: 'value', x: L - 4, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  for (const f of [0, 0.5, 1]) {
    const t = from + (to - from) * f;
    svg.append(el('text', { x: x(t), y: H - 4, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle' }, clock(t, to - from)));
  }
  // Runs of rows without a gap: each is one band and one line.
  const runs = [];
  let run = [];
  for (const r of rows) {
    if (run.length && r.t - run[run.length - 1].t > step * 3) { runs.push(run); run = []; }
    run.push(r);
  }
  if (run.length) runs.push(run);
  for (const r of runs) {
    const upper = r.map((p) => `${x(p.t)},${y(p.max)}`);
    const lower = r.slice().reverse().map((p) => `${x(p.t)},${y(p.min)}`);
    svg.append(el('polygon', { class: 'band', points: [...upper, ...lower].join(' ') }));
    svg.append(el('polyline', { class: 'line', points: r.map((p) => `${x(p.t)},${y(p.avg)}`).join(' ') }));
  }
  if (!rows.length) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data in this range'));
  }
  if (onZoom) zoomable(svg, (px) => from + ((px - L) / (W - L - 4)) * (to - from), H, onZoom);
  return svg;
}

/** A drag across a chart is under way: pages hold their refresh until it ends. */
let drags = 0;
export const dragging = () => drags > 0;

/** Drag across the chart to pick a span (at least 20 s); `at(px)` is the time under x. */
function zoomable(svg, at, H, onZoom) {
  let start = null;
  const pick = el('rect', { class: 'pick', x: 0, y: 0, width: 0, height: H, visibility: 'hidden' });
  svg.append(pick);
  const px = (e) => (e.clientX - svg.getBoundingClientRect().left) * (svg.viewBox.baseVal.width / svg.getBoundingClientRect().width);
  svg.addEventListener('pointerdown', (e) => {
    if (start === null) drags += 1;
    start = px(e);
    svg.setPointerCapture?.(e.pointerId);
  });
  svg.addEventListener('pointermove', (e) => {
    if (start === null) return;
    const now = px(e);
    pick.setAttribute('x', Math.min(start, now));
    pick.setAttribute('width', Math.abs(now - start));
    pick.setAttribute('visibility', 'visible');
  });
  svg.addEventListener('pointerup', (e) => {
    if (start === null) return;
    const [a, b] = [at(start), at(px(e))].sort((x, y) => x - y);
    start = null;
    drags -= 1;
    pick.setAttribute('visibility', 'hidden');
    if (b - a >= 20000) onZoom(Math.round(a), Math.round(b));
  });
  svg.addEventListener('pointercancel', () => {
    if (start === null) return;
    start = null;
    drags -= 1;
    pick.setAttribute('visibility', 'hidden');
  });
}
