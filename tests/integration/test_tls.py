"""TLS policy of h2bridge's listeners (THREATS.md 1e), checked with Debian's
`openssl s_client` against the standard bridge's TLS listener: TLS 1.2 and
up only, no renegotiation, no 0-RTT (session tickets allow no early data).
Each case has a control the same client passes, so a broken client cannot
make it pass.
"""
import subprocess

import pytest

from conftest import require_tool


def s_client(port, certs, *args, stdin=b"", timeout=10):
    require_tool("openssl")
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
                        "-CAfile", str(certs.ca), *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.stdout.decode("latin-1")


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls_below_1_2_refused(std_bridge, certs, version):
    # SECLEVEL=0 lets this client offer the old version; the refusal is the server's
    out = s_client(std_bridge.tls, certs, version, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert "alert protocol version" in out, ("h2bridge accepted %s" % version, out[-2000:])
    ok = s_client(std_bridge.tls, certs, "-tls1_2")
    assert "Protocol  : TLSv1.2" in ok and "Verify return code: 0 (ok)" in ok, ok[-2000:]


def test_tls_renegotiation_refused(std_bridge, certs):
    # s_client renegotiates when it reads "R" on a line of its own
    out = s_client(std_bridge.tls, certs, "-tls1_2", "-alpn", "http/1.1", stdin=b"R\n")
    assert "RENEGOTIATING" in out, ("the client did not try: the test proves nothing", out[-2000:])
    assert "no renegotiation" in out, ("h2bridge allowed a renegotiation", out[-2000:])


def test_tls_no_early_data(std_bridge, certs, workdir):
    sess = workdir / "tls13-session.pem"
    s_client(std_bridge.tls, certs, "-tls1_3", "-alpn", "http/1.1", "-ign_eof", "-sess_out", str(sess),
             stdin=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert sess.exists(), "no TLS 1.3 session was saved (no ticket): the test proves nothing"
    text = subprocess.run(["openssl", "sess_id", "-in", str(sess), "-text", "-noout"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT).stdout.decode("latin-1")
    assert "Max Early Data: 0" in text, ("h2bridge's session ticket allows 0-RTT early data", text)
