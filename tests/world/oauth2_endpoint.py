#!/usr/bin/python3
"""oauth2_endpoint.py - the test world's OAuth2 token endpoint (issue 9).

A small HTTPS server (python3 stdlib; RS256 assertions verified with the
openssl command) standing in for login.microsoftonline.com:

  POST /<tenant>/oauth2/v2.0/token   grant_type=password | client_credentials
                                     | refresh_token; answers as Entra ID
                                     does, errors with AADSTS codes
  POST /introspect                   RFC 7662: token=... -> {"active": ...}
                                     (Dovecot's oauth2 passdb asks here)
  POST /revoke                       token=... : onto the revocation list
  GET  /stats                        counters per grant, as JSON
  GET  /issued                       the live access and refresh tokens
                                     (for tests that grep output for them)

Configuration is one JSON file (--config): {"clients": {ID: {"secret": S,
"cert": PEM path, "ttl": SECONDS, "mailbox": MAILBOX}}, "users": {MAILBOX:
PASSWORD}, "ttl": SECONDS, "app_user": MAILBOX}. A client's "ttl" overrides
the global one (default 3600) for the tokens issued to it; its "mailbox"
(else "app_user", else "app") is the mailbox its client_credentials tokens
act for: the "username" /introspect reports, as an Exchange application
permission scoped to one mailbox. The file is read again for each
request. Tokens are random, expire after their ttl, and are only valid
while the server knows them (a restart forgets every token, unless
--state FILE keeps them). /stats counts
the tokens issued per grant, the errors, the introspections and how many
of them found the token active.

SECURITY: test program; listens on the address it is given only.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
TOKENS = {}      # access token -> {"user", "client", "exp", "scope"}
REFRESH = {}     # refresh token -> {"user", "client", "scope"}
REVOKED = set()
STATS = {"password": 0, "client_credentials": 0, "refresh_token": 0,
         "errors": 0, "introspect": 0, "introspect_active": 0}
JTIS = set()
STATE = None     # --state: the tokens, kept across a restart


def save_state():
    """Write the issued, refresh and revoked tokens and the used jtis to
    --state (atomically; LOCK held): issued tokens outlive a restart of
    the endpoint, as Entra ID's do an outage."""
    if STATE is None:
        return
    tmp = "%s.tmp.%d" % (STATE, os.getpid())
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
              "w") as f:
        json.dump({"tokens": TOKENS, "refresh": REFRESH,
                   "revoked": sorted(REVOKED), "jtis": sorted(JTIS)}, f)
    os.replace(tmp, STATE)


STATE_SEEN = [None]


def load_state():
    """Read --state again if it changed since (LOCK held): a second
    process on the same file (e.g. one serving only /introspect) sees
    the tokens this one issues and revokes."""
    try:
        st = os.stat(STATE)
    except (TypeError, FileNotFoundError):
        return
    if STATE_SEEN[0] == (st.st_mtime_ns, st.st_size, st.st_ino):
        return
    STATE_SEEN[0] = (st.st_mtime_ns, st.st_size, st.st_ino)
    with open(STATE) as f:
        st = json.load(f)
    for mem, key in ((TOKENS, "tokens"), (REFRESH, "refresh")):
        mem.clear()
        mem.update(st[key])
    for mem, key in ((REVOKED, "revoked"), (JTIS, "jtis")):
        mem.clear()
        mem.update(st[key])


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def pem_der(path):
    with open(path) as f:
        body = "".join(l for l in f if not l.startswith("-----"))
    return base64.b64decode(body)


def verify_rs256(signing_input, sig, cert_path):
    """True if sig is an RS256 signature of signing_input by cert's key."""
    with tempfile.TemporaryDirectory() as d:
        pub = os.path.join(d, "pub.pem")
        subprocess.run(["openssl", "x509", "-in", cert_path, "-pubkey",
                        "-noout", "-out", pub], check=True)
        with open(os.path.join(d, "sig"), "wb") as f:
            f.write(sig)
        with open(os.path.join(d, "in"), "wb") as f:
            f.write(signing_input)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub,
                            "-signature", os.path.join(d, "sig"),
                            os.path.join(d, "in")], capture_output=True)
        return r.returncode == 0


class Handler(BaseHTTPRequestHandler):
    server_version = "oauth2-test"

    @property
    def cfg(self):
        """The configuration, read for each request: tests change it."""
        with open(self.server.cfg_path) as f:
            return json.load(f)

    def log_message(self, fmt, *args):   # never the body: it has secrets
        sys.stderr.write("oauth2_endpoint: %s\n" % (fmt % args))

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, err, text, status=400):
        with LOCK:
            STATS["errors"] += 1
        self.reply(status, {"error": err, "error_codes": [code],
                            "error_description":
                            "AADSTS%d: %s" % (code, text)})

    def do_GET(self):
        with LOCK:
            load_state()
        if self.path == "/stats":
            with LOCK:
                self.reply(200, dict(STATS, live=len(TOKENS)))
            return
        if self.path == "/issued":
            with LOCK:
                self.reply(200, {"access": sorted(TOKENS),
                                 "refresh": sorted(REFRESH)})
            return
        self.reply(404, {"error": "not_found"})

    def form(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode()
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}

    def do_POST(self):
        f = self.form()
        with LOCK:
            load_state()
        if self.path == "/introspect":
            return self.introspect(f)
        if self.path == "/revoke":
            with LOCK:
                REVOKED.add(f.get("token", ""))
                save_state()
            return self.reply(200, {})
        parts = self.path.split("/")
        if len(parts) != 5 or parts[2:] != ["oauth2", "v2.0", "token"]:
            return self.reply(404, {"error": "not_found"})
        self.token(f)

    def introspect(self, f):
        tok = f.get("token", "")
        with LOCK:
            STATS["introspect"] += 1
            t = TOKENS.get(tok)
            ok = t is not None and tok not in REVOKED and \
                t["exp"] > time.time()
            STATS["introspect_active"] += ok
        if not ok:
            return self.reply(200, {"active": False})
        self.reply(200, {"active": True, "username": t["user"],
                         "client_id": t["client"], "exp": int(t["exp"]),
                         "scope": t["scope"]})

    def client(self, f):
        """The client's id if its secret or assertion is good, else None
        (the error already sent)."""
        cfg = self.cfg
        cid = f.get("client_id", "")
        c = cfg["clients"].get(cid)
        if c is None:
            self.error(700016, "unauthorized_client",
                       "Application with identifier '%s' was not found"
                       % cid)
            return None
        if "client_assertion" in f:
            if f.get("client_assertion_type") != \
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                self.error(700027, "invalid_client", "bad assertion type")
                return None
            try:
                h64, c64, s64 = f["client_assertion"].split(".")
                hdr = json.loads(b64url_decode(h64))
                cl = json.loads(b64url_decode(c64))
                sig = b64url_decode(s64)
            except (ValueError, KeyError):
                self.error(700027, "invalid_client", "malformed assertion")
                return None
            if not c.get("cert"):
                self.error(700027, "invalid_client",
                           "No certificate is registered for the client.")
                return None
            thumb = base64.urlsafe_b64encode(hashlib.sha256(
                pem_der(c["cert"])).digest()).rstrip(b"=").decode()
            now = time.time()
            good = (hdr.get("alg") == "RS256" and
                    hdr.get("x5t#S256") == thumb and
                    cl.get("iss") == cid and cl.get("sub") == cid and
                    cl.get("aud", "").endswith(self.path) and
                    cl.get("nbf", now + 1) <= now + 60 and
                    cl.get("exp", 0) > now and
                    cl.get("jti") and cl["jti"] not in JTIS and
                    verify_rs256((h64 + "." + c64).encode(), sig, c["cert"]))
            if not good:
                self.error(700027, "invalid_client",
                           "Client assertion failed signature validation.")
                return None
            with LOCK:
                JTIS.add(cl["jti"])
                save_state()
            return cid
        if f.get("client_secret") != c.get("secret"):
            self.error(7000215, "invalid_client",
                       "Invalid client secret provided.")
            return None
        return cid

    def token(self, f):
        cfg = self.cfg
        grant = f.get("grant_type", "")
        cid = self.client(f)
        if cid is None:
            return
        scope = f.get("scope", "")
        if grant == "password":
            user = f.get("username", "")
            if cfg["users"].get(user) != f.get("password"):
                return self.error(50126, "invalid_grant",
                                  "Error validating credentials due to "
                                  "invalid username or password.")
        elif grant == "client_credentials":
            user = cfg["clients"][cid].get("mailbox",
                                           cfg.get("app_user", "app"))
        elif grant == "refresh_token":
            with LOCK:
                rt = REFRESH.pop(f.get("refresh_token", ""), None)
                save_state()
            if rt is None or rt["client"] != cid:
                return self.error(70008, "invalid_grant",
                                  "The refresh token has expired.")
            user = rt["user"]
        else:
            return self.error(70003, "unsupported_grant_type",
                              "unsupported grant type")
        ttl = int(cfg["clients"][cid].get("ttl", cfg.get("ttl", 3600)))
        tok = secrets.token_urlsafe(32)
        out = {"token_type": "Bearer", "scope": scope, "expires_in": ttl,
               "ext_expires_in": ttl, "access_token": tok}
        with LOCK:
            STATS[grant] += 1
            TOKENS[tok] = {"user": user, "client": cid, "scope": scope,
                           "exp": time.time() + ttl}
            if grant != "client_credentials":
                r = secrets.token_urlsafe(32)
                REFRESH[r] = {"user": user, "client": cid, "scope": scope}
                out["refresh_token"] = r
            save_state()
        self.reply(200, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--state", help="keep the tokens in this file across "
                    "a restart (default: forget them)")
    a = ap.parse_args()
    global STATE    # pylint: disable=global-statement
    STATE = a.state
    load_state()
    host, port = a.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.cfg_path = a.config
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
