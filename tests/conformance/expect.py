"""Expected outcomes of a conformance case, and how one is observed.

An expectation is matched against the Outcome that observe() returns:

  conn(CODE)        connection error: GOAWAY with CODE (RFC 9113 §5.4.1)
  conn_or_close(C)  as conn(), but closing without GOAWAY is allowed too
                    (RFC 9113 §3.4: a GOAWAY MAY be omitted for a bad preface)
  stream(CODE)      stream error: RST_STREAM(CODE) on the case's stream, or
                    GOAWAY(CODE) (§5.4.1: "an endpoint MAY choose to treat a
                    stream error as a connection error")
  malformed         malformed request (§8.1.1): stream(PROTOCOL_ERROR) or a
                    4xx response ("a server MAY send an HTTP response prior to
                    closing or resetting the stream")
  ignored           nothing happens: the connection answers a PING, and a
                    request on the case's stream (if any) gets a 2xx/3xx/404
  ok                the request on the case's stream gets a 2xx response
  graceful          no error: still alive, or closed/GOAWAY(NO_ERROR)
  closed            closed (GOAWAY of any code first, or none)
  any_of(a, b, ..)  one of them
"""
import socket
import time

from h2raw import (ACK, GOAWAY, HEADERS, CONTINUATION, NO_ERROR, PING, PROTOCOL_ERROR,
                   RST_STREAM, Outcome, ename)


class Expect:
    def __init__(self, name, pred, wants_response=False):
        self.name, self.pred, self.wants_response = name, pred, wants_response

    def matches(self, o):
        return self.pred(o)

    def __repr__(self):
        return self.name


def conn(code):
    return Expect("GOAWAY(%s)" % ename(code), lambda o: o.kind == "goaway" and o.code == code)


def conn_or_close(code):
    return Expect("GOAWAY(%s) or close" % ename(code),
                  lambda o: o.kind == "close" or (o.kind == "goaway" and o.code == code))


def stream(code):
    return Expect("RST_STREAM(%s) or GOAWAY(%s)" % (ename(code), ename(code)),
                  lambda o: o.kind in ("rst", "goaway") and o.code == code)


def _is_4xx(o):
    return o.kind == "response" and 400 <= o.status < 500


malformed = Expect("malformed: RST_STREAM/GOAWAY(PROTOCOL_ERROR) or 4xx",
                   lambda o: (o.kind in ("rst", "goaway") and o.code == PROTOCOL_ERROR) or _is_4xx(o),
                   wants_response=True)
ignored = Expect("ignored (PING answered / request served)",
                 lambda o: o.kind == "ping" or (o.kind == "response" and (o.status < 400 or o.status == 404)))
ok = Expect("response 2xx", lambda o: o.kind == "response" and 200 <= o.status < 300,
            wants_response=True)
graceful = Expect("no error (alive, close or GOAWAY(NO_ERROR))",
                  lambda o: o.kind in ("ping", "close") or (o.kind == "goaway" and o.code == NO_ERROR))
closed = Expect("connection closed", lambda o: o.kind in ("close", "goaway"))


def status(code):
    return Expect("response %d" % code, lambda o: o.kind == "response" and o.status == code,
                  wants_response=True)


def any_of(*exps):
    return Expect(" | ".join(e.name for e in exps), lambda o: any(e.matches(o) for e in exps),
                  wants_response=any(e.wants_response for e in exps))


def observe(c, sid=None, want_response=False, timeout=3.0, ping=True, settle=0.05):
    """Sends a PING after the stimulus and reads until the answer is known.
    Returns the Outcome, most significant first: GOAWAY > RST_STREAM on |sid|
    (any stream when sid is None) > response head on |sid| > close > PING ACK
    > timeout. |settle|: how long to keep reading after the PING ACK."""
    payload = b"observe!"
    if ping:
        c.send_ping(payload)
    deadline = time.monotonic() + timeout
    acked = False
    goaway = rst = resp = None
    closed_ = False
    grace = None
    while True:
        now = time.monotonic()
        end = deadline if grace is None else min(deadline, grace)
        if now >= end:
            break
        try:
            f = c.read_frame(end - now)
        except socket.timeout:
            break
        if f is None:
            closed_ = True
            break
        if f.type == GOAWAY:
            goaway = f
            if grace is None or grace > now + 0.3:
                grace = now + 0.3  # a second GOAWAY, then the close
            continue
        if f.type == RST_STREAM and (sid is None or f.sid == sid) and rst is None:
            rst = f
            if grace is None:
                grace = now + 0.05
        if f.type == PING and f.flags & ACK and f.payload == payload:
            acked = True
        if sid is not None and f.type in (HEADERS, CONTINUATION) and resp is None:
            r = c.responses.get(sid)
            if r is not None and r.status is not None and r.status >= 200 and c._hblock is None:
                resp = r
        if not ping and (rst or resp):
            grace = grace or now + 0.05
        if acked and grace is None and (not want_response or sid is None or rst or resp):
            grace = now + settle  # frames queued with the ACK (nghttp2 sends PING ACKs first)
    if goaway is not None:
        return Outcome("goaway", code=goaway.error_code, frames=c.frames)
    if rst is not None:
        return Outcome("rst", code=rst.error_code, sid=rst.sid, frames=c.frames)
    if resp is not None:
        return Outcome("response", status=resp.status, sid=sid, frames=c.frames)
    if closed_:
        return Outcome("close", frames=c.frames)
    if acked:
        return Outcome("ping", frames=c.frames)
    return Outcome("timeout", frames=c.frames)
