// The live channel: one EventSource on /api/v1/changes per tab (browsers
// allow six HTTP/1.1 connections per host across tabs). On a server's or
// a process's page it follows that server only, with its samples (one a
// second); on the fleet-wide tables every server, with the fleet's figures
// as one digest every 5 s (`figures`); elsewhere every server, without
// samples. Pages subscribe to
// kinds of change; when the stream drops, the banner says so and how old
// the data is, and on return every page catches up.

import { api } from './api.js';

const handlers = new Map();
const catchUps = new Set();
let source = null;
let lostAt = null;
let timer = null;
let server = null;
let fleetSamples = false;

// The kinds of change, as the hub lists them (one list, in the hub);
// fetched once, before the first stream opens.
let kindsOnce = null;
let pending = null;
let generation = 0;

function kinds() {
  kindsOnce ??= api('/api/v1/changes/kinds').then((k) => k.kinds);
  return kindsOnce;
}

function banner() {
  const b = document.getElementById('banner');
  if (lostAt === null) {
    b.hidden = true;
    clearInterval(timer);
    timer = null;
    return;
  }
  const s = Math.round((Date.now() - lostAt) / 1000);
  b.textContent = `Live updates lost ${s} s ago: reconnecting. What you see is from ${new Date(lostAt).toLocaleTimeString()}.`;
  b.hidden = false;
  if (!timer) timer = setInterval(banner, 1000);
}

function dispatch(kind, data) {
  for (const fn of handlers.get(kind) || []) fn(data);
}

/** Opens the stream (once), when the kinds of change are known. */
export function start() {
  if (source || pending) return;
  const g = generation;
  pending = kinds().then((all) => {
    pending = null;
    if (g === generation && !source) open(all);
  }, () => {
    // Not signed in yet, or the hub is away: ask again later.
    pending = null;
    kindsOnce = null;
    if (g === generation) setTimeout(start, 3000);
  });
}

function open(all) {
  const every = all.join(',');
  const query = server !== null ? `?kinds=${every}&server=${server}`
    : fleetSamples ? `?kinds=${every}&every=5` : '';
  source = new EventSource(`/api/v1/changes${query}`);
  source.onopen = () => {
    if (lostAt !== null) {
      lostAt = null;
      banner();
      for (const fn of catchUps) fn();
    }
    document.documentElement.dataset.live = 'on';
  };
  source.onerror = () => {
    if (lostAt === null) lostAt = Date.now();
    document.documentElement.dataset.live = 'off';
    banner();
    if (source && source.readyState === EventSource.CLOSED) {
      // Refused (signed out, hub restarting): check the session (a 401
      // goes to the sign-in page), then open a new stream.
      source = null;
      setTimeout(() => api('/api/v1/session').then(start, () => setTimeout(start, 3000)), 3000);
    }
  };
  for (const kind of all) {
    source.addEventListener(kind, (e) => {
      try { dispatch(kind, JSON.parse(e.data)); } catch { /* a malformed line is skipped */ }
    });
  }
  // Fleet-wide figures come as one digest every 5 s: each entry is a sample.
  source.addEventListener('figures', (e) => {
    let d;
    try { d = JSON.parse(e.data); } catch { return; }
    for (const s of d.servers || []) dispatch('sample', s);
  });
  // The hub says we fell behind: refetch everything shown.
  source.addEventListener('resync', () => { for (const fn of catchUps) fn(); });
}

/** Closes the stream (on sign-out). */
export function stop() {
  generation += 1;
  if (source) source.close();
  source = null;
}

/**
 * Follows one server (its id, with every sample) or, with null, the whole
 * fleet (with each server's figures every 5 s when `samples`).
 */
export function scope(id, samples = false) {
  if (id === server && (id !== null || samples === fleetSamples)) return;
  server = id;
  fleetSamples = samples;
  if (source) {
    stop();
    start();
  }
}

// A page left for the back-forward cache keeps no connection open.
window.addEventListener('pagehide', stop);
window.addEventListener('pageshow', (e) => { if (e.persisted) { start(); for (const fn of catchUps) fn(); } });

/**
 * Calls `fn(change)` for each change of `kinds`, and `catchUp()` after a
 * reconnection; returns the unsubscribe function.
 */
export function on(kinds, fn, catchUp) {
  for (const k of kinds) {
    if (!handlers.has(k)) handlers.set(k, new Set());
    handlers.get(k).add(fn);
  }
  if (catchUp) catchUps.add(catchUp);
  return () => {
    for (const k of kinds) handlers.get(k).delete(fn);
    if (catchUp) catchUps.delete(catchUp);
  };
}

/** Runs `fn` at most once per `ms`, the last call winning. */
export function throttle(fn, ms) {
  let last = 0;
  let pending = null;
  return (...args) => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn(...args);
    } else if (!pending) {
      pending = setTimeout(() => {
        pending = null;
        last = Date.now();
        fn(...args);
      }, wait);
    }
  };
}

/** Calls `fn` at most every `ms` while the followed server reports samples. */
export function samples(fn, ms = 2000) {
  return on(['sample'], throttle(fn, ms));
}
