"""Peers, configs and helpers for test_reverse.py (reversed HTTP, potato rh2/rh1).

- node peers in tests/peers/ (independent of h2bridge's code, written from the
  potato draft and the h2bridge auth contract): potato_origin.js (dials a
  gateway with ALPN rh2/rh1 and serves HTTP on that socket) and
  potato_gateway.js (accepts rh2/rh1 dialers, authorizes them, forwards plain
  HTTP/1.1 requests from a public port over them);
- gateway_config() / connector_config(): h2bridge configs for both roles;
- small helpers (JSON events of the node peers, waiting, h2load parsing).
Imports conftest's helpers; does not modify conftest.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import time

import pytest

from conftest import REPO, READY_DEADLINE, Proc, wait_port

PEERS = REPO / "tests" / "peers"
ORIGIN_JS = PEERS / "potato_origin.js"
GATEWAY_JS = PEERS / "potato_gateway.js"
AUTH_PATH = "/.well-known/h2bridge/authorize"
INADEQUATE_SECURITY = 0xC
NOT_AUTHORIZED = "h2bridge: origin not authorized:"


def require_node():
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.fail("node is not installed (needed for the potato peers)")
    return node


def sha256_hex(b):
    if isinstance(b, str):
        b = b.encode()
    return hashlib.sha256(b).hexdigest()


def wait_for(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


# ---------------------------------------------------------------- node peers

def events(proc, event=None, **match):
    """JSON event lines a node peer printed (optionally filtered)."""
    out = []
    for line in proc.stdout().splitlines():
        if not line.startswith("{"):
            continue
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if event is not None and e.get("event") != event:
            continue
        if any(e.get(k) != v for k, v in match.items()):
            continue
        out.append(e)
    return out


def node_origin(spawner, gw_port, certs, name="origin", wait_tls=True, **opts):
    """Starts potato_origin.js dialing 127.0.0.1:gw_port. opts map to
    --option value (underscores become dashes; lists are comma-joined).
    Waits for the first TLS handshake (or its failure) unless wait_tls=False."""
    node = require_node()
    argv = [node, str(ORIGIN_JS), "--gateway", "127.0.0.1:%d" % gw_port, "--ca", str(certs.ca)]
    for k, v in opts.items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(v)
        argv += ["--" + k.replace("_", "-"), str(v)]
    p = Proc(name, argv, spawner.workdir)
    spawner.procs.append(p)
    if wait_tls:
        ok = wait_for(lambda: events(p, "tls") or events(p, "error") or p.poll() is not None, READY_DEADLINE)
        if not ok:
            pytest.fail("potato_origin did not finish a TLS handshake in %.0f s\n%s\n%s"
                        % (READY_DEADLINE, p.describe(), p.stdout()[-2000:]))
    return p


def node_gateway(spawner, certs, name="potato-gw", cert=None, key=None, **opts):
    """Starts potato_gateway.js; returns the Proc with .gw_port and .pub_port."""
    node = require_node()
    argv = [node, str(GATEWAY_JS), "--cert", str(cert or certs.server_cert), "--key", str(key or certs.server_key)]
    for k, v in opts.items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(v)
        argv += ["--" + k.replace("_", "-"), str(v)]
    p = Proc(name, argv, spawner.workdir)
    spawner.procs.append(p)
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        m = re.search(r"^ready (\d+) (\d+)", p.stdout(), re.M)
        if m:
            p.gw_port, p.pub_port = int(m.group(1)), int(m.group(2))
            p.port = p.pub_port
            if wait_port("127.0.0.1", p.pub_port, deadline, p.p):
                return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail("potato_gateway did not start\n" + p.describe())


def peer_log(proc):
    return "--- %s stdout (tail) ---\n%s\n--- stderr ---\n%s" % (
        proc.name, proc.stdout()[-3000:], proc.stderr()[-1500:])


# ---------------------------------------------------------------- configs

def origin_yaml(name="app", authorities=("app.example.com",), paths=("/",), token=None, hmac_file=None,
                wait="2s", protocols=("rh2", "rh1"), auth_path=AUTH_PATH, extra_auth="", extra="",
                ping_interval="10s", ping_timeout="5s"):
    auth = ["path: %s" % auth_path] if auth_path else []
    if token is not None:
        auth.append("token_sha256: [%s]" % sha256_hex(token))
    if hmac_file is not None:
        auth.append("hmac_key_file: %s" % hmac_file)
    if extra_auth:
        auth.append(extra_auth)
    return f"""\
  - name: {name}
    protocols: [{", ".join(protocols)}]
    authorities: [{", ".join(authorities)}]
    paths: [{", ".join(paths)}]
    auth: {{ {", ".join(auth)} }}
    wait_for_origin: {wait}
    ping_interval: {ping_interval}
    ping_timeout: {ping_timeout}
{extra}"""


def gateway_config(certs, pub, gw, origins, routes, alpn="[h2, http/1.1, rh2, rh1]", defaults=None,
                   extra_listeners="", listener_tls_extra="", log_level="info", engine="nghttp2"):
    """pub: plain public listener; gw: TLS listener (alpn as given) for public
    h2/h1 clients and dialing origins. origins: YAML items text; routes: list of
    YAML flow-mapping strings; defaults: dict overriding the defaults."""
    rts = "".join("  - %s\n" % r for r in routes)
    d = {"connect_timeout": "2s", "response_timeout": "10s", "drain_timeout": "2s"}
    d.update(defaults or {})
    dtext = "".join("  %s: %s\n" % kv for kv in d.items())
    return f"""\
log: {{ level: {log_level}, access: stderr, format: json }}
defaults:
{dtext}certificates:
  - {{ name: gw, cert: {certs.server_cert}, key: {certs.server_key} }}
listeners:
  - {{ name: pub, listen: 127.0.0.1:{pub} }}
  - {{ name: gw, listen: 127.0.0.1:{gw}, engine: {engine}, tls: {{ certificates: [gw], alpn: {alpn}{listener_tls_extra} }} }}
{extra_listeners}origins:
{origins}routes:
{rts}"""


APP_ROUTES = ["{ match: { authority: app.example.com, protocol: websocket }, to: { origin: app } }",
              "{ match: { authority: app.example.com }, to: { origin: app } }"]


def connector_config(certs, gw_ports, backend_port, protocol="rh2", token_file=None, hmac_key_file=None,
                     authorities=("app.example.com",), paths=("/",), connections=2, sni="localhost",
                     backoff="{ initial: 100ms, max: 1s }", on_auth_failure="retry", ws_port=None,
                     ca=None, extra="", log_level="info", engine="nghttp2"):
    auth = ""
    if token_file:
        auth += "    token_file: %s\n" % token_file
    if hmac_key_file:
        auth += "    hmac_key_file: %s\n" % hmac_key_file
    gws = ", ".join("127.0.0.1:%d" % p for p in gw_ports)
    ups = "  - { name: local, address: 127.0.0.1:%d, protocol: http/1.1 }\n" % backend_port
    rts = ""
    if ws_port:
        ups += "  - { name: wsecho, address: 127.0.0.1:%d, protocol: http/1.1 }\n" % ws_port
        rts += "  - { match: { connector: to-gw, protocol: websocket }, to: { upstream: wsecho } }\n"
    rts += "  - { match: { connector: to-gw }, to: { upstream: local } }\n"
    return f"""\
log: {{ level: {log_level}, access: stderr, format: json }}
defaults:
  connect_timeout: 2s
  response_timeout: 10s
  drain_timeout: 2s
connectors:
  - name: to-gw
    gateways: [{gws}]
    protocol: {protocol}
    tls: {{ sni: {sni}, ca: {ca or certs.ca} }}
{auth}    authorities: [{", ".join(authorities)}]
    paths: [{", ".join(paths)}]
    connections: {connections}
    backoff: {backoff}
    on_auth_failure: {on_auth_failure}
    engine: {engine}
{extra}upstreams:
{ups}routes:
{rts}"""


# ---------------------------------------------------------------- misc

def write_secret(workdir, name, data):
    p = workdir / name
    p.write_bytes(data)
    os.chmod(p, 0o600)
    return p


def challenge_ok(ch):
    """A challenge is base64 of 32 bytes."""
    try:
        return len(base64.b64decode(ch, validate=True)) == 32
    except Exception:  # noqa: BLE001
        return False


def parse_h2load(text):
    """Dict with total/started/done/succeeded/failed/errored/timeout and 2xx..5xx."""
    out = {}
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    if m:
        for k, v in zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"), m.groups()):
            out[k] = int(v)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        for k, v in zip(("2xx", "3xx", "4xx", "5xx"), m.groups()):
            out[k] = int(v)
    return out


def tcp_alive(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
