"""Connection exhaustion and slow clients (THREATS.md §1d): descriptor
exhaustion pauses accept instead of spinning, the per-listener cap holds,
slow-loris heads time out, and h2bridge keeps serving new clients after each."""
import socket
import time

from conftest import free_port, h1_get, std_config


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def test_emfile_pauses_accept_without_spinning(spawner, certs, backends):
    """With RLIMIT_NOFILE 48, 120 idle clients exhaust descriptors: accept
    backs off (no busy loop), and once they leave a new request is served."""
    plain, tls = free_port(), free_port()
    cfg = std_config(certs, backends, plain, tls, defaults={"request_header_timeout": "30s", "idle_timeout": "30s"})
    b = spawner.h2bridge(cfg, args=())
    # Lower the running process's descriptor limit (prlimit(1) changes another process).
    import subprocess
    subprocess.run(["prlimit", "--pid", str(b.pid), "--nofile=48:48"], check=True)
    socks = []
    for _ in range(120):
        try:
            socks.append(socket.create_connection(("127.0.0.1", plain), timeout=2))
        except OSError:
            break
    time.sleep(0.5)
    t0 = cpu_ticks(b.pid)
    time.sleep(2.0)
    used = cpu_ticks(b.pid) - t0
    assert used < 60, "h2bridge burnt %d ticks in 2 s while out of descriptors (accept loop spinning?)" % used
    assert "pausing accept" in b.stderr(), b.stderr()[-2000:]
    for s in socks:
        s.close()
    deadline = time.monotonic() + 10
    while True:
        try:
            st, _, body = h1_get(plain, "/to-h1/hello", timeout=3)
            if st == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "no service 10 s after the descriptors came back\n" + b.stderr()[-2000:]
        time.sleep(0.2)
    assert body == b"hello"


def test_listener_connection_cap(spawner, certs, backends):
    """max_connections: 5 on a listener: at most 5 accepted at once; the rest
    wait in the backlog and are served once others leave."""
    plain, tls = free_port(), free_port()
    cfg = std_config(certs, backends, plain, tls, listener_extra=", max_connections: 5",
                     defaults={"request_header_timeout": "30s", "idle_timeout": "30s"})
    b = spawner.h2bridge(cfg)
    socks = [socket.create_connection(("127.0.0.1", plain), timeout=2) for _ in range(5)]
    time.sleep(0.3)
    # The 6th connects (kernel backlog) but is not served while 5 are open.
    s6 = socket.create_connection(("127.0.0.1", plain), timeout=2)
    s6.sendall(b"GET /to-h1/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s6.settimeout(1.0)
    try:
        early = s6.recv(100)
    except socket.timeout:
        early = None
    assert early is None, "a 6th connection was served while max_connections is 5: %r" % early
    assert "the configured maximum" in b.stderr(), b.stderr()[-2000:]
    socks[0].close()
    s6.settimeout(5.0)
    data = b""
    while True:
        d = s6.recv(65536)
        if not d:
            break
        data += d
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello"), data[:200]
    for s in socks[1:]:
        s.close()
    s6.close()


def test_slowloris_many_clients(spawner, certs, backends):
    """200 clients dripping a head byte by byte: each is cut at
    request_header_timeout, and a normal client is served meanwhile."""
    plain, tls = free_port(), free_port()
    cfg = std_config(certs, backends, plain, tls, defaults={"request_header_timeout": "1s"})
    b = spawner.h2bridge(cfg)
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", plain), timeout=2)
        s.sendall(b"GET /to-h1/hello HTTP/1.1\r\nHo")
        socks.append(s)
    st, _, body = h1_get(plain, "/to-h1/hello", timeout=3)
    assert st == 200 and body == b"hello"
    time.sleep(2.5)
    closed = 0
    for s in socks:
        s.settimeout(0.5)
        try:
            s.sendall(b"s")
            d = s.recv(4096)
            if d == b"" or d.startswith(b"HTTP/1.1 408"):
                closed += 1
        except OSError:
            closed += 1
        s.close()
    assert closed == len(socks), "%d of %d slow clients still open after the header timeout" % (
        len(socks) - closed, len(socks))
    assert b.rss_kib() < 64 * 1024
