// The project's own small SVG chart: one line (averages) over a band
// (min to max) on a time axis, with its range and resolution in words.

const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function clock(ms, span) {
  const d = new Date(ms);
  return span > 86400000
    ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * rows: [{t, avg, min, max}] in time order; from/to: the x range (ms);
 * format(v): axis and hover text. Gaps longer than 3 rows break the line.
 */
export function chart({ rows, from, to, format, label, step }) {
  // Drawn at the width it will show at, so text is never stretched.
  const W = Math.max(280, (document.querySelector('main')?.clientWidth || 640) - 60);
  const H = 160; const L = 64; const B = 18; const T = 8;
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label });
  const top = Math.max(1e-9, ...rows.map((r) => r.max)) * 1.1;
  const x = (t) => L + ((t - from) / Math.max(1, to - from)) * (W - L - 4);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    svg.append(el('line', { class: 'axis', x1: L, x2: W - 4, y1: y(v), y2: y(v) }));
    svg.append(el('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
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
  return svg;
}
