#!/usr/bin/python3
"""Hostile pprof targets for podprof's scraper tests (standard library only).

Each mode listens on a port of its own on 127.0.0.1 and misbehaves on every path under
/debug/pprof/ (and anywhere else):
  slowloris   200 with a profile's Content-Type, then one byte per second, for ever
  endless     200, then gzip-looking bytes as fast as the client takes them, for ever
  bomb        200 with a gzip bomb: about 1 MiB that inflates to 1 GiB of zeros (64
              concatenated gzip members, which Go's gzip reader reads as one stream)
  html        200 with an HTML page (a catch-all route of a web application)
  redirect    302 to the same URL, for ever (a redirect loop)
  blackhole   accepts the connection, reads the request, never answers
  cpuinuse    500 "Could not enable CPU profiling: cpu profiling already in use" for
              /debug/pprof/profile (another client is profiling), 404 for the rest
  notfound    404 "404 page not found" everywhere (no net/http/pprof)
Every request is counted; GET /hostile/stats on any port returns the counts as JSON.

Usage: hostile_pprof.py --port-file FILE [MODE...]   (all modes when none is given)
The port file gets one "MODE PORT" line per mode, written atomically once every port
listens. SIGTERM stops the server.
"""
import argparse
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import zlib

MODES = ["slowloris", "endless", "bomb", "html", "redirect", "blackhole", "cpuinuse",
         "notfound"]
COUNTS = {}
COUNTS_LOCK = threading.Lock()


def make_bomb():
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    one = member.compress(bytes(16 << 20)) + member.flush()
    return one * 64


BOMB = None


def count(mode, path):
    with COUNTS_LOCK:
        key = "%s %s" % (mode, path.split("?")[0])
        COUNTS[key] = COUNTS.get(key, 0) + 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = None

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="text/plain; charset=utf-8", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/hostile/stats"):
            with COUNTS_LOCK:
                body = json.dumps(COUNTS).encode()
            self.send(200, body, "application/json")
            return
        count(self.mode, self.path)
        try:
            getattr(self, "mode_" + self.mode)()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass

    def mode_slowloris(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")  # no length: the body ends never
        self.end_headers()
        self.wfile.flush()
        while True:
            self.wfile.write(b"\x1f")
            self.wfile.flush()
            time.sleep(1)

    def mode_endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"\x1f\x8b\x08\x00" + bytes(65532)
        while True:
            self.wfile.write(chunk)

    def mode_bomb(self):
        self.send(200, BOMB, "application/octet-stream")

    def mode_html(self):
        page = (b"<!DOCTYPE html><html><head><title>Shop</title></head>"
                b"<body><h1>Welcome</h1></body></html>\n")
        self.send(200, page, "text/html; charset=utf-8")

    def mode_redirect(self):
        self.send(302, b"", extra=[("Location", self.path)])

    def mode_cpuinuse(self):
        if self.path.startswith("/debug/pprof/profile"):
            self.send(500, b"Could not enable CPU profiling: cpu profiling already in use\n",
                      extra=[("X-Go-Pprof", "1")])
        else:
            self.send(404, b"404 page not found\n")

    def mode_notfound(self):
        self.send(404, b"404 page not found\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def blackhole(sock):
    held = []

    def hold(conn):
        try:
            conn.recv(65536)
            count("blackhole", "/")
            while conn.recv(65536):
                pass
        except OSError:
            pass
        conn.close()

    while True:
        conn, _ = sock.accept()
        held.append(conn)
        threading.Thread(target=hold, args=(conn,), daemon=True).start()


def main():
    global BOMB
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("modes", nargs="*")
    args = p.parse_args()
    modes = args.modes or MODES
    for m in modes:
        if m not in MODES:
            sys.exit("hostile_pprof.py: unknown mode %r" % m)
    if "bomb" in modes:
        BOMB = make_bomb()
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    lines = []
    for m in modes:
        if m == "blackhole":
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(128)
            threading.Thread(target=blackhole, args=(s,), daemon=True).start()
            port = s.getsockname()[1]
        else:
            handler = type("Handler_" + m, (Handler,), {"mode": m})
            srv = Server(("127.0.0.1", 0), handler)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            port = srv.server_address[1]
        lines.append("%s %d\n" % (m, port))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.rename(tmp, args.port_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
