"""Failure answers, request smuggling (THREATS §1b), slow clients (§1d), drain.

Every bad-input case is followed by a normal request on a new connection.
"""
import hashlib
import os
import signal
import socket
import ssl
import time

import pytest

import h2.settings

from conftest import (MiB, H1Reader, H2Client, backend_stats, curl, first_status, all_statuses,
                      h1_get, pattern_sha256, raw_h1, sha256)

RSS_LIMIT_MIB = int(os.environ.get("H2BRIDGE_RSS_LIMIT_MIB", "64"))


def still_serves(port):
    st, _, body = h1_get(port, "/to-h1/hello")
    assert (st, body) == (200, b"hello"), "a normal request after the bad input failed: %r" % ((st, body),)


# ---------------------------------------------------------------- upstream failures

@pytest.mark.parametrize("client", ["h1", "h2c", "h2-tls"])
def test_upstream_down_502(std_bridge, certs, client):
    r = curl(std_bridge.url(client, "/to-down/hello"), client, certs)
    assert r.rc == 0 and r.status == 502, r


def test_upstream_tls_untrusted_502(make_std_bridge, certs, backends):
    b = make_std_bridge(
        extra_upstreams=(f"  - {{ name: badca, address: 127.0.0.1:{backends.h2s.port}, protocol: h2, "
                         f"tls: {{ ca: {certs.other_cert}, sni: localhost }} }}\n"
                         f"  - {{ name: badsni, address: 127.0.0.1:{backends.h2s.port}, protocol: h2, "
                         f"tls: {{ ca: {certs.ca}, sni: wrong.test }} }}\n"),
        extra_routes=("  - match: { path: /badca }\n    to: { upstream: badca }\n"
                      "  - match: { path: /badsni }\n    to: { upstream: badsni }\n"))
    for path in ("/badca/hello", "/badsni/hello"):
        r = curl(b.url("h1", path), "h1", certs)
        assert r.rc == 0 and r.status == 502, (path, r)
    r = curl(b.url("h1", "/to-h2s/hello"), "h1", certs)
    assert r.status == 200 and r.body == b"hello"


@pytest.mark.parametrize("client", ["h1", "h2c"])
def test_upstream_silent_504(make_std_bridge, certs, client):
    b = make_std_bridge(defaults={"response_timeout": "1s"})
    t0 = time.monotonic()
    r = curl(b.url(client, "/to-h1/slow"), client, certs, timeout=15)
    took = time.monotonic() - t0
    assert r.rc == 0 and r.status == 504, r
    assert 0.8 <= took < 5, "504 after %.1f s with response_timeout 1s" % took
    r = curl(b.url(client, "/to-h2c/slow"), client, certs, timeout=15)
    assert r.rc == 0 and r.status == 504, r


@pytest.mark.parametrize("client", ["h1", "h2c", "h1-tls", "h2-tls"])
def test_no_route_404(std_bridge, certs, client):
    r = curl(std_bridge.url(client, "/nowhere/hello"), client, certs)
    assert r.rc == 0 and r.status == 404, r


@pytest.mark.parametrize("kind", ["clte", "badcl", "garbage", "badte", "nul", "fold"])
@pytest.mark.parametrize("client", ["h1", "h2c"])
def test_malformed_upstream_response_502(std_bridge, certs, client, kind):
    r = curl(std_bridge.url(client, "/to-h1/badresp?kind=" + kind), client, certs)
    if kind == "clte" and r.status == 200:
        # RFC 9112 §6.1 lets a recipient drop CL and use chunked: empty body.
        assert r.body == b"", r
    else:
        assert r.rc == 0 and r.status == 502, r
    still_serves(std_bridge.plain)


# ---------------------------------------------------------------- HTTP/1.1 smuggling

SMUGGLED = b"GET /to-h1/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
POST = b"POST /to-h1/sha256 HTTP/1.1\r\nHost: localhost\r\n"
EMPTY_SHA = sha256(b"").encode()
TE_BODY = b"0\r\n\r\n" + SMUGGLED

# (id, request bytes, accepted rejection statuses, mode)
#   strict: must be rejected; the backend must see nothing.
#   body:   must be rejected; the head may have been forwarded already, but the
#           backend must not see a complete request, nor the smuggled one.
#   sane:   an RFC-valid or RFC-optional reading: rejection (backend sees nothing)
#           or a correct single answer from which nothing is smuggled.
#   sane-body: like sane, but a rejection may come after the head was forwarded.
CASES = [
    ("cl-te", POST + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(TE_BODY) + TE_BODY,
     {400}, "sane"),
    ("te-cl", POST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" + TE_BODY, {400}, "sane"),
    ("te-xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n" + TE_BODY, {400, 501}, "strict"),
    ("te-chunked-identity", POST + b"Transfer-Encoding: chunked, identity\r\n\r\n" + TE_BODY,
     {400, 501}, "strict"),
    ("te-identity", POST + b"Transfer-Encoding: identity\r\n\r\n" + TE_BODY, {400, 501}, "strict"),
    ("te-gzip-only", POST + b"Transfer-Encoding: gzip\r\n\r\n" + TE_BODY, {400, 501}, "strict"),
    ("te-unknown-then-chunked", POST + b"Transfer-Encoding: foo, chunked\r\n\r\n" + TE_BODY, {400, 501}, "strict"),
    ("te-vtab", POST + b"Transfer-Encoding: \x0bchunked\r\n\r\n" + TE_BODY, {400, 501}, "strict"),
    ("te-tab", POST + b"Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400, 501}, "sane"),
    ("te-space-before-colon", POST + b"Transfer-Encoding : chunked\r\n\r\n" + TE_BODY, {400}, "strict"),
    ("te-duplicate", POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + TE_BODY,
     {400, 501}, "strict"),
    ("te-http10", b"POST /to-h1/sha256 HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
     + TE_BODY, {400, 501}, "strict"),
    ("te-obs-fold", POST + b"X-A: 1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + TE_BODY, {400}, "strict"),
    ("cl-duplicate-differ", POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", {400}, "strict"),
    ("cl-list-differ", POST + b"Content-Length: 5, 6\r\n\r\nhello!", {400}, "strict"),
    ("cl-plus", POST + b"Content-Length: +5\r\n\r\nhello", {400}, "strict"),
    ("cl-hex", POST + b"Content-Length: 0x5\r\n\r\nhello", {400}, "strict"),
    ("cl-negative", POST + b"Content-Length: -1\r\n\r\nhello", {400}, "strict"),
    ("cl-two-numbers", POST + b"Content-Length: 5 5\r\n\r\nhello", {400}, "strict"),
    ("cl-too-large", POST + b"Content-Length: 99999999999999999999999\r\n\r\nhello", {400, 413}, "strict"),
    ("cl-trailing-space", POST + b"Content-Length: 5 \r\n\r\nhello", {400}, "sane"),
    ("obs-fold", POST + b"X-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello", {400}, "strict"),
    ("bare-cr-in-value", POST + b"X-Bad: a\rb\r\nContent-Length: 5\r\n\r\nhello", {400}, "strict"),
    ("nul-in-value", POST + b"X-Bad: a\x00b\r\nContent-Length: 5\r\n\r\nhello", {400}, "strict"),
    ("ctl-in-value", POST + b"X-Bad: a\x01b\r\nContent-Length: 5\r\n\r\nhello", {400}, "strict"),
    ("space-in-name", POST + b"X Bad: a\r\nContent-Length: 5\r\n\r\nhello", {400}, "strict"),
    ("no-colon", POST + b"X-Bad\r\nContent-Length: 5\r\n\r\nhello", {400}, "strict"),
    ("bare-lf", b"POST /to-h1/sha256 HTTP/1.1\nHost: localhost\nContent-Length: 5\n\nhello", {400}, "sane"),
    ("no-host", b"GET /to-h1/hello HTTP/1.1\r\n\r\n", {400}, "strict"),
    ("two-hosts", b"GET /to-h1/hello HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", {400}, "strict"),
    ("space-in-target", b"GET /to-h1/he llo HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, "strict"),
    ("bad-version-garbage", b"GET /to-h1/hello HTTP/1.1x\r\nHost: localhost\r\n\r\n", {400, 505}, "strict"),
    ("bad-version-3", b"GET /to-h1/hello HTTP/3.0\r\nHost: localhost\r\n\r\n", {505}, "strict"),
    ("head-too-large", b"GET /to-h1/hello HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (100 * 1024)
     + b"\r\n\r\n", {431}, "strict"),
    ("too-many-fields", b"GET /to-h1/hello HTTP/1.1\r\nHost: localhost\r\n"
     + b"".join(b"X-F%d: v\r\n" % i for i in range(300)) + b"\r\n", {400, 431}, "strict"),
    ("uri-too-long", b"GET /to-h1/" + b"a" * (100 * 1024) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
     {400, 414, 431}, "strict"),
    # body framing: detected only after the head
    ("chunk-size-overflow", POST + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
     {400}, "body"),
    ("chunk-size-garbage", POST + b"Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", {400}, "body"),
    ("chunk-size-0x", POST + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", {400}, "body"),
    ("chunk-ext-too-long", POST + b"Transfer-Encoding: chunked\r\n\r\n5;" + b"e" * 5000
     + b"\r\nhello\r\n0\r\n\r\n", {400}, "body"),
    ("chunk-missing-crlf", POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" + SMUGGLED,
     {400}, "body"),
    ("chunk-bare-lf-data", POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", {400}, "body"),
    ("trailer-forbidden", b"POST /to-h1/headers HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\nHost: evil.test\r\n\r\n",
     {400}, "sane-body"),
]


def sane_answer(case_id, raw):
    """The acceptable non-rejecting answer of a `sane` case, as an assertion."""
    statuses = all_statuses(raw)
    assert statuses == [200], "expected exactly one 200, got %r: %r" % (statuses, raw[:400])
    if case_id in ("cl-te", "te-cl"):
        # chunked wins (RFC 9112 §6.1): an empty body; the rest must not be a request
        assert EMPTY_SHA in raw, raw[:400]
    elif case_id == "trailer-forbidden":
        body = raw.split(b"\r\n\r\n", 1)[1]
        assert b'"content-length", "50"' not in body.lower() and b"evil.test" not in body, raw
    else:
        assert sha256(b"hello").encode() in raw, raw[:400]


@pytest.mark.parametrize("case_id,data,statuses,mode", CASES, ids=[c[0] for c in CASES])
def test_h1_smuggling(std_bridge, backends, case_id, data, statuses, mode):
    before = backend_stats(backends)
    raw, closed = raw_h1(std_bridge.plain, data, timeout=4)
    time.sleep(0.2)  # let anything that leaked reach the backend
    after = backend_stats(backends)
    new_paths = after["paths"][len(before["paths"]):]
    seen = after["seen"] - before["seen"]
    complete = after["complete"] - before["complete"]
    st = first_status(raw)
    print("%s: status %r, closed %r, backend saw %d, completed %d" % (case_id, st, closed, seen, complete))
    assert not any("smuggled" in p for p in new_paths), "smuggled request reached the backend: %r" % new_paths
    if mode.startswith("sane") and st == 200:
        sane_answer(case_id, raw)
        assert seen == 1 and complete == 1, (seen, complete, new_paths)
    else:
        # what reached the backend first: it matters more than the status
        if mode in ("body", "sane-body"):
            assert complete == 0 and seen <= 1, (seen, complete, new_paths)
        else:
            assert seen == 0, "backend saw %d request(s): %r" % (seen, new_paths)
        still_serves(std_bridge.plain)
        assert st in statuses, "expected %r, got %r: %r" % (statuses, st, raw[:300])
        assert len(all_statuses(raw)) == 1, raw[:600]
        assert closed, "connection left open after a rejected request"
    still_serves(std_bridge.plain)


# ---------------------------------------------------------------- HTTP/2 -> HTTP/1.1 downgrade

def h2_bad(port, headers=(), pseudo=None, body=None, path="/to-h1/sha256", method="POST"):
    c = H2Client(port, validate=False)
    try:
        sid = c.send_request(method, path, headers=headers, pseudo=pseudo, body=body)
        c.wait([sid], timeout=10)
        return c.responses[sid]
    finally:
        c.close()


H2_CASES = [
    # id, kwargs, mode
    ("cl-more-than-data", dict(headers=[("content-length", "10")], body=b"hello"), "body"),
    ("cl-less-than-data", dict(headers=[("content-length", "3")], body=b"hello"), "body"),
    ("transfer-encoding", dict(headers=[("transfer-encoding", "chunked")], body=b"0\r\n\r\n"), "strict"),
    ("connection", dict(headers=[("connection", "keep-alive")], body=b"hello"), "strict"),
    ("keep-alive", dict(headers=[("keep-alive", "5")], body=b"hello"), "strict"),
    ("crlf-in-value", dict(headers=[("x-a", "a\r\nx-smuggled: 1")], body=b"hello"), "strict"),
    ("lf-in-value", dict(headers=[("x-a", "a\nGET /to-h1/smuggled HTTP/1.1")], body=b"hello"), "strict"),
    ("nul-in-value", dict(headers=[("x-a", "a\x00b")], body=b"hello"), "strict"),
    ("uppercase-name", dict(headers=[("X-Upper", "a")], body=b"hello"), "strict"),
    ("space-in-name", dict(headers=[("x a", "a")], body=b"hello"), "strict"),
    ("te-gzip", dict(headers=[("te", "gzip")], body=b"hello"), "strict"),
    ("path-with-space", dict(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                                     (":path", "/to-h1/hello HTTP/1.1\r\nx: y")]), "strict"),
    ("path-space-only", dict(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                                     (":path", "/to-h1/he llo")]), "strict"),
    ("path-not-slash", dict(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                                    (":path", "to-h1/hello")]), "strict"),
    ("authority-host-differ", dict(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "a.test"),
                                           (":path", "/to-h1/hello")], headers=[("host", "b.test")]), "strict"),
    ("missing-path", dict(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "localhost")]),
     "strict"),
    ("method-with-space", dict(pseudo=[(":method", "GET /to-h1/smuggled"), (":scheme", "http"),
                                       (":authority", "localhost"), (":path", "/to-h1/hello")]), "strict"),
]


@pytest.mark.parametrize("case_id,kw,mode", H2_CASES, ids=[c[0] for c in H2_CASES])
def test_h2_to_h1_smuggling(std_bridge, backends, case_id, kw, mode):
    before = backend_stats(backends)
    r = h2_bad(std_bridge.plain, **kw)
    time.sleep(0.2)
    after = backend_stats(backends)
    new_paths = after["paths"][len(before["paths"]):]
    seen = after["seen"] - before["seen"]
    complete = after["complete"] - before["complete"]
    rejected = r.reset is not None or r.goaway is not None or (r.status is not None and 400 <= r.status < 500)
    assert rejected, "not rejected: status=%r reset=%r goaway=%r body=%r" % (r.status, r.reset, r.goaway,
                                                                             bytes(r.body)[:200])
    assert not any("smuggled" in p for p in new_paths), new_paths
    if mode == "body":
        assert complete == 0 and seen <= 1, (seen, complete, new_paths)
    else:
        assert seen == 0, "backend saw %d request(s): %r" % (seen, new_paths)
    # the backend connection must not be reused in a desynchronised state
    c = H2Client(std_bridge.plain)
    try:
        for _ in range(3):
            rr = c.request("POST", "/to-h1/sha256", body=b"abc")
            assert rr.status == 200 and bytes(rr.body) == sha256(b"abc").encode()
    finally:
        c.close()
    still_serves(std_bridge.plain)


# ---------------------------------------------------------------- slow reader (bounded memory)

BIG = 200 * MiB


def check_rss(bridge, samples):
    hwm = bridge.rss_kib("VmHWM")
    worst = max(samples + [0])
    print("h2bridge VmRSS while the client did not read: max %d KiB; VmHWM %d KiB" % (worst, hwm))
    assert worst < RSS_LIMIT_MIB * 1024, "VmRSS reached %d KiB (limit %d MiB)" % (worst, RSS_LIMIT_MIB)
    return hwm


def pause_and_sample(bridge, seconds=5.0):
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(bridge.rss_kib())
        time.sleep(0.25)
    return samples


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
def test_slow_reader_h1(make_std_bridge, upstream):
    b = make_std_bridge()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(60)
    s.connect(("127.0.0.1", b.plain))
    try:
        s.sendall(b"GET /to-%s/big?n=%d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  % (upstream.encode(), BIG))
        rd = H1Reader(s)
        status, headers = rd.head()
        assert status == 200
        samples = pause_and_sample(b.bridge)
        h = hashlib.sha256()
        n = [0]

        def sink(d):
            h.update(d)
            n[0] += len(d)
        rd.body(headers, sink)
    finally:
        s.close()
    check_rss(b.bridge, samples)
    assert n[0] == BIG
    assert h.hexdigest() == pattern_sha256(BIG)
    hwm = b.bridge.rss_kib("VmHWM")
    print("h2bridge VmHWM after the transfer: %d KiB" % hwm)
    assert hwm < RSS_LIMIT_MIB * 1024, "peak RSS (VmHWM) %d KiB over the whole transfer" % hwm


@pytest.mark.parametrize("upstream", ["h1", "h2c"])
def test_slow_reader_h2(make_std_bridge, upstream):
    b = make_std_bridge()
    c = H2Client(b.plain, timeout=60)
    try:
        c.c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        c.c.increment_flow_control_window(1 << 20)
        c.flush()
        h = hashlib.sha256()
        n = [0]

        def sink(d):
            h.update(d)
            n[0] += len(d)
        c.sink = sink
        sid = c.send_request("GET", "/to-%s/big?n=%d" % (upstream, BIG))
        deadline = time.monotonic() + 10
        while c.responses[sid].status is None and time.monotonic() < deadline:
            c.pump(0.2)
        assert c.responses[sid].status == 200, (c.responses[sid].reset, c.responses[sid].goaway)
        samples = pause_and_sample(b.bridge)      # not reading: windows and socket fill up
        c.wait([sid], timeout=120)
        r = c.responses[sid]
        assert r.ended and r.reset is None, (r.reset, r.goaway, n[0])
    finally:
        c.close()
    check_rss(b.bridge, samples)
    assert n[0] == BIG
    assert h.hexdigest() == pattern_sha256(BIG)
    hwm = b.bridge.rss_kib("VmHWM")
    print("h2bridge VmHWM after the transfer: %d KiB" % hwm)
    assert hwm < RSS_LIMIT_MIB * 1024, "peak RSS (VmHWM) %d KiB over the whole transfer" % hwm


# ---------------------------------------------------------------- SIGTERM drain

DRAIN_N = 48 * MiB


def test_sigterm_drains_h1_response(make_std_bridge):
    b = make_std_bridge()
    s = socket.create_connection(("127.0.0.1", b.plain), timeout=30)
    h = hashlib.sha256()
    n = [0]
    try:
        s.sendall(b"GET /to-h1/big?n=%d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % DRAIN_N)
        rd = H1Reader(s)
        status, headers = rd.head()
        assert status == 200
        b.bridge.signal(signal.SIGTERM)
        t_end = time.monotonic() + 2.0   # keep it streaming ~2 s after SIGTERM

        def sink(d):
            h.update(d)
            n[0] += len(d)
            if time.monotonic() < t_end:
                time.sleep(0.005)
        rd.body(headers, sink)
    finally:
        s.close()
    assert n[0] == DRAIN_N and h.hexdigest() == pattern_sha256(DRAIN_N)
    rc = b.bridge.wait(timeout=25)
    assert rc == 0, "exit status %r after drain\n%s" % (rc, b.bridge.stderr()[-3000:])


def test_sigterm_drains_h2_response(make_std_bridge):
    b = make_std_bridge()
    c = H2Client(b.plain, timeout=30)
    h = hashlib.sha256()
    n = [0]
    try:
        c.sink = lambda d: (h.update(d), n.__setitem__(0, n[0] + len(d)))
        sid = c.send_request("GET", "/to-h2c/big?n=%d" % DRAIN_N)
        while c.responses[sid].status is None and not c.closed:
            c.pump(0.2)
        b.bridge.signal(signal.SIGTERM)
        c.wait([sid], timeout=25)
        r = c.responses[sid]
        assert r.ended and r.reset is None, (r.reset, r.goaway, n[0])
    finally:
        c.close()
    assert n[0] == DRAIN_N and h.hexdigest() == pattern_sha256(DRAIN_N)
    rc = b.bridge.wait(timeout=25)
    assert rc == 0, "exit status %r after drain\n%s" % (rc, b.bridge.stderr()[-3000:])


def test_sigterm_exits_once_the_work_is_done(make_std_bridge):
    """SIGTERM with request A in flight on the h1 pool's only connection;
    request B, sent right after the signal (before the final GOAWAY), is
    still taken and needs a second upstream connection, dialed during the
    drain.  Once both are answered h2bridge exits at once -- a connection
    dialed while draining is not kept idle in the pool until drain_timeout
    (20 s here)."""
    b = make_std_bridge()
    c = H2Client(b.plain, timeout=30)
    try:
        a = c.send_request("GET", "/to-h1/sleep?ms=1500")
        time.sleep(0.4)
        b.bridge.signal(signal.SIGTERM)
        s2 = c.send_request("GET", "/to-h1/hello")
        c.wait([a, s2], timeout=10)
        ra, rb = c.responses[a], c.responses[s2]
        assert ra.ended and ra.status == 200 and bytes(ra.body) == b"slept", (ra.status, ra.reset, ra.body)
        assert rb.ended and rb.status == 200 and bytes(rb.body) == b"hello", (rb.status, rb.reset, rb.body)
    finally:
        c.close()
    t0 = time.monotonic()
    rc = b.bridge.wait(timeout=25)
    took = time.monotonic() - t0
    assert rc == 0, "exit status %r after drain\n%s" % (rc, b.bridge.stderr()[-3000:])
    assert took < 5, "h2bridge exited %.1f s after the last response (drain_timeout 20 s)\n%s" % (
        took, b.bridge.stderr()[-3000:])


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_error_response_survives_unread_request_bytes(make_std_bridge, certs, listener):
    """A bad request head followed by 256 KiB the client sends before it
    reads: h2bridge answers 400 and closes while those bytes are still
    arriving.  Closing with unread input would send a TCP reset that
    destroys the 400 before the client reads it; the lingering close
    (lingering_timeout, RFC 9112 §9.6) half-closes and discards the rest."""
    b = make_std_bridge()
    raw = socket.create_connection(("127.0.0.1", b.plain if listener == "plain" else b.tls), timeout=10)
    if listener == "tls":
        ctx = ssl.create_default_context(cafile=str(certs.ca))
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    else:
        s = raw
    bad = b"POST /to-h1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    try:
        s.sendall(bad + b"x" * (256 * 1024))
    except OSError as e:
        pytest.fail("h2bridge reset the connection while the client was still sending: %r" % e)
    time.sleep(0.5)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (OSError, ssl.SSLError) as e:
        pytest.fail("the connection was reset (%r) after %r: a reset can destroy the response unread" % (e, data[:200]))
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 400"), data[:300]
    assert b.bridge.alive()


# ---------------------------------------------------------------- slowloris

def wait_closed(s, timeout):
    """Seconds until the peer closed the socket (reading any 408), or None."""
    t0 = time.monotonic()
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return time.monotonic() - t0, data
            data += d
    except socket.timeout:
        return None, data
    except ConnectionResetError:
        return time.monotonic() - t0, data


def test_request_header_timeout_partial_head(make_std_bridge, backends):
    b = make_std_bridge(defaults={"request_header_timeout": "1s"})
    before = backend_stats(backends)["seen"]
    s = socket.create_connection(("127.0.0.1", b.plain), timeout=10)
    try:
        s.sendall(b"GET /to-h1/hello HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
        took, data = wait_closed(s, 6)
    finally:
        s.close()
    assert took is not None, "connection still open 6 s after half a head (request_header_timeout 1s)"
    assert took < 4, took
    assert data == b"" or first_status(data) == 408, data[:200]
    assert backend_stats(backends)["seen"] == before
    still_serves(b.plain)


def test_request_header_timeout_dripped_head(make_std_bridge, backends):
    """One header line every 0.3 s: the timeout is for the whole head, not per read."""
    b = make_std_bridge(defaults={"request_header_timeout": "1s"})
    before = backend_stats(backends)["seen"]
    s = socket.create_connection(("127.0.0.1", b.plain), timeout=10)
    t0 = time.monotonic()
    closed_at = None
    try:
        s.sendall(b"GET /to-h1/hello HTTP/1.1\r\nHost: localhost\r\n")
        for i in range(20):
            time.sleep(0.3)
            try:
                s.sendall(b"X-Drip-%d: x\r\n" % i)
            except OSError:
                closed_at = time.monotonic() - t0
                break
            s.settimeout(0.001)
            try:
                if s.recv(65536) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic() - t0
                break
    finally:
        s.close()
    assert closed_at is not None, "a head dripped for 6 s was never cut off"
    assert closed_at < 4, closed_at
    assert backend_stats(backends)["seen"] == before
    still_serves(b.plain)
