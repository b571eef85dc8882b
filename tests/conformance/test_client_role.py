"""RFC 9113 conformance of h2bridge's HTTP/2 CLIENT role (its h2c upstream
leg), case table in client_cases.py.

Targets (one h2bridge each, started once per session):
  h2bridge-nghttp2-client   upstream `engine: nghttp2`
  h2bridge-h2x-client       upstream `engine: h2x`

Each h2bridge has one cleartext listener routed to one h2c upstream: a raw
HTTP/2 server in this process (h2server.RawServer). Per case, an HTTP/1.1
request goes to the listener; the raw server takes the connection h2bridge
dials, exchanges SETTINGS, reads the request (unless the case breaks the
preface) and misbehaves. The outcome is the pair (what h2bridge sent
upstream: GOAWAY/RST_STREAM and their codes, close, or a PING answered;
what the downstream client got: status, complete or cut short), checked
against the case's expectation for the target. Then a second request must be
served with 200 by a well-behaved server on a new connection.

One OUTCOME line per case is printed (pytest -rA or -s).
"""
import importlib.util
import socket
import subprocess
import time
from pathlib import Path

import pytest

from client_cases import CASES
from h2raw import ACK, GOAWAY, PING, RST_STREAM, Outcome, ename
from h2server import Downstream, RawServer

# The integration suite's process helpers (free_port, require_binary), as
# conftest.py loads them; the spawner itself is conftest's conf_spawner.
_spec = importlib.util.spec_from_file_location(
    "h2b_integration_helpers_client",
    Path(__file__).resolve().parents[1] / "integration" / "conftest.py")
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)

CLIENT_TARGETS = ["h2bridge-nghttp2-client", "h2bridge-h2x-client"]
ENGINES = {"h2bridge-nghttp2-client": "nghttp2", "h2bridge-h2x-client": "h2x"}

CONFIG = """\
log: { level: info, access: stderr, format: json }
defaults: { response_timeout: 2s, connect_timeout: 2s }
listeners: [ { name: plain, listen: 127.0.0.1:%(port)d } ]
upstreams: [ { name: u, address: 127.0.0.1:%(raw)d, protocol: h2c, engine: %(engine)s, stream_window: 65535 } ]
routes: [ { to: { upstream: u } } ]
"""


class ClientTarget:
    def __init__(self, name, port, proc, srv):
        self.name, self.port, self.proc, self.srv = name, port, proc, srv
        self.unusable = None


_client_started = {}


def _start(name, spawner, workdir):
    srv = RawServer()
    port = it.free_port()
    cfg = CONFIG % {"port": port, "raw": srv.port, "engine": ENGINES[name]}
    path = workdir / ("client-%s-check.yaml" % ENGINES[name])
    path.write_text(cfg)
    r = subprocess.run([it.require_binary(), "-t", "-c", str(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    t = ClientTarget(name, port, None, srv)
    if r.returncode != 0 or "not implemented" in r.stdout:
        t.unusable = "h2bridge -t refuses the %s upstream config: %s" % (
            ENGINES[name], r.stdout.strip()[-300:])
        return t
    try:
        t.proc = spawner.h2bridge(cfg, name="client-%s.yaml" % ENGINES[name])
    except pytest.fail.Exception as e:
        t.unusable = "h2bridge with an %s upstream did not start: %s" % (ENGINES[name], str(e)[-300:])
    return t


@pytest.fixture(scope="session")
def client_targets(conf_spawner, conf_workdir):
    def get(name):
        if name not in _client_started:
            _client_started[name] = _start(name, conf_spawner, conf_workdir)
        return _client_started[name]
    yield get
    for t in _client_started.values():
        t.srv.stop()
    _client_started.clear()


@pytest.fixture(params=CLIENT_TARGETS)
def client_target(request, client_targets):
    t = client_targets(request.param)
    if t.unusable:
        pytest.xfail(t.unusable)
    if t.proc.poll() is not None:
        pytest.fail("%s has exited:\n%s" % (t.name, t.proc.describe()))
    return t


class X:
    """What run() gets besides the connection: the request's stream id."""

    def __init__(self):
        self.sid = None
        self.note = ""


def observe(sc, sid, down, case):
    """What h2bridge did upstream after the stimulus: Outcome kind goaway,
    rst (on |sid|), close, alive (our PING answered), quiet (no PING sent,
    nothing decisive) or timeout (PING unanswered)."""
    payload = b"observe!"
    if case.ping and not sc.closed:
        sc.send_ping(payload)
    deadline = time.monotonic() + case.timeout
    goaway = rst = None
    closed = acked = False
    grace = None
    while True:
        now = time.monotonic()
        end = deadline if grace is None else min(deadline, grace)
        if now >= end:
            break
        try:
            f = sc.read_frame(min(0.05, end - now))
        except socket.timeout:
            f = False
        except OSError:
            f = None
        if f is None:
            closed = True
            break
        if f:
            if f.type == GOAWAY:
                goaway = f if goaway is None or f.error_code != NO_ERROR_ else goaway
                if grace is None or grace > now + 0.3:
                    grace = now + 0.3
            elif f.type == RST_STREAM and (sid is None or f.sid == sid) and rst is None:
                rst = f
                grace = grace or now + 0.1
            elif f.type == PING and f.flags & ACK and f.payload == payload:
                acked = True
            elif f.type == PING and not f.flags & ACK:
                sc.send_frame(PING, ACK, 0, f.payload)
        if grace is None and down.done.is_set() and (acked or not case.ping):
            grace = now + 0.1
    if goaway is not None:
        return Outcome("goaway", code=goaway.error_code, frames=sc.frames)
    if rst is not None:
        return Outcome("rst", code=rst.error_code, sid=rst.sid, frames=sc.frames)
    if closed:
        return Outcome("close", frames=sc.frames)
    if acked:
        return Outcome("alive", frames=sc.frames)
    return Outcome("quiet" if not case.ping else "timeout", frames=sc.frames)


NO_ERROR_ = 0


def _fmt(o, d):
    up = o.kind
    if o.kind in ("goaway", "rst"):
        up += "(%s)" % ename(o.code)
    return "up=%-26s down=%s%s" % (up, d.status or "none",
                                   "" if d.complete or not d.status else " (cut short)")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_client_case(case, client_target, request):
    t = client_target
    srv = t.srv
    exp, why = case.expectation(t.name)
    if t.name in case.bug:
        # a known h2bridge bug: strict, so that its fix shows up as XPASS (a failure)
        request.node.add_marker(pytest.mark.xfail(reason="h2bridge bug: " + case.bug[t.name],
                                                  strict=True))
    srv.close_good()
    srv.expect_case_conn()
    path = "/case/%s" % case.id
    d = Downstream(t.port, path, timeout=case.timeout + 3.0, **case.down)
    d.start()
    sc = srv.take_case_conn(3.0)
    sc.timeout = case.timeout
    x = X()
    try:
        if case.start:
            x.sid = sc.start(settings=case.settings)
        case.run(sc, x)
        o = observe(sc, x.sid, d, case)
        d.join(case.timeout + 4.0)
        problem = case.check(sc, x) if case.check else None
    finally:
        try:
            sc.goaway_and_close(x.sid or 0, wait=0.3)
        except OSError:
            sc.close()
    retried = path in srv.good_requests
    line = "OUTCOME %-24s %-42s %s%s  expected %s%s" % (
        t.name, case.id, _fmt(o, d), " [retried]" if retried else "", exp,
        "" if why == "RFC" else "  [departure: %s]" % why)
    print(line)
    assert d.done.is_set(), "the downstream request is still waiting: %r" % d
    assert exp.matches(o, d), (
        "%s [%s] %s\n  expected (%s): %s\n  got: %s %r\n  upstream frames from h2bridge: %r%s"
        % (case.id, case.section, case.title, why, exp, _fmt(o, d), d, sc.frames[-12:],
           ("\n  note: " + x.note) if x.note else ""))
    assert problem is None, "%s [%s]: %s; frames %r" % (case.id, case.section, problem, sc.frames)

    # the next exchange is served (new connection, well-behaved server)
    d2 = Downstream(t.port, "/followup/%s" % case.id, timeout=4.0)
    d2.start()
    d2.join(6.0)
    srv.close_good()
    assert d2.status == 200 and d2.body == b"good\n", (
        "after %s, a second request was not served: %r (h2bridge alive: %s)"
        % (case.id, d2, t.proc.poll() is None))
