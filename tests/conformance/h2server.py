"""A raw-frame HTTP/2 SERVER for the client-role conformance suite
(test_client_role.py): it accepts h2bridge's upstream connection, reads the
client preface, SETTINGS and request, and then does whatever a case says --
byte by byte, so that it can break any rule of RFC 9113.

    srv = RawServer()                    # listening socket on loopback
    srv.port                             # what h2bridge's upstream dials
    sc = srv.take_case_conn(timeout)     # the next connection h2bridge dials
    sid = sc.start()                     # preface, SETTINGS both ways, request
    sc.respond(sid, 200, body=b"ok")     # a well-formed response
    srv.serve_good = True                # later connections: served well

Frames are encoded with h2raw's helpers; ServerConn reuses H2Conn's frame
reader and sending helpers, decoding h2bridge's header blocks as requests.

Connections other than the one a case takes (a retry after GOAWAY or
REFUSED_STREAM, the follow-up request of every case) are served by
GoodServer threads: a correct HTTP/2 server answering 200 "good\\n".

Downstream: downstream_get() sends one HTTP/1.1 request to h2bridge's
listener (Connection: close) in a thread and reports status, body and whether
the response was complete.
"""
import queue
import re
import socket
import struct
import threading
import time

import hpack

from h2raw import (ACK, DATA, END_HEADERS, END_STREAM, HEADERS, PADDED,
                   PING, PREFACE, PRIORITY_FLAG, PUSH_PROMISE, RST_STREAM, SETTINGS,
                   WINDOW_UPDATE, H2Conn, frame, settings_payload)


class Request:
    def __init__(self, sid):
        self.sid = sid
        self.headers = []
        self.body = bytearray()
        self.ended = False
        self.rst = None

    def get(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None


class ServerConn(H2Conn):
    """The server end of one connection h2bridge dialed. |peer_settings|
    holds h2bridge's SETTINGS (H2Conn calls them server_settings: the peer's)."""

    def __init__(self, sock, timeout=2.0):  # noqa: D401 - no connect, unlike H2Conn
        self.host, self.port = sock.getpeername()
        self.timeout = timeout
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.closed = False
        self.send_failed = False
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.server_settings = {}
        self.frames = []
        self.responses = {}
        self.requests = {}
        self.goaway = None
        self.server_window = 65535
        self.stream_windows = {}   # sid -> WINDOW_UPDATE increments h2bridge gave us
        self._hblock = None
        self.ping_seq = 0
        self.preface = None
        self.lock = threading.Lock()

    @property
    def peer_settings(self):
        return self.server_settings

    # ------------------------------------------------------------ receiving
    def read_preface(self, timeout=None):
        """The 24-octet client connection preface; True when it is right."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < len(PREFACE):
            if self.closed or not self._fill(deadline):
                break
        self.preface = bytes(self.buf[:len(PREFACE)])
        del self.buf[:len(PREFACE)]
        return self.preface == PREFACE

    def _track(self, f):
        if f.type == WINDOW_UPDATE and f.sid and len(f.payload) == 4:
            self.stream_windows[f.sid] = self.stream_windows.get(f.sid, 0) + \
                (struct.unpack(">I", f.payload)[0] & 0x7FFFFFFF)
        if f.type == DATA:
            self.frames.append(f)
            r = self.requests.setdefault(f.sid, Request(f.sid))
            p = f.payload
            if f.flags & PADDED and p:
                p = p[1:len(p) - p[0]]
            r.body += p
            if f.flags & END_STREAM:
                r.ended = True
            return
        if f.type == RST_STREAM:
            self.frames.append(f)
            self.requests.setdefault(f.sid, Request(f.sid)).rst = f.error_code
            return
        super()._track(f)

    def _header_frame(self, f):
        p = f.payload
        if f.type in (HEADERS, PUSH_PROMISE):
            if f.flags & PADDED:
                p = p[1:len(p) - p[0]]
            if f.type == HEADERS and f.flags & PRIORITY_FLAG:
                p = p[5:]
            self._hblock = [f.sid, bytearray(p), f.type, f.flags]
        elif self._hblock is not None:
            self._hblock[1] += p
        if self._hblock is None or not f.flags & END_HEADERS:
            return
        sid, block, ftype, flags = self._hblock
        self._hblock = None
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in self.decoder.decode(bytes(block), raw=True)]
        r = self.requests.setdefault(sid, Request(sid))
        if not r.headers:
            r.headers = headers
        if flags & END_STREAM:
            r.ended = True

    def start(self, settings=(), ack=True, wait_request=True, timeout=None):
        """Reads the preface; sends our SETTINGS (|settings| pairs; None: send
        nothing); reads h2bridge's SETTINGS (ACKed when |ack|) until a request
        head has arrived. Returns the request's stream id (None when not
        waited for). Raises AssertionError when h2bridge does something else."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if not self.read_preface(timeout):
            raise AssertionError("bad client preface from h2bridge: %r" % self.preface)
        if settings is not None:
            self.send_frame(SETTINGS, 0, 0, settings_payload(*settings))
        got_settings = False
        while True:
            if got_settings and not wait_request:
                return None
            reqs = [r for r in self.requests.values() if r.headers and self._hblock is None]
            if got_settings and reqs:
                return min(r.sid for r in reqs)
            try:
                f = self.read_frame(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                raise AssertionError("no request from h2bridge; frames %r" % self.frames)
            if f is None:
                raise AssertionError("h2bridge closed before its request; frames %r" % self.frames)
            if f.type == SETTINGS and not f.flags & ACK and not got_settings:
                if self.frames[0] is not f:
                    raise AssertionError("h2bridge's first frame is not SETTINGS: %r" % self.frames)
                got_settings = True
                if ack:
                    self.send_frame(SETTINGS, ACK, 0)
            elif f.type == PING and not f.flags & ACK:
                self.send_frame(PING, ACK, 0, f.payload)

    def read_until(self, pred, timeout=None):
        """Reads frames until pred(frame) is true: that frame, or None at
        close or timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                f = self.read_frame(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                return None
            if f is None:
                return None
            if pred(f):
                return f

    def wait_request_end(self, sid, timeout=None):
        """Reads until the request on |sid| has ended (END_STREAM)."""
        r = self.requests.get(sid)
        if r is not None and r.ended:
            return r
        self.read_until(lambda f: self.requests.get(sid) is not None and self.requests[sid].ended,
                        timeout)
        return self.requests.get(sid)

    # ------------------------------------------------------------ sending
    def response_block(self, status=200, extra=(), hp=True):
        h = [(":status", str(status))] + list(extra)
        return self.encoder.encode(h) if hp else b"".join(
            b"\x00" + bytes([len(k)]) + k.encode() + bytes([len(v)]) + v.encode() for k, v in h)

    def send_response_headers(self, sid, status=200, extra=(), end_stream=False):
        return self.send_frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), sid,
                               self.response_block(status, extra))

    def respond(self, sid, status=200, body=b"ok\n", extra=(), content_length=True):
        """A complete, well-formed response."""
        h = list(extra)
        if content_length:
            h.append(("content-length", str(len(body))))
        if body:
            return self.send(frame(HEADERS, END_HEADERS, sid, self.response_block(status, h)) +
                             frame(DATA, END_STREAM, sid, body))
        return self.send_response_headers(sid, status, h, end_stream=True)

    def goaway_and_close(self, last_sid=0, wait=0.5):
        """GOAWAY(NO_ERROR), then waits up to |wait| for h2bridge to close
        its side; then closes."""
        if not self.closed:
            self.send_goaway(last_sid)
            end = time.monotonic() + wait
            try:
                while time.monotonic() < end:
                    if self.read_frame(max(0.01, end - time.monotonic())) is None:
                        break
            except (socket.timeout, OSError):
                pass
        self.close()


class GoodServer(threading.Thread):
    """Serves one connection correctly: every request gets 200 "good\\n"."""

    def __init__(self, sock, owner):
        super().__init__(daemon=True)
        self.sc = ServerConn(sock, timeout=5.0)
        self.owner = owner
        self.want_goaway = False
        self.last_sid = 0

    def run(self):
        sc = self.sc
        try:
            if not sc.read_preface():
                return
            sc.send_frame(SETTINGS, 0, 0)
            answered = set()
            sent_goaway = False
            while not self.owner.stopping:
                if self.want_goaway and not sent_goaway:
                    sent_goaway = True
                    sc.send_goaway(self.last_sid)
                try:
                    f = sc.read_frame(0.05)
                except socket.timeout:
                    continue
                if f is None:
                    return
                if f.type == SETTINGS and not f.flags & ACK:
                    sc.send_frame(SETTINGS, ACK, 0)
                elif f.type == PING and not f.flags & ACK:
                    sc.send_frame(PING, ACK, 0, f.payload)
                for sid, r in list(sc.requests.items()):
                    if sid not in answered and r.headers and r.ended and sc._hblock is None:
                        answered.add(sid)
                        self.last_sid = max(self.last_sid, sid)
                        with self.owner.lock:
                            self.owner.good_requests.append(r.get(":path"))
                        sc.respond(sid, 200, b"good\n")
        except OSError:
            pass
        finally:
            sc.close()


class RawServer:
    """A listening socket. Each case takes the next connection h2bridge
    dials (take_case_conn); every other connection is served by a GoodServer."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.stopping = False
        self.want_case = False
        self.case_q = queue.Queue()
        self.good = []
        self.good_requests = []
        self.accepted = 0
        self.t = threading.Thread(target=self._accept_loop, daemon=True)
        self.t.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                if self.want_case:
                    self.want_case = False
                    self.case_q.put(s)
                    continue
            g = GoodServer(s, self)
            with self.lock:
                self.good.append(g)
            g.start()

    def expect_case_conn(self):
        """The next connection goes to the case (call before the request)."""
        with self.lock:
            while not self.case_q.empty():
                self.case_q.get_nowait().close()
            self.want_case = True

    def take_case_conn(self, timeout=3.0):
        try:
            s = self.case_q.get(timeout=timeout)
        except queue.Empty:
            with self.lock:
                self.want_case = False
            raise AssertionError("h2bridge did not dial the raw server within %.1f s" % timeout)
        return ServerConn(s)

    def close_good(self, wait=1.0):
        """GOAWAY(NO_ERROR) on every well-served connection, then waits for
        h2bridge to close them (so that the next request dials anew)."""
        with self.lock:
            good, self.good = self.good, []
        for g in good:
            g.want_goaway = True
        end = time.monotonic() + wait
        for g in good:
            g.join(max(0.01, end - time.monotonic()))
            g.sc.close()

    def stop(self):
        self.stopping = True
        try:
            self.lsock.close()
        except OSError:
            pass
        self.close_good()


# ---------------------------------------------------------------- downstream

class Downstream(threading.Thread):
    """One HTTP/1.1 request to h2bridge's listener, in a thread. After join():
    status (0: none), head, body, complete (the body ended as framed), error.
    |hold|: seconds to wait before reading the response (with a small
    receive buffer)."""

    def __init__(self, port, path="/", method="GET", headers=(), body=b"", hold=0.0,
                 timeout=6.0):
        super().__init__(daemon=True)
        self.port, self.path, self.method = port, path, method
        self.headers, self.body_out, self.hold, self.timeout = headers, body, hold, timeout
        self.raw = b""
        self.status = 0
        self.head = b""
        self.body = b""
        self.complete = False
        self.error = None
        self.done = threading.Event()
        self.sock = None

    def run(self):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if self.hold:  # read nothing for a while: h2bridge cannot pass the body on
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(self.timeout)
            s.connect(("127.0.0.1", self.port))
            self.sock = s
            req = "%s %s HTTP/1.1\r\nHost: conformance.test\r\nConnection: close\r\n" % (
                self.method, self.path)
            for k, v in self.headers:
                req += "%s: %s\r\n" % (k, v)
            s.sendall(req.encode() + b"\r\n" + self.body_out)
            if self.hold:
                time.sleep(self.hold)
            buf = bytearray()
            end = time.monotonic() + self.timeout
            while time.monotonic() < end:
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    self.error = "timeout"
                    break
                except ConnectionResetError:
                    self.error = "reset"
                    break
                if not d:
                    break
                buf += d
            self.raw = bytes(buf)
            s.close()
        except OSError as e:
            self.error = str(e)
        finally:
            self._parse()
            self.done.set()

    def _parse(self):
        raw = self.raw
        self.interim = []  # 1xx responses before the final one
        while True:
            m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
            if not m:
                return
            self.status = int(m.group(1))
            head, sep, body = raw.partition(b"\r\n\r\n")
            if 100 <= self.status < 200 and sep:
                self.interim.append(self.status)
                raw = body
                continue
            break
        self.head = head
        if not sep:
            return
        hl = head.lower()
        cl = re.search(rb"\r\ncontent-length: *(\d+)", hl)
        if b"transfer-encoding: chunked" in hl:
            out, rest = bytearray(), body
            while True:
                line, sep, rest = rest.partition(b"\r\n")
                if not sep:
                    break
                try:
                    n = int(line.split(b";")[0], 16)
                except ValueError:
                    break
                if n == 0:
                    self.complete = True
                    break
                out += rest[:n]
                rest = rest[n + 2:]
            self.body = bytes(out)
        elif cl:
            self.body = body
            self.complete = len(body) == int(cl.group(1))
        else:
            self.body = body
            self.complete = True  # close-delimited: ends at the close

    def __repr__(self):
        return "<downstream %s %s complete=%s body=%r%s>" % (
            self.status or "no-status", "", self.complete, self.body[:60],
            (" error=%s" % self.error) if self.error else "")


def downstream_get(port, path, **kw):
    d = Downstream(port, path, **kw)
    d.start()
    return d
