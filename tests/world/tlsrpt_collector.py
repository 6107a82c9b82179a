#!/usr/bin/python3
"""tlsrpt_collector.py - the test world's TLS-RPT report collector (RFC 8460
§5.3, the https: rua of _smtp._tls.no-starttls.example and
_smtp._tls.dane-ta.example: https://reports.dane-ee.example/tlsrpt/...).

A small HTTPS server (python3 stdlib) with the world's certificate for
reports.dane-ee.example:

  POST /tlsrpt/<name>   stores the request as <dir>/<n>.json: {"path",
                        "content_type", "content_length", "body_b64"},
                        then answers 200 (or the status --fail gives
                        for that path, e.g. --fail /tlsrpt/x=503)
  GET  /stats           {"posts": N}

It does not judge what it receives: the tests read the stored requests.

SECURITY: test program; listens on the address it is given only, stores at
most 1 MiB per request.
"""
import argparse
import base64
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"posts": 0}
MAX_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    server_version = "tlsrpt-collector"

    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/stats":
            return self.reply(404)
        with LOCK:
            self.reply(200, json.dumps(STATE).encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            return self.reply(413)
        body = self.rfile.read(n)
        with LOCK:
            STATE["posts"] += 1
            k = STATE["posts"]
            rec = {"path": self.path,
                   "content_type": self.headers.get("Content-Type"),
                   "content_length": n,
                   "body_b64": base64.b64encode(body).decode()}
            tmp = os.path.join(self.server.store, ".%d.tmp" % k)
            with open(tmp, "w") as f:
                json.dump(rec, f)
            os.rename(tmp, os.path.join(self.server.store, "%d.json" % k))
        self.reply(self.server.fail.get(self.path, 200))

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--cert", required=True, help="chain PEM")
    ap.add_argument("--key", required=True)
    ap.add_argument("--store", required=True, help="directory")
    ap.add_argument("--fail", action="append", default=[],
                    help="PATH=STATUS: answer STATUS to posts to PATH")
    a = ap.parse_args()
    addr, port = a.listen.rsplit(":", 1)
    os.makedirs(a.store, exist_ok=True)
    srv = ThreadingHTTPServer((addr, int(port)), Handler)
    srv.store = a.store
    srv.fail = {p: int(s) for p, s in (f.rsplit("=", 1) for f in a.fail)}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
