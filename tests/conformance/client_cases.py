"""Client-role conformance cases: h2bridge's upstream HTTP/2 side (the
CLIENT of the connection) against a raw server (h2server.py) that breaks one
rule of RFC 9113 / RFC 7541 per case. Run by test_client_role.py.

A row is Case(id, section, title, run, expect, ...):
  run(sc, x)   the server's misbehaviour on ServerConn sc. With start=True
               (default) sc has already exchanged SETTINGS and read the
               request head: x.sid is its stream. With start=False run()
               gets the connection right after accept (preface cases).
  expect       what the RFC requires of h2bridge, as an Expect on the pair
               (what h2bridge sent upstream, what the downstream client got):
                 conn(C)      GOAWAY(C) upstream; downstream 502
                 stream(C)    RST_STREAM(C) on the request's stream (or
                              GOAWAY(C), RFC 9113 §5.4.1); downstream 502
                 served       no GOAWAY/RST error; downstream 200, complete
               `down=` replaces the downstream part: D502, D200 (complete
               200), DBROKEN (502, or a 200 whose body is cut short: the
               head had been forwarded already), DANY.
  ng / h2x     (expect, why): where one engine departs from the RFC; the
               other keeps the RFC's expectation.
  down         the downstream request: dict(method, headers, body) for
               Downstream; POST_HOLD keeps the request stream open (a body
               that never comes), for the cases that need an open stream.
  ping         send a PING after run() (the liveness probe; off for cases
               that leave a header block open)
  timeout      seconds to wait for h2bridge's answer
  check        check(sc, x) -> None or what went wrong: a further
               requirement (e.g. the PING ACK of ping-from-server)
  bug          {target: description}: a known h2bridge bug for that target;
               the case is a strict xfail there (it fails the run once it
               passes, so that the mark is removed with the fix)

Every case is followed by a second request (test_client_role.py) that must
be served with 200 by a well-behaved server: one upstream's misbehaviour
must not break the next exchange.
"""
import struct

from h2raw import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENABLE_PUSH, GOAWAY,
                   HEADERS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, NO_ERROR, PADDED, PING, PRIORITY,
                   PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE, COMPRESSION_ERROR,
                   FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, INTERNAL_ERROR, PROTOCOL_ERROR,
                   REFUSED_STREAM, STREAM_CLOSED, ename, frame, indexed, lit,
                   priority_payload, raw_block, settings_payload, table_size_update)

UNKNOWN_TYPE = 0xEE
POST_HOLD = dict(method="POST", headers=(("Content-Length", "5"),), body=b"")


# ---------------------------------------------------------------- expectations

class Expect:
    def __init__(self, name, up, down):
        self.name, self.up, self.down = name, up, down

    def matches(self, up, down):
        return self.up(up) and self.down(down)

    def __repr__(self):
        return self.name


def _d502(d):
    return d.status == 502


def _d200(d):
    return d.status == 200 and d.complete


def _dbroken(d):
    return d.status == 502 or (d.status == 200 and not d.complete)


DOWN = {"502": _d502, "200": _d200, "broken": _dbroken, "any": lambda d: True}
D502, D200, DBROKEN, DANY = "502", "200", "broken", "any"


def conn(code, down=D502, or_close=False):
    def up(o):
        return (o.kind == "goaway" and o.code == code) or (or_close and o.kind == "close")
    return Expect("GOAWAY(%s)%s, downstream %s" % (ename(code), " or close" if or_close else "", down),
                  up, DOWN[down])


def conn_any(codes, down=D502, or_close=True):
    def up(o):
        return (o.kind == "goaway" and o.code in codes) or (or_close and o.kind == "close")
    return Expect("GOAWAY(%s)%s, downstream %s" % ("|".join(ename(c) for c in codes),
                                                   " or close" if or_close else "", down),
                  up, DOWN[down])


def stream(code, down=D502):
    return Expect("RST_STREAM(%s) or GOAWAY(%s), downstream %s" % (ename(code), ename(code), down),
                  lambda o: o.kind in ("rst", "goaway") and o.code == code, DOWN[down])


def _no_error(o):
    return o.kind in ("alive", "quiet", "close") or (o.kind == "goaway" and o.code == NO_ERROR)


served = Expect("no error upstream, downstream 200 complete", _no_error, _d200)


def no_error(down):
    return Expect("no error upstream, downstream %s" % down, _no_error, DOWN[down])


def any_of(*exps):
    return _AnyOf(exps)


class _AnyOf(Expect):
    def __init__(self, exps):
        super().__init__(" | ".join("(%s)" % e.name for e in exps), None, None)
        self.exps = exps

    def matches(self, up, down):
        return any(e.matches(up, down) for e in self.exps)


# ---------------------------------------------------------------- the table

class Case:
    def __init__(self, id, section, title, run, expect, start=True, ng=None, h2x=None,
                 down=None, ping=True, timeout=2.5, settings=(), check=None, bug=None):
        self.id, self.section, self.title = id, section, title
        self.run, self.expect, self.start = run, expect, start
        self.ng, self.h2x = ng, h2x
        self.down = down or {}
        self.ping, self.timeout, self.settings = ping, timeout, settings
        self.check = check
        self.bug = bug or {}

    def expectation(self, target):
        if target == "h2bridge-nghttp2-client" and self.ng:
            return self.ng
        if target == "h2bridge-h2x-client" and self.h2x:
            return self.h2x
        return self.expect, "RFC"


CASES = []


def case(*a, **kw):
    CASES.append(Case(*a, **kw))


def status_block(status="200", extra=()):
    """A response head as raw literals (no dynamic table: any bytes go)."""
    return raw_block([(":status", status)] + list(extra))


def hdrs(sid, block, end_stream=False, end_headers=True):
    return frame(HEADERS, (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0),
                 sid, block)


def send(*frames_of_sid):
    """A run() that sends frames built from the request's stream id:
    each argument is a function sid -> bytes."""
    return lambda sc, x: sc.send(b"".join(f(x.sid) for f in frames_of_sid))


def then_respond(stim):
    """Stimulus, then a correct response (the stimulus was harmless)."""
    def run(sc, x):
        stim(sc, x)
        sc.respond(x.sid, 200, b"ok\n")
    return run


def respond_then(stim):
    """A complete response, then the stimulus."""
    def run(sc, x):
        sc.respond(x.sid, 200, b"ok\n")
        stim(sc, x)
    return run


def settings_frame(*pairs, flags=0, sid=0):
    return lambda s: frame(SETTINGS, flags, sid, settings_payload(*pairs))


def preface_then(data):
    """start=False: read the client preface, send |data| instead of SETTINGS."""
    def run(sc, x):
        sc.read_preface()
        sc.send(data)
    return run


# ================================================================ §3.4 server preface
case("preface-ping-first", "RFC 9113 §3.4",
     "the server's preface must be a SETTINGS frame: PING first is a PROTOCOL_ERROR",
     preface_then(frame(PING, 0, 0, b"\0" * 8)), conn(PROTOCOL_ERROR, or_close=True), start=False)
case("preface-window-update-first", "RFC 9113 §3.4",
     "WINDOW_UPDATE before the server's SETTINGS: PROTOCOL_ERROR",
     preface_then(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 100))),
     conn(PROTOCOL_ERROR, or_close=True), start=False)
case("preface-headers-first", "RFC 9113 §3.4",
     "a response HEADERS before the server's SETTINGS: PROTOCOL_ERROR",
     preface_then(hdrs(1, status_block(), end_stream=True)), conn(PROTOCOL_ERROR, or_close=True),
     start=False)
case("preface-http1-garbage", "RFC 9113 §3.4",
     "an HTTP/1.1 response instead of the server preface: invalid preface, PROTOCOL_ERROR (its "
     "first 'frame' also claims a length of 0x485454: the type is judged before the length)",
     preface_then(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
     conn(PROTOCOL_ERROR, or_close=True), start=False)
case("preface-client-preface", "RFC 9113 §3.4",
     "the server sends the CLIENT preface (a peer with the roles inverted, as on a misbehaving rh2 "
     "origin): invalid preface, PROTOCOL_ERROR",
     preface_then(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0, b"")),
     conn(PROTOCOL_ERROR, or_close=True), start=False)
case("preface-eof", "RFC 9113 §3.4 / §8.7",
     "the server closes right after the client preface: the request fails with 502",
     lambda sc, x: (sc.read_preface(), sc.close()),
     Expect("closed, downstream 502", lambda o: o.kind == "close", _d502), start=False, ping=False)
case("preface-settings-enable-push-1", "RFC 9113 §6.5.2",
     "ENABLE_PUSH=1 in the server's preface SETTINGS: PROTOCOL_ERROR",
     preface_then(frame(SETTINGS, 0, 0, settings_payload((ENABLE_PUSH, 1)))),
     conn(PROTOCOL_ERROR, or_close=True), start=False)

# ================================================================ §6.5 SETTINGS (after the request)
case("settings-enable-push-1", "RFC 9113 §6.5.2",
     "a server MUST NOT set ENABLE_PUSH to 1: PROTOCOL_ERROR",
     send(settings_frame((ENABLE_PUSH, 1))), conn(PROTOCOL_ERROR))
case("settings-enable-push-2", "RFC 9113 §6.5.2", "ENABLE_PUSH other than 0/1: PROTOCOL_ERROR",
     send(settings_frame((ENABLE_PUSH, 2))), conn(PROTOCOL_ERROR))
case("settings-enable-push-0", "RFC 9113 §6.5.2", "ENABLE_PUSH=0 from a server is allowed",
     then_respond(send(settings_frame((ENABLE_PUSH, 0)))), served)
case("settings-initial-window-2^31", "RFC 9113 §6.5.2",
     "INITIAL_WINDOW_SIZE above 2^31-1: FLOW_CONTROL_ERROR",
     send(settings_frame((INITIAL_WINDOW_SIZE, 1 << 31))), conn(FLOW_CONTROL_ERROR))
case("settings-max-frame-16383", "RFC 9113 §6.5.2", "MAX_FRAME_SIZE below 16384: PROTOCOL_ERROR",
     send(settings_frame((MAX_FRAME_SIZE, 16383))), conn(PROTOCOL_ERROR))
case("settings-max-frame-2^24", "RFC 9113 §6.5.2", "MAX_FRAME_SIZE above 2^24-1: PROTOCOL_ERROR",
     send(settings_frame((MAX_FRAME_SIZE, 1 << 24))), conn(PROTOCOL_ERROR))
case("settings-length-5", "RFC 9113 §6.5", "SETTINGS of length 5: FRAME_SIZE_ERROR",
     send(lambda s: frame(SETTINGS, 0, 0, b"\0\x03\0\0\0")), conn(FRAME_SIZE_ERROR))
case("settings-ack-with-payload", "RFC 9113 §6.5", "SETTINGS ACK with a payload: FRAME_SIZE_ERROR",
     send(settings_frame((MAX_FRAME_SIZE, 16384), flags=ACK)), conn(FRAME_SIZE_ERROR))
case("settings-on-stream", "RFC 9113 §6.5", "SETTINGS on a stream: PROTOCOL_ERROR",
     send(lambda s: frame(SETTINGS, 0, s, settings_payload((MAX_FRAME_SIZE, 16384)))),
     conn(PROTOCOL_ERROR))
case("settings-unknown-id", "RFC 9113 §6.5.2", "an unknown setting (0xff) is ignored",
     then_respond(send(settings_frame((0xFF, 7)))), served)


def _initial_window_overflow(sc, x):
    # the client's send window on the open request stream: 65535 + (2^31-1-65535) = max;
    # INITIAL_WINDOW_SIZE 65535 -> 65536 then takes it one above 2^31-1
    sc.send(frame(WINDOW_UPDATE, 0, x.sid, struct.pack(">I", (1 << 31) - 1 - 65535)) +
            frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 65536))))


case("settings-initial-window-overflows-stream", "RFC 9113 §6.9.2",
     "an INITIAL_WINDOW_SIZE change that takes an open stream's window above 2^31-1: "
     "connection FLOW_CONTROL_ERROR",
     _initial_window_overflow, conn(FLOW_CONTROL_ERROR), down=POST_HOLD,
     ng=(stream(FLOW_CONTROL_ERROR), "nghttp2 resets each overflowing stream (RST_STREAM "
                                     "FLOW_CONTROL_ERROR) instead of a connection error"))

# ================================================================ §8.4 PUSH_PROMISE
case("push-promise-push-disabled", "RFC 9113 §8.4 / §6.6",
     "PUSH_PROMISE after we sent ENABLE_PUSH=0: PROTOCOL_ERROR",
     send(lambda s: frame(PUSH_PROMISE, END_HEADERS, s, struct.pack(">I", 2) + raw_block(
         [(":method", "GET"), (":scheme", "http"), (":path", "/pushed"),
          (":authority", "conformance.test")]))),
     conn(PROTOCOL_ERROR))

# ================================================================ §5.1 stream states
case("headers-never-opened-odd", "RFC 9113 §5.1 / §5.1.1",
     "a response HEADERS on stream 3, which we never opened (idle, client-parity): PROTOCOL_ERROR",
     send(lambda s: hdrs(s + 2, status_block(), end_stream=True)), conn(PROTOCOL_ERROR))
case("headers-even-stream", "RFC 9113 §5.1.1 / §8.4",
     "a server opening stream 2 with HEADERS (servers only reserve streams by PUSH_PROMISE): "
     "PROTOCOL_ERROR",
     send(lambda s: hdrs(2, status_block(), end_stream=True)), conn(PROTOCOL_ERROR))
case("data-idle-stream", "RFC 9113 §5.1", "DATA on an idle stream (3): PROTOCOL_ERROR",
     send(lambda s: frame(DATA, END_STREAM, s + 2, b"x")), conn(PROTOCOL_ERROR))
case("rst-idle-stream", "RFC 9113 §6.4", "RST_STREAM on an idle stream (3): PROTOCOL_ERROR",
     send(lambda s: frame(RST_STREAM, 0, s + 2, struct.pack(">I", 8))), conn(PROTOCOL_ERROR))
case("window-update-idle-stream", "RFC 9113 §5.1", "WINDOW_UPDATE on an idle stream (3): PROTOCOL_ERROR",
     send(lambda s: frame(WINDOW_UPDATE, 0, s + 2, struct.pack(">I", 1))), conn(PROTOCOL_ERROR))
case("data-before-headers", "RFC 9113 §8.1 / §8.1.1",
     "DATA before the response HEADERS: malformed, stream PROTOCOL_ERROR",
     send(lambda s: frame(DATA, END_STREAM, s, b"body before head")), stream(PROTOCOL_ERROR))
NG_CLOSED_IGNORED = (no_error(D200), "nghttp2 forgets a closed stream and ignores frames on it "
                                      "(nghttp2_session.c: frames on closed streams are dropped)")
case("data-after-end-stream", "RFC 9113 §6.1 / §5.1 (closed)",
     "DATA after the response's END_STREAM (stream closed): STREAM_CLOSED",
     respond_then(send(lambda s: frame(DATA, 0, s, b"late"))), stream(STREAM_CLOSED, down=D200),
     ng=NG_CLOSED_IGNORED)
case("headers-after-end-stream", "RFC 9113 §5.1 (closed)",
     "HEADERS after the response's END_STREAM (stream closed): STREAM_CLOSED",
     respond_then(send(lambda s: hdrs(s, status_block(), end_stream=True))),
     stream(STREAM_CLOSED, down=D200), ng=NG_CLOSED_IGNORED)
case("window-update-closed-stream", "RFC 9113 §5.1 (closed)",
     "WINDOW_UPDATE on a stream just closed by END_STREAM is allowed (it may cross): ignored",
     respond_then(send(lambda s: frame(WINDOW_UPDATE, 0, s, struct.pack(">I", 100)))),
     no_error(D200))
case("rst-closed-stream", "RFC 9113 §5.1 (closed)",
     "RST_STREAM on a stream just closed by END_STREAM is allowed (it may cross): ignored",
     respond_then(send(lambda s: frame(RST_STREAM, 0, s, struct.pack(">I", 8)))), no_error(D200))
case("priority-idle-stream", "RFC 9113 §5.1 (idle) / §6.3",
     "PRIORITY on an idle stream is allowed: ignored",
     then_respond(send(lambda s: frame(PRIORITY, 0, s + 10, priority_payload(0, 16)))), served)

# ================================================================ §6.9 flow control
case("window-update-0-stream", "RFC 9113 §6.9",
     "WINDOW_UPDATE of 0 on a stream: stream PROTOCOL_ERROR",
     send(lambda s: frame(WINDOW_UPDATE, 0, s, struct.pack(">I", 0))), stream(PROTOCOL_ERROR),
     down=POST_HOLD)
case("window-update-0-connection", "RFC 9113 §6.9",
     "WINDOW_UPDATE of 0 on the connection: connection PROTOCOL_ERROR",
     send(lambda s: frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0))), conn(PROTOCOL_ERROR))
case("window-update-overflow-connection", "RFC 9113 §6.9.1",
     "connection window above 2^31-1 (65535 + 2^31-1): FLOW_CONTROL_ERROR",
     send(lambda s: frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 31) - 1))),
     conn(FLOW_CONTROL_ERROR))
case("window-update-overflow-stream", "RFC 9113 §6.9.1",
     "stream window above 2^31-1: stream FLOW_CONTROL_ERROR",
     send(lambda s: frame(WINDOW_UPDATE, 0, s, struct.pack(">I", (1 << 31) - 1))),
     stream(FLOW_CONTROL_ERROR), down=POST_HOLD)
case("window-update-length-3", "RFC 9113 §6.9", "WINDOW_UPDATE of length 3: FRAME_SIZE_ERROR",
     send(lambda s: frame(WINDOW_UPDATE, 0, 0, b"\0\0\1")), conn(FRAME_SIZE_ERROR))


def _overrun_stream_window(sc, x):
    """DATA beyond the stream window we were given (h2bridge's SETTINGS
    INITIAL_WINDOW_SIZE: the upstream's stream_window, 65535 in this suite's
    config, plus its WINDOW_UPDATEs). h2bridge gives window back as it
    passes the body on, so the downstream client reads nothing (hold=) and
    the body is sent up to the window until h2bridge stops giving any back
    (its buffers toward the client are full); then window + 1 octet."""
    import socket as _s
    import time as _t
    iws = sc.peer_settings.get(INITIAL_WINDOW_SIZE, 65535)
    sc.send(hdrs(x.sid, status_block()))
    sent = 0

    def window():
        return iws + sc.stream_windows.get(x.sid, 0) - sent

    end = _t.monotonic() + 1.5
    quiet_since = _t.monotonic()
    while _t.monotonic() < end:
        w = window()
        while w > 0:
            n = min(16384, w)
            sc.send(frame(DATA, 0, x.sid, b"w" * n))
            sent += n
            w -= n
            quiet_since = _t.monotonic()
        before = sc.stream_windows.get(x.sid, 0)
        try:
            sc.read_frame(0.05)
        except _s.timeout:
            pass
        if sc.stream_windows.get(x.sid, 0) != before:
            quiet_since = _t.monotonic()
        elif _t.monotonic() - quiet_since > 0.3:
            break  # stalled: no WINDOW_UPDATE for 0.3 s with the window used up
    w = window()
    over = w + 1
    while over > 0:
        n = min(16384, over)
        sc.send(frame(DATA, 0, x.sid, b"w" * n))
        sent += n
        over -= n
    x.note = "stream window %d (initial %d + updates %d), sent %d in all" % (
        w, iws, sc.stream_windows.get(x.sid, 0), sent)


case("data-exceeds-stream-window", "RFC 9113 §6.9.1",
     "DATA beyond the stream window we advertised: FLOW_CONTROL_ERROR (stream or connection)",
     _overrun_stream_window, stream(FLOW_CONTROL_ERROR, down=DBROKEN), down=dict(hold=2.5),
     timeout=4.0)

# ================================================================ §8.1-§8.3 response messages
case("response-no-status", "RFC 9113 §8.3.2 / §8.1.1",
     "a response without :status: malformed, stream PROTOCOL_ERROR",
     send(lambda s: hdrs(s, raw_block([("content-type", "text/plain")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-status-invalid", "RFC 9113 §8.3.2 / §8.1.1",
     "a :status that is not a 3-digit code ('2000'): malformed",
     send(lambda s: hdrs(s, status_block("2000"), end_stream=True)), stream(PROTOCOL_ERROR))
case("response-status-twice", "RFC 9113 §8.3 / §8.1.1", "two :status fields: malformed",
     send(lambda s: hdrs(s, raw_block([(":status", "200"), (":status", "204")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-request-pseudo-header", "RFC 9113 §8.3 / §8.1.1",
     "a request pseudo-header (:path) in a response: malformed",
     send(lambda s: hdrs(s, raw_block([(":status", "200"), (":path", "/")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-pseudo-after-regular", "RFC 9113 §8.3 / §8.1.1",
     "a pseudo-header after a regular field: malformed",
     send(lambda s: hdrs(s, raw_block([("x-a", "1"), (":status", "200")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-uppercase-name", "RFC 9113 §8.2.1 / §8.1.1",
     "an uppercase field name (X-Upper): malformed",
     send(lambda s: hdrs(s, status_block(extra=[("X-Upper", "1")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-connection-header", "RFC 9113 §8.2.2",
     "a connection-specific field (connection: keep-alive): malformed",
     send(lambda s: hdrs(s, status_block(extra=[("connection", "keep-alive")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-transfer-encoding", "RFC 9113 §8.2.2",
     "transfer-encoding: chunked in an HTTP/2 response: malformed",
     send(lambda s: hdrs(s, status_block(extra=[("transfer-encoding", "chunked")]), end_stream=True)),
     stream(PROTOCOL_ERROR))
case("response-1xx-then-final", "RFC 9113 §8.1",
     "an interim 103 response, then the final 200: served",
     send(lambda s: hdrs(s, status_block("103", [("link", "</a.css>; rel=preload")])),
          lambda s: hdrs(s, status_block("200", [("content-length", "3")])),
          lambda s: frame(DATA, END_STREAM, s, b"ok\n")),
     served)
case("response-1xx-end-stream", "RFC 9113 §8.1",
     "an interim 100 response with END_STREAM: malformed, stream PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block("100"), end_stream=True)), stream(PROTOCOL_ERROR))
case("response-content-length-short", "RFC 9113 §8.1.1",
     "content-length: 10 and 3 octets of DATA: malformed, stream PROTOCOL_ERROR; the downstream "
     "response must not look complete",
     send(lambda s: hdrs(s, status_block(extra=[("content-length", "10")])),
          lambda s: frame(DATA, END_STREAM, s, b"abc")),
     stream(PROTOCOL_ERROR, down=DBROKEN))
case("response-content-length-long", "RFC 9113 §8.1.1",
     "content-length: 2 and 5 octets of DATA: malformed, stream PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block(extra=[("content-length", "2")])),
          lambda s: frame(DATA, END_STREAM, s, b"abcde")),
     stream(PROTOCOL_ERROR, down=DBROKEN))
case("response-trailers", "RFC 9113 §8.1", "a body, then trailers with END_STREAM: served",
     send(lambda s: hdrs(s, status_block()),
          lambda s: frame(DATA, 0, s, b"ok\n"),
          lambda s: hdrs(s, raw_block([("x-checksum", "abc")]), end_stream=True)),
     served)
case("response-trailers-pseudo", "RFC 9113 §8.1 / §8.3",
     "trailers that carry :status: malformed, stream PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block()),
          lambda s: frame(DATA, 0, s, b"ok\n"),
          lambda s: hdrs(s, raw_block([(":status", "200")]), end_stream=True)),
     stream(PROTOCOL_ERROR, down=DBROKEN))
case("response-trailers-no-end-stream", "RFC 9113 §8.1",
     "a second HEADERS (trailers) without END_STREAM: malformed, stream PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block()),
          lambda s: frame(DATA, 0, s, b"ok\n"),
          lambda s: hdrs(s, raw_block([("x-checksum", "abc")]))),
     stream(PROTOCOL_ERROR, down=DBROKEN))

# ================================================================ §6.4 / §8.7 RST_STREAM
case("rst-before-response", "RFC 9113 §6.4 / §8.7",
     "RST_STREAM(INTERNAL_ERROR) instead of a response: the exchange fails (502), the connection lives",
     send(lambda s: frame(RST_STREAM, 0, s, struct.pack(">I", INTERNAL_ERROR))), no_error(D502))
case("rst-refused-stream", "RFC 9113 §8.7",
     "RST_STREAM(REFUSED_STREAM): the request was not processed and MAY be retried "
     "(downstream 200 when retried, else 502)",
     send(lambda s: frame(RST_STREAM, 0, s, struct.pack(">I", REFUSED_STREAM))), no_error(DANY))
case("rst-mid-body", "RFC 9113 §6.4",
     "RST_STREAM after the head and part of the body: the downstream response is cut short",
     send(lambda s: hdrs(s, status_block(extra=[("content-length", "100")])),
          lambda s: frame(DATA, 0, s, b"x" * 10),
          lambda s: frame(RST_STREAM, 0, s, struct.pack(">I", INTERNAL_ERROR))),
     no_error(DBROKEN))
case("rst-length-5", "RFC 9113 §6.4", "RST_STREAM of length 5: connection FRAME_SIZE_ERROR",
     send(lambda s: frame(RST_STREAM, 0, s, b"\0" * 5)), conn(FRAME_SIZE_ERROR))

# ================================================================ §6.8 GOAWAY
case("goaway-last-below-stream", "RFC 9113 §6.8 / §8.7",
     "GOAWAY(NO_ERROR) with last-stream-id 0, below our stream: the request was not processed; "
     "it MAY be retried on a new connection (200) or answered 502",
     send(lambda s: frame(GOAWAY, 0, 0, struct.pack(">II", 0, NO_ERROR))),
     no_error(DANY), ping=False)
case("goaway-last-equal-stream", "RFC 9113 §6.8",
     "GOAWAY(NO_ERROR) covering our stream, then the response: served",
     then_respond(send(lambda s: frame(GOAWAY, 0, 0, struct.pack(">II", s, NO_ERROR)))),
     served, ping=False)
case("goaway-error-then-close", "RFC 9113 §6.8 / §5.4.1",
     "GOAWAY(INTERNAL_ERROR) covering our stream, then close, no response: 502, nothing sent back",
     lambda sc, x: (sc.send(frame(GOAWAY, 0, 0, struct.pack(">II", x.sid, INTERNAL_ERROR))),
                    sc.close()),
     Expect("closed, downstream 502", lambda o: o.kind == "close", _d502), ping=False)
case("goaway-on-stream", "RFC 9113 §6.8", "GOAWAY on a stream: PROTOCOL_ERROR",
     send(lambda s: frame(GOAWAY, 0, s, struct.pack(">II", 0, NO_ERROR))), conn(PROTOCOL_ERROR))

# ================================================================ §6.7 PING
case("ping-from-server", "RFC 9113 §6.7",
     "a PING from the server is answered with a PING ACK of the same payload; then served",
     then_respond(send(lambda s: frame(PING, 0, 0, b"srvping1"))), served,
     check=lambda sc, x: None if [f for f in sc.frames if f.type == PING and f.flags & ACK and
                                  f.payload == b"srvping1"] else "no PING ACK with our payload")
case("ping-on-stream", "RFC 9113 §6.7", "PING on a stream: PROTOCOL_ERROR",
     send(lambda s: frame(PING, 0, s, b"\0" * 8)), conn(PROTOCOL_ERROR))
case("ping-length-7", "RFC 9113 §6.7", "PING of length 7: FRAME_SIZE_ERROR",
     send(lambda s: frame(PING, 0, 0, b"\0" * 7)), conn(FRAME_SIZE_ERROR))

# ================================================================ §6.10 CONTINUATION
case("continuation-ok", "RFC 9113 §6.10", "a response head split over HEADERS + CONTINUATION: served",
     send(lambda s: hdrs(s, raw_block([(":status", "200")]), end_headers=False),
          lambda s: frame(CONTINUATION, END_HEADERS, s, raw_block([("content-length", "3")])),
          lambda s: frame(DATA, END_STREAM, s, b"ok\n")),
     served)
case("continuation-interleaved-data", "RFC 9113 §6.10 / §6.2",
     "DATA inside an open header block: PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block(), end_headers=False),
          lambda s: frame(DATA, END_STREAM, s, b"x")),
     conn(PROTOCOL_ERROR), ping=False)
case("continuation-interleaved-ping", "RFC 9113 §6.10 / §6.2",
     "PING inside an open header block: PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block(), end_headers=False),
          lambda s: frame(PING, 0, 0, b"\0" * 8)),
     conn(PROTOCOL_ERROR), ping=False)
case("continuation-wrong-stream", "RFC 9113 §6.10",
     "CONTINUATION on another stream than the open header block: PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block(), end_headers=False),
          lambda s: frame(CONTINUATION, END_HEADERS, s + 2, b"")),
     conn(PROTOCOL_ERROR), ping=False)
case("continuation-without-headers", "RFC 9113 §6.10",
     "CONTINUATION with no header block open: PROTOCOL_ERROR",
     send(lambda s: frame(CONTINUATION, END_HEADERS, s, status_block())), conn(PROTOCOL_ERROR))
case("continuation-unknown-frame-inside", "RFC 9113 §5.5 / §6.10",
     "an unknown-type frame inside a header block: PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block(), end_headers=False),
          lambda s: frame(UNKNOWN_TYPE, 0, 0, b"abc")),
     conn(PROTOCOL_ERROR), ping=False)

def _big_head(sc, x):
    """A 70,000-octet response head (HEADERS + CONTINUATIONs), above the
    SETTINGS_MAX_HEADER_LIST_SIZE we advertised (65536)."""
    blk = status_block(extra=[("x-big-%d" % i, "v" * 1000) for i in range(70)])
    parts = [blk[i:i + 16000] for i in range(0, len(blk), 16000)]
    out = hdrs(x.sid, parts[0], end_stream=True, end_headers=False)
    for i, p in enumerate(parts[1:], 1):
        out += frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, x.sid, p)
    sc.send(out)


case("response-head-above-max-header-list-size", "RFC 9113 §6.5.2 / §10.5.1",
     "a response head above the SETTINGS_MAX_HEADER_LIST_SIZE we advertised: refused (stream "
     "reset or GOAWAY), downstream 502",
     _big_head, Expect("RST_STREAM or GOAWAY (any code), downstream 502",
                       lambda o: o.kind in ("rst", "goaway"), _d502))

# ================================================================ §4.3 HPACK (RFC 7541)
case("hpack-index-beyond-table", "RFC 7541 §2.3.3 / RFC 9113 §4.3",
     "an index beyond the static and (empty) dynamic table: COMPRESSION_ERROR",
     send(lambda s: hdrs(s, indexed(8) + indexed(70), end_stream=True)), conn(COMPRESSION_ERROR))
case("hpack-index-0", "RFC 7541 §6.1 / RFC 9113 §4.3", "indexed field 0: COMPRESSION_ERROR",
     send(lambda s: hdrs(s, indexed(8) + b"\x80", end_stream=True)), conn(COMPRESSION_ERROR))
case("hpack-table-size-update-too-big", "RFC 7541 §6.3 / §4.2",
     "a table size update above our SETTINGS_HEADER_TABLE_SIZE (4096): COMPRESSION_ERROR",
     send(lambda s: hdrs(s, table_size_update(4097) + indexed(8), end_stream=True)),
     conn(COMPRESSION_ERROR))
case("hpack-table-size-update-late", "RFC 7541 §4.2",
     "a table size update after a field: COMPRESSION_ERROR",
     send(lambda s: hdrs(s, indexed(8) + table_size_update(100), end_stream=True)),
     conn(COMPRESSION_ERROR))
case("hpack-truncated-literal", "RFC 7541 §5.2 / RFC 9113 §4.3",
     "a block that ends inside a string literal: COMPRESSION_ERROR",
     send(lambda s: hdrs(s, indexed(8) + b"\x00\x05x-abc\x0a12", end_stream=True)),
     conn(COMPRESSION_ERROR))
case("hpack-dynamic-table-ok", "RFC 7541 §6.2.1",
     "fields added to the dynamic table and referenced in a later block: served",
     lambda sc, x: sc.send(hdrs(x.sid, indexed(8) + b"\x40" + bytes([5]) + b"x-dyn" + bytes([1]) + b"1" +
                                lit("content-length", "3")) +
                           frame(DATA, END_STREAM, x.sid, b"ok\n")),
     served)

# ================================================================ §4.1 / §4.2 / §5.5 frames
case("unknown-frame-types-ignored", "RFC 9113 §4.1 / §5.5",
     "unknown frame types on stream 0 and on the request's stream are ignored: served",
     then_respond(send(lambda s: frame(UNKNOWN_TYPE, 0, 0, b"hello"),
                       lambda s: frame(UNKNOWN_TYPE, 0xFF, s, b"there"))),
     served)
case("priority-from-server", "RFC 9113 §6.3", "a PRIORITY frame from the server is ignored: served",
     then_respond(send(lambda s: frame(PRIORITY, 0, s, priority_payload(0, 200)))), served)
case("data-above-max-frame-size", "RFC 9113 §4.2",
     "DATA of 16385 octets, above our MAX_FRAME_SIZE: FRAME_SIZE_ERROR",
     send(lambda s: hdrs(s, status_block()), lambda s: frame(DATA, END_STREAM, s, b"a" * 16385)),
     stream(FRAME_SIZE_ERROR, down=DBROKEN))
case("headers-above-max-frame-size", "RFC 9113 §4.2",
     "HEADERS of 16385 octets, above our MAX_FRAME_SIZE: connection FRAME_SIZE_ERROR",
     send(lambda s: hdrs(s, status_block(extra=[("x-pad", "a" * (16385 - 20))])[:16385],
                         end_stream=True)),
     conn(FRAME_SIZE_ERROR))
case("data-padded-ok", "RFC 9113 §6.1", "padded DATA: the padding is dropped, served",
     send(lambda s: hdrs(s, status_block(extra=[("content-length", "3")])),
          lambda s: frame(DATA, END_STREAM | PADDED, s, b"\x04ok\n\0\0\0\0")),
     served)
case("data-pad-too-long", "RFC 9113 §6.1", "DATA padding >= the payload: PROTOCOL_ERROR",
     send(lambda s: hdrs(s, status_block()),
          lambda s: frame(DATA, END_STREAM | PADDED, s, b"\x05abcd")),
     conn(PROTOCOL_ERROR, down=DBROKEN))
