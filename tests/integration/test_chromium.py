"""Headless Chromium through h2bridge: a page served over https (h2) opens
wss://127.0.0.1:PORT/ws, which Chromium carries over the same HTTP/2
connection as an RFC 8441 extended CONNECT; h2bridge translates it to RFC 6455
towards the node ws backend. 1,000 text and binary messages of 1 B to 1 MiB
are echoed and checked in the page, which then closes with 4001 and writes the
close code it got back into the DOM. Read through the DevTools protocol
(peer.js cdp-wait). Needs the Debian package `chromium` (+ chromium-common).
"""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import Proc, Spawner, free_port
from ws_peers import NODE_DIR, PEER_JS, node_server, require_node, wait_server_event, ws_config

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>h2bridge ws test</title></head>
<body><pre id="status">running</pre><pre id="result"></pre>
<script>
'use strict';
const N = 1000;
function size(i) {
  if (i % 100 === 99) return 1048576;                // 10 messages of 1 MiB
  return [1, 2, 125, 126, 127, 1000, 65535, 65536, 100000, 7][i % 10];
}
function payload(i, n) {                             // printable ASCII: valid UTF-8
  const a = new Uint8Array(n);
  let x = (2166136261 ^ i) >>> 0;
  for (let k = 0; k < n; k++) { x = (Math.imul(x, 16777619) + 0x9e3779b9) >>> 0; a[k] = 33 + (x >>> 24) % 94; }
  return a;
}
const dec = new TextDecoder();
const res = { ok: 0, bad: 0, firstBad: null, close: null, reason: null, wasClean: null, error: null, bytes: 0 };
const t0 = Date.now();
const ws = new WebSocket('wss://' + location.host + '/ws');
ws.binaryType = 'arraybuffer';
let i = 0;
function sendNext() {
  const p = payload(i, size(i));
  if (i % 2 === 0) ws.send(dec.decode(p)); else ws.send(p.buffer);
}
ws.onopen = () => sendNext();
ws.onmessage = (ev) => {
  const want = payload(i, size(i));
  let got, typeOk;
  if (typeof ev.data === 'string') { got = new TextEncoder().encode(ev.data); typeOk = i % 2 === 0; }
  else { got = new Uint8Array(ev.data); typeOk = i % 2 === 1; }
  let same = typeOk && got.length === want.length;
  for (let k = 0; same && k < got.length; k++) if (got[k] !== want[k]) same = false;
  if (same) res.ok++; else { res.bad++; if (!res.firstBad) res.firstBad = { i, len: got.length, want: want.length, typeOk }; }
  res.bytes += got.length;
  i++;
  if (i < N) sendNext(); else ws.close(4001, 'bye');
};
ws.onerror = () => { res.error = 'error event'; };
ws.onclose = (ev) => {
  res.close = ev.code; res.reason = ev.reason; res.wasClean = ev.wasClean; res.ms = Date.now() - t0; res.n = i;
  document.getElementById('result').textContent = JSON.stringify(res);
  document.getElementById('status').textContent = 'done';
};
</script></body></html>
"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    pytest.fail("chromium is not installed (Debian package: chromium)")


def test_chromium_websocket_over_h2(workdir, certs):
    chrome = find_chromium()
    node = require_node()
    sp = Spawner(workdir)
    try:
        page = Path(workdir) / "ws-page.html"
        page.write_text(PAGE)
        backend = node_server(sp, "ws-echo-server", env={"PEER_PAGE": str(page)})
        plain, tls = free_port(), free_port()
        ups = ["{ name: wsh1, address: 127.0.0.1:%d, protocol: http/1.1 }" % backend.port,
               "{ name: web, address: 127.0.0.1:%d, protocol: http/1.1 }" % backend.port]
        bridge = sp.h2bridge(ws_config(certs, plain, tls, ups, [("/ws", "websocket", "wsh1"), ("/", None, "web")]),
                             name="chromium.yaml")
        udd = Path(tempfile.mkdtemp(prefix="chromium-", dir=workdir))
        argv = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=%s" % udd, "--ignore-certificate-errors",
                "--remote-debugging-port=0", "https://127.0.0.1:%d/index.html" % tls]
        browser = Proc("chromium", argv, workdir)
        sp.procs.append(browser)
        r = subprocess.run([node, str(PEER_JS), "cdp-wait", str(udd),
                            "document.getElementById('status') && document.getElementById('status').textContent"
                            " === 'done' ? document.getElementById('result').textContent : ''", "90000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, cwd=str(NODE_DIR))
        out = r.stdout.decode(errors="replace").strip().splitlines()
        diag = "cdp-wait rc=%d out=%r err=%r\n--- chromium stderr ---\n%s\n--- h2bridge ---\n%s" % (
            r.returncode, out[-1:] if out else out, r.stderr[-1000:], browser.stderr()[-3000:],
            bridge.stderr()[-3000:])
        assert r.returncode == 0 and out, diag
        res = json.loads(out[-1])
        assert res.get("error") is None, diag
        assert res["ok"] == 1000 and res["bad"] == 0, diag
        assert res["close"] == 4001 and res["reason"] == "bye" and res["wasClean"], diag
        ev = wait_server_event(backend, "close", "/ws")
        assert ev is not None and ev["code"] == 4001, ev
        # the page came over h2, and the WebSocket as an RFC 8441 CONNECT on it
        log = bridge.access_log()
        pagelog = [a for a in log if a.get("path", "").startswith("/index.html")]
        assert pagelog and pagelog[0]["proto_in"] == "h2", log
        wslog = [a for a in log if a.get("path") == "/ws"]
        assert wslog, "no access-log line for /ws\n" + diag
        a = wslog[-1]
        assert a["proto_in"] == "h2" and a["method"] == "CONNECT" and a["protocol"] == "websocket", a
        assert a["proto_out"] == "http/1.1", a
        assert a["bytes_in"] > 10 * (1 << 20) and a["bytes_out"] > 10 * (1 << 20), a
    finally:
        sp.cleanup()
