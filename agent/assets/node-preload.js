// Loaded by pmr (`node --require`) into Node apps. In cluster mode it
// shares the app's ports between instances without any change to the app:
// - listen(PORT) on the app's port takes the socket pmr bound once (fd 3,
//   the LISTEN_FDS convention), so every instance shares the port and the
//   kernel hands each connection to an instance that is free to accept it;
// - any other port is shared too, as Node's cluster module shares it: the
//   preload asks pmr for the port's socket over the IPC channel, pmr binds
//   it once per address and port (for every instance and app that asks)
//   and passes it back, and the server listens on it. listen() is
//   asynchronous either way. If pmr cannot bind the port, or does not
//   answer, the server binds it itself and Node reports any error as usual;
// - once a server listens, pmr is told (reload waits for it);
// - SIGINT, when the app has no handler of its own, closes the shared
//   servers and lets open requests finish before exiting, so a reload
//   drops nothing.
'use strict';
const net = require('net');

// An ES-module app (`.mjs`) may import './file' without the extension, as
// Node's old `--experimental-specifier-resolution=node` allowed.
if (/\.mjs$/.test(process.argv[1] || '')) {
  const { register } = require('module');
  const { pathToFileURL } = require('url');
  if (typeof register === 'function') {
    register(pathToFileURL(require('path').join(__dirname, 'pmr-esm-resolve.mjs')));
  }
}

// Stack traces through source maps, as under pm2, unless the app opted out.
if (process.env.PMR_SOURCE_MAPS !== 'false' && typeof process.setSourceMapsEnabled === 'function') {
  process.setSourceMapsEnabled(true);
}

const servers = new Set();
let graceful = false;
const onSigint = () => {
  if (process.listenerCount('SIGINT') > 1) return; // the app handles it
  process.removeListener('SIGINT', onSigint);
  if (servers.size === 0) {
    process.kill(process.pid, 'SIGINT');
    return;
  }
  let open = servers.size;
  for (const s of servers) {
    s.close(() => {
      open -= 1;
      if (open === 0) process.exit(0);
    });
    if (typeof s.closeIdleConnections === 'function') s.closeIdleConnections();
  }
};
/** A server on a socket pmr shares: closed gracefully on SIGINT. */
const shareServer = (server) => {
  servers.add(server);
  server.once('close', () => servers.delete(server));
  if (!graceful) {
    graceful = true;
    process.on('SIGINT', onSigint);
  }
};
let told = false;
const tellListening = () => {
  if (told || typeof process.send !== 'function' || !process.connected) return;
  told = true;
  process.send({ type: 'pmr:listening', data: {} });
};

const port = Number(process.env.PMR_PORT || 0);
const inherited =
  Number(process.env.LISTEN_FDS || 0) >= 1 && process.env.LISTEN_PID === String(process.pid);

if (port > 0 && inherited) {
  const listen = net.Server.prototype.listen;
  let taken = false;
  const wanted = (args) => {
    const first = args[0];
    if (first !== null && typeof first === 'object') return [first.port, first.host];
    return [first, typeof args[1] === 'string' ? args[1] : undefined];
  };
  // The shared socket listens on every address: only a listen on every
  // address may take it, so a loopback-only server never gets exposed.
  const wildcard = (h) => h === undefined || h === null || h === '' || h === '::' || h === '0.0.0.0';
  net.Server.prototype.listen = function (...args) {
    const [p, host] = wanted(args);
    if (taken || p === undefined || p === null || Number(p) !== port) {
      return listen.apply(this, args);
    }
    if (!wildcard(host)) {
      process.emitWarning(
        `pmr: listen(${port}, '${host}') cannot use the cluster's shared port, which listens on every address; ` +
          'listen without a host, or start the app with --no-shared-port'
      );
      return listen.apply(this, args);
    }
    taken = true;
    shareServer(this);
    this.once('listening', tellListening);
    const cb = args.find((a) => typeof a === 'function');
    return cb ? listen.call(this, { fd: 3 }, cb) : listen.call(this, { fd: 3 });
  };
}

if (process.env.PMR_SHARE === '1' && typeof process.send === 'function') {
  // Node's internal step between resolving the address and binding it.
  const listen2 = net.Server.prototype._listen2;
  const waiting = new Map();
  let seq = 0;
  process.on('internalMessage', (msg, handle) => {
    if (!msg || msg.cmd !== 'NODE_PMR_SOCKET') return;
    const done = waiting.get(msg.id);
    if (done) done(handle);
    else if (handle) handle.close();
  });
  net.Server.prototype._listen2 = function (address, port, addressType, backlog, fd, flags) {
    const args = [address, port, addressType, backlog, fd, flags];
    this.once('listening', tellListening);
    if (this._handle || (typeof fd === 'number' && fd >= 0) || !(port > 0) || !process.connected) {
      return listen2.apply(this, args);
    }
    const id = ++seq;
    // Also keeps the event loop alive while the socket is on its way.
    const timer = setTimeout(() => waiting.has(id) && waiting.get(id)(null), 5000);
    waiting.set(id, (handle) => {
      waiting.delete(id);
      clearTimeout(timer);
      if (handle) {
        this._handle = handle;
        shareServer(this);
      }
      listen2.apply(this, args);
    });
    process.send({ type: 'pmr:listen', data: { id, address: address || null, port } });
  };
}

// Once the main module's top-level code has run (its signal handlers
// exist), pmr is told: a cluster-mode start returns then, as under pm2.
if (typeof process.send === 'function') {
  setImmediate(() => {
    if (process.connected) process.send({ type: 'pmr:online', data: {} });
  });
}

// Deep monitoring (pm2's `deep_monitoring`): every 2 s the app's event-loop
// delay, heap and open handles, as @pm2/io metrics (describe, monit, hub).
if (process.env.PMR_DEEP_MONITORING === 'true' && typeof process.send === 'function') {
  const { monitorEventLoopDelay } = require('perf_hooks');
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const mib = (b) => Math.round((b / 1048576) * 10) / 10;
  // The histogram counts the sampling interval itself; the delay is beyond it.
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - 10) * 100) / 100);
  const timer = setInterval(() => {
    if (!process.connected) return;
    const heap = process.memoryUsage();
    const handles =
      typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo().length : 0;
    const metric = (value, unit) => ({ value, unit, type: 'internal/v8', historic: true });
    process.send({
      type: 'axm:monitor',
      data: {
        'Heap Size': metric(mib(heap.heapTotal), 'MiB'),
        'Used Heap Size': metric(mib(heap.heapUsed), 'MiB'),
        'Heap Usage': metric(Math.round((heap.heapUsed / heap.heapTotal) * 1000) / 10, '%'),
        'Event Loop Latency': metric(ms(delay.percentile(50)), 'ms'),
        'Event Loop Latency p95': metric(ms(delay.percentile(95)), 'ms'),
        'Active handles': metric(handles, ''),
      },
    });
    delay.reset();
  }, 2000);
  timer.unref();
}

// Exceptions go to pmr over the IPC channel, as @pm2/io reports them: an
// unhandled rejection is logged and the app keeps running (as under pm2,
// whose injected @pm2/io does the same); an uncaught exception is reported
// and then crashes the app as Node would. `--no-pmx` turns this off.
if (typeof process.send === 'function' && process.env.PMR_PMX !== 'false') {
  const report = (err) => {
    const stack = err && err.stack ? String(err.stack) : String(err);
    const message = err && err.message !== undefined ? String(err.message) : String(err);
    try {
      process.send({
        type: 'process:exception',
        data: { message: message.slice(0, 1000), stack: stack.slice(0, 3500) },
      });
    } catch (_) {
      // The channel is gone: the stack still reaches the error log.
    }
  };
  process.on('unhandledRejection', (reason) => {
    // pm2's words, which its users grep their logs for.
    console.error(
      'You have triggered an unhandledRejection, you may have forgotten to catch a Promise rejection:\n' +
        (reason && reason.stack ? reason.stack : String(reason)),
    );
    report(reason);
  });
  process.on('uncaughtExceptionMonitor', (err) => report(err));
}
