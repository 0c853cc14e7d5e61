// pmr's static file server: what `pmr serve [path] [port]` and an
// ecosystem app with `script: "serve"` run, under pmr like any Node app.
// Options come from the environment, under pmr's prefix or pm2's (so pm2
// ecosystem files work as they are), then from the arguments [path] [port]:
//   PMR_SERVE_PATH, _PORT (8080), _HOST (every address), _SPA ('true': an
//   unknown path gets the homepage), _HOMEPAGE ('/index.html'),
//   _BASIC_AUTH ('true'), _BASIC_AUTH_USERNAME, _BASIC_AUTH_PASSWORD.
// GET and HEAD only; nothing outside the served directory is ever read
// (symbolic links included); a missing file gets the directory's 404.html.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const opt = (name) => {
  const v = process.env[`PMR_SERVE_${name}`];
  return v !== undefined && v !== '' ? v : process.env[`PM2_SERVE_${name}`];
};
const root = fs.realpathSync(path.resolve(opt('PATH') || process.argv[2] || '.'));
const port = parseInt(opt('PORT') || process.argv[3] || '8080', 10) || 8080;
const host = opt('HOST') || undefined;
const spa = opt('SPA') === 'true';
const homepage = '/' + (opt('HOMEPAGE') || '/index.html').replace(/^\/+/, '');
const auth =
  opt('BASIC_AUTH') === 'true'
    ? `${opt('BASIC_AUTH_USERNAME') || ''}:${opt('BASIC_AUTH_PASSWORD') || ''}`
    : null;

const TYPES = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
};
const typeOf = (file) => TYPES[path.extname(file).slice(1).toLowerCase()] || 'application/octet-stream';

/** Equal strings, compared in constant time (as hashes of equal length). */
const same = (a, b) => {
  const h = (s) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(h(a), h(b));
};

const authorized = (req) => {
  if (auth === null) return true;
  const header = req.headers.authorization || '';
  if (!header.startsWith('Basic ')) return false;
  return same(Buffer.from(header.slice(6).trim(), 'base64').toString('utf8'), auth);
};

/** The regular file under the served directory for a URL path, or null. */
const resolve = (urlPath) => {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch (_) {
    return null;
  }
  if (rel.includes('\0')) return null;
  let file = path.join(root, path.normalize('/' + rel));
  try {
    file = fs.realpathSync(file);
    if (file !== root && !file.startsWith(root + path.sep)) return null;
    if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    return fs.statSync(file).isFile() ? file : null;
  } catch (_) {
    return null;
  }
};

const send = (req, res, status, file) => {
  fs.stat(file, (err, st) => {
    if (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end(`cannot read ${path.basename(file)}\n`);
    }
    res.writeHead(status, {
      'Content-Type': typeOf(file),
      'Content-Length': st.size,
      'Last-Modified': st.mtime.toUTCString(),
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET',
    });
    if (req.method === 'HEAD') return res.end();
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
};

const server = http.createServer((req, res) => {
  if (!authorized(req)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="pmr serve"', 'Content-Type': 'text/plain' });
    return res.end('401 Unauthorized\n');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
    return res.end('405 Method Not Allowed\n');
  }
  const urlPath = new URL(req.url, 'http://localhost').pathname;
  const wanted = urlPath === '/' ? homepage : urlPath;
  const found = resolve(wanted);
  if (found) return send(req, res, 200, found);
  if (spa) {
    // A single-page app's route: the file by its name at the root (assets
    // linked relatively from a deep route), else the homepage.
    const fallback = resolve('/' + path.posix.basename(wanted)) || resolve(homepage);
    if (fallback) return send(req, res, 200, fallback);
  }
  const notFound = resolve('/404.html');
  if (notFound) return send(req, res, 404, notFound);
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('404 Not Found\n');
});

server.listen(port, host, () => {
  console.log(`Serving ${root} on ${host || 'every address'}, port ${port}${spa ? ' (single-page app)' : ''}`);
});
