"""RFC 9113 / RFC 7541 conformance cases (table in cases.py), run against
every target (conftest.py). Each case sends its stimulus on a fresh
connection, then a PING, and compares what the server did first with the
RFC's requirement -- or, where nghttp2 departs from the RFC on purpose or by
a known gap, with nghttp2's documented behaviour (the case says why).
"""
import pytest

from cases import CASES
from expect import observe
from h2raw import ACK, PING, H2Conn


class Ctx:
    def __init__(self, t):
        self.name, self.port, self.path = t.name, t.port, t.path
        self.extra = {}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, target):
    exp, why = case.expectation(target.name)
    ctx = Ctx(target)
    with H2Conn(target.port, timeout=case.timeout) as c:
        if case.handshake:
            c.handshake(settings=case.settings)
            if case.id == "server-preface-settings-first":
                assert c.frames[0].type == 4 and not c.frames[0].flags & ACK, c.frames
        case.send(c, ctx)
        sid = ctx.extra.get("sid") if case.sid == "extra" else case.sid
        want = exp.wants_response or case.expect.wants_response
        o = observe(c, sid, want_response=want, timeout=case.timeout,
                    ping=case.handshake, settle=case.settle)
        forbid = ctx.extra.get("forbid_ping")
        if forbid:
            assert not [f for f in c.frames if f.type == PING and f.payload == forbid], \
                "the server answered a PING ACK (%s)" % case.section
        assert exp.matches(o), (
            "%s [%s] %s\n  expected (%s): %s\n  got: %r\n  last frames: %r"
            % (case.id, case.section, case.title, why, exp, o, c.frames[-10:]))
    # One line per case (shown with -rA or -s): what the server did.
    print("OUTCOME %-16s %-42s %-28r expected %s%s" % (
        target.name, case.id, o, exp, "" if why == "RFC" else "  [departure: %s]" % why))
