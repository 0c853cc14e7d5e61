// A small HTTP app for the demo: answers on $PORT and logs each request.
const http = require('http');
const port = Number(process.env.PORT || 3000);
let hits = 0;
const server = http
  .createServer((req, res) => {
    hits += 1;
    console.log(`${req.method} ${req.url} (#${hits})`);
    res.end(`hello from pmr demo, pid ${process.pid}, instance ${process.env.NODE_APP_INSTANCE}\n`);
  })
  .listen(port, () => console.log(`demo listening on http://127.0.0.1:${port}`));
// Graceful stop: no new connections, open requests finish, then exit.
process.on('SIGINT', () => {
  console.log('SIGINT received, closing');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
