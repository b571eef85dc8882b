#!/usr/bin/python3
"""demo-backend.py: the small HTTP/1.1 backend of the README demo.

Serves / (a page that shows which protocol each side spoke), /headers (the
request headers as JSON), /echo (echoes a POST body) and /ws (an RFC 6455
WebSocket echo whose first message describes the handshake it received).
Standard library only; the WebSocket framing here is the demo's own.
"""
import base64
import hashlib
import json
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

PAGE = """<!doctype html>
<meta charset="utf-8"><title>h2bridge demo</title>
<style>body{font:16px system-ui;margin:2em;max-width:50em} code{background:#eee;padding:0 .3em}
td{padding:.2em 1em .2em 0} .ok{color:#070} .bad{color:#a00}</style>
<h1>h2bridge demo</h1>
<p>This page came from an HTTP/1.1 backend through h2bridge. Below, what each side spoke,
from the <code>Via</code> header h2bridge adds (RFC 9110 §7.6.3) and from the WebSocket
handshake the backend received.</p>
<table>
<tr><td>Page: browser → h2bridge</td><td id=page>…</td></tr>
<tr><td>Page: h2bridge → backend</td><td>HTTP/1.1</td></tr>
<tr><td>WebSocket: browser → h2bridge</td><td id=wsin>…</td></tr>
<tr><td>WebSocket: h2bridge → backend</td><td id=wsout>…</td></tr>
<tr><td>Echo</td><td id=echo>…</td></tr>
</table>
<p><input id=msg value="hello through h2bridge"> <button id=send>send</button></p>
<pre id=log></pre>
<script>
const $ = (id) => document.getElementById(id);
const proto = (via) => via && via.split(',').pop().trim().startsWith('2 ')
  ? 'HTTP/2' : 'HTTP/1.1';
fetch('/headers').then(r => r.json()).then(h => {
  const via = h['Via'] || h['via'];  // field names are case-insensitive
  $('page').textContent = proto(via) + ' (Via: ' + via + ')';
});
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
let first = true;
ws.onmessage = (ev) => {
  if (first) {
    first = false;
    const hs = JSON.parse(ev.data);
    $('wsin').textContent = proto(hs.via) === 'HTTP/2'
      ? 'HTTP/2 extended CONNECT, :protocol websocket (RFC 8441)'
      : 'HTTP/1.1 Upgrade (RFC 6455)';
    $('wsout').textContent = hs.request_line + ' + Upgrade: ' + hs.upgrade + ' (RFC 6455)';
    ws.send('ping ' + Date.now());
    return;
  }
  $('echo').innerHTML = '<span class=ok>echoed</span>: ' + ev.data.replace(/</g, '&lt;');
  $('log').textContent += 'echo: ' + ev.data + '\\n';
};
ws.onclose = (ev) => { $('log').textContent += 'closed ' + ev.code + '\\n'; };
$('send').onclick = () => ws.send($('msg').value);
</script>
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "h2bridge-demo-backend"

    def _send(self, status, body, ctype="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/ws") and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path.startswith("/headers"):
            body = json.dumps(dict(self.headers.items()), indent=2).encode()
            return self._send(200, body, "application/json")
        self._send(200, PAGE.encode(), "text/html; charset=utf-8")

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        self._send(200, data, self.headers.get("Content-Type") or "application/octet-stream")

    # ---- RFC 6455 echo ----
    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        if self.headers.get("Sec-WebSocket-Version") != "13" or len(key) != 24:
            return self._send(400, b"bad websocket handshake\n")
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        hello = {"request_line": self.requestline, "upgrade": self.headers.get("Upgrade"),
                 "via": self.headers.get("Via")}
        self.ws_send(1, json.dumps(hello).encode())
        while True:
            frame = self.ws_recv()
            if frame is None:
                return
            opcode, data = frame
            if opcode == 8:  # close: echo the code
                self.ws_send(8, data[:2])
                return
            if opcode == 9:
                self.ws_send(10, data)
            elif opcode in (1, 2):
                self.ws_send(opcode, data)

    def ws_recv(self):
        hdr = self.rfile.read(2)
        if len(hdr) < 2:
            return None
        opcode, n = hdr[0] & 0x0F, hdr[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.rfile.read(8))[0]
        mask = self.rfile.read(4) if hdr[1] & 0x80 else b"\0\0\0\0"
        data = bytearray(self.rfile.read(n))
        for i in range(len(data)):
            data[i] ^= mask[i % 4]
        return opcode, bytes(data)

    def ws_send(self, opcode, data):
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.wfile.write(hdr + data)
        self.wfile.flush()

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-backend: " + (fmt % args) + "\n")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9001
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
