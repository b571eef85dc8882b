"""The README's demo: config/h2bridge.yaml with contrib/demo-backend.py works
with no editing (the certificate is generated on first run), its page comes
over HTTP/2 and its WebSocket crosses to RFC 6455 at the backend."""
import json
import shutil
import socket
import subprocess
import time

import pytest

from conftest import HERE, PY, Proc, curl, require_binary, wait_port
from ws_peers import require_node

ROOT = HERE.parent.parent


def port_free(p):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", p)) != 0


def test_default_config_demo(spawner, tmp_path):
    for p in (8443, 8080, 9001):
        if not port_free(p):
            pytest.fail("port %d (fixed by config/h2bridge.yaml) is taken by another process" % p)
    # A private copy, so the certificate generated on first run lands there.
    work = tmp_path / "demo"
    shutil.copytree(ROOT / "config", work / "config")
    shutil.copy(ROOT / "contrib" / "demo-backend.py", work / "demo-backend.py")
    be = Proc("demo-backend", [PY, str(work / "demo-backend.py"), "9001"], spawner.workdir)
    spawner.procs.append(be)
    assert wait_port("127.0.0.1", 9001, time.monotonic() + 10, be.p)
    hb = Proc("h2bridge-demo", [require_binary(), "-c", str(work / "config" / "h2bridge.yaml")], spawner.workdir)
    spawner.procs.append(hb)
    assert wait_port("127.0.0.1", 8443, time.monotonic() + 10, hb.p), hb.describe()
    # The socket listens before the TLS context is built: give it a moment.
    deadline = time.monotonic() + 10
    while not (work / "run" / "demo.pem").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (work / "run" / "demo.pem").exists(), "no certificate generated on first run\n" + hb.describe()

    r = subprocess.run(["curl", "-sk", "--http2", "https://127.0.0.1:8443/headers", "-w", "\n%{http_version}"],
                       capture_output=True, timeout=20)
    body, _, version = r.stdout.rpartition(b"\n")
    assert version == b"2", r
    headers = {k.lower(): v for k, v in json.loads(body).items()}
    assert headers["via"] == "2 h2bridge", headers
    page = subprocess.run(["curl", "-sk", "--http2", "https://127.0.0.1:8443/"], capture_output=True, timeout=20)
    assert b"h2bridge demo" in page.stdout and b"new WebSocket" in page.stdout

    node = require_node()
    script = """
const W = require('ws');
const w = new W('wss://127.0.0.1:8443/ws', { rejectUnauthorized: false });
const got = [];
w.on('message', (d) => { got.push(String(d)); if (got.length === 1) w.send('hi'); else w.close(4001); });
w.on('close', (code) => { console.log(JSON.stringify({ got, code })); process.exit(0); });
w.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
"""
    r = subprocess.run([node, "-e", script], capture_output=True, timeout=20, cwd=str(ROOT / "tests" / "node"))
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert "error" not in out, (out, hb.stderr()[-2000:])
    hello = json.loads(out["got"][0])
    assert hello["request_line"] == "GET /ws HTTP/1.1" and hello["upgrade"] == "websocket", hello
    assert out["got"][1] == "hi" and out["code"] == 4001, out
