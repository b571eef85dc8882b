"""Fixtures and helpers for the h2bridge integration tests.

Every process is spawned on loopback with ports picked at run time, waited for
with a readiness probe (TCP connect, 10 s deadline) and killed at teardown
(SIGTERM, then SIGKILL after 5 s). The binary is $H2BRIDGE (default
<repo>/h2bridge). Helpers are imported by the tests with `from conftest import`.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
H2BRIDGE = os.environ.get("H2BRIDGE", str(REPO / "h2bridge"))
PY = "/usr/bin/python3"
READY_DEADLINE = 10.0
MiB = 1 << 20

sys.path.insert(0, str(HERE))
from backend_h1 import BLOCK, TRAILER_BODY, pattern  # noqa: E402,F401 (re-exported to tests)


# ---------------------------------------------------------------- utilities

def free_port():
    """A loopback port that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_tool(name):
    path = shutil.which(name) or (shutil.which(name, path="/usr/sbin:/sbin"))
    if not path:
        pytest.fail("required tool %r is not installed (the test cannot run without it)" % name)
    return path


def require_binary():
    if not (os.path.isfile(H2BRIDGE) and os.access(H2BRIDGE, os.X_OK)):
        pytest.fail("h2bridge binary not found at %s (build it, or set H2BRIDGE)" % H2BRIDGE)
    return H2BRIDGE


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pattern_sha256(n):
    h = hashlib.sha256()
    full, rest = divmod(n, len(BLOCK))
    big = BLOCK * 64
    k, r = divmod(full, 64)
    for _ in range(k):
        h.update(big)
    for _ in range(r):
        h.update(BLOCK)
    h.update(BLOCK[:rest])
    return h.hexdigest()


def wait_port(host, port, deadline, proc=None):
    """True once host:port accepts a TCP connection; False at the deadline or
    when |proc| has exited."""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (field, pid))


# ---------------------------------------------------------------- processes

class Proc:
    """A spawned process with its stderr (and stdout) captured to files."""

    def __init__(self, name, argv, workdir, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.stderr_path = Path(workdir) / ("%s.%d.stderr" % (name, id(self)))
        self.stdout_path = Path(workdir) / ("%s.%d.stdout" % (name, id(self)))
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                  stderr=self._err, cwd=cwd, env=env)
        self.pid = self.p.pid
        self.port = None

    def stderr(self):
        self._err.flush()
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stdout(self):
        self._out.flush()
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    def poll(self):
        return self.p.poll()

    def signal(self, sig):
        self.p.send_signal(sig)

    def wait(self, timeout):
        return self.p.wait(timeout=timeout)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        self._err.close()
        self._out.close()

    def describe(self):
        return "%s (pid %d, exit %r): %s\n--- stderr (tail) ---\n%s" % (
            self.name, self.pid, self.p.poll(), " ".join(map(str, self.argv)),
            self.stderr()[-6000:])


class Bridge(Proc):
    """A running h2bridge."""

    def __init__(self, argv, workdir, config_path, ports):
        super().__init__("h2bridge", argv, workdir)
        self.config_path = config_path
        self.ports = ports
        self.expect_exit = False

    def signal(self, sig):
        self.expect_exit = True
        super().signal(sig)

    def access_log(self):
        """Parsed JSON access-log lines from stderr."""
        out = []
        for line in self.stderr().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def rss_kib(self, field="VmRSS"):
        return rss_kib(self.pid, field)

    def alive(self):
        return self.p.poll() is None


class Spawner:
    """Spawns processes and kills every one of them at cleanup()."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.procs = []

    def cleanup(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every process
                pass
        self.procs = []

    def _ready_line(self, proc):
        """Waits for 'READY <port>' on a backend's stdout."""
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            m = re.search(r"READY (\d+)", proc.stdout())
            if m:
                port = int(m.group(1))
                if wait_port("127.0.0.1", port, deadline, proc.p):
                    return port
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail("backend did not become ready in %.0f s\n%s" % (READY_DEADLINE, proc.describe()))

    def backend_h1(self):
        p = Proc("backend_h1", [PY, str(HERE / "backend_h1.py"), "--port", "0"], self.workdir)
        self.procs.append(p)
        p.port = self._ready_line(p)
        return p

    def backend_h2(self, cert=None, key=None):
        argv = [PY, str(HERE / "backend_h2.py"), "--port", "0"]
        if cert:
            argv += ["--cert", str(cert), "--key", str(key)]
        p = Proc("backend_h2" + ("tls" if cert else "c"), argv, self.workdir)
        self.procs.append(p)
        p.port = self._ready_line(p)
        return p

    def nghttpd(self, docroot, cert=None, key=None):
        exe = require_tool("nghttpd")
        port = free_port()
        if cert:
            argv = [exe, "-d", str(docroot), str(port), str(key), str(cert)]
        else:
            argv = [exe, "--no-tls", "-d", str(docroot), str(port)]
        p = Proc("nghttpd", argv, self.workdir)
        self.procs.append(p)
        if not wait_port("127.0.0.1", port, time.monotonic() + READY_DEADLINE, p.p):
            pytest.fail("nghttpd did not become ready\n" + p.describe())
        p.port = port
        return p

    def h2bridge(self, config_text, wait=True, args=(), name="h2bridge.yaml"):
        exe = require_binary()
        cfg = self.workdir / name
        n = 0
        while cfg.exists():
            n += 1
            cfg = self.workdir / ("%d-%s" % (n, name))
        cfg.write_text(config_text)
        ports = listener_ports(config_text)
        b = Bridge([exe, *args, "-c", str(cfg)], self.workdir, cfg, ports)
        self.procs.append(b)
        if wait:
            deadline = time.monotonic() + READY_DEADLINE
            for host, port in ports:
                if not wait_port(host, port, deadline, b.p):
                    pytest.fail("h2bridge not ready on %s:%d within %.0f s\n--- config ---\n%s\n%s"
                                % (host, port, READY_DEADLINE, config_text, b.describe()))
        return b


def listener_ports(config_text):
    """(host, port) of every `listen:` in a config text."""
    out = []
    for m in re.finditer(r"\blisten:\s*[\"']?(\[[^\]]+\]|[^\s:,}\"']+):(\d+)", config_text):
        host = m.group(1).strip("[]")
        out.append((host, int(m.group(2))))
    return out


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="h2bridge-it-"))
    yield d
    if not os.environ.get("H2BRIDGE_KEEP_TMP"):
        shutil.rmtree(d, ignore_errors=True)


class Certs:
    def __init__(self, d):
        self.dir = Path(d)
        self.ca = self.dir / "ca.pem"
        self.server_cert = self.dir / "server.pem"
        self.server_key = self.dir / "server.key"
        self.client_cert = self.dir / "client.pem"
        self.client_key = self.dir / "client.key"
        self.other_cert = self.dir / "other.pem"
        self.other_key = self.dir / "other.key"


@pytest.fixture(scope="session")
def certs(workdir):
    require_tool("openssl")
    d = workdir / "certs"
    d.mkdir()
    script = REPO / "tests" / "data" / "gen-certs.sh"
    r = subprocess.run(["sh", str(script), str(d)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        pytest.fail("tests/data/gen-certs.sh failed:\n" + r.stdout)
    c = Certs(d)
    for f in (c.ca, c.server_cert, c.server_key):
        if not f.exists():
            pytest.fail("certificate generation did not produce %s" % f)
    return c


@pytest.fixture(scope="session")
def session_spawner(workdir):
    s = Spawner(workdir)
    yield s
    s.cleanup()


@pytest.fixture
def spawner(workdir):
    s = Spawner(workdir)
    yield s
    died = [p for p in s.procs if isinstance(p, Bridge) and not p.expect_exit and p.poll() is not None]
    msg = "\n".join(p.describe() for p in died)
    s.cleanup()
    if died:
        pytest.fail("h2bridge died during this test:\n" + msg, pytrace=False)


@pytest.fixture
def spawn_h2bridge(spawner):
    """spawn_h2bridge(config_text, wait=True, args=()) -> Bridge, killed at teardown."""
    return spawner.h2bridge


@pytest.fixture(scope="session")
def docroot(workdir):
    """nghttpd docroot: /to-ng/small.txt and /to-ng/random.bin (10 MiB)."""
    d = workdir / "docroot"
    (d / "to-ng").mkdir(parents=True)
    (d / "to-ng" / "small.txt").write_bytes(b"small file\n")
    (d / "to-ng" / "random.bin").write_bytes(os.urandom(10 * MiB))
    return d


@pytest.fixture(scope="session")
def backends(session_spawner, certs, docroot):
    """All backends, started once: .h1, .h2c, .h2s (TLS), .ng (nghttpd h2c), .down (port)."""
    class B:
        pass
    b = B()
    b.h1 = session_spawner.backend_h1()
    b.h2c = session_spawner.backend_h2()
    b.h2s = session_spawner.backend_h2(certs.server_cert, certs.server_key)
    b.ng = session_spawner.nghttpd(docroot)
    b.down = free_port()
    return b


@pytest.fixture(scope="session")
def upload_file(workdir):
    """10 MiB of random bytes on disk, with its sha256."""
    p = workdir / "upload.bin"
    data = os.urandom(10 * MiB)
    p.write_bytes(data)
    return p, sha256(data)


STD_DEFAULTS = {"response_timeout": "10s", "connect_timeout": "2s", "drain_timeout": "20s"}


def std_config(certs, backends, plain_port, tls_port, defaults=None, log_level="info",
               extra_upstreams="", extra_routes="", route_extra="", listener_extra=""):
    """The standard config: listeners `plain` and `tls`, upstreams h1, h2c, h2s,
    ng, down; routes by path prefix /to-<upstream> (no listener restriction).
    |defaults| overrides STD_DEFAULTS; |route_extra| is appended inside every
    route's `to:` mapping and |listener_extra| inside every listener's mapping
    (each starting with ", ")."""
    d = dict(STD_DEFAULTS)
    d.update(defaults or {})
    dtext = "".join("  %s: %s\n" % kv for kv in d.items())
    return f"""\
log: {{ level: {log_level}, access: stderr, format: json }}
defaults:
{dtext}certificates:
  - {{ name: demo, cert: {certs.server_cert}, key: {certs.server_key} }}
listeners:
  - {{ name: plain, listen: 127.0.0.1:{plain_port}{listener_extra} }}
  - {{ name: tls, listen: 127.0.0.1:{tls_port}, tls: {{ certificates: [demo], alpn: [h2, http/1.1] }}{listener_extra} }}
upstreams:
  - {{ name: h1, address: 127.0.0.1:{backends.h1.port}, protocol: http/1.1 }}
  - {{ name: h2c, address: 127.0.0.1:{backends.h2c.port}, protocol: h2c }}
  - {{ name: h2s, address: 127.0.0.1:{backends.h2s.port}, protocol: h2, tls: {{ ca: {certs.ca}, sni: localhost }} }}
  - {{ name: ng, address: 127.0.0.1:{backends.ng.port}, protocol: h2c }}
  - {{ name: down, address: 127.0.0.1:{backends.down}, protocol: http/1.1 }}
{extra_upstreams}
routes:
{extra_routes}
  - match: {{ path: /to-h1 }}
    to: {{ upstream: h1{route_extra} }}
  - match: {{ path: /to-h2c }}
    to: {{ upstream: h2c{route_extra} }}
  - match: {{ path: /to-h2s }}
    to: {{ upstream: h2s{route_extra} }}
  - match: {{ path: /to-ng }}
    to: {{ upstream: ng{route_extra} }}
  - match: {{ path: /to-down }}
    to: {{ upstream: down{route_extra} }}
"""


class StdBridge:
    def __init__(self, bridge, plain, tls):
        self.bridge = bridge
        self.plain = plain
        self.tls = tls

    def url(self, client, path):
        """URL for a client kind: h1, h2c (cleartext) or h1-tls, h2-tls."""
        if client.endswith("tls"):
            return "https://localhost:%d%s" % (self.tls, path)
        return "http://127.0.0.1:%d%s" % (self.plain, path)


@pytest.fixture(scope="module")
def module_spawner(workdir):
    s = Spawner(workdir)
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def _std_bridge_holder():
    return {}


@pytest.fixture
def std_bridge(_std_bridge_holder, module_spawner, certs, backends):
    """One h2bridge with std_config() shared by a test module; respawned if an
    earlier test killed it. A test during which it dies errors at teardown."""
    h = _std_bridge_holder
    if "b" not in h or not h["b"].bridge.alive():
        plain, tls = free_port(), free_port()
        h["b"] = StdBridge(module_spawner.h2bridge(std_config(certs, backends, plain, tls)), plain, tls)
    yield h["b"]
    b = h["b"].bridge
    if not b.alive():
        pytest.fail("h2bridge died during this test:\n" + b.describe(), pytrace=False)


@pytest.fixture
def make_std_bridge(spawner, certs, backends):
    """make_std_bridge(**std_config kwargs) -> StdBridge (function scope)."""
    def make(**kw):
        plain, tls = free_port(), free_port()
        b = spawner.h2bridge(std_config(certs, backends, plain, tls, **kw))
        return StdBridge(b, plain, tls)
    return make


# ---------------------------------------------------------------- curl

class CurlResult:
    def __init__(self, rc, status, version, headers, body, stderr, header_text):
        self.rc = rc
        self.status = status
        self.version = version
        self.headers = headers      # list of (lower name, value), all blocks incl. trailers
        self.body = body
        self.stderr = stderr
        self.header_text = header_text

    def header(self, name):
        vals = [v for k, v in self.headers if k == name]
        return vals[-1] if vals else None

    def __repr__(self):
        return "<curl rc=%d status=%s version=%s body=%r stderr=%r>" % (
            self.rc, self.status, self.version, self.body[:200], self.stderr[-500:])


CURL_PROTO = {
    "h1": ["--http1.1"],
    "h1-tls": ["--http1.1"],
    "h2c": ["--http2-prior-knowledge"],
    "h2-tls": ["--http2"],
}


def curl(url, client, certs=None, args=(), data_file=None, timeout=60, method=None, workdir=None):
    """Runs curl for a client kind; returns CurlResult (body as bytes)."""
    require_tool("curl")
    tmp = Path(tempfile.mkdtemp(prefix="curl-", dir=workdir))
    out, hdr = tmp / "body", tmp / "headers"
    argv = ["curl", "-sS", "--max-time", str(timeout), "-o", str(out), "-D", str(hdr),
            "-w", "%{http_code} %{http_version}", "-H", "Expect:", *CURL_PROTO[client]]
    if client.endswith("tls"):
        argv += ["--cacert", str(certs.ca)]
    if data_file is not None:
        argv += ["--data-binary", "@" + str(data_file)]
    if method:
        argv += ["-X", method]
    m = re.match(r"https://localhost:(\d+)", url)
    if m:  # the listeners are IPv4-only; do not let curl try ::1 first
        argv += ["--resolve", "localhost:%s:127.0.0.1" % m.group(1)]
    argv += [*args, url]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 10)
    w = r.stdout.decode().split()
    status = int(w[0]) if w and w[0].isdigit() else 0
    version = w[1] if len(w) > 1 else ""
    body = out.read_bytes() if out.exists() else b""
    htext = hdr.read_text(errors="replace") if hdr.exists() else ""
    headers = []
    for line in htext.splitlines():
        if ":" in line and not line.startswith("HTTP/"):
            k, _, v = line.partition(":")
            headers.append((k.strip().lower(), v.strip()))
    shutil.rmtree(tmp, ignore_errors=True)
    return CurlResult(r.returncode, status, version, headers, body,
                      r.stderr.decode(errors="replace"), htext)


# ---------------------------------------------------------------- raw HTTP/1.1

def raw_h1(port, data, timeout=5.0, shut_wr=False, host="127.0.0.1"):
    """Sends |data| on a new connection and reads until EOF or |timeout|.
    Returns (bytes, closed): closed is True when the peer closed/reset."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(buf), False
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except socket.timeout:
                return bytes(buf), False
            except ConnectionResetError:
                return bytes(buf), True
            if not d:
                return bytes(buf), True
            buf += d
    finally:
        s.close()


def first_status(raw):
    """Status code of the first response in raw bytes, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


def all_statuses(raw):
    return [int(x) for x in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", raw)]


class H1Reader:
    """Minimal HTTP/1.1 response reader over a socket (keep-alive aware)."""

    def __init__(self, sock):
        self.s = sock
        self.buf = bytearray()

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            self._fill()

    def head(self):
        status_line = self.line()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", status_line)
        if not m:
            raise ValueError("bad status line %r" % status_line)
        headers = []
        while True:
            ln = self.line()
            if not ln:
                break
            k, _, v = ln.partition(b":")
            headers.append((k.strip().decode().lower(), v.strip().decode()))
        return int(m.group(1)), headers

    def body(self, headers, sink):
        """Feeds the body to sink(bytes); returns trailers."""
        h = dict(headers)
        if "chunked" in h.get("transfer-encoding", "").lower():
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    trailers = []
                    while True:
                        ln = self.line()
                        if not ln:
                            return trailers
                        k, _, v = ln.partition(b":")
                        trailers.append((k.strip().decode().lower(), v.strip().decode()))
                left = size
                while left:
                    if not self.buf:
                        self._fill()
                    k = min(left, len(self.buf))
                    sink(bytes(self.buf[:k]))
                    del self.buf[:k]
                    left -= k
                if self.line() != b"":
                    raise ValueError("missing CRLF after chunk")
        elif "content-length" in h:
            left = int(h["content-length"])
            while left:
                if not self.buf:
                    self._fill()
                k = min(left, len(self.buf))
                sink(bytes(self.buf[:k]))
                del self.buf[:k]
                left -= k
            return []
        else:
            while True:
                if self.buf:
                    sink(bytes(self.buf))
                    self.buf.clear()
                try:
                    self._fill()
                except EOFError:
                    return []


def h1_get(port, path, host="127.0.0.1", extra=b"", timeout=10):
    """One GET on a new connection; returns (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n"
                  % (path.encode(), host.encode(), extra))
        r = H1Reader(s)
        status, headers = r.head()
        out = bytearray()
        r.body(headers, out.extend)
        return status, headers, bytes(out)
    finally:
        s.close()


# ---------------------------------------------------------------- HTTP/2 client

class H2Response:
    def __init__(self):
        self.status = None
        self.headers = []
        self.body = bytearray()
        self.trailers = []
        self.reset = None        # RST_STREAM error code
        self.goaway = None       # GOAWAY error code
        self.ended = False

    def header(self, name):
        vals = [v for k, v in self.headers if k == name]
        return vals[-1] if vals else None


class H2Client:
    """A small python3-h2 client: h2c prior knowledge or TLS+ALPN h2.
    validate=False lets malformed requests out (for the smuggling tests)."""

    def __init__(self, port, tls=False, ca=None, host="127.0.0.1", server_name="localhost",
                 validate=True, timeout=15):
        import h2.config
        import h2.connection
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context(cafile=str(ca))
            ctx.set_alpn_protocols(["h2"])
            s = ctx.wrap_socket(s, server_hostname=server_name)
            if s.selected_alpn_protocol() != "h2":
                raise AssertionError("ALPN did not select h2: %r" % s.selected_alpn_protocol())
        self.sock = s
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate,
                                        validate_inbound_headers=False)
        self.c = h2.connection.H2Connection(config=cfg)
        # python3-h2 closes the whole connection on any GOAWAY; a graceful one
        # (RFC 9113 §6.8) lets streams up to last_stream_id finish, so keep it open.
        sm = self.c.state_machine
        orig = sm.process_input

        def process_input(inp, _orig=orig):
            if inp == h2.connection.ConnectionInputs.RECV_GOAWAY:
                return []
            return _orig(inp)
        sm.process_input = process_input
        self.goaway_frame = None
        self.c.initiate_connection()
        self.flush()
        self.responses = {}
        self.remote_settings = {}
        self.closed = False
        self.auto_ack = True
        self.tls = tls
        self.sink = None     # if set, DATA goes to sink(bytes) instead of .body

    def flush(self):
        d = self.c.data_to_send()
        if d:
            self.sock.sendall(d)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_request(self, method, path, headers=(), body=None, authority="localhost",
                     scheme=None, end_stream=True, trailers=None, pseudo=None):
        """pseudo: replaces the pseudo-header list entirely (malformed requests)."""
        sid = self.c.get_next_available_stream_id()
        scheme = scheme or ("https" if self.tls else "http")
        if pseudo is None:
            pseudo = [(":method", method), (":scheme", scheme), (":authority", authority),
                      (":path", path)]
        hdrs = [*pseudo, *headers]
        no_body = not body and trailers is None and end_stream
        self.c.send_headers(sid, hdrs, end_stream=no_body)
        self.responses[sid] = H2Response()
        self.flush()
        if body:
            self.send_body(sid, body, end_stream=end_stream and trailers is None)
        if trailers is not None:
            import h2.exceptions
            try:
                self.c.send_headers(sid, trailers, end_stream=True)
                self.flush()
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
        return sid

    def send_body(self, sid, body, end_stream=True):
        """Sends |body| respecting flow control; stops quietly if the peer
        reset the stream or closed the connection meanwhile."""
        import h2.exceptions
        try:
            self._send_body(sid, body, end_stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, BrokenPipeError,
                ConnectionResetError):
            pass

    def _send_body(self, sid, body, end_stream):
        view = memoryview(body)
        off = 0
        while off < len(view):
            win = min(self.c.local_flow_control_window(sid), self.c.max_outbound_frame_size)
            if win <= 0:
                if self.closed or self.responses[sid].reset is not None:
                    return
                self.pump(0.2)
                continue
            k = min(win, len(view) - off)
            self.c.send_data(sid, bytes(view[off:off + k]))
            off += k
            self.flush()
            self.pump(0)
        if end_stream:
            self.c.end_stream(sid)
            self.flush()

    def pump(self, timeout):
        """Reads once (waiting at most |timeout|) and processes events."""
        import h2.events
        import select
        if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return False
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            for rr in self.responses.values():
                if not rr.ended and rr.reset is None and rr.goaway is None:
                    rr.goaway = "connection closed"
            return False
        for ev in self.c.receive_data(data):
            r = self.responses.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                r.status = int(dict(ev.headers)[":status"])
                r.headers = [(k, v) for k, v in ev.headers]
            elif isinstance(ev, h2.events.InformationalResponseReceived):
                pass
            elif isinstance(ev, h2.events.DataReceived):
                if self.sink is not None:
                    self.sink(ev.data)
                else:
                    r.body += ev.data
                if self.auto_ack:
                    self.c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                r.trailers = list(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded):
                r.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                if r is not None:
                    r.reset = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway_frame = ev
                for sid_, rr in self.responses.items():
                    if not rr.ended and rr.reset is None and \
                            (ev.error_code != 0 or ev.last_stream_id is None or sid_ > ev.last_stream_id):
                        rr.goaway = ev.error_code
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                for k, v in ev.changed_settings.items():
                    self.remote_settings[k] = v.new_value
        self.flush()
        return True

    def wait(self, sids, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            pending = [s for s in sids if not (self.responses[s].ended or self.responses[s].reset is not None
                                               or self.responses[s].goaway is not None)]
            if not pending:
                return
            if self.closed:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("h2 streams %r not finished in %.0f s" % (pending, timeout))
            self.pump(0.2)

    def request(self, method, path, **kw):
        timeout = kw.pop("timeout", 15)
        sid = self.send_request(method, path, **kw)
        self.wait([sid], timeout)
        return self.responses[sid]


def h2_request(port, method, path, tls=False, ca=None, timeout=15, **kw):
    c = H2Client(port, tls=tls, ca=ca)
    try:
        return c.request(method, path, timeout=timeout, **kw)
    finally:
        c.close()


def backend_count(backends, which="h1"):
    """Requests the backend has seen (via the backend directly, not the bridge)."""
    port = getattr(backends, which).port
    if which == "h1":
        st, _, body = h1_get(port, "/count")
        assert st == 200
        return int(body)
    r = h2_request(port, "GET", "/count")
    return int(bytes(r.body))


def backend_stats(backends):
    st, _, body = h1_get(backends.h1.port, "/stats")
    assert st == 200
    return json.loads(body)
