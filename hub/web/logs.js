// A live log view: the lines a server's apps (or one app) write while the
// view is open, after the last few written before, each with the time the
// agent read it from the app. The hub asks the agent for them only while a
// view is open.

import { abs, h } from './ui.js';

const KEEP = 1000;

/** A panel following `server`'s output (`app`, or every app); call close() on leave. */
export function logPanel(server, app) {
  const pre = h('pre', { class: 'logs', role: 'log', 'aria-label': app ? `Output of ${app}` : 'Output of every app', 'aria-live': 'off', tabindex: '0' });
  const state = h('span', { class: 'muted' }, 'connecting…');
  let paused = false;
  let dropped = 0;
  const pause = h('button', { type: 'button', class: 'small', onclick: () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
  } }, 'Pause');
  const clear = h('button', { type: 'button', class: 'small', onclick: () => pre.replaceChildren() }, 'Clear');
  const q = app ? `?app=${encodeURIComponent(app)}` : '';
  const src = new EventSource(`/api/v1/servers/${server}/logs${q}`);
  src.onopen = () => { state.textContent = 'live: lines appear as they are written'; };
  src.onerror = () => { state.textContent = 'disconnected: reconnecting…'; };
  src.addEventListener('lines', (e) => {
    const batch = JSON.parse(e.data);
    dropped += batch.dropped;
    if (dropped) state.textContent = `live; ${dropped} lines left out (over the rate limit)`;
    if (paused) return;
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    for (const l of batch.lines) {
      pre.append(h('div', { class: l.stream === 'err' ? 'err' : null },
        stamp(l.at), h('span', { class: 'muted' }, ` ${app ? '' : `${l.app} `}#${l.pm_id} `), l.line));
    }
    while (pre.childElementCount > KEEP) pre.firstElementChild.remove();
    if (stick) pre.scrollTop = pre.scrollHeight;
  });
  const el = h('div', { class: 'panel stack' }, h('div', { class: 'row' }, state, h('span', { class: 'grow' }), pause, clear), pre);
  return { el, close: () => src.close() };
}

/** When the agent's daemon read the line from the app: the clock time, the full date on hover. */
function stamp(at) {
  const d = new Date(at);
  const today = d.toDateString() === new Date().toDateString();
  const text = today ? d.toLocaleTimeString() : d.toLocaleString();
  return h('time', { class: 'muted', datetime: d.toISOString(), title: abs(at) }, text);
}
