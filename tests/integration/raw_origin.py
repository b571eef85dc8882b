"""A raw-frame rh2 origin for the role-inversion tests (THREATS.md 1e).

Written from the potato draft and RFC 9113 alone: it dials a gateway over
TLS with ALPN rh2 and is the HTTP/2 *server* of that connection, frame by
frame (hyperframe + hpack), so that it can also break the rules a server
must keep.  It runs in a thread of the test process.

  o = RawOrigin(port, ca, mode, token).start()
  o.wait_closed(5); o.goaway -> (error code, debug) or None

Modes:
  client-preface  sends the client connection preface instead of SETTINGS
  even-headers    opens stream 2 with HEADERS (no PUSH_PROMISE)
  odd-headers     sends HEADERS on stream 3, a stream of the client's parity
  push            PUSH_PROMISE on the authorization request's stream
  serve           a well-behaved origin: advertises MAX_CONCURRENT_STREAMS
                  |max_streams|, answers the authorization request with the
                  token, and every other request with 200 "ok" after |hold|
                  seconds; records how many streams were open at once.
"""
import socket
import ssl
import threading
import time

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              PushPromiseFrame, SettingsFrame, WindowUpdateFrame, RstStreamFrame)

CLIENT_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class RawOrigin:
    def __init__(self, port, ca, mode, token, authority="app.example.com", max_streams=100, hold=0.3,
                 sni="localhost"):
        self.port, self.ca, self.mode, self.token = port, ca, mode, token
        self.authority, self.max_streams, self.hold, self.sni = authority, max_streams, hold, sni
        self.goaway = None            # (code, debug bytes) of the gateway's GOAWAY
        self.closed = threading.Event()
        self.error = None
        self.io_error = None
        self.requests = []            # (stream id, headers dict) of non-authorization requests
        self.auth_seen = False
        self.open_streams = set()
        self.max_open = 0
        self.gateway_settings = {}
        self.frames = []              # (type name, flags, stream id) of every frame received
        self._lock = threading.Lock()
        self._dec = hpack.Decoder()
        self._enc = hpack.Encoder()
        self._blocks = {}

    def start(self):
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.set_alpn_protocols(["rh2"])
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname=self.sni)
        if self.sock.selected_alpn_protocol() != "rh2":
            raise AssertionError("gateway did not select rh2: %r" % self.sock.selected_alpn_protocol())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def wait_closed(self, timeout):
        return self.closed.wait(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- I/O

    def _send(self, *frames):
        """Frames (or functions making one, run under the lock: HPACK state
        must be encoded in the order the blocks go out) in one write."""
        with self._lock:
            out = []
            for f in frames:
                if callable(f):
                    f = f()
                out.append(f if isinstance(f, bytes) else f.serialize())
            self.sock.sendall(b"".join(out))

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            d = self.sock.recv(n - len(buf))
            if not d:
                raise EOFError
            buf += d
        return buf

    def _read_frame(self):
        hdr = self._recv_exact(9)
        f, length = Frame.parse_frame_header(memoryview(hdr))
        body = self._recv_exact(length) if length else b""
        if f is None:  # unknown type: ignored (RFC 9113 §4.1)
            return None
        f.parse_body(memoryview(body))
        self.frames.append((type(f).__name__, sorted(f.flags), f.stream_id))
        return f

    def _headers(self, sid, fields, end_stream=False):
        """A HEADERS frame, encoded when sent (see _send)."""
        def make():
            f = HeadersFrame(sid, data=self._enc.encode(fields))
            f.flags.add("END_HEADERS")
            if end_stream:
                f.flags.add("END_STREAM")
            return f
        return make

    # -- the server side of the connection

    def _run(self):
        try:
            self._serve()
        except EOFError:
            pass
        except (OSError, ssl.SSLError) as e:
            self.io_error = repr(e)
        except Exception as e:  # noqa: BLE001 (reported to the test)
            self.error = repr(e)
        finally:
            self.closed.set()

    def _serve(self):
        # The gateway (the client) sends the client preface first.
        pre = self._recv_exact(len(CLIENT_PREFACE))
        if pre != CLIENT_PREFACE:
            raise AssertionError("the gateway did not send the client preface: %r" % pre)
        if self.mode == "client-preface":
            self._send(CLIENT_PREFACE, SettingsFrame(0))
        else:
            self._send(SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: self.max_streams}))
        timers = []
        while True:
            f = self._read_frame()
            if f is None:
                continue
            if isinstance(f, GoAwayFrame):
                self.goaway = (f.error_code, bytes(f.additional_data))
                continue
            if isinstance(f, SettingsFrame):
                if "ACK" not in f.flags:
                    self.gateway_settings.update(f.settings)
                    ack = SettingsFrame(0)
                    ack.flags.add("ACK")
                    self._send(ack)
                continue
            if isinstance(f, PingFrame):
                if "ACK" not in f.flags:
                    a = PingFrame(0, opaque_data=f.opaque_data)
                    a.flags.add("ACK")
                    self._send(a)
                continue
            if isinstance(f, (HeadersFrame, ContinuationFrame)):
                blk = self._blocks.get(f.stream_id, b"") + bytes(f.data)
                if "END_HEADERS" not in f.flags:
                    self._blocks[f.stream_id] = blk
                    continue
                self._blocks.pop(f.stream_id, None)
                fields = dict((k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                              for k, v in self._dec.decode(blk))
                self._on_request(f.stream_id, fields, timers)
                continue
            if isinstance(f, DataFrame) and f.flow_controlled_length:
                self._send(WindowUpdateFrame(0, window_increment=f.flow_controlled_length))
                continue
            if isinstance(f, RstStreamFrame):
                self.open_streams.discard(f.stream_id)

    def _on_request(self, sid, fields, timers):
        auth = "h2bridge-challenge" in fields
        if auth:
            self.auth_seen = True
        if self.mode == "even-headers" and auth:
            self._send(self._headers(2, [(":status", "200")], end_stream=True))
            return
        if self.mode == "odd-headers" and auth:
            self._send(self._headers(sid + 2, [(":status", "200")], end_stream=True))
            return
        if self.mode == "push" and auth:
            def push():
                pp = PushPromiseFrame(sid, promised_stream_id=2,
                                      data=self._enc.encode([(":method", "GET"), (":scheme", "https"),
                                                             (":authority", self.authority), (":path", "/pushed")]))
                pp.flags.add("END_HEADERS")
                return pp
            self._send(push)
            return
        if auth:
            self._send(self._headers(sid, [(":status", "200"), ("h2bridge-token", self.token),
                                           ("h2bridge-authorities", self.authority)], end_stream=True))
            return
        self.requests.append((sid, fields))
        self.open_streams.add(sid)
        self.max_open = max(self.max_open, len(self.open_streams))

        def answer(sid=sid):
            time.sleep(self.hold)
            self.open_streams.discard(sid)
            try:
                self._send(self._headers(sid, [(":status", "200"), ("content-type", "text/plain")]),
                           DataFrame(sid, data=b"ok", flags=["END_STREAM"]))
            except OSError:
                pass
        t = threading.Thread(target=answer, daemon=True)
        t.start()
        timers.append(t)

