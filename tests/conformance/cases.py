"""The conformance cases: one row per rule of RFC 9113 (and RFC 7541 for
HPACK), written from the RFC text.

A row is Case(id, section, title, send, expect, ...):
  send(c, t)   sends the stimulus on H2Conn c (already past the handshake
               unless handshake=False); t is the target (t.path is a path it
               serves with 200, t.port its port)
  expect       what the RFC requires (see expect.py)
  sid          the stream whose RST_STREAM/response decides the case
  settings     the client's SETTINGS in the handshake (default ENABLE_PUSH=0);
               INITIAL_WINDOW_SIZE=0 keeps the server's streams open (it
               cannot send the response body), which the stream-state cases use
  ng           (expect, why): where nghttp2 1.52 (nghttpd and h2bridge on the
               nghttp2 engine) deliberately or knowingly departs from the RFC.
               The RFC expectation still applies to every other engine (h2x).
  nghttpd / bridge   (expect, why) for one target only
  timeout, settle    seconds to wait for the answer; to keep reading after
                     the PING ACK (for answers that come after a backlog)
"""
import struct

from expect import any_of, closed, conn, conn_or_close, graceful, ignored, malformed, ok, stream
from h2raw import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENABLE_CONNECT_PROTOCOL,
                   ENABLE_PUSH, GOAWAY, HEADER_TABLE_SIZE, HEADERS, INITIAL_WINDOW_SIZE,
                   MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, NO_RFC7540_PRIORITIES, PADDED, PING,
                   PREFACE, PRIORITY, PRIORITY_FLAG, PUSH_PROMISE, RST_STREAM, SETTINGS,
                   WINDOW_UPDATE, CANCEL, COMPRESSION_ERROR, FLOW_CONTROL_ERROR,
                   FRAME_SIZE_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, STREAM_CLOSED, frame,
                   hint, hstr, indexed, lit, lit_indexed, priority_payload, raw_block,
                   settings_payload, table_size_update)

W0 = ((ENABLE_PUSH, 0), (INITIAL_WINDOW_SIZE, 0))  # server cannot send bodies: streams stay open
UNKNOWN_TYPE = 0xEE


class Case:
    def __init__(self, id, section, title, send, expect, sid=None, settings=None,
                 handshake=True, ng=None, nghttpd=None, bridge=None, timeout=3.0, settle=0.05):
        self.id, self.section, self.title = id, section, title
        self.send, self.expect, self.sid = send, expect, sid
        self.settings = settings or ((ENABLE_PUSH, 0),)
        self.handshake = handshake
        self.ng, self.nghttpd, self.bridge = ng, nghttpd, bridge
        self.timeout, self.settle = timeout, settle

    def expectation(self, target):
        """(expect, note) for a target name."""
        if target == "nghttpd" and self.nghttpd:
            return self.nghttpd
        if target == "h2bridge-nghttp2" and self.bridge:
            return self.bridge
        if target in ("nghttpd", "h2bridge-nghttp2") and self.ng:
            return self.ng
        return self.expect, "RFC"


# ---------------------------------------------------------------- helpers

def fields(t, method="GET", path=None, drop=(), add=(), replace=None):
    """A request's header list: pseudo-header fields, then |add|."""
    f = [(":method", method), (":scheme", "http"), (":path", t.path if path is None else path),
         (":authority", "127.0.0.1:%d" % t.port)]
    f = [(n, v) for n, v in f if n not in drop]
    if replace:
        f = [(n, replace.get(n, v)) for n, v in f]
    return f + list(add)


def block(t, **kw):
    return raw_block(fields(t, **kw))


def get(c, t, sid=1, end_stream=True, **kw):
    c.send_headers(sid, block(t, **kw), end_stream=end_stream)


def post_open(c, t, sid=1, **kw):
    """A POST whose body has not started: the stream is open."""
    c.send_headers(sid, block(t, method="POST", **kw), end_stream=False)


def raw(data):
    return lambda c, t: c.send(data)


def send_frames(*frames):
    """A stimulus made only of fixed frames (ftype, flags, sid, payload[, length])."""
    return lambda c, t: c.send(b"".join(frame(*f) for f in frames))


def settings(*pairs, flags=0, sid=0):
    return send_frames((SETTINGS, flags, sid, settings_payload(*pairs)))


def then_get(stim, sid=1):
    """Stimulus, then a normal request on |sid| (shows the connection is fine)."""
    def f(c, t):
        stim(c, t)
        get(c, t, sid)
    return f


def malformed_req(**kw):
    return lambda c, t: get(c, t, **kw)


def huff_block(t, value_bytes):
    """A request whose last field's value is a Huffman string of raw bytes."""
    return block(t) + b"\x00" + hstr("x-h") + hint(len(value_bytes), 7, 0x80) + value_bytes


CASES = []


def case(*a, **kw):
    CASES.append(Case(*a, **kw))


NG_LOWER_ID = (ignored, "nghttp2 ignores a HEADERS with a lower stream id instead of "
               "PROTOCOL_ERROR (THREATS.md; nghttp2_session.c: 'stream_id <= last_recv_stream_id' "
               "is dropped silently)")

# ================================================================ §3.4 preface
case("preface-garbage", "RFC 9113 §3.4", "a bad connection preface is a PROTOCOL_ERROR (GOAWAY optional)",
     raw(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0)), conn_or_close(PROTOCOL_ERROR),
     handshake=False)
case("preface-http1", "RFC 9113 §3.4", "HTTP/1.1 bytes instead of the preface: not HTTP/2, closed",
     raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), conn_or_close(PROTOCOL_ERROR),
     handshake=False,
     bridge=(closed, "not a departure from RFC 9113: h2bridge's cleartext listener also speaks HTTP/1.1 "
                     "(it answers the request, then closes as asked)"))
case("preface-then-ping", "RFC 9113 §3.4", "the preface must be followed by SETTINGS, not PING",
     raw(PREFACE + frame(PING, 0, 0, b"\0" * 8)), conn_or_close(PROTOCOL_ERROR), handshake=False)
case("preface-then-headers", "RFC 9113 §3.4", "the preface must be followed by SETTINGS, not HEADERS",
     lambda c, t: c.send(PREFACE + frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t))),
     conn_or_close(PROTOCOL_ERROR), handshake=False)
case("preface-then-window-update", "RFC 9113 §3.4", "the preface must be followed by SETTINGS",
     raw(PREFACE + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 100))), conn_or_close(PROTOCOL_ERROR),
     handshake=False)
case("preface-then-data", "RFC 9113 §3.4", "the preface must be followed by SETTINGS, not DATA",
     raw(PREFACE + frame(DATA, 0, 1, b"x")), conn_or_close(PROTOCOL_ERROR), handshake=False)
case("server-preface-settings-first", "RFC 9113 §3.4", "the server's first frame is SETTINGS and it ACKs ours",
     lambda c, t: None, ignored)

# ================================================================ §6.5 SETTINGS
case("settings-ack-with-payload", "RFC 9113 §6.5", "SETTINGS with ACK and a payload: FRAME_SIZE_ERROR",
     settings((MAX_CONCURRENT_STREAMS, 10), flags=ACK), conn(FRAME_SIZE_ERROR))
case("settings-on-stream", "RFC 9113 §6.5", "SETTINGS on stream 1: PROTOCOL_ERROR",
     settings((MAX_CONCURRENT_STREAMS, 10), sid=1), conn(PROTOCOL_ERROR))
for n in (3, 5, 7):
    case("settings-length-%d" % n, "RFC 9113 §6.5", "SETTINGS length %d (not a multiple of 6): FRAME_SIZE_ERROR" % n,
         send_frames((SETTINGS, 0, 0, b"\0\x03\0\0\0\x64\0"[:n])), conn(FRAME_SIZE_ERROR))
case("settings-enable-push-2", "RFC 9113 §6.5.2", "ENABLE_PUSH other than 0/1: PROTOCOL_ERROR",
     settings((ENABLE_PUSH, 2)), conn(PROTOCOL_ERROR))
case("settings-enable-push-1", "RFC 9113 §6.5.2", "ENABLE_PUSH=1 from a client is allowed",
     settings((ENABLE_PUSH, 1)), ignored)
case("settings-initial-window-2^31", "RFC 9113 §6.5.2", "INITIAL_WINDOW_SIZE above 2^31-1: FLOW_CONTROL_ERROR",
     settings((INITIAL_WINDOW_SIZE, 1 << 31)), conn(FLOW_CONTROL_ERROR))
case("settings-initial-window-max", "RFC 9113 §6.5.2", "INITIAL_WINDOW_SIZE 2^31-1 is valid",
     then_get(settings((INITIAL_WINDOW_SIZE, (1 << 31) - 1))), ok, sid=1)
case("settings-max-frame-16383", "RFC 9113 §6.5.2", "MAX_FRAME_SIZE below 16384: PROTOCOL_ERROR",
     settings((MAX_FRAME_SIZE, 16383)), conn(PROTOCOL_ERROR))
case("settings-max-frame-2^24", "RFC 9113 §6.5.2", "MAX_FRAME_SIZE above 2^24-1: PROTOCOL_ERROR",
     settings((MAX_FRAME_SIZE, 1 << 24)), conn(PROTOCOL_ERROR))
case("settings-max-frame-0", "RFC 9113 §6.5.2", "MAX_FRAME_SIZE 0: PROTOCOL_ERROR",
     settings((MAX_FRAME_SIZE, 0)), conn(PROTOCOL_ERROR))
case("settings-max-frame-max", "RFC 9113 §6.5.2", "MAX_FRAME_SIZE 2^24-1 is valid",
     then_get(settings((MAX_FRAME_SIZE, (1 << 24) - 1))), ok, sid=1)
case("settings-unknown-id", "RFC 9113 §6.5.2", "an unknown setting id (0xff) is ignored",
     then_get(settings((0xFF, 12345))), ok, sid=1)
case("settings-unknown-id-0", "RFC 9113 §6.5.2", "setting id 0 (undefined) is ignored",
     then_get(settings((0, 1))), ok, sid=1)
case("settings-empty", "RFC 9113 §6.5", "an empty SETTINGS is valid and ACKed",
     lambda c, t: c.send(frame(SETTINGS, 0, 0)), ignored)
case("settings-repeated-id", "RFC 9113 §6.5.3", "the same id twice in one frame: processed in order, valid",
     then_get(settings((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 65535))), ok, sid=1)
case("settings-header-table-0", "RFC 9113 §6.5.2 / RFC 7541 §4.2",
     "HEADER_TABLE_SIZE 0: the server's next block starts with a size update; still served",
     then_get(settings((HEADER_TABLE_SIZE, 0))), ok, sid=1)
case("settings-connect-protocol-2", "RFC 8441 §3", "ENABLE_CONNECT_PROTOCOL other than 0/1: PROTOCOL_ERROR",
     settings((ENABLE_CONNECT_PROTOCOL, 2)), conn(PROTOCOL_ERROR))
case("settings-no-rfc7540-priorities-2", "RFC 9218 §2.1", "NO_RFC7540_PRIORITIES other than 0/1: PROTOCOL_ERROR",
     settings((NO_RFC7540_PRIORITIES, 2)), conn(PROTOCOL_ERROR))


def _initial_window_overflow(c, t):
    # server's send window for stream 1 is 0 (W0); +2^31-1 = max; +1 via SETTINGS overflows
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t)) +
           frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", (1 << 31) - 1)) +
           frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 1))))


case("settings-initial-window-overflows-stream", "RFC 9113 §6.9.2",
     "an INITIAL_WINDOW_SIZE change that takes a stream window above 2^31-1: FLOW_CONTROL_ERROR",
     _initial_window_overflow, conn(FLOW_CONTROL_ERROR), settings=W0,
     ng=(stream(FLOW_CONTROL_ERROR), "nghttp2 resets each overflowing stream (RST_STREAM "
                                     "FLOW_CONTROL_ERROR) instead of a connection error"))

# ================================================================ §4.2 frame size
BIG = 16385  # one more than the default SETTINGS_MAX_FRAME_SIZE


def exact_pad(prefix, size):
    """prefix + one literal field, |size| octets in all."""
    n = size - len(prefix) - 10  # 0x00, name "x-pad" (6), 3-octet length
    out = prefix + lit("x-pad", "a" * n)
    assert len(out) == size, (len(out), size)
    return out


def _headers_too_big(c, t):
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, exact_pad(block(t), BIG)))


case("size-data", "RFC 9113 §4.2", "DATA above MAX_FRAME_SIZE: FRAME_SIZE_ERROR",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, END_STREAM, 1, b"a" * BIG))),
     stream(FRAME_SIZE_ERROR), sid=1)
case("size-headers", "RFC 9113 §4.2", "HEADERS above MAX_FRAME_SIZE: connection FRAME_SIZE_ERROR",
     _headers_too_big, conn(FRAME_SIZE_ERROR), sid=1)
case("size-continuation", "RFC 9113 §4.2", "CONTINUATION above MAX_FRAME_SIZE: connection FRAME_SIZE_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, block(t)) +
                         frame(CONTINUATION, END_HEADERS, 1, exact_pad(b"", BIG))),
     conn(FRAME_SIZE_ERROR), sid=1,
     ng=(ok, "nghttp2 1.52 does not check a CONTINUATION's length against SETTINGS_MAX_FRAME_SIZE "
             "(observed: a 16385-octet CONTINUATION is accepted; HEADERS of that size is refused)"))
case("size-settings", "RFC 9113 §4.2", "SETTINGS above MAX_FRAME_SIZE: FRAME_SIZE_ERROR",
     send_frames((SETTINGS, 0, 0, settings_payload(*[(0xF0, 0)] * 2731))), conn(FRAME_SIZE_ERROR))
case("size-ping", "RFC 9113 §4.2", "PING above MAX_FRAME_SIZE: FRAME_SIZE_ERROR",
     send_frames((PING, 0, 0, b"\0" * BIG)), conn(FRAME_SIZE_ERROR))
case("size-unknown-type", "RFC 9113 §4.2", "an unknown-type frame on stream 0 above MAX_FRAME_SIZE: FRAME_SIZE_ERROR",
     send_frames((UNKNOWN_TYPE, 0, 0, b"\0" * BIG)), conn(FRAME_SIZE_ERROR))
for n in (4, 6):
    case("priority-length-%d" % n, "RFC 9113 §6.3", "PRIORITY of length %d: stream FRAME_SIZE_ERROR" % n,
         send_frames((PRIORITY, 0, 1, b"\0" * n)), stream(FRAME_SIZE_ERROR), sid=1)
for n in (3, 5):
    case("rst-length-%d" % n, "RFC 9113 §6.4", "RST_STREAM of length %d: connection FRAME_SIZE_ERROR" % n,
         lambda c, t, n=n: (post_open(c, t), c.send(frame(RST_STREAM, 0, 1, b"\0" * n))),
         conn(FRAME_SIZE_ERROR), sid=1)
for n in (0, 7, 9):
    case("ping-length-%d" % n, "RFC 9113 §6.7", "PING of length %d: FRAME_SIZE_ERROR" % n,
         send_frames((PING, 0, 0, b"\0" * n)), conn(FRAME_SIZE_ERROR))
case("ping-ack-length-7", "RFC 9113 §6.7", "PING ACK of length 7: FRAME_SIZE_ERROR",
     send_frames((PING, ACK, 0, b"\0" * 7)), conn(FRAME_SIZE_ERROR))
case("goaway-length-7", "RFC 9113 §4.2 / §6.8", "GOAWAY too short for its fields (7 octets): FRAME_SIZE_ERROR",
     send_frames((GOAWAY, 0, 0, b"\0" * 7)), conn(FRAME_SIZE_ERROR))
for n in (3, 5):
    case("window-update-length-%d" % n, "RFC 9113 §6.9", "WINDOW_UPDATE of length %d: FRAME_SIZE_ERROR" % n,
         send_frames((WINDOW_UPDATE, 0, 0, b"\0\0\0\x01\0"[:n])), conn(FRAME_SIZE_ERROR))
case("window-update-stream-length-3", "RFC 9113 §6.9",
     "WINDOW_UPDATE of length 3 on a stream: a connection FRAME_SIZE_ERROR",
     lambda c, t: (post_open(c, t), c.send(frame(WINDOW_UPDATE, 0, 1, b"\0\0\x01"))),
     conn(FRAME_SIZE_ERROR), sid=1)
case("headers-priority-too-short", "RFC 9113 §6.2 / §4.2",
     "HEADERS with the PRIORITY flag and 3 octets: FRAME_SIZE_ERROR",
     send_frames((HEADERS, END_HEADERS | PRIORITY_FLAG | END_STREAM, 1, b"\0\0\0")), conn(FRAME_SIZE_ERROR),
     sid=1)
case("data-padded-empty", "RFC 9113 §6.1 / §4.2", "DATA with PADDED and no Pad Length octet: FRAME_SIZE_ERROR",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, PADDED, 1, b""))), stream(FRAME_SIZE_ERROR), sid=1,
     ng=(conn(PROTOCOL_ERROR), "nghttp2 reports a missing Pad Length as PROTOCOL_ERROR"))
case("headers-padded-empty", "RFC 9113 §6.2 / §4.2",
     "HEADERS with PADDED and no Pad Length octet: FRAME_SIZE_ERROR",
     send_frames((HEADERS, PADDED | END_HEADERS, 1, b"")), conn(FRAME_SIZE_ERROR), sid=1,
     ng=(conn(PROTOCOL_ERROR), "nghttp2 reports a missing Pad Length as PROTOCOL_ERROR"))

# ================================================================ §6.1 / §6.2 padding
case("data-pad-too-long", "RFC 9113 §6.1", "DATA padding >= payload length: PROTOCOL_ERROR",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, PADDED | END_STREAM, 1, b"\x05abcd"))),
     conn(PROTOCOL_ERROR), sid=1)
case("headers-pad-too-long", "RFC 9113 §6.2", "HEADERS padding >= payload length: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, PADDED | END_HEADERS | END_STREAM, 1,
                               bytes([len(block(t)) + 1]) + block(t))),
     conn(PROTOCOL_ERROR), sid=1)
case("data-padded-valid", "RFC 9113 §6.1", "a padded DATA frame is valid",
     lambda c, t: (post_open(c, t, add=[("content-length", "4")]),
                   c.send(frame(DATA, PADDED | END_STREAM, 1, b"\x03body\0\0\0"))), ok, sid=1)
case("headers-padded-valid", "RFC 9113 §6.2", "a padded HEADERS frame is valid",
     lambda c, t: c.send(frame(HEADERS, PADDED | END_HEADERS | END_STREAM, 1, b"\x04" + block(t) + b"\0" * 4)),
     ok, sid=1)

# ================================================================ §5.1, §6.1 DATA / stream states
case("data-stream-0", "RFC 9113 §6.1", "DATA on stream 0: PROTOCOL_ERROR",
     send_frames((DATA, 0, 0, b"x")), conn(PROTOCOL_ERROR))
case("data-idle-stream", "RFC 9113 §5.1", "DATA on an idle stream: connection PROTOCOL_ERROR",
     send_frames((DATA, 0, 1, b"x")), conn(PROTOCOL_ERROR))
case("data-half-closed-remote", "RFC 9113 §5.1 / §6.1",
     "DATA after the client's END_STREAM (half-closed (remote)): STREAM_CLOSED",
     lambda c, t: (get(c, t), c.send(frame(DATA, 0, 1, b"x"))), stream(STREAM_CLOSED), sid=1, settings=W0)
case("data-after-rst", "RFC 9113 §5.1",
     "DATA after the client reset the stream: STREAM_CLOSED (stream or connection)",
     lambda c, t: (post_open(c, t), c.send_rst(1, CANCEL), c.send(frame(DATA, 0, 1, b"x"))),
     stream(STREAM_CLOSED), sid=1)
case("headers-half-closed-remote", "RFC 9113 §5.1",
     "HEADERS (trailers) after the client's END_STREAM: STREAM_CLOSED",
     lambda c, t: (get(c, t), c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, lit("x-trailer", "1")))),
     stream(STREAM_CLOSED), sid=1, settings=W0)
case("headers-stream-0", "RFC 9113 §6.2", "HEADERS on stream 0: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_HEADERS | END_STREAM, 0, block(t))), conn(PROTOCOL_ERROR))
case("headers-even-stream", "RFC 9113 §5.1.1", "a client-initiated even stream id: PROTOCOL_ERROR",
     lambda c, t: get(c, t, sid=2), conn(PROTOCOL_ERROR), sid=2)
case("headers-decreasing-id", "RFC 9113 §5.1.1", "a new stream id lower than a used one: PROTOCOL_ERROR",
     lambda c, t: (get(c, t, sid=5), get(c, t, sid=3)), conn(PROTOCOL_ERROR), sid=3, ng=NG_LOWER_ID)
case("headers-reuse-closed-id", "RFC 9113 §5.1.1 / §5.1",
     "HEADERS reusing a closed stream's id: PROTOCOL_ERROR (or STREAM_CLOSED)",
     lambda c, t: (get(c, t), c.expect_response(1), get(c, t)),
     any_of(conn(PROTOCOL_ERROR), conn(STREAM_CLOSED)), sid=1)
case("headers-self-dependency", "RFC 9113 §5.3.1", "HEADERS whose priority depends on its own stream: PROTOCOL_ERROR",
     lambda c, t: c.send_headers(1, block(t), end_stream=True, priority=(1, 15)), stream(PROTOCOL_ERROR), sid=1)
case("headers-priority-valid", "RFC 9113 §6.2 / §5.3.2", "HEADERS with a valid priority block is served",
     lambda c, t: c.send_headers(1, block(t), end_stream=True, priority=(0, 200)), ok, sid=1)
case("headers-max-stream-id", "RFC 9113 §5.1.1", "stream id 2^31-1 is valid",
     lambda c, t: get(c, t, sid=(1 << 31) - 1), ok, sid=(1 << 31) - 1)
case("headers-unknown-flags", "RFC 9113 §4.1", "undefined flags on HEADERS are ignored",
     lambda c, t: c.send(frame(HEADERS, END_HEADERS | END_STREAM | 0x02 | 0x10 | 0x40, 1, block(t))), ok, sid=1)
case("reserved-bit-stream-id", "RFC 9113 §4.1", "the reserved bit of the stream id is ignored on receipt",
     lambda c, t: c.send(frame(HEADERS, END_HEADERS | END_STREAM, 0x80000001, block(t))), ok, sid=1)


def _too_many_streams(c, t):
    n = c.server_settings.get(MAX_CONCURRENT_STREAMS, 100)
    c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, block(t)) for i in range(n + 1)))
    t.extra["sid"] = 2 * n + 1


case("max-concurrent-streams-exceeded", "RFC 9113 §5.1.2",
     "opening more streams than MAX_CONCURRENT_STREAMS: PROTOCOL_ERROR or REFUSED_STREAM",
     _too_many_streams, any_of(stream(PROTOCOL_ERROR), stream(REFUSED_STREAM)), sid="extra", settings=W0)

# ================================================================ §6.3 PRIORITY
case("priority-stream-0", "RFC 9113 §6.3", "PRIORITY on stream 0: PROTOCOL_ERROR",
     send_frames((PRIORITY, 0, 0, priority_payload(1))), conn(PROTOCOL_ERROR))
case("priority-idle-stream", "RFC 9113 §5.1", "PRIORITY on an idle stream is allowed (and does not open it)",
     then_get(send_frames((PRIORITY, 0, 3, priority_payload(0))), sid=1), ok, sid=1)
case("priority-self-dependency", "RFC 9113 §5.3.1", "PRIORITY depending on its own stream: PROTOCOL_ERROR",
     send_frames((PRIORITY, 0, 1, priority_payload(1))), stream(PROTOCOL_ERROR), sid=1)
case("priority-after-rst", "RFC 9113 §5.1", "PRIORITY on a closed stream is allowed",
     lambda c, t: (post_open(c, t), c.send_rst(1), c.send(frame(PRIORITY, 0, 1, priority_payload(0)))),
     ignored)
case("priority-half-closed-remote", "RFC 9113 §5.1", "PRIORITY on a half-closed (remote) stream is allowed",
     lambda c, t: (get(c, t), c.send(frame(PRIORITY, 0, 1, priority_payload(0, 100)))), ignored, sid=1)

# ================================================================ §6.4 RST_STREAM
case("rst-stream-0", "RFC 9113 §6.4", "RST_STREAM on stream 0: PROTOCOL_ERROR",
     send_frames((RST_STREAM, 0, 0, struct.pack(">I", CANCEL))), conn(PROTOCOL_ERROR))
case("rst-idle-stream", "RFC 9113 §6.4 / §5.1", "RST_STREAM on an idle stream: PROTOCOL_ERROR",
     send_frames((RST_STREAM, 0, 1, struct.pack(">I", CANCEL))), conn(PROTOCOL_ERROR))
case("rst-open-stream", "RFC 9113 §6.4", "RST_STREAM on an open stream closes it; the connection lives",
     lambda c, t: (post_open(c, t), c.send_rst(1)), ignored)
case("rst-unknown-code", "RFC 9113 §7", "an unknown error code has no special meaning",
     lambda c, t: (post_open(c, t), c.send_rst(1, 0xDEAD)), ignored)
case("rst-twice", "RFC 9113 §5.4.2", "a second RST_STREAM is never answered with RST_STREAM",
     lambda c, t: (post_open(c, t), c.send_rst(1), c.send_rst(1)), ignored)

# ================================================================ §6.6 PUSH_PROMISE
case("push-promise-from-client", "RFC 9113 §8.4 / §6.6", "a client cannot push: PROTOCOL_ERROR",
     lambda c, t: (post_open(c, t), c.send(frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + block(t)))),
     conn(PROTOCOL_ERROR), sid=1)

# ================================================================ §6.7 PING
case("ping-echo", "RFC 9113 §6.7", "PING is answered with ACK and the same payload", lambda c, t: None, ignored)
case("ping-stream-1", "RFC 9113 §6.7", "PING on a stream: PROTOCOL_ERROR",
     send_frames((PING, 0, 1, b"\0" * 8)), conn(PROTOCOL_ERROR))


def _unsolicited_ack(c, t):
    c.send(frame(PING, ACK, 0, b"unsolici"))
    t.extra["forbid_ping"] = b"unsolici"


case("ping-ack-not-answered", "RFC 9113 §6.7", "a PING with ACK is not answered", _unsolicited_ack, ignored)
case("ping-unknown-flags", "RFC 9113 §4.1 / §6.7", "undefined PING flags are ignored (still ACKed)",
     send_frames((PING, 0xF0, 0, b"12345678")), ignored)

# ================================================================ §6.8 GOAWAY
case("goaway-stream-1", "RFC 9113 §6.8", "GOAWAY on a stream: PROTOCOL_ERROR",
     send_frames((GOAWAY, 0, 1, struct.pack(">II", 0, 0))), conn(PROTOCOL_ERROR))
case("goaway-unknown-code", "RFC 9113 §7 / §6.8", "GOAWAY with an unknown code: no error in return",
     send_frames((GOAWAY, 0, 0, struct.pack(">II", 0, 0xABCD))), graceful)
case("goaway-debug-data", "RFC 9113 §6.8", "GOAWAY with debug data: no error in return",
     send_frames((GOAWAY, 0, 0, struct.pack(">II", 0, 0) + b"bye now")), graceful)

# ================================================================ §6.9 WINDOW_UPDATE / flow control
case("window-update-0-connection", "RFC 9113 §6.9", "WINDOW_UPDATE of 0 on the connection: PROTOCOL_ERROR",
     send_frames((WINDOW_UPDATE, 0, 0, struct.pack(">I", 0))), conn(PROTOCOL_ERROR))
case("window-update-0-stream", "RFC 9113 §6.9", "WINDOW_UPDATE of 0 on a stream: stream PROTOCOL_ERROR",
     lambda c, t: (post_open(c, t), c.send_window_update(1, 0)), stream(PROTOCOL_ERROR), sid=1)
case("window-update-idle-stream", "RFC 9113 §5.1", "WINDOW_UPDATE on an idle stream: PROTOCOL_ERROR",
     send_frames((WINDOW_UPDATE, 0, 1, struct.pack(">I", 1))), conn(PROTOCOL_ERROR))
case("window-update-overflow-connection", "RFC 9113 §6.9.1",
     "connection window above 2^31-1: FLOW_CONTROL_ERROR",
     send_frames((WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 31) - 1)),
                 (WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 31) - 1))), conn(FLOW_CONTROL_ERROR))
case("window-update-overflow-stream", "RFC 9113 §6.9.1",
     "stream window above 2^31-1: stream FLOW_CONTROL_ERROR",
     lambda c, t: (post_open(c, t), c.send_window_update(1, (1 << 31) - 1), c.send_window_update(1, (1 << 31) - 1)),
     stream(FLOW_CONTROL_ERROR), sid=1)
case("window-update-reserved-bit", "RFC 9113 §6.9", "the reserved bit of WINDOW_UPDATE is ignored",
     then_get(send_frames((WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x80000001)))), ok, sid=1)
case("window-update-half-closed-remote", "RFC 9113 §5.1",
     "WINDOW_UPDATE on a half-closed (remote) stream is allowed (and lets the body out)",
     lambda c, t: (get(c, t), c.send_window_update(1, 65535)), ok, sid=1, settings=W0)


def _exceed_stream_window(c, t):
    """Sends DATA as the windows allow; once they stay closed (no
    WINDOW_UPDATE for 0.5 s), sends one frame beyond them. /echo on the
    HTTP/1.1 backend echoes the body, and with the client's window at 0
    (W0) the response cannot leave, so h2bridge's windows close in the end;
    nghttpd (-w 10) advertises 1023 octets, less than one 16384-octet frame."""
    import socket as _s
    import time as _t
    stream_w = c.server_settings.get(INITIAL_WINDOW_SIZE, 65535)
    base_updates = {0: 0, 1: 0}

    def windows():
        sent = t.extra.get("sent", 0)
        upd = {0: 0, 1: 0}
        for f in c.frames:
            if f.type == WINDOW_UPDATE and f.sid in upd and len(f.payload) == 4:
                upd[f.sid] += struct.unpack(">I", f.payload)[0] & 0x7FFFFFFF
        return stream_w + upd[1] - sent, c.server_window - sent, upd

    post_open(c, t, path="/echo")
    try:
        while c.read_frame(0.3) is not None:  # WINDOW_UPDATEs sent when the stream opens
            pass
    except _s.timeout:
        pass
    deadline = _t.monotonic() + 20
    chunk = b"z" * 16384
    while _t.monotonic() < deadline and t.extra.get("sent", 0) < (256 << 20):
        try:
            while True:
                f = c.read_frame(0.0005)
                if f is None or f.type in (RST_STREAM, GOAWAY):
                    return
        except _s.timeout:
            pass
        sw, cw, upd = windows()
        avail = min(sw, cw)
        if avail >= len(chunk):
            c.send(frame(DATA, 0, 1, chunk))
            t.extra["sent"] = t.extra.get("sent", 0) + len(chunk)
            continue
        if upd != base_updates:
            base_updates = upd
            try:
                f = c.read_frame(0.5)  # the windows may open again
                if f is None or f.type in (RST_STREAM, GOAWAY):
                    return
                continue
            except _s.timeout:
                pass
        n = max(avail, 0) + 1
        c.send(frame(DATA, 0, 1, b"y" * min(n, 16384)))
        return


case("flow-control-stream-window", "RFC 9113 §6.9.1",
     "DATA beyond the stream window the server advertised: FLOW_CONTROL_ERROR",
     _exceed_stream_window, any_of(stream(FLOW_CONTROL_ERROR), conn(FLOW_CONTROL_ERROR)), sid=1, settings=W0,
     timeout=25, settle=2.0)

# ================================================================ §4.3 / §6.10 CONTINUATION
def _split(t):
    b = block(t)
    return b[:5], b[5:]


case("continuation-interleaved-ping", "RFC 9113 §4.3", "a PING inside a field block: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, _split(t)[0]) + frame(PING, 0, 0, b"\0" * 8) +
                         frame(CONTINUATION, END_HEADERS, 1, _split(t)[1])), conn(PROTOCOL_ERROR), sid=1)
case("continuation-interleaved-data", "RFC 9113 §4.3", "DATA inside a field block: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, 0, 1, _split(t)[0]) + frame(DATA, 0, 1, b"x")),
     conn(PROTOCOL_ERROR), sid=1)
case("continuation-interleaved-headers", "RFC 9113 §4.3",
     "HEADERS of another stream inside a field block: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, _split(t)[0]) +
                         frame(HEADERS, END_STREAM | END_HEADERS, 3, block(t))), conn(PROTOCOL_ERROR), sid=1)
case("continuation-wrong-stream", "RFC 9113 §6.10", "CONTINUATION on another stream: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, _split(t)[0]) +
                         frame(CONTINUATION, END_HEADERS, 3, _split(t)[1])), conn(PROTOCOL_ERROR), sid=1)
case("continuation-after-end-headers", "RFC 9113 §6.10",
     "CONTINUATION after a HEADERS with END_HEADERS: PROTOCOL_ERROR",
     lambda c, t: (post_open(c, t), c.send(frame(CONTINUATION, END_HEADERS, 1, lit("x-a", "b")))),
     conn(PROTOCOL_ERROR), sid=1)
case("continuation-idle-stream", "RFC 9113 §6.10 / §5.1", "CONTINUATION on an idle stream: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(CONTINUATION, END_HEADERS, 1, block(t))), conn(PROTOCOL_ERROR))
case("continuation-stream-0", "RFC 9113 §6.10", "CONTINUATION on stream 0: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(CONTINUATION, END_HEADERS, 0, block(t))), conn(PROTOCOL_ERROR))
case("continuation-interleaved-unknown-type", "RFC 9113 §5.5",
     "an extension frame inside a field block: PROTOCOL_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, _split(t)[0]) + frame(UNKNOWN_TYPE, 0, 0, b"x") +
                         frame(CONTINUATION, END_HEADERS, 1, _split(t)[1])), conn(PROTOCOL_ERROR), sid=1)
case("continuation-valid", "RFC 9113 §6.10", "HEADERS + CONTINUATION forming one block is served",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, block(t)[:20]) +
                         frame(CONTINUATION, END_HEADERS, 1, block(t)[20:])), ok, sid=1)
case("continuation-split-inside-string", "RFC 9113 §4.3",
     "a block split inside a string literal over 3 frames is served",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, block(t)[:3]) +
                         frame(CONTINUATION, 0, 1, block(t)[3:8]) +
                         frame(CONTINUATION, END_HEADERS, 1, block(t)[8:])), ok, sid=1)
case("continuation-empty-headers", "RFC 9113 §6.10", "an empty HEADERS then one CONTINUATION is served",
     lambda c, t: c.send(frame(HEADERS, END_STREAM, 1, b"") + frame(CONTINUATION, END_HEADERS, 1, block(t))),
     ok, sid=1)

# ================================================================ RFC 7541 HPACK
case("hpack-index-0", "RFC 7541 §6.1 / RFC 9113 §4.3", "indexed field 0: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + b"\x80")),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-index-beyond-table", "RFC 7541 §2.3.3", "an index beyond static+dynamic table: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + indexed(70))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-name-index-beyond-table", "RFC 7541 §6.2.2 / §2.3.3",
     "a literal whose name index is beyond the tables: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + hint(100, 4) + hstr("v"))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-table-size-update-too-big", "RFC 7541 §6.3 / §4.2",
     "a table size update above SETTINGS_HEADER_TABLE_SIZE (4096): COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, table_size_update(4097) + block(t))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-table-size-update-late", "RFC 7541 §4.2",
     "a table size update after a field: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + table_size_update(100))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-huffman-eos", "RFC 7541 §5.2", "a Huffman string containing EOS: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, huff_block(t, b"\xff\xff\xff\xff"))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-huffman-long-padding", "RFC 7541 §5.2", "Huffman padding longer than 7 bits: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, huff_block(t, b"\x1f\xff"))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-huffman-zero-padding", "RFC 7541 §5.2",
     "Huffman padding that is not the EOS prefix (zeros): COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, huff_block(t, b"\x18"))),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-integer-overflow", "RFC 7541 §5.1", "an integer too large to represent: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + b"\xff" + b"\xff" * 10 + b"\x7f")),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-string-beyond-block", "RFC 7541 §5.2", "a string length past the end of the block: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + b"\x00\x64abc")),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-truncated-integer", "RFC 7541 §5.1", "a block ending inside an integer: COMPRESSION_ERROR",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + b"\xff")),
     conn(COMPRESSION_ERROR), sid=1)
case("hpack-two-size-updates", "RFC 7541 §4.2", "two table size updates at the start of a block are valid",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1,
                               table_size_update(0) + table_size_update(4096) + block(t))), ok, sid=1)
case("hpack-dynamic-table-reuse", "RFC 7541 §2.3.2 / §6.1",
     "a field indexed in one block and referenced (index 62) in the next is served",
     lambda c, t: (c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + lit_indexed("x-dyn", "v1"))),
                   c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, block(t) + indexed(62)))), ok, sid=3)
case("hpack-never-indexed", "RFC 7541 §6.2.3", "a never-indexed literal is served",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + b"\x10" + hstr("x-secret") +
                               hstr("s3cr3t"))), ok, sid=1)
case("hpack-huffman-valid", "RFC 7541 §5.2", "Huffman-coded name and value are served",
     lambda c, t: c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(t) + b"\x00" +
                               hstr("x-huff", True) + hstr("some value", True))), ok, sid=1)

# ================================================================ §8.1-§8.3 header validation (malformed)
M = "RFC 9113 §8.2.1"
case("hdr-uppercase-name", M, "an uppercase field name: malformed", malformed_req(add=[("X-Upper", "1")]),
     malformed, sid=1)
case("hdr-name-with-space", M, "a field name with a space: malformed", malformed_req(add=[("x foo", "1")]),
     malformed, sid=1)
case("hdr-name-with-colon", M, "a field name with a colon inside: malformed",
     malformed_req(add=[("x:foo", "1")]), malformed, sid=1)
case("hdr-empty-name", M + " / RFC 9110 §5.1", "an empty field name: malformed", malformed_req(add=[("", "1")]),
     malformed, sid=1)
case("hdr-value-nul", M, "a field value with NUL: malformed", malformed_req(add=[("x-v", "a\x00b")]),
     malformed, sid=1)
case("hdr-value-cr-lf", M, "a field value with CR LF: malformed",
     malformed_req(add=[("x-v", "a\r\nx-injected: 1")]), malformed, sid=1)
case("hdr-value-leading-space", M, "a field value starting with a space: malformed",
     malformed_req(add=[("x-v", " a")]), malformed, sid=1)
case("hdr-value-trailing-tab", M, "a field value ending with a tab: malformed",
     malformed_req(add=[("x-v", "a\t")]), malformed, sid=1)
C = "RFC 9113 §8.2.2"
for name, value in (("connection", "keep-alive"), ("keep-alive", "timeout=5"), ("proxy-connection", "keep-alive"),
                    ("transfer-encoding", "chunked"), ("upgrade", "h2c")):
    case("hdr-connection-specific-" + name, C, "connection-specific field %s: malformed" % name,
         malformed_req(add=[(name, value)]), malformed, sid=1)
case("hdr-te-gzip", C, "TE with a value other than trailers: malformed", malformed_req(add=[("te", "gzip")]),
     malformed, sid=1)
case("hdr-te-trailers", C, "TE: trailers is allowed", malformed_req(add=[("te", "trailers")]), ok, sid=1)
P = "RFC 9113 §8.3"
case("hdr-pseudo-after-regular", P, "a pseudo-header field after a regular one: malformed",
     lambda c, t: c.send_headers(1, raw_block(fields(t, drop=(":authority",), add=[("x-a", "1")]) +
                                              [(":authority", "127.0.0.1")]), end_stream=True),
     malformed, sid=1)
case("hdr-duplicate-method", P + ".1", "two :method fields: malformed",
     malformed_req(add=[(":method", "GET")]), malformed, sid=1)
case("hdr-duplicate-path", P + ".1", "two :path fields: malformed",
     lambda c, t: c.send_headers(1, raw_block(fields(t)[:3] + [(":path", "/other")] + fields(t)[3:]),
                                 end_stream=True), malformed, sid=1)
for p in (":method", ":path", ":scheme"):
    case("hdr-missing-" + p[1:], P + ".1", "a request without %s: malformed" % p, malformed_req(drop=(p,)),
         malformed, sid=1)
case("hdr-empty-path", P + ".1", "an empty :path (http URI): malformed", malformed_req(path=""), malformed,
     sid=1)
case("hdr-unknown-pseudo", P, "an undefined pseudo-header field: malformed",
     lambda c, t: c.send_headers(1, raw_block(fields(t)[:4] + [(":foo", "bar")]), end_stream=True),
     malformed, sid=1)
case("hdr-status-in-request", P, "a response pseudo-header (:status) in a request: malformed",
     lambda c, t: c.send_headers(1, raw_block(fields(t)[:4] + [(":status", "200")]), end_stream=True),
     malformed, sid=1)
case("hdr-host-differs-from-authority", P + ".1",
     "a Host that differs from :authority SHOULD make the request malformed",
     malformed_req(add=[("host", "other.example")]), malformed, sid=1,
     nghttpd=(ok, "nghttp2 does not compare Host with :authority (the RFC says SHOULD); "
                  "h2bridge does it itself (400)"))
case("hdr-content-length-too-big", "RFC 9113 §8.1.1", "content-length larger than the DATA sent: malformed",
     lambda c, t: (post_open(c, t, add=[("content-length", "10")]), c.send(frame(DATA, END_STREAM, 1, b"12345"))),
     malformed, sid=1)
case("hdr-content-length-too-small", "RFC 9113 §8.1.1", "DATA beyond content-length: malformed",
     lambda c, t: (post_open(c, t, add=[("content-length", "2")]), c.send(frame(DATA, END_STREAM, 1, b"12345"))),
     malformed, sid=1)
case("hdr-content-length-not-number", "RFC 9113 §8.1.1 / RFC 9110 §8.6", "a non-numeric content-length: malformed",
     malformed_req(add=[("content-length", "abc")]), malformed, sid=1)
case("hdr-content-length-end-stream", "RFC 9113 §8.1.1",
     "content-length: 5 on a HEADERS with END_STREAM (no body): malformed",
     malformed_req(method="POST", add=[("content-length", "5")]), malformed, sid=1)
case("trailers-with-pseudo", "RFC 9113 §8.1", "a pseudo-header field in trailers: malformed",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, 0, 1, b"abc") +
                                            frame(HEADERS, END_HEADERS | END_STREAM, 1, lit(":path", "/x")))),
     malformed, sid=1)
case("trailers-without-end-stream", "RFC 9113 §8.1", "a second HEADERS without END_STREAM: malformed",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, 0, 1, b"abc") +
                                            frame(HEADERS, END_HEADERS, 1, lit("x-trailer", "1")))),
     malformed, sid=1)
case("trailers-valid", "RFC 9113 §8.1", "a request with a body and trailers is served",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, 0, 1, b"abc") +
                                            frame(HEADERS, END_HEADERS | END_STREAM, 1, lit("x-trailer", "1")))),
     ok, sid=1)
case("connect-with-path", "RFC 9113 §8.5", "CONNECT with :scheme and :path: malformed",
     malformed_req(method="CONNECT"), malformed, sid=1)
case("connect-without-authority", "RFC 9113 §8.5", "CONNECT without :authority: malformed",
     malformed_req(method="CONNECT", drop=(":scheme", ":path", ":authority")), malformed, sid=1)
case("hdr-host-only", "RFC 9113 §8.3.1", "Host instead of :authority is allowed",
     lambda c, t: c.send_headers(1, raw_block(fields(t, drop=(":authority",)) + [("host", "127.0.0.1")]),
                                 end_stream=True), ok, sid=1)

# ================================================================ §4.1 / §5.5 extensibility
case("unknown-type-stream-0", "RFC 9113 §4.1 / §5.5", "an unknown frame type on stream 0 is ignored",
     then_get(send_frames((UNKNOWN_TYPE, 0xFF, 0, b"whatever"))), ok, sid=1)
case("unknown-type-idle-stream", "RFC 9113 §5.5 / §5.1",
     "an unknown frame type on an idle stream is ignored (the stream stays idle)",
     then_get(send_frames((UNKNOWN_TYPE, 0, 1, b"whatever"))), ok, sid=1)
case("unknown-type-open-stream", "RFC 9113 §5.5", "an unknown frame type on an open stream is ignored",
     lambda c, t: (post_open(c, t), c.send(frame(UNKNOWN_TYPE, 0, 1, b"x") + frame(DATA, END_STREAM, 1, b""))),
     ok, sid=1)
case("unknown-type-empty", "RFC 9113 §5.5", "an empty unknown frame is ignored",
     then_get(send_frames((UNKNOWN_TYPE, 0, 0, b""))), ok, sid=1)
case("data-unknown-flags", "RFC 9113 §4.1", "undefined DATA flags are ignored",
     lambda c, t: (post_open(c, t), c.send(frame(DATA, END_STREAM | 0xF6 & ~PADDED, 1, b"abc"))), ok, sid=1)
