#!/usr/bin/env node
// potato_origin.js: an independent reversed-HTTP ORIGIN for h2bridge's tests,
// written from draft-thomson-ptth-potato ("rh2"/"rh1") and the h2bridge auth
// contract only (no h2bridge code). It dials a gateway over TLS offering ALPN
// rh2 (or rh1), verifies the gateway's certificate with --ca, and then runs a
// node HTTP/2 (or HTTP/1.1) SERVER on the socket it dialed.
//
// Usage: node potato_origin.js --gateway HOST:PORT --ca CA [options]
//   --sni NAME            TLS server name (default localhost)
//   --alpn rh2|rh1|LIST   ALPN offered (comma list; default rh2)
//   --cert F --key F      TLS client certificate (mTLS)
//   --token T             answer the challenge with h2bridge-token: T
//   --hmac-key FILE       answer with h2bridge-proof: base64(HMAC-SHA256(key, challenge))
//   --authorities a,b     announce h2bridge-authorities
//   --paths /x,/y         announce h2bridge-paths
//   --origin-id ID        announce h2bridge-origin-id (h2bridge's stale-registration key)
//   --auth-mode M         normal | silent (never answer the auth request) |
//                         replay (conn 1 answers correctly; every later conn
//                         replays conn 1's proof) | status403 | garbage (write
//                         garbage bytes instead of HTTP)
//   --connections N       parallel connections (default 1), each opened after the
//                         previous one answered the auth request (replay mode)
//                         or all at once
//   --reconnect 0|1       redial after a connection ends (default 0)
// Endpoints (any other path: 404): /hello -> "hello from origin conn N";
//   /echo -> request body streamed back; /big?n=BYTES -> the backend_h1 pattern;
//   /sha256 -> hex sha256 of the body; /headers -> JSON of the request headers;
//   /status?code=N.
// Events (one JSON line each, stdout): {"event":"tls", conn, alpn, authorized},
//   {"event":"auth", conn, challenge, answered}, {"event":"request", conn, method,
//   path, authority}, {"event":"goaway", conn, code, debug}, {"event":"close", conn},
//   {"event":"error", conn, error}. Prints "ready" once the first connection's
//   TLS handshake is done.
'use strict';
const tls = require('tls');
const http = require('http');
const http2 = require('http2');
const fs = require('fs');
const crypto = require('crypto');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}
function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

const gw = arg('--gateway');
const [gwHost, gwPort] = [gw.slice(0, gw.lastIndexOf(':')), Number(gw.slice(gw.lastIndexOf(':') + 1))];
const ca = fs.readFileSync(arg('--ca'));
const sni = arg('--sni', 'localhost');
const alpn = arg('--alpn', 'rh2').split(',');
const token = arg('--token');
const hmacKey = arg('--hmac-key') ? fs.readFileSync(arg('--hmac-key')) : null;
const authorities = arg('--authorities');
const paths = arg('--paths');
const originId = arg('--origin-id'); // h2bridge extension: same id = replaces the old registration
const authMode = arg('--auth-mode', 'normal');
const nconn = Number(arg('--connections', '1'));
const reconnect = arg('--reconnect', '0') === '1';
const cert = arg('--cert') ? fs.readFileSync(arg('--cert')) : undefined;
const key = arg('--key') ? fs.readFileSync(arg('--key')) : undefined;

const BLOCK = Buffer.alloc(65536);
for (let i = 0; i < 65536; i++) BLOCK[i] = (i * 31 + 7) & 0xff;

let firstProof = null;       // replay mode: conn 1's answer
let connSeq = 0;
let readyPrinted = false;

function authHeaders(conn, challenge) {
  const h = {};
  if (token !== undefined) h['h2bridge-token'] = token;
  if (hmacKey) {
    let proof = crypto.createHmac('sha256', hmacKey).update(Buffer.from(challenge, 'latin1')).digest('base64');
    if (authMode === 'replay') {
      if (firstProof === null) firstProof = proof;
      else proof = firstProof;
    }
    h['h2bridge-proof'] = proof;
  }
  if (authorities) h['h2bridge-authorities'] = authorities;
  if (paths) h['h2bridge-paths'] = paths;
  if (originId) h['h2bridge-origin-id'] = originId;
  return h;
}

// Handles one request; |req| exposes method, path, authority, headers, a
// readable body; |res| is { head(status, headers), write(buf), end(buf) }.
function serve(conn, method, path, authority, headers, body, res) {
  const challenge = headers['h2bridge-challenge'];
  if (challenge !== undefined) {
    if (authMode === 'silent') {
      emit({ event: 'auth', conn, challenge, path, authority, answered: false });
      body.resume();
      return;  // never answer
    }
    emit({ event: 'auth', conn, challenge, path, authority, answered: true });
    body.resume();
    if (authMode === 'status403') { res.head(403, {}); res.end('no'); return; }
    res.head(200, authHeaders(conn, challenge));
    res.end();
    return;
  }
  emit({ event: 'request', conn, method, path, authority });
  const u = new URL(path, 'http://x');
  const ep = u.pathname.split('/').pop();
  if (ep === 'hello') {
    body.resume();
    res.head(200, { 'content-type': 'text/plain' });
    res.end(`hello from origin conn ${conn}\n`);
  } else if (ep === 'echo') {
    res.head(200, { 'content-type': 'application/octet-stream' });
    body.on('data', (d) => res.write(d));
    body.on('end', () => res.end());
  } else if (ep === 'sha256') {
    const h = crypto.createHash('sha256');
    let n = 0;
    body.on('data', (d) => { h.update(d); n += d.length; });
    body.on('end', () => { res.head(200, { 'x-body-len': String(n) }); res.end(h.digest('hex')); });
  } else if (ep === 'big') {
    body.resume();
    let left = Number(u.searchParams.get('n') || '0');
    res.head(200, { 'content-type': 'application/octet-stream' });
    let off = 0;
    const pump = () => {
      while (left > 0) {
        const k = Math.min(left, BLOCK.length - off);
        const chunk = BLOCK.subarray(off, off + k);
        off = (off + k) % BLOCK.length;
        left -= k;
        if (!res.write(chunk)) { res.drain(pump); return; }
      }
      res.end();
    };
    pump();
  } else if (ep === 'headers') {
    body.resume();
    body.on('end', () => { res.head(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ method, path, authority, headers })); });
  } else if (ep === 'status') {
    body.resume();
    res.head(Number(u.searchParams.get('code') || '200'), {});
    res.end();
  } else {
    body.resume();
    res.head(404, {});
    res.end('not found\n');
  }
}

function runH2(conn, sock) {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 256 } });
  server.on('stream', (stream, headers) => {
    stream.on('error', (e) => emit({ event: 'stream-error', conn, error: String(e.message || e) }));
    const res = {
      head: (st, h) => { if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': st, ...h }); },
      write: (b) => stream.write(b),
      end: (b) => { if (!stream.destroyed) stream.end(b); },
      drain: (f) => stream.once('drain', f),
    };
    const hdrs = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) hdrs[k] = v;
    serve(conn, headers[':method'], headers[':path'], headers[':authority'], hdrs, stream, res);
  });
  server.on('session', (session) => {
    session.on('goaway', (code, last, debug) => emit({ event: 'goaway', conn, code, debug: debug ? debug.toString('latin1') : '' }));
    session.on('error', (e) => emit({ event: 'error', conn, error: String(e.message || e) }));
  });
  server.on('sessionError', (e) => emit({ event: 'error', conn, error: String(e.message || e) }));
  server.emit('connection', sock);
}

function runH1(conn, sock) {
  const server = http.createServer((req, rs) => {
    const res = {
      head: (st, h) => rs.writeHead(st, h),
      write: (b) => rs.write(b),
      end: (b) => rs.end(b),
      drain: (f) => rs.once('drain', f),
    };
    serve(conn, req.method, req.url, req.headers.host, req.headers, req, res);
  });
  server.on('clientError', (e) => emit({ event: 'error', conn, error: String(e.message || e) }));
  server.emit('connection', sock);
}

function dial() {
  const conn = ++connSeq;
  const sock = tls.connect({ host: gwHost, port: gwPort, servername: sni, ca, cert, key, ALPNProtocols: alpn });
  sock.on('secureConnect', () => {
    emit({ event: 'tls', conn, alpn: sock.alpnProtocol, authorized: sock.authorized });
    if (!readyPrinted) { readyPrinted = true; console.log('ready'); }
    if (!sock.authorized) { sock.destroy(); return; }   // potato §6: never serve an unauthenticated gateway
    if (authMode === 'garbage') { sock.resume(); sock.write(Buffer.from('this is not HTTP at all\r\n\0\0\0\xff\xff\r\n\r\n', 'latin1')); return; }
    if (sock.alpnProtocol === 'rh2') runH2(conn, sock);
    else if (sock.alpnProtocol === 'rh1') runH1(conn, sock);
    else { emit({ event: 'error', conn, error: 'gateway selected ' + sock.alpnProtocol }); sock.destroy(); }
  });
  sock.on('error', (e) => emit({ event: 'error', conn, error: String(e.message || e) }));
  sock.on('close', () => {
    emit({ event: 'close', conn });
    if (reconnect) setTimeout(dial, 200);
  });
}

for (let i = 0; i < nconn; i++) setTimeout(dial, i * (authMode === 'replay' ? 300 : 0));
