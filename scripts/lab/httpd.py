#!/usr/bin/env python3
"""The attack lab's web server (scripts/lab/lab.py): pages, assets, an API, large blobs,
and `/admin` behind HTTP basic auth (the target of hydra's http-get brute force).
Stdlib only; threads, so slowloris and floods hold connections like against a real one."""

import argparse
import base64
import http.server
import socketserver
import time

PAGE = b"<html><head><title>lab</title></head><body>" + b"hello " * 800 + b"</body></html>"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    password = "not-in-any-wordlist-7f3a"

    def log_message(self, *args):
        pass

    def send_body(self, code, body, ctype="text/html", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/admin"):
            want = "Basic " + base64.b64encode(f"admin:{self.password}".encode()).decode()
            if self.headers.get("Authorization") != want:
                self.send_body(401, b"unauthorized", "text/plain",
                               [("WWW-Authenticate", 'Basic realm="lab"')])
                return
            self.send_body(200, b"welcome")
        elif path.startswith("/blob"):
            size = {"/blob1m.bin": 1 << 20, "/blob4m.bin": 4 << 20,
                    "/blob16m.bin": 16 << 20}.get(path)
            if size is None:
                self.send_body(404, b"not found", "text/plain")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            # Paced like a download over a WAN link (~4 MB/s), not a veth's GB/s.
            chunk = b"\x5a" * 65536
            left = size
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
                time.sleep(0.016)
        elif path.startswith("/asset"):
            n = sum(map(ord, path)) % 7 + 1
            self.send_body(200, b"var x = 1;\n" * (300 * n), "application/javascript")
        elif path.startswith("/api"):
            self.send_body(200, b'{"status":"ok"}', "application/json")
        elif path in ("/", "/index.html"):
            self.send_body(200, PAGE)
        else:
            self.send_body(404, b"not found", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        left = length
        while left > 0:
            got = self.rfile.read(min(left, 65536))
            if not got:
                break
            left -= len(got)
        self.send_body(200, b"stored", "text/plain")

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=80)
    a = ap.parse_args()
    Server((a.bind, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
