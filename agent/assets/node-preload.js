// Loaded by pmr (`node --require`) into Node apps. The port sharing below
// changes nothing unless pmr passed the app a listening socket:
// - listen(PORT) on the app's port takes the socket pmr bound once (fd 3,
//   the LISTEN_FDS convention), so every instance shares the port and the
//   kernel hands each connection to an instance that is free to accept it;
// - once that server listens, pmr is told (reload waits for it);
// - SIGINT, when the app has no handler of its own, closes that server and
//   lets open requests finish before exiting, so a reload drops nothing.
'use strict';
const net = require('net');

const port = Number(process.env.PMR_PORT || 0);
const inherited =
  Number(process.env.LISTEN_FDS || 0) >= 1 && process.env.LISTEN_PID === String(process.pid);

if (port > 0 && inherited) {
  const listen = net.Server.prototype.listen;
  const servers = new Set();
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
    servers.add(this);
    this.once('listening', () => {
      if (typeof process.send === 'function' && process.connected) {
        process.send({ type: 'pmr:listening', data: { port } });
      }
    });
    this.once('close', () => servers.delete(this));
    const cb = args.find((a) => typeof a === 'function');
    return cb ? listen.call(this, { fd: 3 }, cb) : listen.call(this, { fd: 3 });
  };

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
  process.on('SIGINT', onSigint);
}

// Exceptions go to pmr over the IPC channel, as @pm2/io reports them: an
// unhandled rejection is logged and the app keeps running (as under pm2,
// whose injected @pm2/io does the same); an uncaught exception is reported
// and then crashes the app as Node would.
if (typeof process.send === 'function') {
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
    console.error('pmr: unhandled promise rejection (the app keeps running):', reason);
    report(reason);
  });
  process.on('uncaughtExceptionMonitor', (err) => report(err));
}
