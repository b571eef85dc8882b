#!/usr/bin/python3
"""HTTP/2 test backend (python3-h2) for the h2bridge integration tests.

h2c with prior knowledge, or h2 over TLS with ALPN when --cert/--key are given.
One thread per connection. Endpoints are chosen by the LAST path segment:

  hello        200 "hello"
  echo         request body streamed back as it arrives (flow control kept:
               WINDOW_UPDATEs are sent only as the echoed bytes leave);
               trailer x-req-sha256
  sha256       200, body = hex sha256 of the request body
  big?n=BYTES  n bytes of backend_h1.pattern()
  trailers     body TRAILER_BODY, trailer x-checksum
  headers      JSON {"headers": [[name, value]...], "trailers": [...], "body_len"}
  slow         never answers
  count        number of streams seen (count excluded)

Usage: backend_h2.py [--port N] [--cert C --key K]; prints "READY <port>".
"""
import argparse
import hashlib
import json
import os
import select
import socket
import ssl
import sys
import threading
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backend_h1 import BLOCK, TRAILER_BODY  # noqa: E402

LOCK = threading.Lock()
SEEN = [0]
ACK_BELOW = 256 * 1024


class Stream:
    def __init__(self, sid, headers):
        self.sid = sid
        self.headers = headers
        self.trailers = []
        path = dict(headers).get(":path", "/")
        url = urllib.parse.urlsplit(path)
        self.ep = url.path.rsplit("/", 1)[-1]
        self.q = dict(urllib.parse.parse_qsl(url.query))
        self.hash = hashlib.sha256()
        self.body_len = 0
        self.out = bytearray()    # response bytes waiting for window
        self.big_left = 0         # pattern bytes still to generate
        self.big_off = 0
        self.unacked = 0          # received flow-controlled bytes not yet acknowledged
        self.ended_in = False
        self.end_after_out = None  # None | list of trailers ([] = plain END_STREAM)
        self.done = False


class Server:
    def __init__(self, sock):
        self.sock = sock
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                        validate_inbound_headers=False)
        self.c = h2.connection.H2Connection(config=cfg)
        self.streams = {}

    def flush(self):
        data = self.c.data_to_send()
        if data:
            self.sock.sendall(data)

    def run(self):
        self.c.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
        })
        self.c.initiate_connection()
        self.c.increment_flow_control_window(16 << 20)
        self.flush()
        while True:
            if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
                r, _, _ = select.select([self.sock], [], [], 1.0)
                if not r:
                    continue
            data = self.sock.recv(262144)
            if not data:
                return
            try:
                events = self.c.receive_data(data)
            except h2.exceptions.ProtocolError:
                self.flush()
                return
            for ev in events:
                self.on_event(ev)
            self.pump()
            self.flush()

    def on_event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            st = Stream(ev.stream_id, ev.headers)
            self.streams[ev.stream_id] = st
            if st.ep != "count":
                with LOCK:
                    SEEN[0] += 1
            if st.ep == "echo":
                self.c.send_headers(st.sid, [(":status", "200"),
                                             ("content-type", "application/octet-stream")])
            elif st.ep == "big":
                st.big_left = int(st.q.get("n", "0"))
                self.c.send_headers(st.sid, [(":status", "200"),
                                             ("content-type", "application/octet-stream")])
                if st.big_left == 0:
                    self.c.end_stream(st.sid)
                else:
                    st.end_after_out = []
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.get(ev.stream_id)
            if st is None:
                self.c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                return
            st.hash.update(ev.data)
            st.body_len += len(ev.data)
            st.unacked += ev.flow_controlled_length
            if st.ep == "echo":
                st.out += ev.data
            self.maybe_ack(st)
        elif isinstance(ev, h2.events.TrailersReceived):
            st = self.streams.get(ev.stream_id)
            if st:
                st.trailers = ev.headers
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id)
            if st:
                st.ended_in = True
                self.on_request_end(st)
        elif isinstance(ev, h2.events.StreamReset):
            self.streams.pop(ev.stream_id, None)
        elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            pass

    def maybe_ack(self, st):
        if st.unacked and len(st.out) < ACK_BELOW:
            try:
                self.c.acknowledge_received_data(st.unacked, st.sid)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
            st.unacked = 0

    def on_request_end(self, st):
        ep = st.ep
        if ep == "echo":
            st.end_after_out = [("x-req-sha256", st.hash.hexdigest())]
        elif ep == "big":
            pass
        elif ep == "slow":
            pass
        else:
            status, body, ctype, trailers = "200", b"", "text/plain", None
            if ep == "hello":
                body = b"hello"
            elif ep == "sha256":
                body = st.hash.hexdigest().encode()
            elif ep == "count":
                with LOCK:
                    body = str(SEEN[0]).encode()
            elif ep == "headers":
                body = json.dumps({"headers": st.headers, "trailers": st.trailers,
                                   "body_len": st.body_len}).encode()
                ctype = "application/json"
            elif ep == "trailers":
                body = TRAILER_BODY
                trailers = [("x-checksum", hashlib.sha256(TRAILER_BODY).hexdigest())]
            else:
                status, body = "404", b"no such endpoint"
            hdrs = [(":status", status), ("content-type", ctype)]
            if trailers is None:
                hdrs.append(("content-length", str(len(body))))
            if not body and trailers is None:
                self.c.send_headers(st.sid, hdrs, end_stream=True)
                st.done = True
                self.streams.pop(st.sid, None)
                return
            self.c.send_headers(st.sid, hdrs)
            st.out += body
            st.end_after_out = trailers if trailers is not None else []

    def pump(self):
        for st in list(self.streams.values()):
            if st.done:
                continue
            while True:
                if not st.out and st.big_left:
                    k = min(st.big_left, 262144)
                    off = st.big_off % len(BLOCK)
                    blk = (BLOCK[off:] + BLOCK * 5)[:k]
                    st.out += blk
                    st.big_left -= k
                    st.big_off += k
                if not st.out:
                    break
                try:
                    win = self.c.local_flow_control_window(st.sid)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                    st.done = True
                    break
                n = min(win, self.c.max_outbound_frame_size, len(st.out))
                if n <= 0:
                    break
                self.c.send_data(st.sid, bytes(st.out[:n]))
                del st.out[:n]
                self.flush()
            self.maybe_ack(st)
            if not st.out and not st.big_left and st.end_after_out is not None and \
                    (st.ended_in or st.ep == "big"):
                try:
                    if st.end_after_out:
                        self.c.send_headers(st.sid, st.end_after_out, end_stream=True)
                    else:
                        self.c.end_stream(st.sid)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                    pass
                st.done = True
                self.streams.pop(st.sid, None)


def serve(sock, ctx):
    try:
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_side=True)
        Server(sock).run()
    except (OSError, ssl.SSLError):
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
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols(["h2"])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(512)
    print("READY %d" % ls.getsockname()[1], flush=True)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(s, ctx), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
