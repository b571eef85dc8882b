#!/usr/bin/python3
"""demo-backend.py: the small HTTP/1.1 backend of the README demo.

Serves / (a page naming the protocol h2bridge used toward it), /echo (echoes a
POST body) and /headers (the request headers as JSON).  Standard library only.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "h2bridge-demo-backend"

    def _send(self, status, body, ctype="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/headers"):
            body = json.dumps(dict(self.headers.items()), indent=2).encode()
            return self._send(200, body, "application/json")
        page = (
            "<!doctype html><title>h2bridge demo</title>"
            "<h1>h2bridge demo</h1>"
            "<p>This page came from an HTTP/1.1 backend through h2bridge.</p>"
            f"<p>Backend saw: <code>{self.command} {self.path} {self.request_version}</code>, "
            f"Host <code>{self.headers.get('Host')}</code>, "
            f"X-Forwarded-For <code>{self.headers.get('X-Forwarded-For')}</code>.</p>"
            "<p>Your browser spoke to h2bridge over whatever it negotiated (h2 over TLS on 8443, "
            "HTTP/1.1 or h2c on 8080); <code>curl -v</code> shows it.</p>"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        self._send(200, data, self.headers.get("Content-Type") or "application/octet-stream")

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-backend: " + (fmt % args) + "\n")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9001
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
