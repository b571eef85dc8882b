"""Targets of the conformance suite: each a server speaking h2c with prior
knowledge on loopback, started once per session and killed at the end.

  nghttpd            Debian's nghttpd (nghttp2 1.52), --no-tls, the reference
  h2bridge-nghttp2   h2bridge's cleartext listener (engine nghttp2) in front
                     of the HTTP/1.1 test backend
  h2bridge-h2x       the same with `engine: h2x` on the listener; only with
                     H2X=1 in the environment. While the binary rejects or
                     does not serve that config, its cases are xfailed with
                     the reason.

Adding a target: a name in TARGETS and a branch in _start().
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

# The integration suite's process helpers (Spawner, free_port, ...), loaded
# under another module name so that it does not shadow this conftest.
_spec = importlib.util.spec_from_file_location("h2b_integration_conftest",
                                               REPO / "tests" / "integration" / "conftest.py")
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)

from h2raw import H2Conn  # noqa: E402

TARGETS = ["nghttpd", "h2bridge-nghttp2"]
if os.environ.get("H2X") == "1":
    TARGETS.append("h2bridge-h2x")

BRIDGE_CONFIG = """\
log: { level: info, access: stderr, format: json }
defaults: { max_streams: 100, header_bytes: 64KiB, header_fields: 100 }
listeners: [ { name: plain, listen: 127.0.0.1:%(port)d%(engine)s } ]
upstreams: [ { name: b, address: 127.0.0.1:%(backend)d, protocol: http/1.1 } ]
routes: [ { to: { upstream: b } } ]
"""


class Target:
    def __init__(self, name, port, proc, path="/hello"):
        self.name, self.port, self.proc, self.path = name, port, proc, path
        self.unusable = None  # reason to xfail every case (h2x not served yet)


@pytest.fixture(scope="session")
def conf_workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("h2conf")


@pytest.fixture(scope="session")
def conf_spawner(conf_workdir):
    s = it.Spawner(conf_workdir)
    yield s
    s.cleanup()


@pytest.fixture(scope="session")
def backend(conf_spawner):
    return conf_spawner.backend_h1()


def _bridge_config(backend_port, engine):
    port = it.free_port()
    return port, BRIDGE_CONFIG % {"port": port, "backend": backend_port,
                                  "engine": (", engine: %s" % engine) if engine else ""}


def _start(name, spawner, workdir, request):
    if name == "nghttpd":
        docroot = workdir / "docroot"
        docroot.mkdir(exist_ok=True)
        (docroot / "hello").write_bytes(b"hello from nghttpd\n")
        (docroot / "echo").write_bytes(b"echo: nghttpd serves this file\n")
        # -w 10: a stream window of 1023 octets, less than one DATA frame,
        # so that the flow-control case can overrun it (nghttp2 refills
        # windows as data arrives, and with bigger windows no client can).
        exe = it.require_tool("nghttpd")
        port = it.free_port()
        p = it.Proc("nghttpd", [exe, "--no-tls", "-w", "10", "-d", str(docroot), str(port)], workdir)
        spawner.procs.append(p)
        if not it.wait_port("127.0.0.1", port, __import__("time").monotonic() + 10, p.p):
            pytest.fail("nghttpd did not become ready\n" + p.describe())
        return Target(name, port, p)
    be = request.getfixturevalue("backend")
    if name == "h2bridge-nghttp2":
        port, cfg = _bridge_config(be.port, None)
        b = spawner.h2bridge(cfg, name="conformance-nghttp2.yaml")
        return Target(name, port, b)
    if name == "h2bridge-h2x":
        port, cfg = _bridge_config(be.port, "h2x")
        path = workdir / "conformance-h2x-check.yaml"
        path.write_text(cfg)
        r = subprocess.run([it.require_binary(), "-t", "-c", str(path)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0 or "not implemented" in r.stdout:
            t = Target(name, port, None)
            why = [ln for ln in r.stdout.splitlines() if "h2x" in ln or "error" in ln] or [r.stdout]
            t.unusable = "this h2bridge does not serve engine: h2x yet (h2bridge -t: %s)" % (
                why[0].split(": ", 2)[-1].strip()[:200])
            return t
        try:
            b = spawner.h2bridge(cfg, name="conformance-h2x.yaml")
        except pytest.fail.Exception as e:
            t = Target(name, port, None)
            t.unusable = "h2bridge with engine: h2x did not start: %s" % str(e)[-300:]
            return t
        t = Target(name, port, b)
        try:
            with H2Conn(port, timeout=2.0) as c:
                c.handshake()
        except Exception as e:  # noqa: BLE001
            t.unusable = "h2bridge with engine: h2x does not complete an h2c handshake: %s" % e
        return t
    raise ValueError(name)


_started = {}


@pytest.fixture(scope="session")
def targets(conf_spawner, conf_workdir, request):
    def get(name):
        if name not in _started:
            _started[name] = _start(name, conf_spawner, conf_workdir, request)
        return _started[name]
    return get


@pytest.fixture(params=TARGETS)
def target(request, targets):
    t = targets(request.param)
    if t.unusable:
        pytest.xfail(t.unusable)
    if t.proc is not None and t.proc.poll() is not None:
        pytest.fail("%s has exited:\n%s" % (t.name, t.proc.describe()))
    return t
