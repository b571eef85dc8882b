"""Proxying through h2bridge: every client protocol x every upstream protocol.

Clients: h1 (curl --http1.1, cleartext), h1-tls (curl --http1.1 over TLS),
h2c (curl --http2-prior-knowledge), h2-tls (curl --http2, ALPN h2), and nghttp.
Upstreams: h1 (backend_h1.py), h2c (backend_h2.py), h2s (backend_h2.py over
TLS, `protocol: h2` with `tls: { ca, sni }`), ng (nghttpd h2c, files).
"""
import json
import re
import socket
import subprocess

import pytest

from conftest import (MiB, H1Reader, H2Client, TRAILER_BODY, curl, pattern_sha256, require_tool,
                      sha256)

CLIENTS = ["h1", "h1-tls", "h2c", "h2-tls"]
UPSTREAMS = ["h1", "h2c", "h2s"]
WANT_VERSION = {"h1": "1.1", "h1-tls": "1.1", "h2c": "2", "h2-tls": "2"}


def check(r, status=200):
    assert r.rc == 0 and r.status == status, "curl failed: %r\n%s" % (r, r.header_text)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_get(std_bridge, certs, client, upstream):
    r = curl(std_bridge.url(client, "/to-%s/hello" % upstream), client, certs)
    check(r)
    assert r.version == WANT_VERSION[client]
    assert r.body == b"hello"


@pytest.mark.parametrize("client", CLIENTS)
def test_get_10mib_file_from_nghttpd(std_bridge, certs, docroot, client):
    want = sha256((docroot / "to-ng" / "random.bin").read_bytes())
    r = curl(std_bridge.url(client, "/to-ng/random.bin"), client, certs)
    check(r)
    assert len(r.body) == 10 * MiB
    assert sha256(r.body) == want
    r = curl(std_bridge.url(client, "/to-ng/small.txt"), client, certs)
    check(r)
    assert r.body == b"small file\n"


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_post_10mib_echo(std_bridge, certs, upload_file, client, upstream):
    """10 MiB streamed up and echoed back as it arrives: sha256 both ways."""
    path, want = upload_file
    r = curl(std_bridge.url(client, "/to-%s/echo" % upstream), client, certs, data_file=path)
    check(r)
    assert r.version == WANT_VERSION[client]
    assert len(r.body) == 10 * MiB, "echoed %d bytes of %d" % (len(r.body), 10 * MiB)
    assert sha256(r.body) == want
    trailer = r.header("x-req-sha256")
    if trailer is not None:  # presence is checked by the trailer tests
        assert trailer == want


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_post_10mib_sha256(std_bridge, certs, upload_file, client, upstream):
    path, want = upload_file
    r = curl(std_bridge.url(client, "/to-%s/sha256" % upstream), client, certs, data_file=path)
    check(r)
    assert r.body.decode() == want


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
@pytest.mark.parametrize("client", CLIENTS)
def test_get_big_streamed(std_bridge, certs, client, upstream):
    n = 32 * MiB + 12345
    r = curl(std_bridge.url(client, "/to-%s/big?n=%d" % (upstream, n)), client, certs)
    check(r)
    assert len(r.body) == n
    assert sha256(r.body) == pattern_sha256(n)


# ---------------------------------------------------------------- nghttp

@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_nghttp_get_and_post(std_bridge, upload_file, docroot, tls, workdir):
    exe = require_tool("nghttp")
    base = "%s://127.0.0.1:%d" % (("https", std_bridge.tls) if tls else ("http", std_bridge.plain))
    path, want = upload_file
    r = subprocess.run([exe, "-s", base + "/to-h1/hello"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"hello"), r.stdout[:300]
    r = subprocess.run([exe, base + "/to-ng/random.bin"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    assert sha256(r.stdout) == sha256((docroot / "to-ng" / "random.bin").read_bytes())
    for up in ("h1", "h2c"):
        r = subprocess.run([exe, "-d", str(path), base + "/to-%s/sha256" % up],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == want, (up, r.stdout[:200], r.stderr[-500:])


# ---------------------------------------------------------------- trailers

TRAILER_SUM = sha256(TRAILER_BODY)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_response_trailers_to_h2_client(std_bridge, certs, upstream, tls):
    c = H2Client(std_bridge.tls if tls else std_bridge.plain, tls=tls, ca=certs.ca)
    try:
        r = c.request("GET", "/to-%s/trailers" % upstream, headers=[("te", "trailers")])
    finally:
        c.close()
    assert r.status == 200 and r.ended, (r.status, r.reset, r.goaway)
    assert bytes(r.body) == TRAILER_BODY
    assert ("x-checksum", TRAILER_SUM) in r.trailers, r.trailers


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_response_trailers_to_h1_client(std_bridge, upstream):
    """h2 upstream trailers become chunked trailers for an h1 client that sent TE: trailers."""
    s = socket.create_connection(("127.0.0.1", std_bridge.plain), timeout=10)
    try:
        s.sendall(b"GET /to-%s/trailers HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\n"
                  b"Connection: close\r\n\r\n" % upstream.encode())
        rd = H1Reader(s)
        status, headers = rd.head()
        body = bytearray()
        trailers = rd.body(headers, body.extend)
    finally:
        s.close()
    assert status == 200
    assert bytes(body) == TRAILER_BODY
    assert ("x-checksum", TRAILER_SUM) in trailers, (headers, trailers)


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
def test_request_trailers_from_h2_client(std_bridge, upstream):
    c = H2Client(std_bridge.plain)
    try:
        r = c.request("POST", "/to-%s/headers" % upstream, body=b"x" * 1000,
                      headers=[("te", "trailers")], trailers=[("x-req-trailer", "abc")])
    finally:
        c.close()
    assert r.status == 200, (r.status, r.reset, r.goaway)
    seen = json.loads(bytes(r.body))
    assert seen["body_len"] == 1000
    assert ["x-req-trailer", "abc"] in [[k.lower(), v] for k, v in seen["trailers"]], seen


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
def test_request_trailers_from_h1_client(std_bridge, upstream):
    s = socket.create_connection(("127.0.0.1", std_bridge.plain), timeout=10)
    try:
        s.sendall(b"POST /to-%s/headers HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Req-Trailer: abc\r\n\r\n" % upstream.encode())
        rd = H1Reader(s)
        status, headers = rd.head()
        body = bytearray()
        rd.body(headers, body.extend)
    finally:
        s.close()
    assert status == 200, body
    seen = json.loads(bytes(body))
    assert seen["body_len"] == 5
    assert ["x-req-trailer", "abc"] in [[k.lower(), v] for k, v in seen["trailers"]], seen


# ---------------------------------------------------------------- concurrency

def run_h2load(url, n=1000, m=100, extra=()):
    exe = require_tool("h2load")
    r = subprocess.run([exe, "-n", str(n), "-c", "1", "-m", str(m), *extra, url],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    out = r.stdout
    assert r.returncode == 0, out
    m_ok = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                     r"(\d+) errored", out)
    m_st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    assert m_ok and m_st, out
    assert int(m_ok.group(4)) == n and int(m_st.group(1)) == n, out


@pytest.mark.parametrize("upstream", ["h1", "h2c", "h2s"])
def test_100_concurrent_streams_h2c(std_bridge, upstream):
    run_h2load("http://127.0.0.1:%d/to-%s/hello" % (std_bridge.plain, upstream))


def test_100_concurrent_streams_tls(std_bridge):
    run_h2load("https://127.0.0.1:%d/to-h1/hello" % std_bridge.tls)


def test_max_concurrent_streams_advertised(make_std_bridge):
    b = make_std_bridge(defaults={"max_streams": 37})
    c = H2Client(b.plain)
    try:
        r = c.request("GET", "/to-h1/hello")
        assert r.status == 200
        import h2.settings
        assert c.remote_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS) == 37, c.remote_settings
    finally:
        c.close()


# ---------------------------------------------------------------- header handling

HOP_REQUEST = (b"GET /to-%s/headers HTTP/1.1\r\n"
               b"Host: example.test:8080\r\n"
               b"Connection: keep-alive, X-Hop, Upgrade-Insecure\r\n"
               b"X-Hop: must-go\r\n"
               b"Upgrade-Insecure: must-go\r\n"
               b"Keep-Alive: timeout=5\r\n"
               b"Proxy-Connection: keep-alive\r\n"
               b"TE: trailers, deflate\r\n"
               b"X-End-To-End: stays\r\n"
               b"\r\n")

HOP_NAMES = {"x-hop", "upgrade-insecure", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


def check_forwarded_headers(fields, h2_upstream):
    names = [k.lower() for k, _ in fields]
    vals = {}
    for k, v in fields:
        vals.setdefault(k.lower(), []).append(v)
    assert not (HOP_NAMES & set(names)), "hop-by-hop fields forwarded: %r" % fields
    for v in vals.get("te", []):
        assert v.strip().lower() == "trailers", "te other than trailers forwarded: %r" % fields
    if h2_upstream:
        assert "connection" not in names, fields
    else:
        for v in vals.get("connection", []):
            assert set(t.strip().lower() for t in v.split(",")) <= {"keep-alive", "close"}, fields
    assert vals.get("x-end-to-end") == ["stays"], fields


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
def test_hop_by_hop_removed_and_host_kept_from_h1(std_bridge, upstream):
    s = socket.create_connection(("127.0.0.1", std_bridge.plain), timeout=10)
    try:
        s.sendall(HOP_REQUEST % upstream.encode())
        rd = H1Reader(s)
        status, headers = rd.head()
        body = bytearray()
        rd.body(headers, body.extend)
    finally:
        s.close()
    assert status == 200, body
    seen = json.loads(bytes(body))
    fields = seen["headers"]
    check_forwarded_headers([(k, v) for k, v in fields if not k.startswith(":")], upstream != "h1")
    if upstream == "h1":
        assert [v for k, v in fields if k.lower() == "host"] == ["example.test:8080"], fields
    else:
        assert dict(fields).get(":authority") == "example.test:8080", fields
        assert "host" not in [k.lower() for k, _ in fields] or \
            [v for k, v in fields if k.lower() == "host"] == ["example.test:8080"], fields


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
def test_authority_kept_from_h2(std_bridge, upstream):
    c = H2Client(std_bridge.plain)
    try:
        r = c.request("GET", "/to-%s/headers" % upstream, authority="example.test:8443",
                      headers=[("te", "trailers"), ("x-end-to-end", "stays")])
    finally:
        c.close()
    assert r.status == 200, (r.status, r.reset, r.goaway)
    fields = json.loads(bytes(r.body))["headers"]
    check_forwarded_headers([(k, v) for k, v in fields if not k.startswith(":")], upstream != "h1")
    if upstream == "h1":
        assert [v for k, v in fields if k.lower() == "host"] == ["example.test:8443"], fields
    else:
        assert dict(fields).get(":authority") == "example.test:8443", fields


# `x_forwarded_for: true` is a listener key (bridge/config.h hb_config_listener).
XFF_LISTENER_EXTRA = ", x_forwarded_for: true"


@pytest.mark.parametrize("client", ["h1", "h2c"])
def test_x_forwarded_for(make_std_bridge, certs, client):
    b = make_std_bridge(listener_extra=XFF_LISTENER_EXTRA)
    r = curl(b.url(client, "/to-h1/headers"), client, certs, args=["-H", "X-Forwarded-For: 192.0.2.7"])
    check(r)
    fields = json.loads(r.body)["headers"]
    xff = ",".join(v for k, v in fields if k.lower() == "x-forwarded-for")
    hops = [h.strip() for h in xff.split(",")]
    assert hops and hops[-1] == "127.0.0.1", fields
    assert hops[0] == "192.0.2.7", fields


def test_no_x_forwarded_for_by_default(std_bridge, certs):
    r = curl(std_bridge.url("h1", "/to-h1/headers"), "h1", certs)
    check(r)
    fields = json.loads(r.body)["headers"]
    assert "x-forwarded-for" not in [k.lower() for k, _ in fields], fields


# ---------------------------------------------------------------- access log

ACCESS_KEYS = {"time", "conn", "client", "listener", "route", "proto_in", "proto_out", "method",
               "authority", "path", "status", "bytes_in", "bytes_out", "duration_ms"}


def test_access_log_json(make_std_bridge, certs):
    b = make_std_bridge()
    check(curl(b.url("h2c", "/to-h1/hello?q=1"), "h2c", certs))
    check(curl(b.url("h1-tls", "/to-h2c/sha256"), "h1-tls", certs, args=["--data-binary", "abc"]))
    import time
    for _ in range(50):
        entries = [e for e in b.bridge.access_log() if "path" in e]
        if len(entries) >= 2:
            break
        time.sleep(0.1)
    assert len(entries) >= 2, b.bridge.stderr()
    for e in entries:
        assert ACCESS_KEYS <= set(e), "missing keys %r in %r" % (ACCESS_KEYS - set(e), e)
    e1 = [e for e in entries if str(e["path"]).startswith("/to-h1/hello")]
    e2 = [e for e in entries if e["path"] == "/to-h2c/sha256"]
    assert e1 and e2, entries
    assert e1[0]["status"] == 200 and e1[0]["method"] == "GET" and e1[0]["listener"] == "plain"
    assert e2[0]["status"] == 200 and e2[0]["method"] == "POST" and e2[0]["listener"] == "tls"
    assert e2[0]["bytes_in"] >= 3 and e2[0]["bytes_out"] >= 64, e2[0]
    assert "2" in str(e1[0]["proto_in"]) and "1" in str(e1[0]["proto_out"]), e1[0]
