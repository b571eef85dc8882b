"""The foundation's proxy and WebSocket tests with h2bridge's own HTTP/2 engine
(`engine: h2x`, issue 5) on every HTTP/2 leg: both listeners (h2c prior
knowledge and h2 over TLS) and the h2c/h2s/ng upstreams.  So each case runs
an h2 client -> h2x server leg and an h2x client -> h2 server leg (nghttp2's
backend_h2.py, nghttpd, node http2) through the same bridge.

The cases are test_proxy.py's and test_websocket.py's, imported unchanged;
only the fixtures that build the bridge are replaced here by ones whose
config says `engine: h2x`.  A few extra cases below name the brief's proof
explicitly (GET, 10 MiB POST sha256, trailers, 100 concurrent streams,
RFC 8441 WebSocket h2 -> h1) and check that the legs really ran on h2x.
"""
import re

import pytest

import test_proxy
import test_websocket
from conftest import H2Client, Spawner, StdBridge, curl, free_port, std_config
from test_proxy import *  # noqa: F401,F403  the cases, run here with h2x fixtures
from test_websocket import *  # noqa: F401,F403
from ws_peers import h2_client, h2_connect_ws, h2_pump_until, h2_send, node_server, ws_config

H2X = ", engine: h2x"


def h2x_config(text):
    """Puts `engine: h2x` on every listener and on every h2/h2c upstream of a
    config written in flow style (one mapping per line)."""
    outl = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("- {") and s.endswith("}") and "engine:" not in s:
            if " listen: " in s or re.search(r"protocol: h2c?\b", s):
                line = line[: line.rstrip().rfind("}")].rstrip() + H2X + " }"
        outl.append(line)
    return "\n".join(outl) + "\n"


def test_h2x_config_rewrite():
    t = h2x_config("listeners:\n  - { name: plain, listen: 127.0.0.1:1 }\n"
                   "upstreams:\n  - { name: a, address: x:1, protocol: http/1.1 }\n"
                   "  - { name: b, address: x:2, protocol: h2c }\n"
                   "  - { name: c, address: x:3, protocol: h2, tls: { ca: y, sni: z } }\n")
    assert t.count("engine: h2x") == 3 and "http/1.1 }" in t, t


# ---------------------------------------------------------------- fixtures (override conftest's)

@pytest.fixture(scope="module")
def _std_bridge_holder():
    return {}


@pytest.fixture
def std_bridge(_std_bridge_holder, module_spawner, certs, backends):
    h = _std_bridge_holder
    if "b" not in h or not h["b"].bridge.alive():
        plain, tls = free_port(), free_port()
        cfg = h2x_config(std_config(certs, backends, plain, tls))
        assert cfg.count("engine: h2x") == 5, cfg
        h["b"] = StdBridge(module_spawner.h2bridge(cfg), plain, tls)
    yield h["b"]
    b = h["b"].bridge
    if not b.alive():
        pytest.fail("h2bridge died during this test:\n" + b.describe(), pytrace=False)


@pytest.fixture
def make_std_bridge(spawner, certs, backends):
    def make(**kw):
        plain, tls = free_port(), free_port()
        b = spawner.h2bridge(h2x_config(std_config(certs, backends, plain, tls, **kw)))
        return StdBridge(b, plain, tls)
    return make


@pytest.fixture(scope="module")
def wsenv(workdir, certs):
    sp = Spawner(workdir)
    e = test_websocket.Env()
    e.sp = sp
    e.certs = certs
    e.h1 = node_server(sp, "ws-echo-server")
    e.h2c = node_server(sp, "h2-ws-echo-server")
    e.h2s = node_server(sp, "h2-ws-echo-server", certs.server_cert, certs.server_key)
    e.raw = test_websocket.RawWsBackend()
    e.plain, e.tls = free_port(), free_port()
    ups = [
        "{ name: wsh1, address: 127.0.0.1:%d, protocol: http/1.1 }" % e.h1.port,
        "{ name: wsh2c, address: 127.0.0.1:%d, protocol: h2c }" % e.h2c.port,
        "{ name: wsh2s, address: 127.0.0.1:%d, protocol: h2, tls: { ca: %s, sni: localhost } }"
        % (e.h2s.port, certs.ca),
        "{ name: raw, address: 127.0.0.1:%d, protocol: http/1.1 }" % e.raw.port,
        "{ name: web, address: 127.0.0.1:%d, protocol: http/1.1 }" % e.h1.port,
    ]
    routes = [("/h2s/", "websocket", "wsh2s"), ("/h2c/", "websocket", "wsh2c"),
              ("/raw/", "websocket", "raw"), ("/", "websocket", "wsh1"), ("/", None, "web")]
    e.config = h2x_config(ws_config(certs, e.plain, e.tls, ups, routes))
    assert e.config.count("engine: h2x") == 4, e.config
    e.bridge = sp.h2bridge(e.config)
    yield e
    e.raw.close()
    sp.cleanup()


# ---------------------------------------------------------------- the brief's proof, by name

def _check(r, status=200):
    assert r.rc == 0 and r.status == status, "curl failed: %r\n%s" % (r, r.header_text)


@pytest.mark.parametrize("upstream", ["h1", "h2c", "h2s"])
@pytest.mark.parametrize("client", ["h2c", "h2-tls"])
def test_h2x_get(std_bridge, certs, client, upstream):
    r = curl(std_bridge.url(client, "/to-%s/hello" % upstream), client, certs)
    _check(r)
    assert r.version == "2"
    log = std_bridge.bridge.access_log()
    assert any(e.get("path") == "/to-%s/hello" % upstream for e in log), log[-3:]


@pytest.mark.parametrize("upstream", ["h1", "h2c", "h2s"])
@pytest.mark.parametrize("client", ["h2c", "h2-tls"])
def test_h2x_post_10mib_sha256(std_bridge, certs, upload_file, client, upstream):
    path, want = upload_file
    r = curl(std_bridge.url(client, "/to-%s/sha256" % upstream), client, certs, data_file=path)
    _check(r)
    assert r.body.decode().strip() == want


@pytest.mark.parametrize("upstream", ["h2c", "h2s"])
def test_h2x_trailers_both_ways(std_bridge, upstream):
    c = H2Client(std_bridge.plain)
    try:
        r = c.request("GET", "/to-%s/trailers" % upstream, headers=[("te", "trailers")])
        assert r.status == 200 and r.trailers, (r.status, r.trailers)
    finally:
        c.close()


@pytest.mark.parametrize("upstream", ["h1", "h2c", "h2s"])
def test_h2x_100_concurrent_streams(std_bridge, upstream):
    test_proxy.run_h2load("http://127.0.0.1:%d/to-%s/hello" % (std_bridge.plain, upstream))


def test_h2x_websocket_h2_to_h1(env):
    """RFC 8441 extended CONNECT on the h2x listener, relayed to an RFC 6455
    HTTP/1.1 backend (the raw one): 32000 bytes up, its answer back."""
    c = h2_client(env.plain)
    try:
        assert c.remote_settings.get(8) == 1, c.remote_settings
        path = "/raw/" + test_websocket.uniq("h2x") + "/halfclose"
        sid, r = h2_connect_ws(c, path)
        assert r.status == 200, (r.status, r.headers, test_websocket.diag(env))
        h2_send(c, sid, b"b" * 16000)
        h2_send(c, sid, b"b" * 16000, end_stream=True)
        assert h2_pump_until(c, lambda: r.ended or r.reset is not None, 5), bytes(r.body)
        assert r.reset is None and bytes(r.body) == b"got 32000\n", (r.reset, bytes(r.body))
    finally:
        c.close()
