"""Slow clients and descriptor exhaustion (THREATS.md 1d).

- slowhttptest (Debian) in its three modes -- slow headers (slowloris), slow
  body (R-U-Dead-Yet), slow read -- with THREATS.md's parameters (200
  connections, 30 s, a follow-up every 10 s): a normal request made every
  2 s during the attack is answered within 3 s, and h2bridge's CPU stays
  low (nothing spins).  Slow body and slow read are a known gap (strict
  xfail below).
- EMFILE: h2bridge under `ulimit -n 256` gets 300 idle connections; accept
  backs off without spinning, and once clients go away a fresh request is
  served again.
"""
import socket
import subprocess
import time

import pytest

from conftest import (H2BRIDGE, Bridge, free_port, h1_get, listener_ports, require_tool, std_config,
                      wait_port)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = __import__("os").sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz  # utime + stime


def probe(port, path="/to-h1/hello", timeout=3):
    t0 = time.monotonic()
    try:
        st, _, body = h1_get(port, path, host="localhost", timeout=timeout)
    except (OSError, EOFError, ValueError) as e:
        return 0, repr(e), time.monotonic() - t0
    return st, body, time.monotonic() - t0


SLOW_MODES = {
    # mode: (slowhttptest arguments, path)
    "slow-headers": (["-H"], "/to-h1/hello"),
    "slow-body": (["-B", "-s", "8192"], "/to-h1/sha256"),
    "slow-read": (["-X", "-k", "3", "-w", "1", "-y", "1", "-n", "5", "-z", "32"], "/to-h1/big?n=1000000"),
}


# Known gap (strict xfail: it fails the run once it passes, so the mark goes
# with the fix): each slow-body or slow-read client holds one upstream
# HTTP/1.1 connection for as long as it dawdles, and 200 of them exhaust the
# upstream's max_connections (64): normal requests get 503 after
# connect_timeout. The defences -- waiting for a small request body before
# taking an upstream connection (HAProxy's http-buffer-request), body read
# and minimum send-rate timeouts (nghttpx --stream-read-timeout,
# --read-rate) -- are not written yet.
UPSTREAM_EXHAUSTION = pytest.mark.xfail(
    strict=True, reason="slow clients each hold an upstream connection: no request buffering or rate timeouts yet")


@pytest.mark.parametrize("mode", [
    "slow-headers",
    pytest.param("slow-body", marks=UPSTREAM_EXHAUSTION),
    pytest.param("slow-read", marks=UPSTREAM_EXHAUSTION),
])
def test_slowhttptest_does_not_starve_others(make_std_bridge, mode):
    exe = require_tool("slowhttptest")
    b = make_std_bridge(defaults={"request_header_timeout": "5s"})
    args, path = SLOW_MODES[mode]
    attack = subprocess.Popen([exe, *args, "-c", "200", "-l", "30", "-i", "10", "-r", "200", "-p", "3",
                               "-u", "http://127.0.0.1:%d%s" % (b.plain, path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)  # the 200 connections are open
        assert attack.poll() is None, attack.stdout.read().decode("latin-1")[-2000:]
        c0 = cpu_seconds(b.bridge.pid)
        t0 = time.monotonic()
        slow = []
        while time.monotonic() - t0 < 20:
            st, body, took = probe(b.plain)
            if st != 200 or took > 3:
                slow.append((round(time.monotonic() - t0, 1), st, took, body[:80] if isinstance(body, bytes) else body))
            time.sleep(2)
        used = cpu_seconds(b.bridge.pid) - c0
        elapsed = time.monotonic() - t0
    finally:
        attack.kill()
        out = attack.communicate()[0].decode("latin-1")
    assert not slow, ("normal requests failed or were slow during the %s attack: %r" % (mode, slow), out[-1500:])
    assert used < 0.25 * elapsed, "h2bridge used %.1f s of CPU in %.1f s of a %s attack" % (used, elapsed, mode)
    assert b.bridge.alive()
    st, _, _ = probe(b.plain)
    assert st == 200


def test_emfile_accept_backs_off(spawner, certs, backends):
    """ulimit -n 256 and 300 idle connections: accept fails with EMFILE; the
    accept watcher must pause (a level-triggered listener left armed spins at
    100% CPU) and resume once descriptors are free."""
    prlimit = require_tool("prlimit")
    plain, tls = free_port(), free_port()
    text = std_config(certs, backends, plain, tls, defaults={"request_header_timeout": "60s",
                                                              "idle_timeout": "60s"})
    cfg = spawner.workdir / ("emfile-%d.yaml" % plain)
    cfg.write_text(text)
    b = Bridge([prlimit, "--nofile=256:256", H2BRIDGE, "-c", str(cfg)], spawner.workdir, cfg,
               listener_ports(text))
    spawner.procs.append(b)
    assert wait_port("127.0.0.1", plain, time.monotonic() + 10, b.p), b.describe()
    st, _, _ = probe(plain)
    assert st == 200, b.describe()
    socks = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", plain), timeout=5)
            socks.append(s)
        time.sleep(1.5)
        assert "EMFILE" in b.stderr() or "Too many open files" in b.stderr(), (
            "h2bridge never ran out of descriptors: the test proves nothing", b.stderr()[-2000:])
        c0 = cpu_seconds(b.pid)
        time.sleep(2)
        used = cpu_seconds(b.pid) - c0
        assert used < 0.4, "h2bridge spun at EMFILE: %.2f s of CPU in 2 s" % used
        assert b.stderr().count("pausing accept") == 1, ("one log line per EMFILE episode, not one per retry",
                                                          b.stderr()[-2000:])
        for s in socks[:150]:
            s.close()
        del socks[:150]
        deadline = time.monotonic() + 5
        while True:
            st, body, took = probe(plain)
            if st == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert st == 200, ("no service after descriptors were freed", st, body, b.stderr()[-2000:])
        assert "accepting again" in b.stderr(), b.stderr()[-2000:]
    finally:
        for s in socks:
            s.close()
    assert b.alive()
