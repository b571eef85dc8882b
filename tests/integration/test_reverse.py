"""Reversed HTTP (potato rh2/rh1): h2bridge as gateway and as origin connector.

(a) h2bridge gateway + node potato_origin.js (independent origin);
(b) node potato_gateway.js (independent gateway) + h2bridge connector + backend_h1;
(c) h2bridge gateway + h2bridge connector + backends: bodies, WebSockets, load
    with a connector SIGKILL and restart, rh1, ALPN selection, idle dialers.
Peers and configs live in reverse_peers.py; the node peers in tests/peers/.
Every test fails (never skips) when h2bridge lacks the feature.
"""
import json
import os
import signal
import ssl
import socket
import subprocess
import threading
import time

import pytest

from conftest import (READY_DEADLINE, H2Client, MiB, curl, free_port, h1_get, pattern_sha256, require_tool,
                      sha256, wait_port)
from reverse_peers import (APP_ROUTES, AUTH_PATH, INADEQUATE_SECURITY, NOT_AUTHORIZED, challenge_ok,
                           connector_config, events, gateway_config, node_gateway, node_origin,
                           origin_yaml, parse_h2load, peer_log, sha256_hex, wait_for, write_secret)

HOST = "app.example.com"
# The HTTP/2 engine of both ends of rh2 connections (issue 5: every proxy test
# runs on h2x too): h2x is then the client on a connection it accepted and the
# server on one it dialed.
ENGINES = ["nghttp2", "h2x"]


# ---------------------------------------------------------------- helpers

def start_bridge(spawner, text, what, may_exit=False):
    """Spawns h2bridge; fails clearly when it rejects the config or exits
    (unless may_exit: a connector with on_auth_failure: exit)."""
    b = spawner.h2bridge(text, wait=False, name=what + ".yaml")
    b.expect_exit = may_exit
    deadline = time.monotonic() + READY_DEADLINE
    for host, port in b.ports:
        if not wait_port(host, port, deadline, b.p):
            pytest.fail("h2bridge (%s) did not start -- reversed HTTP (origins:/connectors:) missing or "
                        "config rejected?\n--- config ---\n%s\n%s" % (what, text, b.describe()))
    if not b.ports and not may_exit:
        time.sleep(0.4)
        if b.poll() is not None:
            pytest.fail("h2bridge (%s) exited at start -- connectors: missing or config rejected?\n"
                        "--- config ---\n%s\n%s" % (what, text, b.describe()))
    return b


def gateway(spawner, certs, origins, routes=APP_ROUTES, **kw):
    pub, gw = free_port(), free_port()
    b = start_bridge(spawner, gateway_config(certs, pub, gw, origins, routes, **kw), "gateway")
    b.pub, b.gw = pub, gw
    return b


def get(port, path, host=HOST, timeout=15):
    try:
        return h1_get(port, path, host=host, timeout=timeout)
    except (OSError, EOFError, ValueError) as e:
        return 0, [], ("%s: %s" % (type(e).__name__, e)).encode()


def concurrent_gets(port, path, n, timeout=20):
    """|n| GETs of |path| at once (a thread each); their (status, headers, body)."""
    results = []
    ths = [threading.Thread(target=lambda: results.append(get(port, path, timeout=timeout))) for _ in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(timeout + 10)
    return results


def hdr(headers, name):
    vals = [v for k, v in headers if k == name]
    return vals[-1] if vals else None


def diag(*procs):
    out = []
    for p in procs:
        if p is None:
            continue
        if hasattr(p, "access_log"):
            out.append(p.describe())
        else:
            out.append(peer_log(p))
    return "\n".join(out)


def host_args(host=HOST):
    return ["-H", "Host: " + host]


def access_entries(bridge, path_prefix):
    return [e for e in bridge.access_log() if str(e.get("path", "")).startswith(path_prefix)]


def wait_served(port, path="/hello", host=HOST, timeout=10, want=200):
    """Polls until a request through the gateway's plain listener gets |want|."""
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = get(port, path, host=host, timeout=5)
        if last[0] == want:
            return last
        time.sleep(0.1)
    return last


@pytest.fixture(scope="module")
def payload(workdir):
    p = workdir / "reverse-3mib.bin"
    data = os.urandom(3 * MiB)
    p.write_bytes(data)
    return p, sha256(data)


# ================================================================ (a) h2bridge gateway + node origin

def test_gateway_node_origin_rh2(spawner, certs, payload):
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok))
    o = node_origin(spawner, b.gw, certs, token=tok)
    tls_ev = events(o, "tls")
    assert tls_ev and tls_ev[0]["alpn"] == "rh2", "the gateway did not select rh2\n" + diag(b, o)
    auth = wait_for(lambda: events(o, "auth"), 5)
    assert auth, "h2bridge sent no authorization request on the rh2 connection\n" + diag(b, o)
    a = auth[0]
    assert a["path"] == AUTH_PATH and a["authority"] == HOST, a
    assert challenge_ok(a["challenge"]), "h2bridge-challenge is not base64 of 32 bytes: %r" % a

    r = curl("https://localhost:%d/hello" % b.gw, "h2-tls", certs, args=host_args())
    assert r.status == 200 and r.version == "2" and r.body.startswith(b"hello from origin"), (r, diag(b, o))
    r = curl("http://127.0.0.1:%d/hello" % b.pub, "h1", certs, args=host_args())
    assert r.status == 200 and r.body.startswith(b"hello from origin"), (r, diag(b, o))

    f, digest = payload
    r = curl("https://localhost:%d/sha256" % b.gw, "h2-tls", certs, args=host_args(), data_file=f)
    assert r.status == 200 and r.body.decode() == digest, (r, diag(b, o))
    r = curl("http://127.0.0.1:%d/echo" % b.pub, "h1", certs, args=host_args(), data_file=f)
    assert r.status == 200 and sha256(r.body) == digest, (r.status, len(r.body), diag(b, o))
    n = 5 * MiB + 123
    r = curl("https://localhost:%d/big?n=%d" % (b.gw, n), "h2-tls", certs, args=host_args())
    assert r.status == 200 and len(r.body) == n and sha256(r.body) == pattern_sha256(n), (r.status, len(r.body))

    reqs = events(o, "request")
    assert {e["path"].split("?")[0] for e in reqs} >= {"/hello", "/sha256", "/echo", "/big"}, reqs
    assert all(e["authority"].split(":")[0] == HOST for e in reqs), reqs
    log = wait_for(lambda: access_entries(b, "/hello"), 3)
    assert log, "no access-log line for /hello\n" + b.stderr()[-3000:]
    for e in log:
        assert e.get("proto_out") == "rh2" and e.get("upstream") == "app", e


def test_gateway_node_origin_rh1(spawner, certs, payload):
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok))
    o = node_origin(spawner, b.gw, certs, token=tok, alpn="rh1", connections=2)
    assert wait_for(lambda: len(events(o, "tls")) == 2, 5)
    assert all(e["alpn"] == "rh1" for e in events(o, "tls")), "gateway did not select rh1\n" + diag(b, o)
    assert wait_for(lambda: len(events(o, "auth")) == 2, 5), "no auth request on each rh1 connection\n" + diag(b, o)
    r = curl("https://localhost:%d/hello" % b.gw, "h2-tls", certs, args=host_args())
    assert r.status == 200 and r.body.startswith(b"hello from origin"), (r, diag(b, o))
    f, digest = payload
    r = curl("http://127.0.0.1:%d/sha256" % b.pub, "h1", certs, args=host_args(), data_file=f)
    assert r.status == 200 and r.body.decode() == digest, (r, diag(b, o))
    r = curl("https://localhost:%d/echo" % b.gw, "h2-tls", certs, args=host_args(), data_file=f)
    assert r.status == 200 and sha256(r.body) == digest, (r.status, len(r.body), diag(b, o))
    log = wait_for(lambda: access_entries(b, "/hello"), 3)
    assert log and all(e.get("proto_out") == "rh1" and e.get("upstream") == "app" for e in log), \
        (log, b.stderr()[-2000:])


def test_gateway_scope_routing(spawner, certs):
    """Scope = config grant intersected with the origin's announcement; routing
    by authority (case-insensitive) and path prefix; out-of-scope requests
    never reach an origin."""
    tok = "tok-" + os.urandom(8).hex()
    routes = ["{ match: { authority: %s }, to: { origin: app } }" % h
              for h in ("app.example.com", "b.example.com", "evil.example.com")]
    b = gateway(spawner, certs, origin_yaml(token=tok, authorities=("app.example.com", "b.example.com"),
                                            wait="1s"), routes=routes)
    o1 = node_origin(spawner, b.gw, certs, name="origin-app", token=tok,
                     authorities="app.example.com, evil.example.com")
    o2 = node_origin(spawner, b.gw, certs, name="origin-b", token=tok, authorities="b.example.com", paths="/api")
    assert wait_for(lambda: events(o1, "auth") and events(o2, "auth"), 5), diag(b, o1, o2)
    time.sleep(0.3)
    st, _, body = wait_served(b.pub, "/hello", host="app.example.com", timeout=5)
    assert st == 200 and b"conn" in body, (st, body, diag(b, o1, o2))
    st, _, body = get(b.pub, "/hello", host="APP.Example.COM")
    assert st == 200, ("authority match must be case-insensitive", st, body)
    st, _, body = get(b.pub, "/api/hello", host="b.example.com")
    assert st == 200, (st, body, diag(b, o1, o2))
    # b.example.com outside /api: o2 did not announce it, o1 does not serve b -> no origin
    t0 = time.monotonic()
    st, h, body = get(b.pub, "/other", host="b.example.com")
    assert st == 503 and hdr(h, "retry-after"), ("path outside h2bridge-paths must not be routed", st, h, body)
    assert time.monotonic() - t0 >= 0.8, "503 came before wait_for_origin elapsed"
    # evil.example.com: announced by o1 but not granted by the config
    st, h, body = get(b.pub, "/hello", host="evil.example.com")
    assert st == 503, ("authority not granted by the config must not be routed", st, body)
    r1, r2 = events(o1, "request"), events(o2, "request")
    assert r1 and all(e["authority"].split(":")[0].lower() == "app.example.com" for e in r1), r1
    assert r2 and all(e["authority"].split(":")[0] == "b.example.com" and e["path"].startswith("/api") for e in r2), r2


def test_gateway_pools_origins_of_one_authority(spawner, certs):
    """Two origin processes registering the same authority are pooled, not a
    conflict: concurrent requests reach both (fewest outstanding streams);
    when one goes away the other serves everything, with no 503."""
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="2s"))
    o1 = node_origin(spawner, b.gw, certs, name="origin-1", token=tok)
    o2 = node_origin(spawner, b.gw, certs, name="origin-2", token=tok)
    assert wait_for(lambda: events(o1, "auth") and events(o2, "auth"), 5), diag(b, o1, o2)
    assert wait_for(lambda: b.stderr().count("origin app authorized") >= 2, 5), diag(b, o1, o2)
    results = concurrent_gets(b.pub, "/big?n=2000000", 8, timeout=30)
    assert [r[0] for r in results] == [200] * 8 and all(len(r[2]) == 2000000 for r in results), (
        [(r[0], len(r[2])) for r in results], diag(b, o1, o2))
    n1, n2 = len(events(o1, "request")), len(events(o2, "request"))
    assert n1 + n2 == 8 and n1 and n2, ("both origins must share the load", n1, n2, diag(b, o1, o2))
    o1.p.kill()
    o1.p.wait(5)
    time.sleep(0.3)  # the gateway reads the dead origin's EOF
    for i in range(6):
        st, _, body = get(b.pub, "/hello")
        assert st == 200 and body.startswith(b"hello from origin"), (i, st, body, diag(b, o2))
    assert b.alive()


def test_gateway_no_origin_503_then_wait(spawner, certs):
    tok = "tok-" + os.urandom(8).hex()
    origins = origin_yaml(token=tok, wait="1s") + origin_yaml(name="late", token=tok,
                                                            authorities=("late.example.com",), wait="6s")
    routes = APP_ROUTES + ["{ match: { authority: late.example.com }, to: { origin: late } }"]
    b = gateway(spawner, certs, origins, routes=routes)
    t0 = time.monotonic()
    st, h, body = get(b.pub, "/hello")
    dt = time.monotonic() - t0
    assert st == 503 and hdr(h, "retry-after") is not None, (st, h, body, b.stderr()[-2000:])
    assert 0.8 <= dt < 5, "503 after %.2f s, wait_for_origin is 1s" % dt
    r = curl("https://localhost:%d/hello" % b.gw, "h2-tls", certs, args=host_args())
    assert r.status == 503 and r.header("retry-after") is not None, r
    # a request that is waiting is served by an origin that connects meanwhile
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("r", get(b.pub, "/hello", host="late.example.com")))
    th.start()
    time.sleep(0.7)
    o = node_origin(spawner, b.gw, certs, token=tok, authorities="late.example.com")
    th.join(15)
    assert res.get("r") and res["r"][0] == 200, (res, diag(b, o))


def _refusal_case(case, workdir):
    """-> (origin_yaml kwargs, node_origin kwargs)"""
    tok = "tok-" + os.urandom(8).hex()
    key = write_secret(workdir, "hmac-%s.key" % case, os.urandom(32))
    key2 = write_secret(workdir, "hmac2-%s.key" % case, os.urandom(32))
    return {
        "wrong-token": ({"token": tok}, {"token": "not-" + tok}),
        "no-token": ({"token": tok}, {}),
        "wrong-hmac": ({"hmac_file": key}, {"hmac_key": key2}),
        "hmac-ok-token-wrong": ({"hmac_file": key, "token": tok}, {"hmac_key": key, "token": tok + "x"}),
        "authority-not-granted": ({"token": tok}, {"token": tok, "authorities": "evil.example.com"}),
        "path-not-granted": ({"token": tok, "paths": ("/api",)}, {"token": tok, "paths": "/admin"}),
        "status-403": ({"token": tok}, {"token": tok, "auth_mode": "status403"}),
    }[case]


@pytest.mark.parametrize("case", ["wrong-token", "no-token", "wrong-hmac", "hmac-ok-token-wrong",
                                  "authority-not-granted", "path-not-granted", "status-403"])
def test_gateway_auth_refused(spawner, certs, workdir, case):
    ocfg, oargs = _refusal_case(case, workdir)
    ocfg.setdefault("paths", ("/",))
    b = gateway(spawner, certs, origin_yaml(wait="1s", **ocfg))
    o = node_origin(spawner, b.gw, certs, **oargs)
    ga = wait_for(lambda: events(o, "goaway"), 6)
    assert ga, "origin (%s) was not refused with GOAWAY\n%s" % (case, diag(b, o))
    assert ga[0]["code"] == INADEQUATE_SECURITY, ("GOAWAY code must be INADEQUATE_SECURITY (0xc)", ga)
    dbg = ga[0]["debug"]
    assert dbg.startswith(NOT_AUTHORIZED), ("GOAWAY debug data", dbg)
    reason = dbg[len(NOT_AUTHORIZED):].strip()
    assert reason, "GOAWAY debug data carries no reason: %r" % dbg
    assert wait_for(lambda: events(o, "close"), 5), "refused origin connection not closed\n" + diag(b, o)
    err = b.stderr()
    assert reason in err, \
        ("h2bridge's log lacks the refusal reason %r" % reason, err[-3000:])
    path = "/api/hello" if case == "path-not-granted" else "/hello"
    st, _, body = get(b.pub, path)
    assert st == 503, (st, body)
    assert not events(o, "request"), ("a refused origin received requests", events(o, "request"))
    assert b.alive()


def test_gateway_replayed_proof_refused(spawner, certs, workdir):
    key = write_secret(workdir, "hmac-replay.key", os.urandom(32))
    b = gateway(spawner, certs, origin_yaml(hmac_file=key, wait="1s"))
    o = node_origin(spawner, b.gw, certs, hmac_key=key, auth_mode="replay", connections=2)
    assert wait_for(lambda: len(events(o, "auth")) >= 2, 6), diag(b, o)
    ga = wait_for(lambda: events(o, "goaway"), 5)
    assert ga, "a replayed proof (earlier challenge) was accepted\n" + diag(b, o)
    assert all(g["conn"] == 2 for g in ga), ("only the replaying connection is refused", ga)
    assert ga[0]["code"] == INADEQUATE_SECURITY and ga[0]["debug"].startswith(NOT_AUTHORIZED), ga
    reason = ga[0]["debug"][len(NOT_AUTHORIZED):].strip()
    assert reason in b.stderr(), b.stderr()[-3000:]
    ch = [e["challenge"] for e in events(o, "auth")]
    assert len(set(ch)) == len(ch), ("challenges repeat across connections", ch)
    for _ in range(6):
        st, _, body = get(b.pub, "/hello")
        assert st == 200, (st, body, diag(b, o))
    reqs = events(o, "request")
    assert reqs and all(e["conn"] == 1 for e in reqs), reqs


def test_gateway_origin_never_answers_auth(spawner, certs):
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s"), defaults={"response_timeout": "2s"})
    o = node_origin(spawner, b.gw, certs, token=tok, auth_mode="silent")
    assert wait_for(lambda: events(o, "auth"), 5), diag(b, o)
    t0 = time.monotonic()
    closed = wait_for(lambda: events(o, "close") or events(o, "goaway"), 12)
    assert closed, "an origin that never answers the auth request was not disconnected\n" + diag(b, o)
    assert time.monotonic() - t0 < 10
    st, _, _ = get(b.pub, "/hello")
    assert st == 503 and not events(o, "request")


def test_gateway_garbage_origin(spawner, certs):
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s"))
    o = node_origin(spawner, b.gw, certs, token=tok, auth_mode="garbage")
    assert wait_for(lambda: events(o, "close"), 8), "garbage-speaking origin not disconnected\n" + diag(b, o)
    st, _, _ = get(b.pub, "/hello")
    assert st == 503 and b.alive()
    o2 = node_origin(spawner, b.gw, certs, name="origin-good", token=tok)
    st, _, body = wait_served(b.pub, timeout=5)
    assert st == 200, (st, body, diag(b, o2))


# THREATS.md 1e, rh2 role inversion: on an rh2 connection the gateway is the
# HTTP/2 client.  A raw origin (tests/integration/raw_origin.py) breaks the
# server's rules; each is a connection PROTOCOL_ERROR, the origin gets no
# request, the public side 503, and a good origin is served afterwards.
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", ["client-preface", "even-headers", "odd-headers", "push"])
def test_gateway_rh2_role_inversion(spawner, certs, mode, engine):
    from raw_origin import RawOrigin
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s"), engine=engine)
    o = RawOrigin(b.gw, certs.ca, mode, tok).start()
    try:
        assert o.wait_closed(8), ("the gateway kept an origin that broke the server's rules (%s)" % mode, diag(b))
        assert o.error is None, o.error
        assert o.goaway is not None and o.goaway[0] == 0x1, (
            "want GOAWAY PROTOCOL_ERROR for %s, got %r" % (mode, o.goaway), o.frames, o.io_error, diag(b))
        if mode == "push":
            assert o.gateway_settings.get(0x2) == 0, ("the gateway must send SETTINGS_ENABLE_PUSH 0",
                                                      o.gateway_settings)
        st, _, _ = get(b.pub, "/hello")
        assert st == 503 and not o.requests, (st, o.requests)
    finally:
        o.close()
    good = RawOrigin(b.gw, certs.ca, "serve", tok, hold=0).start()
    try:
        st, _, body = wait_served(b.pub, timeout=5)
        assert st == 200 and body == b"ok", (st, body, diag(b))
    finally:
        good.close()
    assert b.alive()


@pytest.mark.parametrize("engine", ENGINES)
def test_gateway_respects_origin_max_concurrent_streams(spawner, certs, engine):
    """An origin that advertises SETTINGS_MAX_CONCURRENT_STREAMS 2 never has
    more than 2 requests open at once, while 8 public requests wait for
    room (wait_for_origin) and all get their 200."""
    from raw_origin import RawOrigin
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="10s"), engine=engine)
    o = RawOrigin(b.gw, certs.ca, "serve", tok, max_streams=2, hold=0.4).start()
    try:
        assert wait_for(lambda: o.auth_seen, 5), diag(b)
        time.sleep(0.2)
        results = concurrent_gets(b.pub, "/hello", 8, timeout=20)
        assert [r[0] for r in results] == [200] * 8, ([r[0] for r in results], diag(b))
        assert len(o.requests) == 8, len(o.requests)
        assert o.max_open <= 2, "the origin had %d requests open at once (MAX_CONCURRENT_STREAMS 2)" % o.max_open
        assert o.max_open == 2, "the gateway never used both streams: the test proves nothing"
    finally:
        o.close()
    assert b.alive()


# ================================================================ (b) node gateway + h2bridge connector

@pytest.mark.parametrize("proto,mode", [("rh2", "token"), ("rh2", "hmac"), ("rh1", "token")])
def test_connector_node_gateway(spawner, certs, backends, workdir, payload, proto, mode):
    tok = "tok-" + os.urandom(8).hex()
    tokf = write_secret(workdir, "conn-token-%s.txt" % proto, (tok + "\n").encode())
    key = write_secret(workdir, "conn-hmac-%s.key" % proto, os.urandom(32))
    if mode == "token":
        g = node_gateway(spawner, certs, alpn=proto, token_sha256=sha256_hex(tok))
        cfg = connector_config(certs, [g.gw_port], backends.h1.port, protocol=proto, token_file=tokf)
    else:
        g = node_gateway(spawner, certs, alpn=proto, hmac_key=key)
        cfg = connector_config(certs, [g.gw_port], backends.h1.port, protocol=proto, hmac_key_file=key)
    c = start_bridge(spawner, cfg, "connector")
    ok = wait_for(lambda: len(events(g, "auth-ok")) >= 2, 8)
    assert ok, "h2bridge connector did not authorize on 2 connections\n" + diag(c, g)
    assert all(e["kind"] == proto for e in events(g, "auth-ok"))
    assert not events(g, "auth-fail"), events(g, "auth-fail")
    a = events(g, "auth-ok")[0]
    assert a["authorities"] == [HOST] and a["paths"] == ["/"], ("announced scope", a)
    st, _, body = get(g.pub_port, "/hello")
    assert st == 200 and body == b"hello", (st, body, diag(c, g))
    f, digest = payload
    r = curl("http://127.0.0.1:%d/sha256" % g.pub_port, "h1", certs, args=host_args(), data_file=f)
    assert r.status == 200 and r.body.decode() == digest, (r, diag(c, g))
    r = curl("http://127.0.0.1:%d/echo" % g.pub_port, "h1", certs, args=host_args(), data_file=f)
    assert r.status == 200 and sha256(r.body) == digest, (r.status, len(r.body), diag(c, g))
    n = 4 * MiB + 7
    st, _, body = get(g.pub_port, "/big?n=%d" % n)
    assert st == 200 and sha256(body) == pattern_sha256(n), (st, len(body))
    assert c.alive()


@pytest.mark.parametrize("policy", ["exit", "retry"])
def test_connector_auth_failure_policy(spawner, certs, backends, workdir, policy):
    tokf = write_secret(workdir, "conn-badtoken-%s.txt" % policy, b"wrong-token\n")
    g = node_gateway(spawner, certs, token_sha256=sha256_hex("right-token"))
    c = start_bridge(spawner, connector_config(certs, [g.gw_port], backends.h1.port, token_file=tokf,
                                               connections=1, on_auth_failure=policy), "connector",
                     may_exit=(policy == "exit"))
    assert wait_for(lambda: events(g, "auth-fail"), 6), diag(c, g)
    if policy == "exit":
        c.expect_exit = True
        try:
            rc = c.wait(8)
        except subprocess.TimeoutExpired:
            pytest.fail("on_auth_failure: exit, but the connector kept running\n" + diag(c, g))
        assert rc != 0, "connector exited 0 after an auth failure\n" + c.stderr()[-2000:]
    else:
        assert wait_for(lambda: len(events(g, "tls")) >= 3, 8), \
            "on_auth_failure: retry, but the connector did not redial\n" + diag(c, g)
        assert c.alive()
    assert not events(g, "forward")


@pytest.mark.parametrize("kind", ["alpn-none", "alpn-h2", "untrusted-cert"])
def test_connector_refuses_bad_gateway(spawner, certs, backends, workdir, kind):
    tokf = write_secret(workdir, "conn-tok-bad-%s.txt" % kind, b"tok\n")
    if kind == "untrusted-cert":   # a certificate for other.test, dialed as localhost
        g = node_gateway(spawner, certs, cert=certs.other_cert, key=certs.other_key,
                         token_sha256=sha256_hex("tok"))
    else:
        g = node_gateway(spawner, certs, alpn_mode=kind.split("-")[1], token_sha256=sha256_hex("tok"))
    c = start_bridge(spawner, connector_config(certs, [g.gw_port], backends.h1.port, token_file=tokf,
                                               connections=1), "connector")
    time.sleep(2.0)
    assert not events(g, "response"), \
        "the connector served a gateway it must refuse (%s)\n%s" % (kind, diag(c, g))
    assert not events(g, "auth-ok")
    err = c.stderr().lower()
    words = {"alpn-none": ("alpn", "rh2", "protocol"), "alpn-h2": ("alpn", "rh2", "protocol", "tls", "handshake"),
             "untrusted-cert": ("certificate", "verif", "tls", "handshake")}[kind]
    assert any(w in err for w in words), "no log line explaining the refusal (%s)\n%s" % (kind, c.stderr()[-2000:])
    assert c.alive()


# ================================================================ (c) h2bridge gateway + h2bridge connector

def chain(spawner, certs, backends, workdir, protocol="rh2", connections=2, ws_port=None, wait="2s",
          gw_defaults=None, mode="token", backoff="{ initial: 100ms, max: 1s }", engine="nghttp2"):
    """gateway -> {protocol} -> connector -> backends; |engine| is the HTTP/2
    engine of both ends of the rh2 connections (h2x: client role on the
    connection the gateway accepted, server role on the one the connector
    dialed)."""
    tok = "tok-" + os.urandom(8).hex()
    key = write_secret(workdir, "chain-%s.key" % os.urandom(4).hex(), os.urandom(32))
    tokf = write_secret(workdir, "chain-%s.txt" % os.urandom(4).hex(), (tok + "\n").encode())
    if mode == "token":
        oy, ck = origin_yaml(token=tok, wait=wait), {"token_file": tokf}
    else:
        oy, ck = origin_yaml(hmac_file=key, wait=wait), {"hmac_key_file": key}
    g = gateway(spawner, certs, oy, defaults=gw_defaults, engine=engine)
    ccfg = connector_config(certs, [g.gw], backends.h1.port, protocol=protocol, connections=connections,
                            ws_port=ws_port, backoff=backoff, engine=engine, **ck)
    c = start_bridge(spawner, ccfg, "connector")
    c.config_text = ccfg
    st, _, body = wait_served(g.pub, timeout=8)
    assert st == 200 and body == b"hello", ("chain gateway -> %s -> connector -> backend not serving" % protocol,
                                             st, body, diag(g, c))
    return g, c


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", ["token", "hmac"])
def test_chain_rh2_bodies(spawner, certs, backends, workdir, upload_file, mode, engine):
    g, c = chain(spawner, certs, backends, workdir, mode=mode, engine=engine)
    r = curl("https://localhost:%d/hello" % g.gw, "h2-tls", certs, args=host_args())
    assert r.status == 200 and r.body == b"hello" and r.version == "2", r
    f, digest = upload_file
    r = curl("https://localhost:%d/sha256" % g.gw, "h2-tls", certs, args=host_args(), data_file=f)
    assert r.status == 200 and r.body.decode() == digest, (r, diag(g, c))
    r = curl("http://127.0.0.1:%d/echo" % g.pub, "h1", certs, args=host_args(), data_file=f)
    assert r.status == 200 and sha256(r.body) == digest, (r.status, len(r.body), diag(g, c))
    assert r.header("x-req-sha256") in (None, digest)
    n = 10 * MiB
    r = curl("https://localhost:%d/big?n=%d" % (g.gw, n), "h2-tls", certs, args=host_args())
    assert r.status == 200 and sha256(r.body) == pattern_sha256(n), (r.status, len(r.body))
    log = wait_for(lambda: access_entries(g, "/sha256"), 3)
    assert log and all(e.get("proto_out") == "rh2" and e.get("upstream") == "app" for e in log), \
        (log, g.stderr()[-2000:])


EVENTS_N, EVENTS_MS = 6, 400


def event_arrivals(chunks, n):
    """chunks: [(seconds since the request, bytes)]; the arrival time of each
    "data: i" event, i = 0..n-1 (None where it never came)."""
    buf, seen, out = b"", 0, [None] * n
    for t, d in chunks:
        buf += d
        while seen < n and (b"data: %d\n\n" % seen) in buf:
            out[seen] = t
            seen += 1
    return out


@pytest.mark.parametrize("proto", ["rh2", "rh1"])
@pytest.mark.parametrize("client", ["h1", "h2"])
def test_chain_streams_events_as_they_come(spawner, certs, backends, workdir, proto, client):
    """Server-sent events (text/event-stream, one every 400 ms) through
    gateway -> {rh2, rh1} -> connector -> backend reach an h1 or h2 client
    one by one: no event is held back for the next one or for the end of
    the response (the stall users report with tunnels for SSE and streamed
    LLM output)."""
    g, c = chain(spawner, certs, backends, workdir, protocol=proto)
    path = "/events?n=%d&ms=%d" % (EVENTS_N, EVENTS_MS)
    chunks = []
    t0 = time.monotonic()
    if client == "h1":
        s = socket.create_connection(("127.0.0.1", g.pub), timeout=10)
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, HOST)).encode())
        while True:
            d = s.recv(65536)
            if not d:
                break
            chunks.append((time.monotonic() - t0, d))
            if b"\r\n0\r\n\r\n" in b"".join(x for _, x in chunks[-2:]):
                break
        s.close()
        head = b"".join(x for _, x in chunks).split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 200") and b"text/event-stream" in head, (head, diag(g, c))
    else:
        h = H2Client(g.gw, tls=True, ca=certs.ca, timeout=10)
        try:
            h.sink = lambda d: chunks.append((time.monotonic() - t0, d))
            sid = h.send_request("GET", path, authority=HOST)
            h.wait([sid], timeout=15)
            r = h.responses[sid]
            assert r.status == 200 and r.ended, (r.status, r.reset, diag(g, c))
            assert r.header("content-type") == "text/event-stream"
        finally:
            h.close()
    arrivals = event_arrivals(chunks, EVENTS_N)
    assert None not in arrivals, ("events missing", arrivals, chunks[-3:], diag(g, c))
    late = [(i, round(t - i * EVENTS_MS / 1000.0, 2)) for i, t in enumerate(arrivals)
            if t - i * EVENTS_MS / 1000.0 > 0.3]
    assert not late, ("events held back (event, seconds after it was due): %r; arrivals %r" % (late, arrivals),
                      diag(g, c))


@pytest.mark.parametrize("engine", ENGINES)
def test_chain_websocket(spawner, certs, backends, workdir, engine):
    from ws_peers import node_client, node_server
    ws = node_server(spawner, "ws-echo-server")
    g, c = chain(spawner, certs, backends, workdir, ws_port=ws.port, engine=engine)
    res = node_client("ws-client", "ws://127.0.0.1:%d/ws/chat" % g.pub, count=8, sizes=[1, 125, 126, 70000],
                      close=4001, headers=["Host: " + HOST])
    assert res.get("error") is None and res["ok"] == 8 and res["bad"] == 0, (res, diag(g, c, ws))
    assert res.get("close") == 4001, res


def _h2load(url, n, c, m, extra=(), timeout=90):
    exe = require_tool("h2load")
    return subprocess.Popen([exe, "-n", str(n), "-c", str(c), "-m", str(m), "-H", ":authority: " + HOST,
                             *extra, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_chain_load_kill_restart(spawner, certs, backends, workdir, engine):
    g, c = chain(spawner, certs, backends, workdir, connections=4, wait="3s", engine=engine)
    # warm-up: 1,000 concurrent-ish requests over 4 reversed connections
    p = _h2load("https://127.0.0.1:%d/hello" % g.gw, 1000, 4, 50)
    out, _ = p.communicate(timeout=60)
    s = parse_h2load(out)
    assert s.get("done") == 1000 and s.get("2xx") == 1000, ("1,000 requests over 4 rh2 connections", s, out[-1500:],
                                                            diag(g, c))
    # under load, SIGKILL the connector, restart it
    p = _h2load("https://127.0.0.1:%d/big?n=100000" % g.gw, 1000, 4, 50)
    assert wait_for(lambda: len(access_entries(g, "/big")) >= 100, 20), ("load did not start", diag(g, c))
    assert p.poll() is None, "h2load finished before the kill; make the load longer"
    c.expect_exit = True
    c.p.kill()
    c.p.wait(5)
    time.sleep(0.3)
    t_restart = time.monotonic()
    c2 = start_bridge(spawner, c.config_text, "connector")
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail("h2load hung after the connector was killed\n%s\n%s" % (out[-2000:], diag(g, c2)))
    s = parse_h2load(out)
    print("h2load after kill/restart:", s)
    got_status = sum(s.get(k, 0) for k in ("2xx", "3xx", "4xx", "5xx"))
    assert s.get("done") == 1000 and s.get("timeout", 0) == 0, ("requests hung or were lost", s, out[-1500:])
    # a response whose head the gateway already had when the origin died ends in
    # RST_STREAM (h2load: "errored"); the client may or may not have seen the head
    assert got_status + s.get("errored", 0) >= 1000, "every request must get a status or an explicit reset: %r\n%s\n--- gateway log (non-access) ---\n%s" % (
        s, out[-1500:], "\n".join(ln for ln in g.stderr().splitlines() if not ln.startswith("{"))[-4000:])
    assert s["2xx"] >= 100, s
    st, _, body = wait_served(g.pub, timeout=5)
    assert st == 200, ("service did not return after the connector restart", st, body, diag(g, c2))
    assert time.monotonic() - t_restart < 5
    assert g.alive()


@pytest.mark.parametrize("engine", ENGINES)
def test_rolling_restart_no_failed_requests(spawner, certs, backends, workdir, engine):
    """docs/reverse.md's rolling-restart recipe under load: two connector
    instances A and B; start C, wait for its connections to be authorized,
    SIGTERM A; start D, wait, SIGTERM B.  h2load runs through the gateway the
    whole time: zero failed, errored or timed-out requests, every one 2xx."""
    tok = "tok-" + os.urandom(8).hex()
    tokf = write_secret(workdir, "roll-%s.txt" % os.urandom(4).hex(), (tok + "\n").encode())
    g = gateway(spawner, certs, origin_yaml(token=tok, wait="3s"), engine=engine)
    ccfg = connector_config(certs, [g.gw], backends.h1.port, token_file=tokf, connections=2, engine=engine)

    def authorized():
        return g.stderr().count("origin app authorized")

    def start(n_before):
        c = start_bridge(spawner, ccfg, "connector")
        assert wait_for(lambda: authorized() >= n_before + 2, 10), ("new connector not authorized", diag(g, c))
        return c

    def stop(c):
        c.expect_exit = True
        c.p.send_signal(signal.SIGTERM)
        c.p.wait(15)

    a = start(0)
    b = start(2)
    st, _, _ = wait_served(g.pub, timeout=8)
    assert st == 200
    p = _h2load("https://127.0.0.1:%d/hello" % g.gw, 0, 4, 8, extra=("-D", "9"))
    time.sleep(1.5)
    c = start(authorized())
    stop(a)
    time.sleep(1)
    d = start(authorized())
    stop(b)
    out, _ = p.communicate(timeout=60)
    s = parse_h2load(out)
    print("h2load through the rolling restart:", s)
    assert s.get("done", 0) > 1000, ("too little load to mean anything", s, out[-1500:])
    assert s.get("failed") == 0 and s.get("errored") == 0 and s.get("timeout") == 0, (
        "requests failed during the rolling restart", s, out[-1500:], diag(g, c, d))
    assert s.get("2xx") == s.get("done"), ("a request got a non-2xx status during the rolling restart", s)
    assert g.alive() and c.alive() and d.alive()


@pytest.mark.parametrize("engine", ENGINES)
def test_gateway_drain_connector_dials_replacement(spawner, certs, backends, workdir, engine):
    """A gateway that drains (SIGTERM) tells its origins at once with a GOAWAY;
    the connector then dials the slot's replacement to the other gateway while
    the old connection finishes its request.  One connection, two gateways:
    a request through gateway B is served while a 4 s request through the
    draining gateway A is still in flight, and that one completes."""
    tok = "tok-" + os.urandom(8).hex()
    tokf = write_secret(workdir, "gwdrain-%s.txt" % os.urandom(4).hex(), (tok + "\n").encode())
    oy = origin_yaml(token=tok, wait="1s")
    a = gateway(spawner, certs, oy, defaults={"drain_timeout": "15s"}, engine=engine)
    b = gateway(spawner, certs, oy, engine=engine)
    # one slot; the first dial goes to the first gateway listed: A
    ccfg = connector_config(certs, [a.gw, b.gw], backends.h1.port, token_file=tokf, connections=1, engine=engine)
    c = start_bridge(spawner, ccfg, "connector")
    st, _, body = wait_served(a.pub, timeout=8)
    assert st == 200 and body == b"hello", ("chain through A not serving", st, body, diag(a, c))
    st, _, _ = get(b.pub, "/hello", timeout=5)
    assert st == 503, ("B has no origin yet: want 503 after wait_for_origin", st, diag(b, c))

    slow = {}

    def slow_request():
        slow["r"] = get(a.pub, "/sleep?ms=4000", timeout=20)
        slow["t"] = time.monotonic()

    th = threading.Thread(target=slow_request)
    th.start()

    def backend_has_it():
        st, _, body = get(backends.h1.port, "/stats", timeout=5)
        return st == 200 and any("sleep" in p for p in json.loads(body)["paths"])

    assert wait_for(backend_has_it, 5), ("the slow request did not reach the backend", diag(a, c))
    a.expect_exit = True
    t0 = time.monotonic()
    a.p.send_signal(signal.SIGTERM)
    st, _, body = wait_served(b.pub, timeout=3.5)
    t_b = time.monotonic()
    assert st == 200 and body == b"hello", ("no replacement connection to B while A drains", st, body,
                                            diag(a, b, c))
    assert t_b - t0 < 2.5, "B served %.1f s after A's SIGTERM: the replacement waited for A's close" % (t_b - t0)
    assert th.is_alive(), "the request through A ended before B was served: the test proves nothing"
    th.join(20)
    st, _, body = slow.get("r", (0, [], b"no answer"))
    assert st == 200 and body == b"slept", ("the in-flight request through the draining gateway", st, body,
                                            diag(a, c))
    assert "dialing a replacement" in c.stderr(), diag(c)
    assert a.p.wait(10) == 0, diag(a)
    assert c.alive() and b.alive()


@pytest.mark.parametrize("engine", ENGINES)
def test_frozen_origin_found_by_ping(spawner, certs, backends, workdir, engine):
    """An origin that stops answering (SIGSTOP: no FIN, no RST) is found by the
    gateway's PING within ping_interval + ping_timeout; requests then get 503
    after wait_for_origin instead of hanging until response_timeout; when it
    thaws it reconnects and serves again."""
    tok = "tok-" + os.urandom(8).hex()
    tokf = write_secret(workdir, "frozen-%s.txt" % os.urandom(4).hex(), (tok + "\n").encode())
    g = gateway(spawner, certs, origin_yaml(token=tok, wait="1s", ping_interval="1s", ping_timeout="1s"), engine=engine)
    ccfg = connector_config(certs, [g.gw], backends.h1.port, token_file=tokf, connections=1,
                            backoff="{ initial: 100ms, max: 300ms }", engine=engine)
    ccfg = ccfg.replace("  drain_timeout: 2s\n", "  drain_timeout: 2s\n  idle_timeout: 60s\n")
    c = start_bridge(spawner, ccfg, "connector")
    st, _, body = wait_served(g.pub, timeout=8)
    assert st == 200, ("chain not serving", st, body, diag(g, c))
    os.kill(c.p.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: "no PING answer" in g.stderr(), 6), ("the gateway did not notice the frozen origin",
                                                                     diag(g, c))
        found = time.monotonic() - t0
        assert found < 4.5, "found after %.1f s (ping_interval 1s + ping_timeout 1s)" % found
        t1 = time.monotonic()
        st, hdrs, _ = get(g.pub, "/hello", timeout=8)
        took = time.monotonic() - t1
        assert st == 503 and took < 3, ("a request with the only origin gone: want 503 after wait_for_origin 1s",
                                        st, took, diag(g, c))
    finally:
        os.kill(c.p.pid, signal.SIGCONT)
    st, _, body = wait_served(g.pub, timeout=8)
    assert st == 200 and body == b"hello", ("the thawed origin did not come back", st, body, diag(g, c))
    assert g.alive() and c.alive()


def test_chain_rh1(spawner, certs, backends, workdir, payload):
    g, c = chain(spawner, certs, backends, workdir, protocol="rh1", connections=4)
    r = curl("https://localhost:%d/hello" % g.gw, "h2-tls", certs, args=host_args())
    assert r.status == 200 and r.body == b"hello", r
    f, digest = payload
    r = curl("http://127.0.0.1:%d/sha256" % g.pub, "h1", certs, args=host_args(), data_file=f)
    assert r.status == 200 and r.body.decode() == digest, (r, diag(g, c))
    r = curl("https://localhost:%d/echo" % g.gw, "h2-tls", certs, args=host_args(), data_file=f)
    assert r.status == 200 and sha256(r.body) == digest, (r.status, len(r.body), diag(g, c))
    results = []
    ths = [threading.Thread(target=lambda: results.append(get(g.pub, "/big?n=300000")[0])) for _ in range(24)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    assert results.count(200) == 24, (results, diag(g, c))
    log = wait_for(lambda: access_entries(g, "/sha256"), 3)
    assert log and all(e.get("proto_out") == "rh1" and e.get("upstream") == "app" for e in log), log


def _s_client(port, alpn):
    exe = require_tool("openssl")
    r = subprocess.run([exe, "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
                        "-alpn", alpn], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=15)
    return r.returncode, r.stdout.decode(errors="replace")


def test_alpn_selection(spawner, certs):
    tok = "tok-" + os.urandom(8).hex()
    orig = free_port()
    extra = "  - { name: orig, listen: 127.0.0.1:%d, tls: { certificates: [gw], alpn: [rh2, rh1] } }\n" % orig
    b = gateway(spawner, certs, origin_yaml(token=tok), alpn="[h2, http/1.1]", extra_listeners=extra)
    rc, out = _s_client(b.gw, "rh2")
    assert "ALPN protocol: rh2" not in out, "rh2 selected on a listener without rh2\n" + out[-1500:]
    assert rc != 0 and ("no application protocol" in out or "alert number 120" in out), \
        "expected a no_application_protocol alert\n" + out[-1500:]
    rc, out = _s_client(orig, "h2")
    assert "ALPN protocol: h2" not in out, out[-1500:]
    assert rc != 0 and ("no application protocol" in out or "alert number 120" in out), out[-1500:]
    rc, out = _s_client(orig, "rh2")
    assert "ALPN protocol: rh2" in out, ("origin-only listener does not select rh2", out[-1500:])
    rc, out = _s_client(b.gw, "h2")
    assert "ALPN protocol: h2" in out, out[-1500:]
    assert b.alive()


def test_idle_dialers_bounded(spawner, certs):
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s"), alpn="[rh2, rh1]")
    time.sleep(0.3)
    base = b.rss_kib()
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    ctx.set_alpn_protocols(["rh2"])
    socks = []
    try:
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", b.gw), timeout=5)
            if i % 2 == 0:   # half complete TLS (rh2) and never answer; half never handshake
                s = ctx.wrap_socket(s, server_hostname="localhost")
            socks.append(s)
        time.sleep(1.0)
        assert b.alive(), b.describe()
        grown = b.rss_kib() - base
        assert grown < 64 * 1024, "200 idle dialers grew RSS by %d KiB" % grown
        st, _, _ = get(b.pub, "/hello")
        assert st == 503, "gateway unresponsive with 200 idle dialers (status %r)" % st
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
    o = node_origin(spawner, b.gw, certs, token=tok)
    st, _, body = wait_served(b.pub, timeout=5)
    assert st == 200, (st, body, diag(b, o))


# ================================================================ client certificates, RFC 8441 over rh2

@pytest.fixture(scope="module")
def client2(certs, workdir):
    """A second clientAuth certificate from the test CA (not the pinned one)."""
    d = workdir / "client2"
    d.mkdir(exist_ok=True)
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, stdout=subprocess.DEVNULL,  # noqa: E731
                                    stderr=subprocess.PIPE)
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "c2.key")
    run("req", "-new", "-key", "c2.key", "-subj", "/CN=second client", "-config", "/dev/null", "-out", "c2.csr")
    (d / "c2.ext").write_text("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                              "extendedKeyUsage = clientAuth\n")
    run("x509", "-req", "-in", "c2.csr", "-CA", str(certs.ca), "-CAkey", str(certs.dir / "ca.key"),
        "-CAcreateserial", "-CAserial", "c2.srl", "-sha256", "-days", "30", "-extfile", "c2.ext", "-out", "c2.pem")
    return d / "c2.pem", d / "c2.key"


def der_sha256(pem_path):
    der = ssl.PEM_cert_to_DER_cert(pem_path.read_text())
    return sha256(der)


def served_or_refused(b, o, served, what):
    """With |served|, waits until gateway |b| serves node origin |o|'s
    requests and returns True; else waits until |o| is refused (GOAWAY, close
    or a TLS error) and returns False."""
    if served:
        st, _, body = wait_served(b.pub, timeout=5)
        assert st == 200 and body.startswith(b"hello from origin"), (st, body, diag(b, o))
        return True
    refused = wait_for(lambda: events(o, "goaway") or events(o, "close") or events(o, "error"), 6)
    assert refused, "origin with %s was not refused\n%s" % (what, diag(b, o))
    return False


@pytest.mark.parametrize("who", ["pinned", "other-cert", "no-cert"])
def test_gateway_client_cert_pin(spawner, certs, client2, who):
    tok = "tok-" + os.urandom(8).hex()
    pin = der_sha256(certs.client_cert)
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s", extra_auth="client_cert_sha256: [%s]" % pin),
                alpn="[rh2, rh1]", listener_tls_extra=", client_ca: %s" % certs.ca)
    kw = {"pinned": {"cert": certs.client_cert, "key": certs.client_key},
          "other-cert": {"cert": client2[0], "key": client2[1]}, "no-cert": {}}[who]
    o = node_origin(spawner, b.gw, certs, token=tok, **kw)
    if served_or_refused(b, o, who == "pinned", who):
        return
    for g in events(o, "goaway"):
        assert g["code"] == INADEQUATE_SECURITY and g["debug"].startswith(NOT_AUTHORIZED), g
    st, _, _ = get(b.pub, "/hello")
    assert st == 503 and not events(o, "request"), (st, events(o, "request"))
    assert b.alive()


# THREATS.md 1e: the origin's client certificate against a CA -- no cert,
# self-signed, expired, another CA, wrong EKU (a serverAuth-only cert).
BAD_CLIENT_CERTS = {
    "no-cert": (None, "no client certificate"),
    "self-signed": ("client-self", "self-signed certificate"),
    "expired": ("client-expired", "certificate has expired"),
    "other-ca": ("client-rogue", "unable to get local issuer certificate"),
    "wrong-eku": ("server", "unsuitable certificate purpose"),
}


@pytest.mark.parametrize("case", ["valid"] + sorted(BAD_CLIENT_CERTS))
@pytest.mark.parametrize("where", ["origin-auth-ca", "listener-client-ca"])
def test_gateway_client_cert_ca(spawner, certs, case, where):
    """An origin's client certificate checked against a CA, by the origin's
    auth.ca (after the handshake: GOAWAY INADEQUATE_SECURITY naming OpenSSL's
    reason, which the gateway logs) or by the listener's client_ca (the TLS
    handshake fails).  Only a clientAuth certificate of that CA, valid now,
    is served; a refused origin receives no request and the public side gets
    503."""
    tok = "tok-" + os.urandom(8).hex()
    if where == "origin-auth-ca":
        b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s", extra_auth="ca: %s" % certs.ca),
                    alpn="[rh2, rh1]")
    else:
        b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s"), alpn="[rh2, rh1]",
                    listener_tls_extra=", client_ca: %s" % certs.ca)
    if case == "valid":
        kw, reason = {"cert": certs.client_cert, "key": certs.client_key}, None
    else:
        name, reason = BAD_CLIENT_CERTS[case]
        kw = {"cert": certs.dir / (name + ".pem"), "key": certs.dir / (name + ".key")} if name else {}
    o = node_origin(spawner, b.gw, certs, token=tok, **kw)
    if served_or_refused(b, o, case == "valid", case):
        return
    if where == "origin-auth-ca":
        ga = wait_for(lambda: events(o, "goaway"), 5)
        assert ga, ("no GOAWAY for %s" % case, diag(b, o))
        assert ga[0]["code"] == INADEQUATE_SECURITY and ga[0]["debug"].startswith(NOT_AUTHORIZED), ga
        assert reason in ga[0]["debug"], ("GOAWAY debug data must name the reason", reason, ga)
        assert reason in b.stderr(), ("the gateway's log lacks the reason %r" % reason, diag(b))
    else:
        # OpenSSL's words for a missing certificate differ at the handshake
        want = "peer did not return a certificate" if case == "no-cert" else reason
        assert wait_for(lambda: "certificate" in b.stderr() and want in b.stderr(), 5), (
            "the failed handshake is not logged with its reason %r" % want, diag(b, o))
    st, _, _ = get(b.pub, "/hello")
    assert st == 503 and not events(o, "request"), (st, events(o, "request"), diag(b, o))
    assert b.alive()


def _ws_frame(payload, opcode=0x1):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("engine", ENGINES)
def test_chain_websocket_h2_extended_connect(spawner, certs, backends, workdir, engine):
    """RFC 8441 on the public side -> rh2 -> connector -> RFC 6455 backend."""
    from conftest import H2Client, H2Response
    from ws_peers import node_server
    ws = node_server(spawner, "ws-echo-server")
    g, c = chain(spawner, certs, backends, workdir, ws_port=ws.port, engine=engine)
    cl = H2Client(g.gw, tls=True, ca=certs.ca, validate=False)
    try:
        deadline = time.monotonic() + 5
        while 8 not in cl.remote_settings and time.monotonic() < deadline and not cl.closed:
            cl.pump(0.1)
        assert cl.remote_settings.get(8) == 1, "gateway does not offer SETTINGS_ENABLE_CONNECT_PROTOCOL"
        sid = cl.c.get_next_available_stream_id()
        cl.c.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                                (":authority", HOST), (":path", "/ws/h2"), ("sec-websocket-version", "13")])
        cl.responses[sid] = r = H2Response()
        cl.flush()
        while r.status is None and r.reset is None and r.goaway is None and time.monotonic() < deadline + 5:
            cl.pump(0.1)
        assert r.status == 200, ("extended CONNECT through rh2", r.status, r.reset, diag(g, c))
        msg = b"through the reversed connection " * 10
        cl.c.send_data(sid, _ws_frame(msg))
        cl.flush()
        want = bytes([0x81, 126]) + len(msg).to_bytes(2, "big") + msg
        end = time.monotonic() + 5
        while len(r.body) < len(want) and time.monotonic() < end and r.reset is None:
            cl.pump(0.1)
        assert bytes(r.body[:len(want)]) == want, (bytes(r.body[:80]), r.reset, diag(g, c))
    finally:
        cl.close()


def test_gateway_replaces_stale_registration(spawner, certs):
    """A reconnect announcing the same h2bridge-origin-id replaces the earlier
    connection at once: new requests go to the new one only, and the old one is
    drained (its origin sees the connection end)."""
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok))
    old = node_origin(spawner, b.gw, certs, name="origin-old", token=tok, origin_id="inst-1")
    assert wait_for(lambda: "origin app authorized" in b.stderr(), 5), diag(b, old)
    new = node_origin(spawner, b.gw, certs, name="origin-new", token=tok, origin_id="inst-1")
    assert wait_for(lambda: "replaced by conn=" in b.stderr(), 5), "no replacement logged\n" + diag(b, new)
    for _ in range(6):
        r = curl("http://127.0.0.1:%d/hello" % b.pub, "h1", certs, args=host_args())
        assert r.status == 200, (r, diag(b, new))
    assert not [e for e in events(old, "request") if e["path"].startswith("/hello")], \
        "the stale connection still got requests\n" + diag(b, old)
    assert len([e for e in events(new, "request") if e["path"].startswith("/hello")]) == 6, diag(b, new)


def test_connector_rh1_pool_grows_while_busy(spawner, certs, backends, workdir):
    """rh1 carries one exchange per connection: with connections: 1 and
    max_connections: 4, the connector dials more while all are busy, so four
    slow requests at once are all served in parallel."""
    tok = "tok-" + os.urandom(8).hex()
    tokf = write_secret(workdir, "grow-%s.txt" % os.urandom(4).hex(), (tok + "\n").encode())
    g = gateway(spawner, certs, origin_yaml(token=tok, wait="5s"))
    ccfg = connector_config(certs, [g.gw], backends.h1.port, protocol="rh1", connections=1, token_file=tokf,
                            extra="    max_connections: 4\n")
    c = start_bridge(spawner, ccfg, "connector")
    st, _, body = wait_served(g.pub, timeout=8)
    assert st == 200, diag(g, c)
    results = []
    t0 = time.monotonic()
    ths = [threading.Thread(target=lambda: results.append(get(g.pub, "/big?n=4000000")[0])) for _ in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    assert results.count(200) == 4, (results, diag(g, c))
    assert "opening another" in c.stderr(), "the rh1 pool never grew\n" + diag(g, c)
    assert g.stderr().count("origin app authorized on rh1") >= 2, diag(g, c)


def test_ten_thousand_idle_dialers_bounded(spawner, certs):
    """10,000 dialers that never finish TLS: the gateway listener's
    max_connections (3000) bounds what h2bridge holds, handshake_timeout cuts
    them, the public side answers meanwhile, and a real origin registers
    afterwards."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 16000)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 12000:
        pytest.fail("the hard descriptor limit (%d) is too low for 10,000 dialers" % hard)
    tok = "tok-" + os.urandom(8).hex()
    b = gateway(spawner, certs, origin_yaml(token=tok, wait="1s"), alpn="[rh2, rh1]",
                defaults={"max_connections": 3000, "handshake_timeout": "2s"})
    time.sleep(0.3)
    base = b.rss_kib()
    socks = []
    try:
        for _ in range(10000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", b.gw))
            socks.append(s)
        time.sleep(1.0)
        assert b.alive(), b.describe()
        grown = b.rss_kib() - base
        assert grown < 96 * 1024, "10,000 idle dialers grew RSS by %d KiB" % grown
        st, _, _ = get(b.pub, "/hello")
        assert st == 503, "public side unresponsive under 10,000 dialers (status %r)" % st
        assert "the configured maximum" in b.stderr(), b.stderr()[-1500:]
    finally:
        for s in socks:
            s.close()
    o = node_origin(spawner, b.gw, certs, token=tok, wait_tls=False)
    st, _, body = wait_served(b.pub, timeout=10)
    assert st == 200, (st, body, diag(b, o))
