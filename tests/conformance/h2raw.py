"""A raw-frame HTTP/2 client for conformance and abuse tests (RFC 9113).

Frames are built byte by byte (so that malformed ones can be sent) and read
back with hyperframe; header blocks are encoded with hpack (or with the raw
literal helpers below, which may break any rule) and the server's blocks are
decoded with one hpack.Decoder per connection, in order.

    c = H2Conn(port)          # TCP connect
    c.handshake()             # preface + SETTINGS, server SETTINGS, ACKs
    c.send_headers(1, c.request("GET", "/hello"), end_stream=True)
    r = c.expect_response(1)  # Response(status, headers, body)
    c.send_frame(PING, 0, 1, b"x" * 7)
    c.expect_goaway(FRAME_SIZE_ERROR)

Every waiting helper returns an Outcome (what the server did first that
matters) or raises AssertionError with the frames seen so far.
"""
import socket
import struct
import time

import hpack
from hpack.hpack import encode_integer
from hyperframe.frame import Frame

# Frame types (RFC 9113 §6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
TYPE_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS",
              5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE",
              9: "CONTINUATION"}

# Flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Error codes (RFC 9113 §7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, \
    STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, \
    CONNECT_ERROR, ENHANCE_YOUR_CALM, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED = range(14)
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR",
               3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED",
               6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
               9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
               12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}

# Settings (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1)
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, \
    MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = range(1, 7)
ENABLE_CONNECT_PROTOCOL = 0x8
NO_RFC7540_PRIORITIES = 0x9

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def ename(code):
    return ERROR_NAMES.get(code, "0x%x" % code) if code is not None else "-"


# ---------------------------------------------------------------- encoding

def frame(ftype, flags, sid, payload=b"", length=None):
    """One frame; |length| overrides the header's length field."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def settings_payload(*pairs):
    return b"".join(struct.pack(">HI", k, v) for k, v in pairs)


def priority_payload(dep, weight=15, exclusive=False):
    return struct.pack(">IB", (dep & 0x7FFFFFFF) | (0x80000000 if exclusive else 0), weight)


def hint(value, prefix_bits, first_byte_flags=0):
    """An HPACK integer (RFC 7541 §5.1) with the given high flag bits."""
    b = bytearray(encode_integer(value, prefix_bits))
    b[0] |= first_byte_flags
    return bytes(b)


def hstr(s, huffman=False):
    """An HPACK string literal (RFC 7541 §5.2), raw unless huffman."""
    if isinstance(s, str):
        s = s.encode("latin-1")
    if huffman:
        enc = hpack.hpack.HuffmanEncoder(hpack.hpack.REQUEST_CODES,
                                         hpack.hpack.REQUEST_CODES_LENGTH)
        s = enc.encode(s)
        return hint(len(s), 7, 0x80) + s
    return hint(len(s), 7) + s


def lit(name, value):
    """Literal header field without indexing, new name (RFC 7541 §6.2.2).
    Leaves the dynamic table alone; may carry any bytes."""
    return b"\x00" + hstr(name) + hstr(value)


def lit_indexed(name, value):
    """Literal header field with incremental indexing, new name (§6.2.1)."""
    return b"\x40" + hstr(name) + hstr(value)


def indexed(i):
    """Indexed header field (§6.1)."""
    return hint(i, 7, 0x80)


def table_size_update(n):
    """Dynamic table size update (§6.3)."""
    return hint(n, 5, 0x20)


def raw_block(fields):
    """A header block of raw literals from (name, value) pairs."""
    return b"".join(lit(n, v) for n, v in fields)


# ---------------------------------------------------------------- decoding

class RFrame:
    """A received frame: type, flags, stream id, payload, and the hyperframe
    object (None when hyperframe could not parse it)."""

    def __init__(self, ftype, flags, sid, payload):
        self.type, self.flags, self.sid, self.payload = ftype, flags, sid, payload
        self.hf = None
        try:
            hdr = struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid)
            f, _ = Frame.parse_frame_header(memoryview(hdr))
            f.parse_body(memoryview(payload))
            self.hf = f
        except Exception:  # noqa: BLE001 - keep the raw frame
            self.hf = None

    @property
    def error_code(self):
        if self.type == GOAWAY and len(self.payload) >= 8:
            return struct.unpack(">I", self.payload[4:8])[0]
        if self.type == RST_STREAM and len(self.payload) >= 4:
            return struct.unpack(">I", self.payload[:4])[0]
        return None

    @property
    def last_stream_id(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7FFFFFFF

    def __repr__(self):
        extra = ""
        if self.type in (GOAWAY, RST_STREAM):
            extra = " " + ename(self.error_code)
            if self.type == GOAWAY and len(self.payload) > 8:
                extra += " %r" % bytes(self.payload[8:80])
        return "<%s flags=0x%x sid=%d len=%d%s>" % (
            TYPE_NAMES.get(self.type, "type0x%x" % self.type), self.flags, self.sid,
            len(self.payload), extra)


class Outcome:
    """What the server did: kind is one of
    goaway (code), rst (code, sid), response (status, sid), close, timeout,
    ping (the PING ACK of a liveness probe: the connection is alive)."""

    def __init__(self, kind, code=None, sid=None, status=None, frames=None):
        self.kind, self.code, self.sid, self.status = kind, code, sid, status
        self.frames = frames or []

    def __repr__(self):
        s = self.kind
        if self.kind in ("goaway", "rst"):
            s += "(%s)" % ename(self.code)
        if self.kind == "response":
            s += "(%s)" % self.status
        if self.sid is not None:
            s += " sid=%d" % self.sid
        return s


class Response:
    def __init__(self, sid):
        self.sid = sid
        self.status = None
        self.headers = []
        self.trailers = []
        self.body = bytearray()
        self.ended = False
        self.rst = None


class H2Conn:
    def __init__(self, port, host="127.0.0.1", timeout=3.0, rcvbuf=None):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = bytearray()
        self.closed = False        # EOF (or reset) seen while reading
        self.send_failed = False
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.server_settings = {}
        self.frames = []           # every frame received, in order
        self.responses = {}        # sid -> Response
        self.goaway = None         # the first GOAWAY RFrame
        self.server_window = 65535  # connection send window the server gave us
        self._hblock = None        # (sid, bytearray, ftype) of a header block in progress
        self.ping_seq = 0

    # ------------------------------------------------------------ sending
    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.send_failed = True  # what the server sent before may still be read
            return False
        except socket.timeout:
            return False
        return True

    def send_frame(self, ftype, flags, sid, payload=b"", length=None):
        return self.send(frame(ftype, flags, sid, payload, length))

    def send_settings(self, *pairs, flags=0, sid=0):
        return self.send_frame(SETTINGS, flags, sid, settings_payload(*pairs))

    def send_ping(self, data=b"\0" * 8, ack=False):
        return self.send_frame(PING, ACK if ack else 0, 0, data)

    def send_window_update(self, sid, incr):
        return self.send_frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", incr))

    def send_rst(self, sid, code=CANCEL):
        return self.send_frame(RST_STREAM, 0, sid, struct.pack(">I", code))

    def send_goaway(self, last_sid=0, code=NO_ERROR, debug=b""):
        return self.send_frame(GOAWAY, 0, 0, struct.pack(">II", last_sid, code) + debug)

    def send_data(self, sid, data=b"", end_stream=False, flags=0):
        return self.send_frame(DATA, flags | (END_STREAM if end_stream else 0), sid, data)

    def request(self, method="GET", path="/hello", authority=None, scheme="http", extra=()):
        """The header list of a request (pseudo-header fields first)."""
        h = [(":method", method), (":scheme", scheme), (":path", path),
             (":authority", authority or "127.0.0.1:%d" % self.port)]
        return h + list(extra)

    def encode(self, headers):
        """hpack-encode (dynamic table used): for well-formed header lists."""
        return self.encoder.encode(headers)

    def send_headers(self, sid, headers, end_stream=False, end_headers=True, raw=False, flags=0,
                     priority=None):
        """HEADERS with a header list (hpack, or raw literals when raw=True) or
        with a ready header block (bytes)."""
        if isinstance(headers, (bytes, bytearray)):
            block = bytes(headers)
        else:
            block = raw_block(headers) if raw else self.encode(headers)
        fl = flags | (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        payload = block
        if priority is not None:
            fl |= PRIORITY_FLAG
            payload = priority_payload(*priority) + block
        return self.send_frame(HEADERS, fl, sid, payload)

    def send_continuation(self, sid, block, end_headers=True):
        return self.send_frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, block)

    def get(self, sid, path="/hello", end_stream=True, extra=()):
        return self.send_headers(sid, self.request("GET", path, extra=extra), end_stream=end_stream)

    # ------------------------------------------------------------ receiving
    def _fill(self, deadline):
        remain = deadline - time.monotonic()
        if remain <= 0:
            raise socket.timeout()
        self.sock.settimeout(remain)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def read_frame(self, timeout=None):
        """The next frame (RFrame), None when the connection closed; raises
        socket.timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    ftype, flags = self.buf[3], self.buf[4]
                    sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                    payload = bytes(self.buf[9:9 + n])
                    del self.buf[:9 + n]
                    f = RFrame(ftype, flags, sid, payload)
                    self._track(f)
                    return f
            if self.closed:
                return None
            if not self._fill(deadline):
                if len(self.buf) < 9:
                    return None

    def _track(self, f):
        self.frames.append(f)
        if f.type == SETTINGS and not f.flags & ACK:
            p = f.payload
            for i in range(0, len(p) - len(p) % 6, 6):
                k, v = struct.unpack(">HI", p[i:i + 6])
                self.server_settings[k] = v
        elif f.type == GOAWAY and self.goaway is None:
            self.goaway = f
        elif f.type == WINDOW_UPDATE and f.sid == 0 and len(f.payload) == 4:
            self.server_window += struct.unpack(">I", f.payload)[0] & 0x7FFFFFFF
        elif f.type in (HEADERS, PUSH_PROMISE, CONTINUATION):
            self._header_frame(f)
        elif f.type == DATA:
            r = self.responses.setdefault(f.sid, Response(f.sid))
            p = f.payload
            if f.flags & PADDED and p:
                p = p[1:len(p) - p[0]]
            r.body += p
            if f.flags & END_STREAM:
                r.ended = True
        elif f.type == RST_STREAM:
            self.responses.setdefault(f.sid, Response(f.sid)).rst = f.error_code

    def _header_frame(self, f):
        p = f.payload
        if f.type in (HEADERS, PUSH_PROMISE):
            if f.flags & PADDED:
                p = p[1:len(p) - p[0]]
            if f.type == HEADERS and f.flags & PRIORITY_FLAG:
                p = p[5:]
            if f.type == PUSH_PROMISE:
                p = p[4:]
            self._hblock = [f.sid, bytearray(p), f.type, f.flags]
        elif self._hblock is not None:
            self._hblock[1] += p
        if self._hblock is None or not f.flags & END_HEADERS:
            return
        sid, block, ftype, flags = self._hblock
        self._hblock = None
        headers = self.decoder.decode(bytes(block), raw=True)
        if ftype != HEADERS:
            return
        r = self.responses.setdefault(sid, Response(sid))
        status = [v for k, v in headers if k == b":status"]
        if status and r.status is None or (status and r.status and r.status < 200):
            r.status = int(status[0])
            r.headers = headers
        else:
            r.trailers = headers
        if flags & END_STREAM:
            r.ended = True

    # ------------------------------------------------------------ handshake
    def handshake(self, settings=((ENABLE_PUSH, 0),), wait_ack=True):
        """Preface + SETTINGS; reads the server's SETTINGS and ACKs it; waits
        for the ACK of ours."""
        self.send(PREFACE + frame(SETTINGS, 0, 0, settings_payload(*settings)))
        got_settings = got_ack = False
        deadline = time.monotonic() + self.timeout
        while not (got_settings and (got_ack or not wait_ack)):
            f = self.read_frame(max(0.05, deadline - time.monotonic()))
            if f is None:
                raise AssertionError("connection closed during the handshake: %r" % self.frames)
            if f.type == SETTINGS and not f.flags & ACK:
                if not got_settings and self.frames[0] is not f:
                    raise AssertionError("server's first frame is not SETTINGS: %r" % self.frames)
                got_settings = True
                self.send_frame(SETTINGS, ACK, 0)
            elif f.type == SETTINGS:
                got_ack = True
        return self

    # ------------------------------------------------------------ outcomes
    def wait(self, sid=None, timeout=None, until=None):
        """Reads until something decisive happens and returns its Outcome:
        GOAWAY, RST_STREAM on |sid| (or on any stream if sid is None), the
        response head on |sid|, close, or timeout. |until(frame)| may end the
        wait early with Outcome('frame')."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                f = self.read_frame(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                return Outcome("timeout", frames=self.frames)
            if f is None:
                return Outcome("close", frames=self.frames)
            if f.type == GOAWAY:
                # RFC 9113 §6.8: a GOAWAY with NO_ERROR may precede the one
                # with the real code (graceful shutdown in two steps).
                if f.error_code == NO_ERROR and not self._quick_second_goaway():
                    return Outcome("goaway", code=NO_ERROR, frames=self.frames)
                g = [x for x in self.frames if x.type == GOAWAY][-1]
                return Outcome("goaway", code=g.error_code, frames=self.frames)
            if f.type == RST_STREAM and (sid is None or f.sid == sid):
                return Outcome("rst", code=f.error_code, sid=f.sid, frames=self.frames)
            if sid is not None and f.type in (HEADERS, CONTINUATION) and self._hblock is None:
                r = self.responses.get(sid)
                if r is not None and r.status is not None and r.status >= 200:
                    return Outcome("response", status=r.status, sid=sid, frames=self.frames)
            if until is not None and until(f):
                return Outcome("frame", frames=self.frames)

    def _quick_second_goaway(self):
        try:
            while True:
                f = self.read_frame(0.3)
                if f is None:
                    return False
                if f.type == GOAWAY:
                    return True
        except socket.timeout:
            return False

    def ping_alive(self, timeout=None):
        """Sends a PING and returns Outcome('ping') when its ACK comes back, or
        the GOAWAY/close/timeout that came instead."""
        self.ping_seq += 1
        data = b"alive%03d" % (self.ping_seq % 1000)
        if not self.send_ping(data):
            return Outcome("close", frames=self.frames)
        o = self.wait(timeout=timeout, until=lambda f: f.type == PING and f.flags & ACK and
                      f.payload == data)
        if o.kind == "frame":
            return Outcome("ping", frames=self.frames)
        if o.kind == "rst":  # a stream error is not a connection problem
            return self.ping_alive(timeout)
        return o

    def expect_goaway(self, code, timeout=None):
        o = self.wait(timeout=timeout)
        assert o.kind == "goaway" and o.code == code, \
            "expected GOAWAY(%s), got %r; frames %r" % (ename(code), o, self.frames[-12:])
        return o

    def expect_rst(self, sid, code, timeout=None):
        o = self.wait(sid=sid, timeout=timeout)
        assert o.kind == "rst" and o.code == code and o.sid == sid, \
            "expected RST_STREAM(%s) on %d, got %r; frames %r" % (ename(code), sid, o, self.frames[-12:])
        return o

    def expect_close(self, timeout=None):
        """The connection ends (a GOAWAY before the close is allowed)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                f = self.read_frame(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                raise AssertionError("connection still open; frames %r" % self.frames[-12:])
            if f is None:
                return Outcome("close", frames=self.frames)

    def expect_response(self, sid, timeout=None, status=None):
        """Waits for the complete response on |sid| (head, body to END_STREAM)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            r = self.responses.get(sid)
            if r is not None and r.ended and r.status is not None:
                if status is not None:
                    assert r.status == status, "status %r, expected %r" % (r.status, status)
                return r
            try:
                f = self.read_frame(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                raise AssertionError("no complete response on %d; frames %r" % (sid, self.frames[-12:]))
            if f is None:
                raise AssertionError("closed before the response on %d; frames %r" % (sid, self.frames[-12:]))
            if f.type == GOAWAY and f.error_code != NO_ERROR:
                raise AssertionError("GOAWAY before the response on %d: %r" % (sid, f))
            if f.type == RST_STREAM and f.sid == sid:
                raise AssertionError("RST_STREAM on %d: %r" % (sid, f))
            if f.type == DATA and f.payload:
                # give the window back at once so that any body can arrive
                self.send_window_update(0, len(f.payload))
                self.send_window_update(f.sid, len(f.payload))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
