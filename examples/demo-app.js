// A small HTTP app for the demo: answers on $PORT and logs each request.
const http = require('http');
const port = Number(process.env.PORT || 3000);
let hits = 0;
http
  .createServer((req, res) => {
    hits += 1;
    console.log(`${req.method} ${req.url} (#${hits})`);
    res.end(`hello from pmr demo, pid ${process.pid}, instance ${process.env.NODE_APP_INSTANCE}\n`);
  })
  .listen(port, () => console.log(`demo listening on http://127.0.0.1:${port}`));
process.on('SIGINT', () => {
  console.log('SIGINT received, closing');
  process.exit(0);
});
