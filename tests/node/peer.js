#!/usr/bin/env node
// peer.js: WebSocket test peers for h2bridge's integration tests, built on the
// ws package (RFC 6455) and node's http2 module (RFC 8441 extended CONNECT).
// Independent of h2bridge's code.  Modes:
//   ws-echo-server PORT            RFC 6455 echo server over HTTP/1.1
//   h2-ws-echo-server PORT [CERT KEY]  RFC 8441 echo server (h2c, or h2 over TLS)
//   ws-client URL [--count N] [--sizes a,b] [--close CODE] [--ca FILE]     RFC 6455 client
//   h2-ws-client URL [--count N] [--sizes a,b] [--close CODE] [--ca FILE]  RFC 8441 client
// Echo servers answer every message with the same message and echo close codes;
// clients send N messages cycling through sizes (text and binary alternating),
// check each echo in order, close with CODE and print one JSON line of results.
'use strict';
const http = require('http');
const http2 = require('http2');
const fs = require('fs');
const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

function echo(ws, req) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code, reason) => {
    if (process.env.PEER_LOG) console.error(`server: close ${code} ${reason}`);
  });
}

function wsEchoServer(port) {
  const server = http.createServer((req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('websocket only\n');
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: true,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) });
  wss.on('connection', (ws, req) => {
    if (req.url.startsWith('/headers')) ws.send(JSON.stringify(req.headers));
    echo(ws, req);
  });
  server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
}

// Wraps an HTTP/2 stream into a ws WebSocket (the stream is the "socket").
function wrapStream(stream, isServer) {
  const ws = new WebSocket(null, undefined, {});
  ws._isServer = isServer;
  stream.setNoDelay = () => {};
  stream.setKeepAlive = () => {};
  if (!stream.setTimeout) stream.setTimeout = () => {};
  ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 256 * 1024 * 1024, skipUTF8Validation: false });
  return ws;
}

function h2WsEchoServer(port, cert, key) {
  const settings = { enableConnectProtocol: true };
  const onStream = (stream, headers) => {
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404 });
      stream.end('not found\n');
      return;
    }
    const resp = { ':status': 200 };
    if (headers['sec-websocket-protocol'] && headers['sec-websocket-protocol'].includes('chat'))
      resp['sec-websocket-protocol'] = 'chat';
    stream.respond(resp);
    const ws = wrapStream(stream, true);
    if (headers[':path'].startsWith('/headers')) ws.send(JSON.stringify(headers));
    echo(ws);
  };
  const server = cert ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), settings })
                      : http2.createServer({ settings });
  server.on('stream', onStream);
  server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
}

function payload(i, size) {
  const b = crypto.createHash('sha256').update(`${i}`).digest();
  const out = Buffer.alloc(size);
  for (let k = 0; k < size; k++) out[k] = b[k % 32] % 94 + 33; // printable: valid UTF-8 text too
  return out;
}

function runClient(ws, opts, done) {
  const count = Number(opts.count), sizes = opts.sizes.split(',').map(Number);
  let sent = 0, ok = 0, bad = 0;
  const t0 = Date.now();
  const sendNext = () => {
    const size = sizes[sent % sizes.length];
    const binary = sent % 2 === 1;
    const p = payload(sent, size);
    ws.send(binary ? p : p.toString('latin1'), { binary });
    sent++;
  };
  ws.on('open', () => (count > 0 ? sendNext() : ws.close(Number(opts.close), 'bye')));
  ws.on('message', (data, isBinary) => {
    const i = ok + bad;
    const want = payload(i, sizes[i % sizes.length]);
    const got = Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (got.equals(want) && isBinary === (i % 2 === 1)) ok++; else bad++;
    if (ok + bad < count) sendNext();
    else ws.close(Number(opts.close), 'bye');
  });
  ws.on('close', (code, reason) => done({ ok, bad, close: code, reason: reason.toString(),
                                          protocol: ws.protocol, ms: Date.now() - t0 }));
  ws.on('error', (e) => done({ ok, bad, error: String(e.message || e) }));
}

function finish(res) {
  console.log(JSON.stringify(res));
  process.exit(res.error || res.bad ? 1 : 0);
}

const opts = { count: arg('--count', '10'), sizes: arg('--sizes', '1,100,70000'), close: arg('--close', '1000') };
const mode = process.argv[2];
if (mode === 'ws-echo-server') wsEchoServer(Number(process.argv[3]));
else if (mode === 'h2-ws-echo-server') h2WsEchoServer(Number(process.argv[3]), process.argv[4], process.argv[5]);
else if (mode === 'ws-client') {
  const ca = arg('--ca');
  const proto = arg('--protocol');
  const ws = new WebSocket(process.argv[3], proto ? [proto] : undefined,
                           { ca: ca ? fs.readFileSync(ca) : undefined, perMessageDeflate: !!arg('--deflate') });
  runClient(ws, opts, finish);
} else if (mode === 'h2-ws-client') {
  const url = new URL(process.argv[3]);
  const ca = arg('--ca');
  const session = http2.connect(url.origin, { ca: ca ? fs.readFileSync(ca) : undefined });
  session.on('error', (e) => finish({ ok: 0, bad: 0, error: String(e.message) }));
  session.on('remoteSettings', (s) => {
    if (!s.enableConnectProtocol) return finish({ ok: 0, bad: 0, error: 'no SETTINGS_ENABLE_CONNECT_PROTOCOL' });
    const hdrs = { ':method': 'CONNECT', ':protocol': 'websocket', ':path': url.pathname + url.search,
                   ':scheme': url.protocol === 'https:' ? 'https' : 'http', 'sec-websocket-version': '13' };
    const proto = arg('--protocol');
    if (proto) hdrs['sec-websocket-protocol'] = proto;
    const stream = session.request(hdrs, { endStream: false });
    stream.on('response', (h) => {
      if (h[':status'] !== 200) return finish({ ok: 0, bad: 0, error: `status ${h[':status']}` });
      const ws = wrapStream(stream, false);
      ws._protocol = h['sec-websocket-protocol'] || '';
      runClient(ws, opts, (r) => { session.close(); finish(r); });
      ws.emit('open');
    });
  });
} else {
  console.error('usage: see the header of peer.js');
  process.exit(2);
}
