#!/usr/bin/python3
"""HTTP/1.1 test backend for the h2bridge integration tests.

A threaded raw-socket server (one thread per connection) with keep-alive,
Content-Length and chunked request bodies (request trailers are recorded).
The endpoint is the LAST path segment, so routes may add prefixes
(/to-h1/echo and /echo are the same endpoint):

  hello          200 "hello"
  echo           body streamed back chunked as it is read; trailer
                 x-req-sha256 = hex sha256 of the whole request body
  sha256         200, body = hex sha256 of the request body
  big?n=BYTES    n bytes of pattern(), chunked (add &cl=1 for Content-Length)
  slow           reads the request, never answers
  sleep?ms=N     200 "slept" after N milliseconds
  events?n=N&ms=M  text/event-stream, chunked: "data: i" events i=0..N-1,
                 one every M milliseconds (the first at once)
  trailers       chunked body TRAILER_BODY, trailer x-checksum = sha256 hex
  count          number of requests seen (request lines read, /count and
                 /stats excluded)
  stats          JSON {"seen", "complete", "errors", "paths"}
  headers        reads the body, then JSON {method, target, version,
                 headers: [[name, value]...], trailers: [...], body_len}
  status?code=N  empty response with status N
  badresp?kind=K a malformed response (see BAD_RESPONSES), then close

Usage: backend_h1.py [--port N] [--host H]; prints "READY <port>" on stdout.
"""
import argparse
import hashlib
import json
import socket
import sys
import threading
import time
import urllib.parse

BLOCK = bytes((i * 31 + 7) & 0xFF for i in range(65536))
TRAILER_BODY = b"body-with-trailers\n"


def pattern(n):
    """The first n bytes of the /big pattern."""
    full, rest = divmod(n, len(BLOCK))
    return BLOCK * full + BLOCK[:rest]


# /badresp?kind=K: malformed responses; the connection is closed after each.
BAD_RESPONSES = {
    "clte": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "badcl": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
    "garbage": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "badte": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "nul": b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 0\r\n\r\n",
    "fold": b"HTTP/1.1 200 OK\r\nX-Bad: a\r\n b\r\nContent-Length: 0\r\n\r\n",
}

LOCK = threading.Lock()
STATS = {"seen": 0, "complete": 0, "errors": 0, "paths": []}


class BadRequest(Exception):
    pass


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def fill(self):
        data = self.sock.recv(262144)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def readline(self, limit=1 << 20):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) > limit:
                raise BadRequest("line too long")
            if not self.fill():
                return None

    def read(self, n):
        """Up to n bytes (at least 1 unless EOF)."""
        if not self.buf and not self.fill():
            return b""
        chunk = bytes(self.buf[:n])
        del self.buf[: len(chunk)]
        return chunk

    def readexact(self, n):
        out = bytearray()
        while len(out) < n:
            c = self.read(n - len(out))
            if not c:
                raise BadRequest("eof in body")
            out += c
        return bytes(out)

    def send(self, data):
        self.sock.sendall(data)


def parse_head(conn):
    """Returns (method, target, version, headers) or None on clean EOF."""
    line = conn.readline()
    while line in (b"\r\n", b"\n"):  # tolerate empty lines between requests
        line = conn.readline()
    if line is None:
        return None
    path_for_stats = line.split(b" ")[1].decode("latin-1") if line.count(b" ") >= 2 else "?"
    ep = path_for_stats.split("?", 1)[0].rsplit("/", 1)[-1]
    if ep not in ("count", "stats"):
        with LOCK:
            STATS["seen"] += 1
            STATS["paths"].append(path_for_stats)
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    headers = []
    while True:
        line = conn.readline()
        if line is None:
            raise BadRequest("eof in head")
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            raise BadRequest("obs-fold")
        name, sep, value = line.partition(b":")
        if not sep or name != name.strip() or not name:
            raise BadRequest("bad header line")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return method, target, version, headers


def hget(headers, name):
    vals = [v for k, v in headers if k.lower() == name]
    return vals


def body_reader(conn, headers):
    """Generator of body chunks; afterwards .trailers is filled."""
    te = hget(headers, "transfer-encoding")
    cl = hget(headers, "content-length")
    trailers = []

    def gen():
        if te:
            if len(te) != 1 or te[0].lower() != "chunked":
                raise BadRequest("bad te")
            if cl:
                raise BadRequest("cl+te")
            while True:
                line = conn.readline()
                if line is None:
                    raise BadRequest("eof in chunk size")
                size_s = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_s, 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size == 0:
                    while True:
                        t = conn.readline()
                        if t is None:
                            raise BadRequest("eof in trailers")
                        if t in (b"\r\n", b"\n"):
                            return
                        n, _, v = t.partition(b":")
                        trailers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
                left = size
                while left:
                    c = conn.read(min(left, 262144))
                    if not c:
                        raise BadRequest("eof in chunk")
                    left -= len(c)
                    yield c
                if conn.readline() not in (b"\r\n", b"\n"):
                    raise BadRequest("missing chunk CRLF")
        elif cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise BadRequest("bad cl")
            left = int(cl[0])
            while left:
                c = conn.read(min(left, 262144))
                if not c:
                    raise BadRequest("eof in body")
                left -= len(c)
                yield c

    return gen(), trailers


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def respond(conn, status, body=b"", ctype="text/plain", extra=()):
    head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (status, ctype, len(body))
    for k, v in extra:
        head += "%s: %s\r\n" % (k, v)
    conn.send(head.encode("latin-1") + b"\r\n" + body)


def handle(conn):
    while True:
        req = parse_head(conn)
        if req is None:
            return
        method, target, version, headers = req
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise BadRequest("bad version")
        url = urllib.parse.urlsplit(target)
        ep = url.path.rsplit("/", 1)[-1]
        q = dict(urllib.parse.parse_qsl(url.query))
        body, trailers = body_reader(conn, headers)
        close = any("close" in v.lower() for v in hget(headers, "connection")) or version == "HTTP/1.0"

        def done():
            with LOCK:
                if ep not in ("count", "stats"):
                    STATS["complete"] += 1

        if ep == "echo":
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      b"Transfer-Encoding: chunked\r\nTrailer: x-req-sha256\r\n\r\n")
            h = hashlib.sha256()
            for c in body:
                h.update(c)
                conn.send(chunk(c))
            done()
            conn.send(b"0\r\nx-req-sha256: " + h.hexdigest().encode() + b"\r\n\r\n")
        else:
            h = hashlib.sha256()
            n = 0
            for c in body:
                h.update(c)
                n += len(c)
            done()
            if ep == "hello":
                respond(conn, 200, b"hello")
            elif ep == "sha256":
                respond(conn, 200, h.hexdigest().encode())
            elif ep == "count":
                with LOCK:
                    seen = STATS["seen"]
                respond(conn, 200, str(seen).encode())
            elif ep == "stats":
                with LOCK:
                    data = json.dumps(STATS).encode()
                respond(conn, 200, data, "application/json")
            elif ep == "headers":
                data = json.dumps({"method": method, "target": target, "version": version,
                                   "headers": headers, "trailers": trailers,
                                   "body_len": n}).encode()
                respond(conn, 200, data, "application/json")
            elif ep == "status":
                code = int(q.get("code", "200"))
                if code in (204, 304) or code < 200:
                    conn.send(b"HTTP/1.1 %d X\r\n\r\n" % code)
                else:
                    respond(conn, code)
            elif ep == "sleep":
                time.sleep(int(q.get("ms", "0")) / 1000.0)
                respond(conn, 200, b"slept")
            elif ep == "events":
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
                for i in range(int(q.get("n", "1"))):
                    if i:
                        time.sleep(int(q.get("ms", "100")) / 1000.0)
                    conn.send(chunk(b"data: %d\n\n" % i))
                conn.send(b"0\r\n\r\n")
            elif ep == "badresp":
                conn.send(BAD_RESPONSES[q.get("kind", "garbage")])
                return
            elif ep == "slow":
                conn.sock.settimeout(300)
                try:
                    while conn.sock.recv(65536):
                        pass
                except OSError:
                    pass
                return
            elif ep == "trailers":
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                          b"Trailer: x-checksum\r\n\r\n" + chunk(TRAILER_BODY) + b"0\r\nx-checksum: "
                          + hashlib.sha256(TRAILER_BODY).hexdigest().encode() + b"\r\n\r\n")
            elif ep == "big":
                total = int(q.get("n", "0"))
                step = 262144
                blk = BLOCK * (step // len(BLOCK))
                if q.get("cl"):
                    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              b"Content-Length: %d\r\n\r\n" % total)
                    left = total
                    while left:
                        k = min(left, step)
                        conn.send(blk[:k])
                        left -= k
                else:
                    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n")
                    left = total
                    full = chunk(blk)
                    while left:
                        k = min(left, step)
                        conn.send(full if k == step else chunk(blk[:k]))
                        left -= k
                    conn.send(b"0\r\n\r\n")
            else:
                respond(conn, 404, b"no such endpoint: " + ep.encode())
        if close:
            return


def serve_conn(sock):
    conn = Conn(sock)
    try:
        handle(conn)
    except BadRequest as e:
        with LOCK:
            STATS["errors"] += 1
        try:
            respond(conn, 400, str(e).encode(), extra=[("Connection", "close")])
        except OSError:
            pass
    except OSError:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(512)
    print("READY %d" % ls.getsockname()[1], flush=True)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve_conn, args=(s,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
