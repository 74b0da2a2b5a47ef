#!/usr/bin/python3
"""A fake Coroot receiver for podprof's uploader tests (standard library only).

It answers POST /v1/profiles like Coroot's handler does:
  - 404 "project not found" when started with --api-key K and the request carries
    another non-empty X-Api-Key (an empty or missing key is accepted: Coroot falls back
    to the default project);
  - 400 when service.name is missing or empty, or when the body is not a pprof profile
    (gzip or plain protobuf, checked structurally: wire format, string table, sample
    value counts, location and function references);
  - 200 with an empty body otherwise.
Every accepted request is recorded under --record-dir: the body as received in
NNNNNN.pb.gz and one JSON line in requests.jsonl (service, labels, raw query, headers,
client port, length), written before the answer is sent, so a client that saw 200 finds
its profile recorded.

Fault injection, chosen with --mode at start or later with GET /control?mode=...:
  ok          normal behaviour
  status      answer --status (e.g. 500, 400, 413, 429) to every profile, read fully
  fail-first  answer --status to the next --count profiles, then behave normally
  slow        read the body, sleep --slow seconds, then answer 200 (not recorded: the
              client has timed out by then and must send it again)
  close       read half of the body, then close the connection without an answer
"Down" is simply not running this server. GET /control also takes api_key=K to change
the accepted key. GET /stats returns counters as JSON.

Usage: fake_coroot.py --port N --record-dir DIR [--api-key K] [--mode M] [--status S]
                      [--count N] [--slow SECONDS] [--port-file FILE]
                      [--tls-cert PEM --tls-key PEM]
"""
import argparse
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import zlib

MAX_BODY = 64 << 20
MAX_DECOMPRESSED = 256 << 20


class BadProfile(Exception):
    pass


# ---- protobuf wire format ------------------------------------------------------------

def read_varint(buf, pos):
    result = shift = 0
    for i in range(10):
        if pos >= len(buf):
            raise BadProfile("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise BadProfile("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) of a message; value is an int for
    varint/fixed fields and bytes for length-delimited ones."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise BadProfile("field number 0")
        if wt == 0:
            val, pos = read_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > len(buf):
                raise BadProfile("truncated fixed64")
            val, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wt == 5:
            if pos + 4 > len(buf):
                raise BadProfile("truncated fixed32")
            val, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        elif wt == 2:
            n, pos = read_varint(buf, pos)
            if pos + n > len(buf):
                raise BadProfile("length-delimited field past the end")
            val, pos = bytes(buf[pos:pos + n]), pos + n
        else:
            raise BadProfile("wire type %d" % wt)
        yield num, wt, val


def ints(wt, val):
    """A repeated integer field, packed (bytes) or not (int)."""
    if wt == 0:
        return [val]
    if wt != 2:
        raise BadProfile("integer field with wire type %d" % wt)
    out, pos = [], 0
    while pos < len(val):
        v, pos = read_varint(val, pos)
        out.append(v)
    return out


def expect(wt, want, what):
    if wt != want:
        raise BadProfile("%s has wire type %d" % (what, wt))


def check_profile(data):
    """Raises BadProfile unless data parses as a pprof Profile the way google/pprof's
    parser needs it."""
    strings, sample_types, samples, locations, functions = [], [], [], {}, set()
    string_refs = []
    for num, wt, val in fields(data):
        if num == 1:
            expect(wt, 2, "sample_type")
            vt = {n: v for n, w, v in fields(val) if w == 0}
            sample_types.append((vt.get(1, 0), vt.get(2, 0)))
        elif num == 2:
            expect(wt, 2, "sample")
            locs, values = [], []
            for n, w, v in fields(val):
                if n == 1:
                    locs += ints(w, v)
                elif n == 2:
                    values += ints(w, v)
                elif n == 3:
                    expect(w, 2, "label")
            samples.append((locs, values))
        elif num == 4:
            expect(wt, 2, "location")
            lid, fids = 0, []
            for n, w, v in fields(val):
                if n == 1:
                    lid = v
                elif n == 4:
                    expect(w, 2, "line")
                    fids += [x for m, y, x in fields(v) if m == 1 and y == 0]
            if lid == 0 or lid in locations:
                raise BadProfile("location id %d zero or duplicate" % lid)
            locations[lid] = fids
        elif num == 5:
            expect(wt, 2, "function")
            f = {n: v for n, w, v in fields(val) if w == 0}
            if f.get(1, 0) == 0 or f[1] in functions:
                raise BadProfile("function id zero or duplicate")
            functions.add(f[1])
            string_refs += [f.get(2, 0), f.get(3, 0), f.get(4, 0)]
        elif num == 6:
            expect(wt, 2, "string_table")
            strings.append(val)
        elif num in (3, 11):
            expect(wt, 2, "message field %d" % num)
        elif num == 13:
            ints(wt, val)
    if not strings or strings[0] != b"":
        raise BadProfile("string_table[0] must be empty")
    ntypes = len(sample_types)
    for idx in [i for st in sample_types for i in st] + string_refs:
        if idx >= len(strings):
            raise BadProfile("string index %d out of range" % idx)
    for locs, values in samples:
        if len(values) != ntypes:
            raise BadProfile("sample has %d values for %d types" % (len(values), ntypes))
        for lid in locs:
            if lid not in locations:
                raise BadProfile("sample refers to missing location %d" % lid)
    for fids in locations.values():
        for fid in fids:
            if fid and fid not in functions:
                raise BadProfile("line refers to missing function %d" % fid)


def decode_body(body):
    if body[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = d.decompress(body, MAX_DECOMPRESSED)
        except zlib.error as e:
            raise BadProfile("bad gzip: %s" % e)
        if d.unconsumed_tail or not d.eof:
            raise BadProfile("gzip truncated or too large")
        return out
    return body


# ---- server ----------------------------------------------------------------------------

class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.mode = args.mode
        self.status = args.status
        self.count = args.count
        self.slow = args.slow
        self.api_key = args.api_key or ""
        self.record_dir = args.record_dir
        self.seq = 0
        self.stats = {"requests": 0, "accepted": 0, "rejected": 0, "connections": 0,
                      "by_status": {}}

    def count_status(self, code):
        with self.lock:
            k = str(code)
            self.stats["by_status"][k] = self.stats["by_status"].get(k, 0) + 1
            if code != 200:
                self.stats["rejected"] += 1


STATE = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Coroot's Go server does

    def setup(self):
        super().setup()
        with STATE.lock:
            STATE.stats["connections"] += 1

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_COROOT_VERBOSE"):
            sys.stderr.write("fake_coroot: " + (fmt % args) + "\n")

    def reply(self, code, text="", ctype="text/plain"):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        STATE.count_status(code)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/control":
            with STATE.lock:
                STATE.mode = q.get("mode", STATE.mode)
                STATE.status = int(q.get("status", STATE.status))
                STATE.count = int(q.get("count", STATE.count))
                STATE.slow = float(q.get("slow", STATE.slow))
                STATE.api_key = q.get("api_key", STATE.api_key)
                out = {"mode": STATE.mode, "status": STATE.status, "count": STATE.count,
                       "slow": STATE.slow}
            self.reply(200, json.dumps(out), "application/json")
        elif url.path == "/stats":
            with STATE.lock:
                out = json.dumps(STATE.stats)
            self.reply(200, out, "application/json")
        else:
            self.reply(404, "not found")

    def read_body(self, limit=None):
        n = int(self.headers.get("Content-Length", "-1"))
        if n < 0 or n > MAX_BODY:
            return None, n
        return self.rfile.read(n if limit is None else min(n, limit)), n

    def fault(self):
        """Applies the fault mode; returns True when the request was answered."""
        with STATE.lock:
            mode, status, slow = STATE.mode, STATE.status, STATE.slow
            if mode == "fail-first":
                if STATE.count > 0:
                    STATE.count -= 1
                else:
                    mode = "ok"
        if mode == "close":
            n = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(n // 2)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            STATE.count_status(0)
            return True
        if mode in ("status", "fail-first"):
            self.read_body()
            self.reply(status, "injected failure %d" % status)
            return True
        if mode == "slow":
            self.read_body()
            time.sleep(slow)
            try:
                self.reply(200)
            except OSError:
                self.close_connection = True
            return True
        return False

    def do_POST(self):
        with STATE.lock:
            STATE.stats["requests"] += 1
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/v1/profiles":
            self.read_body()
            self.reply(404, "404 page not found")
            return
        if self.fault():
            return
        key = self.headers.get("X-API-Key", "")
        body, n = self.read_body()
        if body is None:
            self.close_connection = True
            self.reply(400 if n > MAX_BODY else 411, "bad content length")
            return
        with STATE.lock:
            want = STATE.api_key
        if key and want and key != want:
            self.reply(404, "project not found")
            return
        params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        service = params.get("service.name", [""])
        if len(service) != 1 or not service[0]:
            self.reply(400, "service.name is required")
            return
        try:
            check_profile(decode_body(body))
        except BadProfile as e:
            self.reply(400, "failed to parse profile: %s" % e)
            return
        labels = {k: v[0] for k, v in params.items() if len(v) == 1 and k != "service.name"}
        with STATE.lock:
            STATE.seq += 1
            seq = STATE.seq
            name = "%06d.pb.gz" % seq
            with open(os.path.join(STATE.record_dir, name), "wb") as f:
                f.write(body)
            rec = {"seq": seq, "file": name, "service": service[0], "labels": labels,
                   "query": url.query, "length": len(body),
                   "client_port": self.client_address[1],
                   "headers": {h.lower(): v for h, v in self.headers.items()
                               if h.lower() in ("x-api-key", "content-type",
                                                "content-encoding", "user-agent")}}
            with open(os.path.join(STATE.record_dir, "requests.jsonl"), "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
            STATE.stats["accepted"] += 1
        self.reply(200)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global STATE
    p = argparse.ArgumentParser(description="fake Coroot profiles receiver")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--record-dir", required=True)
    p.add_argument("--api-key", default="")
    p.add_argument("--mode", default="ok",
                   choices=["ok", "status", "fail-first", "slow", "close"])
    p.add_argument("--status", type=int, default=500)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--slow", type=float, default=5.0)
    p.add_argument("--port-file")
    p.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    p.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    args = p.parse_args()
    os.makedirs(args.record_dir, exist_ok=True)
    STATE = State(args)
    srv = Server((args.listen, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    sys.stderr.write("fake_coroot: listening on %s:%d\n" % (args.listen, port))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
