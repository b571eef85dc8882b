#!/usr/bin/env node
// peer.js: WebSocket test peers for h2bridge's integration tests, built on the
// ws package (RFC 6455 over HTTP/1.1) and node's http2 module (RFC 8441
// extended CONNECT). Over HTTP/2 the RFC 6455 framing is done here (class
// Framer), not by wrapping an Http2Stream into a ws WebSocket, so that close
// codes round-trip. Independent of h2bridge's code. Modes:
//   ws-echo-server PORT [CERT KEY]       RFC 6455 echo server over HTTP/1.1 (ws, permessage-deflate on)
//   h2-ws-echo-server PORT [CERT KEY]    RFC 8441 echo server (h2c, or h2 over TLS)
//   ws-client URL [options]              RFC 6455 client (ws package)
//   h2-ws-client URL [options]           RFC 8441 client (own framing)
//   cdp-wait USER_DATA_DIR EXPR TIMEOUT  polls a headless Chromium page (DevTools protocol)
// Client options: --count N --sizes a,b,c --close CODE --ca FILE --protocol P
//   --deflate 1 --header 'Name: value' (repeatable) --headers-first 1
//   (the first message is the backend's view of the request headers, returned
//   as "headers") --wait-close 1 (send nothing, wait for the server's close)
// Server paths: /headers... send the request headers (JSON) as first message;
//   /server-close/CODE... the server closes with CODE right after the handshake;
//   /raw-halfclose (h2 server only): no framing; reads to END_STREAM, then
//   writes "got N\n" and ends; /raw-serverfin (h2 server only): writes
//   "server-fin\n", ends its side, then reads to END_STREAM; /raw-rst (h2 server
//   only): writes "x", then resets the stream (INTERNAL_ERROR, no END_STREAM) 100 ms later.
// /deny (h2 server only): answers 403 with a body.
// Servers print one JSON line per event on stdout: {"event":"request",...},
// {"event":"close","path":...,"code":N}, {"event":"raw-end",...}.
// Echo servers answer every message with the same message (same type) and echo
// close codes; clients send N messages cycling through sizes (text and binary
// alternating), check each echo in order, close with CODE and print one JSON
// line of results.
'use strict';
const http = require('http');
const https = require('https');
const http2 = require('http2');
const fs = require('fs');
const zlib = require('zlib');
const crypto = require('crypto');
const { EventEmitter } = require('events');
const { WebSocket, WebSocketServer } = require('ws');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}
function args(name) {
  const out = [];
  for (let i = 0; i < process.argv.length - 1; i++) if (process.argv[i] === name) out.push(process.argv[i + 1]);
  return out;
}
function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MAX_MESSAGE = 256 * 1024 * 1024;

// RFC 6455 framing over any duplex stream (here: an Http2Stream).
// Events: 'message' (Buffer, isBinary), 'close' (code, reason) once, 'error'.
class Framer extends EventEmitter {
  constructor(stream, isServer, deflate) {
    super();
    this.s = stream;
    this.isServer = isServer;
    this.deflate = deflate;        // permessage-deflate negotiated (no context takeover both ways)
    this.chunks = [];
    this.have = 0;
    this.frag = null;              // { opcode, compressed, parts, len }
    this.sentClose = false;
    this.gotClose = null;          // [code, reason]
    this.closed = false;
    stream.on('data', (d) => this._onData(d));
    stream.on('end', () => this._finish(1006, ''));
    stream.on('close', () => this._finish(1006, ''));
    stream.on('error', (e) => { this.emit('error', e); this._finish(1006, String(e.message || e)); });
  }

  _finish(code, reason) {
    if (this.closed) return;
    this.closed = true;
    if (this.gotClose) [code, reason] = this.gotClose;
    this.emit('close', code, reason);
  }

  _frame(opcode, payload, rsv1) {
    const len = payload.length;
    const mask = !this.isServer;
    let hlen = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (mask ? 4 : 0);
    const h = Buffer.alloc(hlen);
    h[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
    let o = 2;
    if (len < 126) h[1] = len;
    else if (len < 65536) { h[1] = 126; h.writeUInt16BE(len, 2); o = 4; }
    else { h[1] = 127; h.writeBigUInt64BE(BigInt(len), 2); o = 10; }
    if (mask) {
      h[1] |= 0x80;
      const key = crypto.randomBytes(4);
      key.copy(h, o);
      const p = Buffer.from(payload);          // copy: the caller's buffer stays intact
      for (let i = 0; i < p.length; i++) p[i] ^= key[i & 3];
      payload = p;
    }
    this.s.write(Buffer.concat([h, payload]));
  }

  send(data, binary) {
    if (this.sentClose || this.closed) return;
    let p = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    let rsv1 = false;
    if (this.deflate) {
      const c = zlib.deflateRawSync(p, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      p = c.subarray(0, c.length - 4);
      rsv1 = true;
    }
    this._frame(binary ? 2 : 1, p, rsv1);
  }

  close(code, reason) {
    if (this.sentClose || this.closed) return;
    this.sentClose = true;
    const r = Buffer.from(reason || '', 'utf8');
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this._frame(8, p, false);
    if (this.gotClose) this.s.end();          // both close frames exchanged
  }

  _fail(code, why) {
    this.emit('error', new Error(why));
    if (!this.sentClose) this.close(code, why.slice(0, 100));
    this.s.end();
    this._finish(code, why);
  }

  _take(n) {
    const b = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
    const out = b.subarray(0, n);
    const rest = b.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  _peek(n) {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.have)];
    return this.chunks[0].subarray(0, n);
  }

  _onData(d) {
    if (this.closed) return;
    this.chunks.push(d);
    this.have += d.length;
    for (;;) {
      if (this.have < 2) return;
      const h = this._peek(Math.min(this.have, 14));
      const fin = (h[0] & 0x80) !== 0, rsv1 = (h[0] & 0x40) !== 0, opcode = h[0] & 0x0f;
      const masked = (h[1] & 0x80) !== 0;
      let len = h[1] & 0x7f, o = 2;
      if (len === 126) { if (this.have < 4) return; len = h.readUInt16BE(2); o = 4; }
      else if (len === 127) {
        if (this.have < 10) return;
        const big = h.readBigUInt64BE(2);
        if (big >> 63n) return this._fail(1002, '64-bit length with MSB set');
        if (big > BigInt(MAX_MESSAGE)) return this._fail(1009, 'frame too large');
        len = Number(big); o = 10;
      }
      if (masked !== this.isServer) return this._fail(1002, masked ? 'masked server frame' : 'unmasked client frame');
      if (h[0] & 0x30) return this._fail(1002, 'RSV2/RSV3 set');
      if (rsv1 && (!this.deflate || opcode === 0 || opcode >= 8)) return this._fail(1002, 'RSV1 without deflate');
      const need = o + (masked ? 4 : 0) + len;
      if (this.have < need) return;
      const frame = this._take(need);
      let payload = Buffer.from(frame.subarray(o + (masked ? 4 : 0)));
      if (masked) {
        const key = frame.subarray(o, o + 4);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      if (opcode >= 8) {
        if (!fin || len > 125) return this._fail(1002, 'bad control frame');
        this._control(opcode, payload);
        if (this.closed) return;
        continue;
      }
      if (opcode === 0) {
        if (!this.frag) return this._fail(1002, 'continuation without start');
        this.frag.parts.push(payload);
        this.frag.len += payload.length;
      } else if (opcode === 1 || opcode === 2) {
        if (this.frag) return this._fail(1002, 'new message inside a fragmented one');
        this.frag = { opcode, compressed: rsv1, parts: [payload], len: payload.length };
      } else return this._fail(1002, 'bad opcode ' + opcode);
      if (this.frag.len > MAX_MESSAGE) return this._fail(1009, 'message too large');
      if (!fin) continue;
      let msg = Buffer.concat(this.frag.parts, this.frag.len);
      const { opcode: op, compressed } = this.frag;
      this.frag = null;
      if (compressed) msg = zlib.inflateRawSync(Buffer.concat([msg, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      if (op === 1 && !isUtf8(msg)) return this._fail(1007, 'invalid UTF-8');
      this.emit('message', msg, op === 2);
    }
  }

  _control(opcode, p) {
    if (opcode === 9) { if (!this.sentClose) this._frame(10, p, false); return; }
    if (opcode === 10) return;
    if (opcode !== 8) return this._fail(1002, 'bad control opcode ' + opcode);
    let code = 1005, reason = '';
    if (p.length === 1) return this._fail(1002, 'close payload of 1 byte');
    if (p.length >= 2) { code = p.readUInt16BE(0); reason = p.subarray(2).toString('utf8'); }
    this.gotClose = [code, reason];
    if (!this.sentClose) this.close(code === 1005 ? 1000 : code, reason);   // echo the code
    else this.s.end();
    this._finish(code, reason);
  }
}

function isUtf8(b) {
  try { new TextDecoder('utf-8', { fatal: true }).decode(b); return true; } catch (e) { return false; }
}

// -------------------------------------------------------------- servers

function serverCloseCode(path) {
  const m = /\/server-close\/(\d+)/.exec(path);
  return m ? Number(m[1]) : 0;
}

function wsEchoServer(port, cert, key) {
  const handler = (req, res) => {
    emit({ event: 'http', path: req.url, method: req.method, httpVersion: req.httpVersion });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(process.env.PEER_PAGE ? fs.readFileSync(process.env.PEER_PAGE) : 'websocket only\n');
  };
  const server = cert ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, handler)
                      : http.createServer(handler);
  const wss = new WebSocketServer({ server, perMessageDeflate: true, maxPayload: MAX_MESSAGE,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) });
  wss.on('connection', (ws, req) => {
    emit({ event: 'request', path: req.url, method: req.method, headers: req.headers });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => emit({ event: 'close', path: req.url, code, reason: reason.toString() }));
    ws.on('error', (e) => emit({ event: 'error', path: req.url, error: String(e.message || e) }));
    if (req.url.includes('/headers')) ws.send(JSON.stringify(req.headers));
    const sc = serverCloseCode(req.url);
    if (sc) ws.close(sc, 'server says bye');
  });
  server.listen(port, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
}

function h2WsEchoServer(port, cert, key) {
  const settings = { enableConnectProtocol: true };
  const onStream = (stream, headers) => {
    const path = headers[':path'] || '';
    emit({ event: 'request', path, method: headers[':method'], headers });
    stream.on('error', (e) => emit({ event: 'stream-error', path, error: String(e.message || e) }));
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404 });
      stream.end('not found\n');
      return;
    }
    if (path.includes('/deny')) {            // a non-2xx answer to the extended CONNECT
      stream.respond({ ':status': 403, 'content-type': 'text/plain' });
      stream.end('denied by the test backend\n');
      return;
    }
    const resp = { ':status': 200 };
    const sp = headers['sec-websocket-protocol'];
    if (sp && sp.split(',').map((s) => s.trim()).includes('chat')) resp['sec-websocket-protocol'] = 'chat';
    stream.respond(resp);
    if (path.includes('/raw-halfclose')) {
      let n = 0;
      stream.on('data', (d) => { n += d.length; });
      stream.on('end', () => { emit({ event: 'raw-end', path, bytes: n }); stream.end(`got ${n}\n`); });
      stream.on('close', () => emit({ event: 'raw-close', path, bytes: n, rstCode: stream.rstCode }));
      return;
    }
    if (path.includes('/raw-serverfin')) {
      let n = 0;
      stream.end('server-fin\n');
      stream.on('data', (d) => { n += d.length; });
      stream.on('end', () => emit({ event: 'raw-end', path, bytes: n }));
      return;
    }
    if (path.includes('/raw-rst')) {       // some bytes, then RST_STREAM(CANCEL)
      stream.write('x');
      setTimeout(() => stream.destroy(new Error('reset by the test backend')), 100);   // RST_STREAM(INTERNAL_ERROR), no END_STREAM
      return;
    }
    const f = new Framer(stream, true, false);
    f.on('message', (m, bin) => f.send(m, bin));
    f.on('close', (code, reason) => emit({ event: 'close', path, code, reason }));
    f.on('error', (e) => emit({ event: 'error', path, error: String(e.message || e) }));
    if (path.includes('/headers')) f.send(JSON.stringify(headers), false);
    const sc = serverCloseCode(path);
    if (sc) f.close(sc, 'server says bye');
  };
  const server = cert ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key),
                                                   settings, allowHTTP1: false })
                      : http2.createServer({ settings });
  server.on('stream', onStream);
  server.on('sessionError', () => {});
  server.listen(port, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
}

// -------------------------------------------------------------- clients

function payload(i, size) {
  const b = crypto.createHash('sha256').update(`${i}`).digest();
  const out = Buffer.alloc(size);
  for (let k = 0; k < size; k++) out[k] = b[k % 32] % 94 + 33; // printable: valid UTF-8 text too
  return out;
}

// ws: { send(buf, binary), close(code, reason) }; events 'message' (Buffer, isBinary), 'close', 'error'.
function runClient(ws, opts, done) {
  const count = Number(opts.count), sizes = opts.sizes.split(',').map(Number);
  let sent = 0, ok = 0, bad = 0, headers = null, firstBad = null, finished = false;
  let waitHeaders = !!opts.headersFirst;
  const t0 = Date.now();
  const fin = (r) => { if (!finished) { finished = true; done(r); } };
  const sendNext = () => {
    const size = sizes[sent % sizes.length];
    const binary = sent % 2 === 1;
    ws.send(payload(sent, size), binary);
    sent++;
  };
  const start = () => {
    if (opts.waitClose) return;
    if (count > 0) sendNext(); else ws.close(Number(opts.close), 'bye');
  };
  ws.on('message', (got, isBinary) => {
    if (waitHeaders) {
      waitHeaders = false;
      headers = JSON.parse(got.toString());
      return start();
    }
    const i = ok + bad;
    const want = payload(i, sizes[i % sizes.length]);
    if (got.equals(want) && isBinary === (i % 2 === 1)) ok++;
    else { bad++; if (!firstBad) firstBad = { i, len: got.length, want: want.length, isBinary }; }
    if (ok + bad < count) sendNext();
    else ws.close(Number(opts.close), 'bye');
  });
  ws.on('close', (code, reason) => fin({ ok, bad, sent, close: code, reason: String(reason),
                                         protocol: ws.protocol || '', extensions: ws.extensions || '',
                                         headers, firstBad, ms: Date.now() - t0 }));
  ws.on('error', (e) => fin({ ok, bad, sent, error: String(e.message || e), headers }));
  return waitHeaders ? null : start;
}

function finish(res) {
  console.log(JSON.stringify(res));
  process.exit(res.error || res.bad ? 1 : 0);
}

function extraHeaders() {
  const h = {};
  for (const kv of args('--header')) {
    const i = kv.indexOf(':');
    h[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1).trim();
  }
  return h;
}

function wsClient(url, opts) {
  const ca = arg('--ca');
  const proto = arg('--protocol');
  const ws = new WebSocket(url, proto ? proto.split(',') : undefined,
                           { ca: ca ? fs.readFileSync(ca) : undefined, perMessageDeflate: !!arg('--deflate'),
                             headers: extraHeaders(), maxPayload: MAX_MESSAGE });
  // adapt the ws API to runClient's
  const a = new EventEmitter();
  a.send = (b, binary) => ws.send(binary ? b : b.toString('latin1'), { binary });
  a.close = (c, r) => ws.close(c, r);
  ws.on('message', (d, bin) => a.emit('message', Buffer.isBuffer(d) ? d : Buffer.from(d), bin));
  ws.on('close', (c, r) => { a.protocol = ws.protocol; a.extensions = ws.extensions; a.emit('close', c, r); });
  ws.on('error', (e) => a.emit('error', e));
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => finish({ ok: 0, bad: 0, error: `status ${res.statusCode}`, status: res.statusCode, body }));
  });
  const start = runClient(a, opts, finish);
  ws.on('open', () => { a.protocol = ws.protocol; a.extensions = ws.extensions; if (start) start(); });
}

function h2WsClient(urlText, opts) {
  const url = new URL(urlText);
  const ca = arg('--ca');
  const session = http2.connect(url.origin, { ca: ca ? fs.readFileSync(ca) : undefined,
                                             servername: url.hostname === '127.0.0.1' ? 'localhost' : undefined });
  session.on('error', (e) => finish({ ok: 0, bad: 0, error: String(e.message) }));
  let started = false, gotResponse = false;
  session.on('remoteSettings', (s) => {
    if (started) return;
    started = true;
    if (!s.enableConnectProtocol) return finish({ ok: 0, bad: 0, error: 'no SETTINGS_ENABLE_CONNECT_PROTOCOL' });
    const hdrs = { ':method': 'CONNECT', ':protocol': 'websocket', ':path': url.pathname + url.search,
                   ':scheme': url.protocol === 'https:' ? 'https' : 'http', 'sec-websocket-version': '13',
                   ...extraHeaders() };
    const proto = arg('--protocol');
    if (proto) hdrs['sec-websocket-protocol'] = proto;
    if (arg('--deflate')) hdrs['sec-websocket-extensions'] = 'permessage-deflate; client_no_context_takeover; server_no_context_takeover';
    const stream = session.request(hdrs, { endStream: false });
    stream.on('error', (e) => finish({ ok: 0, bad: 0, error: 'stream: ' + String(e.message || e) }));
    stream.on('close', () => { if (!stream.sentHeaders || !gotResponse) finish({ ok: 0, bad: 0, error: `stream closed before a response (rst code ${stream.rstCode})` }); });
    session.on('goaway', (code) => { if (!gotResponse) finish({ ok: 0, bad: 0, error: `GOAWAY ${code} before a response` }); });
    session.on('close', () => { if (!gotResponse) finish({ ok: 0, bad: 0, error: 'session closed before a response' }); });
    stream.on('response', (h) => {
      gotResponse = true;
      const st = Number(h[':status']);
      if (st < 200 || st > 299) {
        let body = '';
        stream.on('data', (d) => { body += d; });
        stream.on('end', () => finish({ ok: 0, bad: 0, error: `status ${st}`, status: st, body,
                                        contentLength: h['content-length'] }));
        return;
      }
      const ext = h['sec-websocket-extensions'] || '';
      const deflate = /permessage-deflate/.test(ext);
      if (deflate && !/server_no_context_takeover/.test(ext))
        return finish({ ok: 0, bad: 0, error: 'server kept its deflate context: ' + ext });
      const ws = new Framer(stream, false, deflate);
      ws.protocol = h['sec-websocket-protocol'] || '';
      ws.extensions = ext;
      ws.contentLength = h['content-length'];
      const start = runClient(ws, opts, (r) => {
        r.status = st;
        if (ws.contentLength !== undefined) r.contentLength = ws.contentLength;
        // let the last frames and END_STREAM leave before exiting
        const t = setTimeout(() => finish(r), 1000);
        session.close(() => { clearTimeout(t); finish(r); });
      });
      if (start) start();
    });
  });
}

// cdp-wait USER_DATA_DIR EXPR TIMEOUT_MS: attaches to the page of a Chromium
// started with --remote-debugging-port=0 --user-data-dir=USER_DATA_DIR and
// evaluates EXPR every 200 ms until it yields a non-empty string; prints it.
async function cdpWait(dir, expr, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const fail = (why) => { console.log(JSON.stringify({ error: why })); process.exit(1); };
  let port = null, page = null;
  while (!page) {
    if (Date.now() > deadline) fail('no DevTools page target');
    try {
      if (!port) port = fs.readFileSync(`${dir}/DevToolsActivePort`, 'utf8').split('\n')[0];
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      page = list.find((t) => t.type === 'page' && t.webSocketDebuggerUrl);
    } catch (e) { /* not up yet */ }
    if (!page) await sleep(100);
  }
  const ws = new WebSocket(page.webSocketDebuggerUrl, { perMessageDeflate: false, maxPayload: MAX_MESSAGE });
  await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
  let id = 0;
  const pending = new Map();
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
  });
  const call = (method, params) => new Promise((res) => { const i = ++id; pending.set(i, res); ws.send(JSON.stringify({ id: i, method, params })); });
  for (;;) {
    if (Date.now() > deadline) {
      const r = await call('Runtime.evaluate', { expression: 'document.documentElement.outerHTML', returnByValue: true });
      fail('timeout; DOM: ' + String(r.result && r.result.result && r.result.result.value).slice(0, 2000));
    }
    const r = await call('Runtime.evaluate', { expression: expr, returnByValue: true });
    const v = r.result && r.result.result && r.result.result.value;
    if (typeof v === 'string' && v.length) { console.log(v); process.exit(0); }
    await sleep(200);
  }
}

const opts = { count: arg('--count', '10'), sizes: arg('--sizes', '1,100,70000'), close: arg('--close', '1000'),
               headersFirst: !!arg('--headers-first'), waitClose: !!arg('--wait-close') };
const mode = process.argv[2];
if (mode === 'ws-echo-server') wsEchoServer(Number(process.argv[3]), process.argv[4], process.argv[5]);
else if (mode === 'h2-ws-echo-server') h2WsEchoServer(Number(process.argv[3]), process.argv[4], process.argv[5]);
else if (mode === 'ws-client') wsClient(process.argv[3], opts);
else if (mode === 'h2-ws-client') h2WsClient(process.argv[3], opts);
else if (mode === 'cdp-wait') cdpWait(process.argv[3], process.argv[4], Number(process.argv[5] || 60000));
else {
  console.error('usage: see the header of peer.js');
  process.exit(2);
}
