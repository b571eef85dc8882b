#!/usr/bin/env node
// potato_gateway.js: an independent reversed-HTTP GATEWAY for h2bridge's tests,
// written from draft-thomson-ptth-potato ("rh2"/"rh1") and the h2bridge auth
// contract only (no h2bridge code). A TLS server that selects rh2 (or rh1);
// on each accepted connection it is the HTTP/2 (HTTP/1.1) CLIENT: it first
// sends GET AUTH_PATH with h2bridge-challenge, checks the answer, and then
// forwards plain HTTP/1.1 requests from a public port over the authorized
// reversed connections (a mini gateway).
//
// Usage: node potato_gateway.js --cert F --key F [options]
//   --alpn rh2|rh1|rh2,rh1   protocols it selects (default rh2)
//   --alpn-mode M            normal | h2 (the server offers only h2, so an rh2-only
//                            client gets no overlap) | none (no ALPN extension at
//                            all: the handshake completes with no protocol, and the
//                            gateway speaks rh2 anyway, to see whether the dialer serves)
//   --auth-path P            default /.well-known/h2bridge/authorize
//   --authority A            :authority of the auth request (default app.example.com)
//   --token-sha256 HEX       accept h2bridge-token whose SHA-256 is HEX
//   --hmac-key FILE          accept h2bridge-proof = base64(HMAC-SHA256(key, challenge))
//   --client-ca F            request a client certificate chained to F
// Prints "ready GWPORT PUBPORT". Public side: plain HTTP/1.1; the request is
// forwarded (method, path, Host as :authority, headers, streamed body) to the
// least-loaded authorized connection; 503 when there is none.
// Events (JSON lines, stdout): {"event":"tls", conn, alpn}, {"event":"auth-ok",
//   conn, authorities, paths}, {"event":"auth-fail", conn, reason},
//   {"event":"response", conn, status, path} for every response seen from the
//   dialer, {"event":"forward", conn, path, status}, {"event":"close", conn},
//   {"event":"error", conn, error}.
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

const alpn = arg('--alpn', 'rh2').split(',');
const alpnMode = arg('--alpn-mode', 'normal');
const authPath = arg('--auth-path', '/.well-known/h2bridge/authorize');
const authAuthority = arg('--authority', 'app.example.com');
const tokenSha = arg('--token-sha256');
const hmacKey = arg('--hmac-key') ? fs.readFileSync(arg('--hmac-key')) : null;
const clientCa = arg('--client-ca');

const live = [];   // authorized connections: { conn, kind, active, request(...) }
let connSeq = 0;

function ctEq(a, b) {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function checkAuth(conn, challenge, status, h) {
  if (status !== 200) return 'auth status ' + status;
  if (!tokenSha && !hmacKey) return null;
  if (tokenSha) {
    const t = h['h2bridge-token'];
    if (t === undefined) return 'no h2bridge-token';
    if (!ctEq(crypto.createHash('sha256').update(String(t)).digest('hex'), tokenSha.toLowerCase())) return 'bad token';
  }
  if (hmacKey) {
    const p = h['h2bridge-proof'];
    if (p === undefined) return 'no h2bridge-proof';
    const want = crypto.createHmac('sha256', hmacKey).update(Buffer.from(challenge, 'latin1')).digest('base64');
    if (!ctEq(String(p), want)) return 'bad proof';
  }
  return null;
}

function list(v) { return v === undefined ? null : String(v).split(',').map((s) => s.trim()).filter(Boolean); }

function authorized(c, h) {
  c.authorities = list(h['h2bridge-authorities']);
  c.paths = list(h['h2bridge-paths']);
  emit({ event: 'auth-ok', conn: c.conn, kind: c.kind, authorities: c.authorities, paths: c.paths });
  live.push(c);
}

function drop(c) {
  const i = live.indexOf(c);
  if (i >= 0) live.splice(i, 1);
}

// ------------------------------------------------------------------ rh2
function onRh2(conn, sock) {
  const session = http2.connect('https://' + authAuthority, { createConnection: () => sock });
  const c = { conn, kind: 'rh2', active: 0, session };
  session.on('error', (e) => emit({ event: 'error', conn, error: String(e.message || e) }));
  session.on('goaway', (code) => { emit({ event: 'goaway', conn, code }); drop(c); });
  session.on('close', () => { drop(c); });
  const challenge = crypto.randomBytes(32).toString('base64');
  const st = session.request({ ':method': 'GET', ':path': authPath, ':authority': authAuthority,
                               ':scheme': 'https', 'h2bridge-challenge': challenge });
  st.on('error', (e) => emit({ event: 'error', conn, error: 'auth stream: ' + String(e.message || e) }));
  st.on('response', (h) => {
    const status = Number(h[':status']);
    emit({ event: 'response', conn, status, path: authPath });
    const why = checkAuth(conn, challenge, status, h);
    if (why) {
      emit({ event: 'auth-fail', conn, reason: why });
      session.goaway(http2.constants.NGHTTP2_INADEQUATE_SECURITY, 0, Buffer.from('potato_gateway: ' + why));
      setTimeout(() => session.destroy(), 100);
      return;
    }
    authorized(c, h);
  });
  st.resume();
  st.end();
  c.forward = (req, res) => {
    c.active++;
    const hdrs = { ':method': req.method, ':path': req.url, ':authority': req.headers.host || authAuthority, ':scheme': 'https' };
    for (const [k, v] of Object.entries(req.headers)) {
      if (['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'expect'].includes(k)) continue;
      hdrs[k] = v;
    }
    const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0' || req.headers['transfer-encoding'] !== undefined;
    let fs_;
    try { fs_ = session.request(hdrs, { endStream: !hasBody }); } catch (e) { c.active--; res.writeHead(502); res.end('request failed: ' + e.message); return; }
    if (hasBody) req.pipe(fs_); else req.resume();
    fs_.on('response', (h) => {
      const status = Number(h[':status']);
      emit({ event: 'forward', conn, path: req.url, status });
      const out = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) out[k] = v;
      res.writeHead(status, out);
      fs_.pipe(res);
    });
    fs_.on('close', () => { c.active--; if (!res.headersSent) { res.writeHead(502); res.end('stream closed ' + fs_.rstCode + '\n'); } else if (!res.writableEnded) res.destroy(); });
    fs_.on('error', (e) => emit({ event: 'error', conn, error: 'fwd: ' + String(e.message || e) }));
  };
}

// ------------------------------------------------------------------ rh1
// One exchange at a time on the dialed socket: a keep-alive agent whose only
// connection is that socket.
class OneSocketAgent extends http.Agent {
  constructor(sock) { super({ keepAlive: true, maxSockets: 1 }); this.sock = sock; this.used = false; }
  createConnection(opts, cb) {
    if (this.used) { process.nextTick(() => cb(new Error('rh1 connection gone'))); return undefined; }
    this.used = true;
    return this.sock;
  }
}

function onRh1(conn, sock) {
  const agent = new OneSocketAgent(sock);
  const c = { conn, kind: 'rh1', active: 0, agent };
  sock.on('close', () => drop(c));
  const challenge = crypto.randomBytes(32).toString('base64');
  const r = http.request({ agent, host: authAuthority, port: 443, method: 'GET', path: authPath,
                           headers: { host: authAuthority, 'h2bridge-challenge': challenge } });
  r.on('error', (e) => emit({ event: 'error', conn, error: 'auth request: ' + String(e.message || e) }));
  r.on('response', (res) => {
    emit({ event: 'response', conn, status: res.statusCode, path: authPath });
    const why = checkAuth(conn, challenge, res.statusCode, res.headers);
    res.resume();
    res.on('end', () => {
      if (why) { emit({ event: 'auth-fail', conn, reason: why }); sock.destroy(); return; }
      authorized(c, res.headers);
    });
  });
  r.end();
  c.forward = (req, res) => {
    c.active++;
    const hdrs = {};
    for (const [k, v] of Object.entries(req.headers)) if (!['connection', 'keep-alive', 'proxy-connection'].includes(k)) hdrs[k] = v;
    const fr = http.request({ agent, host: authAuthority, port: 443, method: req.method, path: req.url, headers: hdrs });
    req.pipe(fr);
    fr.on('response', (r2) => {
      emit({ event: 'forward', conn, path: req.url, status: r2.statusCode });
      res.writeHead(r2.statusCode, r2.headers);
      r2.pipe(res);
      r2.on('end', () => { c.active--; });
    });
    fr.on('error', (e) => { c.active--; emit({ event: 'error', conn, error: 'fwd: ' + String(e.message || e) }); if (!res.headersSent) { res.writeHead(502); res.end(); } else res.destroy(); });
  };
}

// ------------------------------------------------------------------ TLS side
const tlsOpts = { cert: fs.readFileSync(arg('--cert')), key: fs.readFileSync(arg('--key')) };
if (alpnMode === 'normal') tlsOpts.ALPNProtocols = alpn;
else if (alpnMode === 'h2') tlsOpts.ALPNProtocols = ['h2'];
if (clientCa) { tlsOpts.ca = fs.readFileSync(clientCa); tlsOpts.requestCert = true; tlsOpts.rejectUnauthorized = true; }
const gwServer = tls.createServer(tlsOpts, (sock) => {
  const conn = ++connSeq;
  emit({ event: 'tls', conn, alpn: sock.alpnProtocol });
  sock.on('error', (e) => emit({ event: 'error', conn, error: String(e.message || e) }));
  sock.on('close', () => emit({ event: 'close', conn }));
  if (sock.alpnProtocol === 'rh1' && alpnMode === 'normal') onRh1(conn, sock);
  else onRh2(conn, sock);   // rh2, or (--alpn-mode none/h2) speak rh2 regardless
});
gwServer.on('tlsClientError', (e) => emit({ event: 'tls-error', error: String(e.message || e) }));

// ------------------------------------------------------------------ public side
const pub = http.createServer((req, res) => {
  const host = (req.headers.host || '').replace(/:\d+$/, '').toLowerCase();
  const cands = live.filter((c) => (!c.authorities || c.authorities.map((a) => a.toLowerCase()).includes(host))
                                 && (!c.paths || c.paths.some((p) => req.url.startsWith(p))));
  if (!cands.length) { res.writeHead(503, { 'retry-after': '1' }); res.end('no origin\n'); return; }
  cands.sort((a, b) => a.active - b.active);
  cands[0].forward(req, res);
});

gwServer.listen(0, '127.0.0.1', () => {
  pub.listen(0, '127.0.0.1', () => console.log(`ready ${gwServer.address().port} ${pub.address().port}`));
});
