"""WebSocket peers and helpers for test_websocket.py / test_chromium.py.

- node peers (tests/node/peer.js): ws-echo-server (RFC 6455, ws package),
  h2-ws-echo-server (RFC 8441, node http2, own framing), and the two clients;
- RawWsBackend: a scripted HTTP/1.1 WebSocket backend in a thread of the test
  process (wrong accept, 200/426 answers, half-close, TCP reset, flood, ...);
- raw HTTP/1.1 upgrade and python3-h2 extended CONNECT helpers;
- ws_config(): an h2bridge config with WebSocket routes.
Imports conftest's helpers; does not modify conftest.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from conftest import REPO, READY_DEADLINE, Proc, wait_port, H2Client  # noqa: F401

NODE_DIR = REPO / "tests" / "node"
PEER_JS = NODE_DIR / "peer.js"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MiB = 1 << 20
CONNECT_ERROR = 0xA


def ws_accept(key):
    if isinstance(key, str):
        key = key.encode()
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def require_node():
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.fail("node is not installed")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        pytest.fail("tests/node/node_modules/ws missing: run `npm install` in tests/node")
    return node


# ---------------------------------------------------------------- node peers

def node_server(spawner, mode, cert=None, key=None, env=None):
    """Starts peer.js |mode| on a free port; returns the Proc with .port."""
    node = require_node()
    argv = [node, str(PEER_JS), mode, "0"]
    if cert:
        argv += [str(cert), str(key)]
    e = dict(os.environ)
    e.update(env or {})
    p = Proc("peer-" + mode + ("-tls" if cert else ""), argv, spawner.workdir, env=e)
    spawner.procs.append(p)
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        m = re.search(r"^ready (\d+)", p.stdout(), re.M)
        if m and wait_port("127.0.0.1", int(m.group(1)), deadline, p.p):
            p.port = int(m.group(1))
            return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail("node peer %s did not start\n%s" % (mode, p.describe()))


def server_events(proc, event=None, path=None):
    """JSON event lines a node server printed."""
    out = []
    for line in proc.stdout().splitlines():
        if not line.startswith("{"):
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if event and ev.get("event") != event:
            continue
        if path and path not in ev.get("path", ""):
            continue
        out.append(ev)
    return out


def wait_server_event(proc, event, path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evs = server_events(proc, event, path)
        if evs:
            return evs[-1]
        time.sleep(0.05)
    return None


def node_client(mode, url, timeout=60, **opts):
    """Runs peer.js ws-client / h2-ws-client; returns its JSON result (plus
    'rc' and 'stderr'). opts: count, sizes (list), close, ca, protocol,
    deflate, headers (list of 'Name: value'), headers_first, wait_close."""
    node = require_node()
    argv = [node, str(PEER_JS), mode, url]
    for k, v in opts.items():
        if v is None or v is False:
            continue
        if k == "headers":
            for h in v:
                argv += ["--header", h]
            continue
        if k == "sizes":
            v = ",".join(map(str, v))
        if v is True:
            v = "1"
        argv += ["--" + k.replace("_", "-"), str(v)]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, cwd=str(NODE_DIR))
    lines = [ln for ln in r.stdout.decode(errors="replace").splitlines() if ln.startswith("{")]
    res = json.loads(lines[-1]) if lines else {"error": "no result line: %r" % r.stdout[-500:]}
    res["rc"] = r.returncode
    res["stderr"] = r.stderr.decode(errors="replace")[-2000:]
    return res


# ---------------------------------------------------------------- config

def ws_config(certs, plain, tls, upstreams, routes, log_level="info", defaults=""):
    """upstreams: list of YAML flow mappings (strings); routes: list of
    (path, protocol or None, upstream)."""
    ups = "".join("  - %s\n" % u for u in upstreams)
    rts = ""
    for path, proto, up in routes:
        m = "path: %s" % path + (", protocol: %s" % proto if proto else "")
        rts += "  - { match: { %s }, to: { upstream: %s } }\n" % (m, up)
    return f"""\
log: {{ level: {log_level}, access: stderr, format: json }}
defaults:
  connect_timeout: 2s
  response_timeout: 10s
  drain_timeout: 2s
{defaults}certificates:
  - {{ name: demo, cert: {certs.server_cert}, key: {certs.server_key} }}
listeners:
  - {{ name: plain, listen: 127.0.0.1:{plain} }}
  - {{ name: tls, listen: 127.0.0.1:{tls}, tls: {{ certificates: [demo], alpn: [h2, http/1.1] }} }}
upstreams:
{ups}routes:
{rts}"""


# ---------------------------------------------------------------- raw h1 backend

class RawConn:
    def __init__(self, sock, head):
        self.sock = sock
        self.head = head
        self.received = bytearray()
        self.eof_at = None
        self.sent = 0
        self.error = None
        self.done = threading.Event()

    def header(self, name):
        for line in self.head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode()
        return None

    @property
    def path(self):
        return self.head.split(b" ")[1].decode()


class RawWsBackend:
    """HTTP/1.1 backend in a thread; behaviour by request path (see _serve)."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = []          # RawConn, in accept order
        self.all_bytes = []      # every connection's raw bytes (bytearray), head included
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def close(self):
        self.stop_ev.set()
        try:
            self.lsock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stop_ev.is_set():
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(s,), daemon=True).start()

    def _conn(self, s):
        raw = bytearray()
        with self.lock:
            self.all_bytes.append(raw)
        s.settimeout(30)
        try:
            while b"\r\n\r\n" not in raw:
                d = s.recv(65536)
                if not d:
                    return
                raw += d
        except OSError:
            return
        i = raw.index(b"\r\n\r\n") + 4
        c = RawConn(s, bytes(raw[:i]))
        c.received += raw[i:]
        with self.lock:
            self.conns.append(c)
        try:
            self._serve(c, raw)
        except OSError as e:        # e.g. EPIPE/ECONNRESET: the bridge closed this connection
            c.error = repr(e)
            if c.eof_at is None:
                c.eof_at = time.monotonic()
        finally:
            c.done.set()
            try:
                s.close()
            except OSError:
                pass

    def find(self, path_part, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for c in self.conns:
                    if path_part in c.path:
                        return c
            time.sleep(0.02)
        return None

    def saw(self, needle):
        with self.lock:
            return any(needle in bytes(b) for b in self.all_bytes)

    def _read_rest(self, c, raw, limit=None):
        """Reads until EOF, appending to c.received; records the time of EOF."""
        while True:
            try:
                d = c.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                d = b""
            if not d:
                c.eof_at = time.monotonic()
                return
            c.received += d
            raw += d

    def _switch(self, c, accept=True):
        key = c.header("sec-websocket-key") or ""
        h = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        if accept is True:
            h += b"Sec-WebSocket-Accept: %s\r\n" % ws_accept(key).encode()
        elif accept:
            h += b"Sec-WebSocket-Accept: %s\r\n" % accept.encode()
        c.sock.sendall(h + b"\r\n")

    def _serve(self, c, raw):
        p = c.path
        s = c.sock
        if "/wrong-accept" in p:
            self._switch(c, accept=ws_accept("AAAAAAAAAAAAAAAAAAAAAA=="))
            self._read_rest(c, raw)
        elif "/no-accept" in p:
            self._switch(c, accept=False)
            self._read_rest(c, raw)
        elif "/status200" in p:
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
            self._read_rest(c, raw)
        elif "/status426" in p:
            s.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 12\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nContent-Type: text/plain\r\n\r\nnot for you\n")
            self._read_rest(c, raw)
        elif "/halfclose" in p:      # read to EOF, then answer and close
            self._switch(c)
            self._read_rest(c, raw)
            s.sendall(b"got %d\n" % len(c.received))
        elif "/serverfin" in p:      # send, FIN, then read to EOF
            self._switch(c)
            s.sendall(b"server-fin\n")
            s.shutdown(socket.SHUT_WR)
            self._read_rest(c, raw)
        elif "/rst" in p:            # send a little, wait for the client's bytes, then RST
            self._switch(c)
            s.sendall(b"x")
            s.settimeout(3)
            try:
                c.received += s.recv(65536)
            except OSError:
                pass
            time.sleep(0.1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.eof_at = time.monotonic()   # time of the reset
        elif "/hold" in p:           # read to EOF; records when it came
            self._switch(c)
            s.sendall(b"hello")
            self._read_rest(c, raw)
        elif "/flood" in p:          # sends up to 100 MiB as fast as the tunnel takes it
            self._switch(c)
            chunk = b"f" * 65536
            s.settimeout(2)
            try:
                while c.sent < 100 * MiB and not self.stop_ev.is_set():
                    c.sent += s.send(chunk)
            except OSError as e:
                c.error = repr(e)
        elif "/stall" in p:          # never reads; closes after 8 s or at shutdown
            self._switch(c)
            self.stop_ev.wait(8)
        elif "/echo" in p:
            self._switch(c)
            while True:
                d = s.recv(65536)
                if not d:
                    break
                c.received += d
                s.sendall(d)
        else:
            s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            self._read_rest(c, raw)


# ---------------------------------------------------------------- raw h1 client

def h1_connect(port, tls=False, ca=None, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


def upgrade_request(path, key="dGhlIHNhbXBsZSBub25jZQ==", version="13", method="GET", extra=b"",
                    host=b"localhost"):
    r = b"%s %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % (
        method.encode(), path.encode(), host)
    if key is not None:
        r += b"Sec-WebSocket-Key: %s\r\n" % key.encode()
    if version is not None:
        r += b"Sec-WebSocket-Version: %s\r\n" % version.encode()
    return r + extra + b"\r\n"


def read_head(s, timeout=5):
    """Reads a response head; returns (status, headers dict lower-case, extra bytes)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no response head; got %r" % buf)
        s.settimeout(left)
        d = s.recv(65536)
        if not d:
            raise EOFError("closed before a response head; got %r" % buf)
        buf += d
    i = buf.index(b"\r\n\r\n")
    lines = buf[:i].decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, buf[i + 4:]


def read_until_close(s, timeout=5):
    """(bytes, how): how is 'eof', 'reset' or 'timeout'."""
    out = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out, "timeout"
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return out, "timeout"
        except ConnectionResetError:
            return out, "reset"
        except ssl.SSLError as e:
            return out, "reset:" + str(e)
        if not d:
            return out, "eof"
        out += d


def h1_upgrade(port, path, tls=False, ca=None, **kw):
    """Opens a WebSocket by raw HTTP/1.1; returns (sock, status, headers, extra)."""
    s = h1_connect(port, tls, ca)
    s.sendall(upgrade_request(path, **kw))
    st, h, extra = read_head(s)
    return s, st, h, extra


# ---------------------------------------------------------------- raw h2 client

def h2_client(port, tls=False, ca=None):
    c = H2Client(port, tls=tls, ca=ca, validate=False)
    deadline = time.monotonic() + 5
    while 8 not in c.remote_settings and time.monotonic() < deadline:
        c.pump(0.1)
        if c.closed:
            break
    return c


def h2_connect_ws(c, path, extra=(), end_stream=False, timeout=5, protocol="websocket"):
    """Sends an extended CONNECT; waits for the response head (or reset)."""
    pseudo = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "https" if c.tls else "http"),
              (":authority", "localhost"), (":path", path)]
    sid = c.c.get_next_available_stream_id()
    c.c.send_headers(sid, pseudo + [("sec-websocket-version", "13"), *extra], end_stream=end_stream)
    from conftest import H2Response
    c.responses[sid] = H2Response()
    c.flush()
    deadline = time.monotonic() + timeout
    r = c.responses[sid]
    while r.status is None and r.reset is None and r.goaway is None and not c.closed:
        if time.monotonic() > deadline:
            raise TimeoutError("no response to extended CONNECT %s" % path)
        c.pump(0.1)
    return sid, r


def h2_send(c, sid, data, end_stream=False):
    c.c.send_data(sid, data, end_stream=end_stream)
    c.flush()


def h2_pump_until(c, cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        c.pump(0.05)
        if c.closed and not cond():
            return cond()
    return True


def wait_for(cond, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()
