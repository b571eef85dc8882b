"""SIGHUP reload (DESIGN.md §5): a good file takes over for new connections
while live tunnels keep running untouched; a bad file is logged with its
file:line:col and the running configuration stays; SIGTERM lets a live tunnel
finish its exchange before the drain deadline."""
import os
import signal
import socket
import struct
import time

from conftest import free_port, h1_get
from ws_peers import h1_upgrade, node_server, wait_for, ws_config


def frame(payload, opcode=0x1):
    """One masked client frame (RFC 6455 §5.2), payload < 126 bytes."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + body


def read_frame(s, timeout=5):
    s.settimeout(timeout)
    hdr = b""
    while len(hdr) < 2:
        d = s.recv(2 - len(hdr))
        assert d, "tunnel closed"
        hdr += d
    n = hdr[1] & 0x7F
    assert n < 126
    data = b""
    while len(data) < n:
        d = s.recv(n - len(data))
        assert d, "tunnel closed mid-frame"
        data += d
    return hdr[0] & 0x0F, data


def echo(s, msg):
    s.sendall(frame(msg))
    op, data = read_frame(s)
    assert (op, data) == (1, msg), (op, data)


def test_reload_keeps_live_tunnels(spawner, certs):
    ws = node_server(spawner, "ws-echo-server")
    plain, tls = free_port(), free_port()
    cfg = ws_config(certs, plain, tls, ["{ name: ws, address: 127.0.0.1:%d, protocol: http/1.1 }" % ws.port],
                    [("/", "websocket", "ws")])
    b = spawner.h2bridge(cfg)
    s, st, _, extra = h1_upgrade(plain, "/live")
    assert st == 101 and extra == b""
    echo(s, b"before reload")

    # A good reload: the tunnel survives, new connections use the new file
    # (which adds a plain route answering from a backend that is down).
    new = cfg.replace("routes:\n", "routes:\n  - { match: { path: /new }, to: { upstream: gone } }\n")
    new = new.replace("upstreams:\n", "upstreams:\n  - { name: gone, address: 127.0.0.1:%d, protocol: http/1.1 }\n"
                      % free_port())
    b.config_path.write_text(new)
    os.kill(b.pid, signal.SIGHUP)
    assert wait_for(lambda: "configuration reloaded" in b.stderr(), 5), b.stderr()[-2000:]
    echo(s, b"after reload")
    st, _, _ = h1_get(plain, "/new/x")
    assert st == 502, "the reloaded route is not in force (%d)" % st

    # A bad reload: logged with file:line:col, nothing changes.
    b.config_path.write_text(new + "listeners: [ { name: x\n")
    os.kill(b.pid, signal.SIGHUP)
    assert wait_for(lambda: "keeping the running configuration" in b.stderr(), 5), b.stderr()[-2000:]
    assert "%s:" % b.config_path.name in b.stderr() or str(b.config_path) in b.stderr()
    echo(s, b"after a bad reload")
    st, _, _ = h1_get(plain, "/new/x")
    assert st == 502

    # SIGTERM: the live tunnel keeps working until its peers end it.
    os.kill(b.pid, signal.SIGTERM)
    b.expect_exit = True
    time.sleep(0.3)
    echo(s, b"while draining")
    s.sendall(frame(struct.pack("!H", 4001), opcode=0x8))
    op, data = read_frame(s)
    assert op == 0x8 and data[:2] == struct.pack("!H", 4001), (op, data)
    s.close()
    assert wait_for(lambda: b.poll() is not None, 5), "h2bridge did not exit once the tunnel ended"
    assert b.poll() == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", plain)) != 0, "still accepting after SIGTERM"
