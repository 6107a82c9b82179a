"""danegate-relay's outbound side (plugin/relay/outbound.c) against the
local world: the real signed zones (NSD), the real receiving Postfix with
one listener per mail host, driven by tests/system/relay_outbound_send
exactly as the relay's front drives it.

- MTA-STS (RFC 8461) where there is no DANE: sts-enforce delivered with
  PKIX-verified TLS, sts-mismatch deferred 4xx (its MX fits no mx
  pattern), sts-testing delivered; a cached enforce policy goes on being
  applied when the policy host vanishes and the TXT id changes (nginx
  stopped), and survives the process (the cache directory).
- Every mail case of the world: one message each; the outcome (delivered
  with Verified / Trusted / unauthenticated TLS, deferred 4xx, bounced
  5xx) must be what Postfix's own `dane` sender gets on the same case
  (the sending Postfix of test_postfix_differential.py, run here too),
  the world's table (DIR/mail-cases.tsv) and tlsa-check's verdict; the
  mail is counted in the receiver's Maildir (exactly one copy, or none).
- Downgrade attacks on mx.dane-ee.example's own address (the driver's
  --port points the relay there): a man in the middle that strips
  STARTTLS from the real server's EHLO reply, one that presents its own
  certificate (issued for the right name by the world's CA, so PKIX-valid),
  and STARTTLS response injection: each 0 deliveries and a 4xx.
- Faults: the remote drops mid-DATA, stays silent after the dot, answers
  4xx/5xx at each stage; the resolver is down: 4xx (or the remote's own
  reply), never a false 250.
- The policy table (none, encrypt, dane-only, verify, secure) and the
  exemption list (active: delivered and counted; expired: refused),
  RFC 8689 "TLS-Required: No", reply mirroring (RCPT 5xx/4xx, SMTPUTF8
  not offered: 550 5.6.7), a 3 MB message through the bounded buffer,
  connection reuse (three messages, one session at the receiver) and TLS
  session resumption with the DANE verdict still made.

Addresses: NET.3.1 port 2526 (the fake servers and proxies; NET.3.1 is
mx.dane-ee.example's address, its real Postfix stays on port 25); NET.1.99
(a resolver address nothing listens on).
"""
import hashlib
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import dgsys
import tlsacheck
# The sending Postfix (dane, dnssec) of the differential module, run again
# here so that the relay is compared with it directly: its fixtures (its
# own danegated on NET.1.40 and sender.sh) and its log reader.
from test_postfix_differential import (  # noqa: F401 (fixtures)
    resolver, sender, run as postfix_run, tls_level)

DRIVER = os.environ.get("RELAY_OUTBOUND_SEND", str(
    dgsys.REPO / "tests" / "system" / "relay_outbound_send"))
FROM = "sender@client.example"
FAKE_PORT = 2526
DANE_EE = "dane-ee.example"

DOMAINS = tlsacheck.mail_domains_from_world_sh()

# The outcome each verdict of the world's table means for a sender.
DELIVERED = {"dane-valid", "dane-partial", "encrypt-only", "no-dane"}
DEFERRED = {"dane-failing", "dns-failure"}
BOUNCED = {"no-mail"}

# The MTA-STS cases: the reference Postfix `dane` sender has no MTA-STS
# (it sends these with unauthenticated TLS); the relay applies the policy.
STS_EXPECT = {
    "sts-enforce.example": ("sent", "Verified"),
    "sts-testing.example": ("sent", "Verified"),   # PKIX holds; reported
    "sts-mismatch.example": ("deferred", "-"),
}


# ---------------------------------------------------------------- fixtures --

@pytest.fixture(scope="module")
def mailworld(world):
    if world.env.get("WORLD_MAIL", "1") != "1":
        pytest.skip("the world runs without its mail part (WORLD_MAIL=0)")
    if not os.access(DRIVER, os.X_OK):
        pytest.fail("%s not built (make check builds it, or set "
                    "RELAY_OUTBOUND_SEND)" % DRIVER)
    return world


@pytest.fixture(scope="module")
def cases(mailworld):
    return tlsacheck.read_mail_cases(mailworld)


@pytest.fixture(scope="module")
def verdicts(mailworld, cases):
    """tlsa-check's verdict per domain, one run over every case."""
    if not os.access(tlsacheck.TLSA_CHECK, os.X_OK):
        pytest.fail("tlsa-check not built: %s" % tlsacheck.TLSA_CHECK)
    _, doc = tlsacheck.Tool(mailworld).run_json(["-j", "8"] + list(cases))
    return tlsacheck.by_domain(doc)


class Sent:
    def __init__(self, proc, token):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.token = token

    def replies(self, step):
        return [ln.split(" ", 2)[1:] for ln in self.out.splitlines()
                if ln.startswith(step + " ")]

    @property
    def tls(self):
        m = re.search(r"^tls=(.*) relay=", self.out, re.M)
        return m.group(1) if m else None

    def __str__(self):
        return "exit %s\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out,
                                                      self.err)


def send(world, domain, rcpts=None, args=(), body=None, timeout=90):
    """Runs the driver; the message carries a unique token."""
    token = uuid.uuid4().hex
    rcpts = rcpts or ["test@" + domain]
    if body is None:
        body = "relay outbound test\n.a line that starts with a dot\n"
    msg = ("From: <%s>\nTo: <%s>\nSubject: relay outbound %s\n"
           "Message-ID: <%s@client.example>\n\n%s" % (
               FROM, rcpts[0], domain, token, body))
    cmd = [DRIVER, "--trust-anchor", str(world.dir / "root.key"),
           "--unbound-conf", str(world.dir / "libunbound.conf"),
           "--ca-file", world.env["WORLD_CA_FILE"], "--helo",
           "client.example", "--timeout-ms", "15000", "--from", FROM] + \
        list(args) + [domain] + rcpts
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.run(cmd, input=msg, capture_output=True, text=True,
                       timeout=timeout, env=env)
    return Sent(p, token)


def in_sink(world, domain, token, wait=0.0):
    """The sink files of domain holding token (waiting up to wait s for
    at least one)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for sub in ("new", "cur"):
            d = Path(world.env["WORLD_MAIL_SINK"]) / domain / sub
            if d.is_dir():
                found += [f for f in d.iterdir()
                          if token in f.read_text(errors="replace")]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def postfix_log(world):
    return Path(world.env["WORLD_POSTFIX_LOG"]).read_text(errors="replace")


# ------------------------------------------------------- every mail case --

@pytest.fixture(scope="module")
def relay_outcomes(mailworld, cases):
    """One message per mail case through the outbound side."""
    return {d: send(mailworld, d) for d in cases}


def relay_outcome(s):
    """(status, TLS) as the differential module names Postfix's."""
    if s.rc != 0:
        return ({1: "deferred", 2: "bounced"}.get(s.rc, "error"), "-")
    tls = s.tls or "none"
    level = "plain" if tls == "none" else tls.split(" ", 1)[0]
    return ("sent", level)


def postfix_outcome(pf):
    if pf["status"] != "sent":
        return (pf["status"], "-")
    return ("sent", tls_level(pf))


def same_tls(a, b):
    """Postfix says Anonymous/Untrusted for what the relay calls
    Untrusted/Anonymous: both are unauthenticated TLS."""
    unauth = ("Untrusted", "Anonymous")
    return a == b or (a in unauth and b in unauth)


@pytest.mark.parametrize("domain", DOMAINS)
def test_relay_equals_postfix(relay_outcomes, postfix_run, domain):
    """The judge: the relay's outcome is the reference Postfix dane
    sender's on the same case (delivered with the same TLS, deferred,
    bounced)."""
    mine = relay_outcome(relay_outcomes[domain])
    pf = postfix_run["postfix"][domain]
    theirs = postfix_outcome(pf)
    if domain in STS_EXPECT:
        # Postfix dane has no MTA-STS: the policy decides (test_mta_sts)
        theirs = STS_EXPECT[domain]
    assert mine[0] == theirs[0] and same_tls(mine[1], theirs[1]), (
        "relay %s, Postfix %s (%s, relay=%s)\n%s" % (
            mine, theirs, pf["text"], pf["relay"], relay_outcomes[domain]))


def test_differential_table(relay_outcomes, postfix_run, verdicts, cases):
    """The side-by-side table (pytest -rP shows it)."""
    rows = ["%-28s %-13s %-20s %-20s %s" % (
        "domain", "tlsa-check", "Postfix dane", "danegate-relay",
        "relay's reply")]
    for d in cases:
        s = relay_outcomes[d]
        last = (s.replies("end") or s.replies("open") or [["-", "-"]])[-1]
        rows.append("%-28s %-13s %-20s %-20s %s" % (
            d, (verdicts.get(d) or {}).get("verdict", "-"),
            "/".join(postfix_outcome(postfix_run["postfix"][d])),
            "/".join(relay_outcome(s)), " ".join(last)[:60]))
    table = "\n".join(rows) + "\n"
    Path(postfix_run["sender"]["dir"], "relay-differential.txt").write_text(
        table)
    print(table)


@pytest.mark.parametrize("domain", DOMAINS)
def test_mail_case(mailworld, cases, verdicts, relay_outcomes, domain):
    if domain in STS_EXPECT:
        pytest.skip("an MTA-STS case: test_mta_sts_case")
    case = cases[domain]
    verdict = case["verdict"]
    tc = verdicts.get(domain)
    assert tc is not None, "tlsa-check gave no verdict for %s" % domain
    assert tc["verdict"] == verdict, (
        "tlsa-check says %s, the world's table %s: fix that first" % (
            tc["verdict"], verdict))
    s = relay_outcomes[domain]
    opened = s.replies("open")
    assert opened, "no reply to open:\n%s" % s
    code = int(opened[0][0])
    if verdict in DELIVERED:
        assert s.rc == 0, "want delivered (%s):\n%s" % (verdict, s)
        ends = s.replies("end")
        assert ends and ends[0][0] == "250", s
        if verdict == "dane-valid":
            want = {"dane-verified": "Verified", "dane-trusted": "Trusted"}[
                case["reason"]]
            assert s.tls.startswith(want + " TLS (DANE-"), s
        elif verdict == "dane-partial":
            assert re.match(r"(Verified|Trusted) TLS \(DANE-", s.tls), s
        else:
            # encrypt-only and no-dane: TLS, not authenticated (every
            # receiver of these cases offers STARTTLS)
            assert s.tls in ("Untrusted TLS", "Anonymous TLS"), s
        assert len(in_sink(mailworld, domain, s.token, wait=15)) == 1, (
            "want exactly one copy in the sink:\n%s" % s)
        assert re.search(r"to=<test@%s>, relay=\S+\[[\d.:a-f]+\]:25, "
                         r"delay=[\d.]+, dsn=2\.\d+\.\d+, status=sent "
                         r"\(250 .*\), tls=%s" % (
                             re.escape(domain), re.escape(s.tls)), s.err), s
    elif verdict in DEFERRED:
        assert s.rc == 1 and 400 <= code < 500, "want 4xx:\n%s" % s
        text = opened[0][1]
        if case["reason"] not in ("-", ""):
            # the RFC 8460 result type is in the 4xx text
            assert text.startswith("4.7.5 %s: " % case["reason"]), s
        assert re.search(r"to=<@%s>, relay=none, .*dsn=4\.\d+\.\d+, "
                         r"status=deferred \(4\d\d " % re.escape(domain),
                         s.err), s
        if case["reason"] not in ("-", ""):
            assert "stats failures %s=1" % case["reason"] in s.out, s
    elif verdict in BOUNCED:
        assert s.rc == 2 and code == 556, "want 556 5.1.10:\n%s" % s
        assert opened[0][1].startswith("5.1.10 "), s
    else:
        pytest.fail("unknown verdict %s" % verdict)
    if verdict not in DELIVERED:
        time.sleep(0.5)
        assert in_sink(mailworld, domain, s.token) == [], (
            "want nothing in the sink:\n%s" % s)


# ----------------------------------------------------------------- MTA-STS --

def sts_cache_args(tmp_path):
    return ["--sts-cache-dir", str(tmp_path / "sts-cache")]


@pytest.mark.parametrize("domain", sorted(STS_EXPECT))
def test_mta_sts_case(mailworld, tmp_path, domain):
    s = send(mailworld, domain, args=sts_cache_args(tmp_path))
    status, tls = relay_outcome(s)
    assert (status, tls) == STS_EXPECT[domain], s
    if status == "sent":
        assert s.tls == "Verified TLS (PKIX)", s
        assert len(in_sink(mailworld, domain, s.token, wait=15)) == 1, s
    else:
        text = s.replies("open")[0][1]
        assert text.startswith("4.7.5 validation-failure: "
                               "mx.sts-mismatch.example: "), s
        assert "mx patterns" in text, s
        time.sleep(0.5)
        assert in_sink(mailworld, domain, s.token) == [], s
    if domain == "sts-testing.example":
        assert "MTA-STS testing" not in s.err, s
    # the policy is on disk, in the cache's format
    f = tmp_path / "sts-cache" / domain
    text = f.read_text()
    assert text.startswith("danegate-sts-cache 1\ndomain: %s\n"
                           "id: 20260101000000\n" % domain), text
    assert "\n\nversion: STSv1\n" in text, text


def nginx(world, up):
    ndir = world.dir / "nginx"
    if up:
        subprocess.run(["nginx", "-p", "%s/" % ndir, "-c",
                        str(ndir / "nginx.conf"), "-e",
                        str(ndir / "error.log")], check=True)
        return
    pid = int((ndir / "nginx.pid").read_text())
    os.kill(pid, 15)
    for _ in range(100):
        if not (ndir / "nginx.pid").exists():
            return
        time.sleep(0.05)
    raise AssertionError("nginx did not stop")


def test_mta_sts_policy_host_vanishes(mailworld, tmp_path):
    """A downgrade attack on MTA-STS: after the first fetch the policy
    host goes away and the TXT id no longer matches the cached policy's
    (the cache file is given another id), so the relay refetches, fails,
    and must keep enforcing the unexpired cached policy (RFC 8461 §3.3):
    sts-mismatch stays deferred, sts-enforce stays PKIX-verified. Without
    the cache the same failure means no policy (delivered, logged)."""
    args = sts_cache_args(tmp_path)
    first = {d: send(mailworld, d, args=args)
             for d in ("sts-enforce.example", "sts-mismatch.example")}
    assert first["sts-enforce.example"].tls == "Verified TLS (PKIX)", \
        first["sts-enforce.example"]
    assert first["sts-mismatch.example"].rc == 1, first["sts-mismatch.example"]
    for d in first:
        f = tmp_path / "sts-cache" / d
        f.write_text(f.read_text().replace("id: 20260101000000",
                                           "id: 20250101000000"))
    nginx(mailworld, False)
    try:
        s = send(mailworld, "sts-mismatch.example", args=args)
        assert s.rc == 1 and s.replies("open")[0][0] == "451", s
        assert "validation-failure" in s.replies("open")[0][1], s
        assert re.search(r"MTA-STS: refresh failed \(sts-policy-fetch-error"
                         r": .*\): the cached policy \(id 20250101000000\) "
                         r"applies", s.err), s
        time.sleep(0.5)
        assert in_sink(mailworld, "sts-mismatch.example", s.token) == [], s

        s = send(mailworld, "sts-enforce.example", args=args)
        assert s.rc == 0 and s.tls == "Verified TLS (PKIX)", s
        assert "refresh failed (sts-policy-fetch-error" in s.err, s

        # no cache: a policy never fetched does not apply (§3.3)
        s = send(mailworld, "sts-mismatch.example",
                 args=["--sts-cache-dir", str(tmp_path / "fresh-cache")])
        assert s.rc == 0, s
        assert "MTA-STS: sts-policy-fetch-error: " in s.err, s
        assert s.tls in ("Untrusted TLS", "Anonymous TLS"), s
    finally:
        nginx(mailworld, True)


def test_mta_sts_corrupt_cache_file_ignored(mailworld, tmp_path):
    d = tmp_path / "sts-cache"
    d.mkdir()
    (d / "sts-enforce.example").write_text("danegate-sts-cache 1\ngarbage")
    s = send(mailworld, "sts-enforce.example", args=sts_cache_args(tmp_path))
    assert "sts-cache/sts-enforce.example: line 2: truncated, ignored" in \
        s.err, s
    assert s.rc == 0 and s.tls == "Verified TLS (PKIX)", s
    assert (d / "sts-enforce.example").read_text().startswith(
        "danegate-sts-cache 1\ndomain: sts-enforce.example\n")


# -------------------------------------------------------- fake servers --

class FakeSMTP:
    """A tiny SMTP server on NET.3.1:FAKE_PORT, one session at a time.

    mode "plain": no STARTTLS; "tls": STARTTLS with (cert, key);
    "inject": a 220 to STARTTLS with a forged reply in the same packet;
    "strip": a man in the middle that relays to the real server on port 25
    and removes STARTTLS from its EHLO reply. Counts MAIL commands seen
    and messages accepted. RCPT bad* -> 550 5.1.1, tmp* -> 451 4.2.0."""

    def __init__(self, mode, cert=None, key=None, smtputf8=False,
                 banner="220 mx.dane-ee.example ESMTP fake", mail_reply=None,
                 end_reply="250 2.0.0 Ok: queued as FAKE", fault=None):
        self.mode = mode
        self.banner, self.mail_reply = banner, mail_reply
        self.end_reply, self.fault = end_reply, fault
        self.cert, self.key = cert, key
        self.smtputf8 = smtputf8
        self.mails = 0
        self.messages = 0
        self.sessions_seen = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((dgsys.addr("3.1"), FAKE_PORT))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        self.thread.join(10)
        self.sock.close()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            try:
                if self.mode == "strip":
                    self._strip(conn)
                else:
                    self._session(conn)
            except (OSError, ssl.SSLError, ValueError):
                pass
            finally:
                conn.close()

    def _session(self, conn):
        f = conn.makefile("rwb", buffering=0)

        def say(line):
            f.write(line.encode() + b"\r\n")

        self.sessions_seen += 1
        say(self.banner)
        tls = False
        data = False
        lines = 0
        while True:
            line = f.readline()
            if not line:
                return
            if data:
                lines += 1
                if self.fault == "drop-in-data" and lines == 3:
                    return          # the connection goes mid-message
                if line == b".\r\n":
                    data = False
                    if self.fault == "silent-after-dot":
                        while f.readline():
                            pass
                        return
                    self.messages += 1
                    say(self.end_reply)
                continue
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO" and self.fault == "no-ehlo":
                say("502 5.5.2 Error: command not recognized")
            elif verb == "HELO":
                say("250 mx.dane-ee.example")
            elif verb == "EHLO":
                ext = ["PIPELINING", "SIZE 10240000", "8BITMIME", "DSN",
                       "ENHANCEDSTATUSCODES"]
                if self.smtputf8:
                    ext.append("SMTPUTF8")
                if self.mode in ("tls", "inject") and not tls or \
                        self.mode == "badtls" and self.sessions_seen == 1:
                    ext.append("STARTTLS")
                say("250-mx.dane-ee.example")
                for e in ext[:-1]:
                    say("250-" + e)
                say("250 " + ext[-1])
            elif verb == "STARTTLS":
                if self.mode == "badtls":
                    f.write(b"220 2.0.0 go ahead\r\n")
                    time.sleep(0.1)
                    f.write(b"this is not a TLS record\r\n")
                    return
                if self.mode == "inject":
                    f.write(b"220 2.0.0 go ahead\r\n250 2.0.0 injected\r\n")
                    return
                say("220 2.0.0 Ready to start TLS")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.cert, self.key)
                conn = ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rwb", buffering=0)
                tls = True
            elif verb == "MAIL":
                self.mails += 1
                say(self.mail_reply or "250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = cmd.split(":", 1)[1].strip().lstrip("<")
                if addr.startswith("bad"):
                    say("550 5.1.1 <%s>: Recipient address rejected" %
                        addr.split(">")[0])
                elif addr.startswith("tmp"):
                    say("451 4.2.0 <%s>: try again later" %
                        addr.split(">")[0])
                else:
                    say("250 2.1.5 Ok")
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                data = True
            elif verb == "RSET":
                say("250 2.0.0 Ok")
            elif verb == "QUIT":
                say("221 2.0.0 Bye")
                return
            else:
                say("502 5.5.2 Error: command not recognized")

    def _strip(self, conn):
        up = socket.create_connection((dgsys.addr("3.1"), 25), timeout=10)
        try:
            fc = conn.makefile("rwb", buffering=0)
            fu = up.makefile("rwb", buffering=0)

            def reply():
                lines = []
                while True:
                    ln = fu.readline()
                    if not ln:
                        return lines
                    lines.append(ln)
                    if ln[3:4] != b"-":
                        return lines

            fc.write(b"".join(reply()))
            while True:
                line = fc.readline()
                if not line:
                    return
                if line.upper().startswith(b"MAIL"):
                    self.mails += 1
                fu.write(line)
                lines = reply()
                if line.upper().startswith(b"EHLO"):
                    lines = [ln for ln in lines if b"STARTTLS" not in
                             ln.upper()]
                    # the last line must end the reply
                    lines[-1] = lines[-1][:3] + b" " + lines[-1][4:]
                fc.write(b"".join(lines))
                if not lines:
                    return
        finally:
            up.close()


@pytest.fixture
def fake():
    servers = []

    def start(*a, **kw):
        s = FakeSMTP(*a, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def impostor_cert(world, tmp_path, name="mx.dane-ee.example"):
    """A certificate for name from the world's own intermediate CA, with a
    fresh key: PKIX-valid, but not the key the TLSA record pins."""
    ca = Path(world.env["WORLD_CA_DIR"])
    key, cert, tmpl = (tmp_path / "imp.key", tmp_path / "imp.pem",
                       tmp_path / "imp.tmpl")
    tmpl.write_text('cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\n'
                    "tls_www_server\nsigning_key\nencryption_key\n" % (
                        name, name))
    subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa",
                    "--outfile", str(key)], capture_output=True, check=True,
                   timeout=30)
    subprocess.run(["certtool", "--generate-certificate", "--load-privkey",
                    str(key), "--load-ca-certificate", str(ca / "int.pem"),
                    "--load-ca-privkey", str(ca / "int.key"), "--template",
                    str(tmpl), "--outfile", str(cert)], capture_output=True,
                   check=True, timeout=30)
    chain = tmp_path / "imp.chain.pem"
    chain.write_text(cert.read_text() + (ca / "int.pem").read_text())
    return str(chain), str(key)


# ------------------------------------------------------ downgrade attacks --

def test_mitm_strips_starttls(mailworld, fake):
    mitm = fake("strip")
    s = send(mailworld, DANE_EE, args=["--port", str(FAKE_PORT)])
    assert s.rc == 1, s
    assert s.replies("open")[0] == [
        "451", "4.7.5 starttls-not-supported: mx.dane-ee.example[%s]: "
        "STARTTLS not offered" % dgsys.addr("3.1")], s
    assert mitm.mails == 0, "MAIL FROM went through the man in the middle"
    time.sleep(0.5)
    assert in_sink(mailworld, DANE_EE, s.token) == []


def test_mitm_with_its_own_certificate(mailworld, fake, tmp_path):
    cert, key = impostor_cert(mailworld, tmp_path)
    mitm = fake("tls", cert, key)
    s = send(mailworld, DANE_EE, args=["--port", str(FAKE_PORT)])
    assert s.rc == 1, s
    text = s.replies("open")[0][1]
    assert text.startswith("4.7.5 certificate-not-trusted: "
                           "mx.dane-ee.example[%s]: " % dgsys.addr("3.1")), s
    assert mitm.mails == 0 and mitm.messages == 0


def test_starttls_injection(mailworld, fake):
    srv = fake("inject")
    s = send(mailworld, DANE_EE, args=["--port", str(FAKE_PORT)])
    assert s.rc == 1, s
    assert "possible STARTTLS injection" in s.replies("open")[0][1], s
    assert srv.mails == 0


def test_no_starttls_never_plaintext(mailworld):
    """A DANE domain whose real receiver offers no STARTTLS: 4xx, and the
    receiver never saw MAIL FROM."""
    before = postfix_log(mailworld)
    s = send(mailworld, "no-starttls.example")
    assert s.rc == 1, s
    new = postfix_log(mailworld)[len(before):]
    lines = [ln for ln in new.splitlines()
             if "mx.no-starttls.example/smtpd" in ln and "disconnect" in ln]
    assert lines, new
    assert all(" mail=" not in ln for ln in lines), lines


# -------------------------------------------------------- the policy table --

def table(tmp_path, text, name="policy"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_policy_none_sends_plaintext(mailworld, tmp_path):
    s = send(mailworld, "no-tlsa.example", args=[
        "--policy-table", table(tmp_path, "no-tlsa.example none\n")])
    assert s.rc == 0 and s.tls == "none", s
    assert len(in_sink(mailworld, "no-tlsa.example", s.token, wait=15)) == 1


def test_policy_dane_only_without_tlsa(mailworld, tmp_path):
    s = send(mailworld, "no-tlsa.example", args=[
        "--policy-table", table(tmp_path, "no-tlsa.example dane-only\n")])
    assert s.rc == 1, s
    assert s.replies("open")[0][1].startswith(
        "4.7.5 dane-required: mx.no-tlsa.example: "), s


def test_policy_encrypt_against_no_starttls_host(mailworld, tmp_path, fake):
    fake("plain")
    s = send(mailworld, DANE_EE, args=[
        "--port", str(FAKE_PORT), "--policy-table",
        table(tmp_path, "dane-ee.example encrypt\n")])
    assert s.rc == 1, s
    assert "starttls-not-supported" in s.replies("open")[0][1], s


@pytest.mark.parametrize("line,domain,want", [
    ("no-tlsa.example verify match=hostname", "no-tlsa.example",
     "Verified TLS (PKIX)"),
    (".example secure", "no-tlsa.example", "Verified TLS (PKIX)"),
    ("no-tlsa.example verify match=elsewhere.example", "no-tlsa.example",
     "4.7.5 certificate-host-mismatch"),
    ("ee-mismatch-expired.example verify", "ee-mismatch-expired.example",
     "4.7.5 certificate-"),
])
def test_policy_verify_and_secure(mailworld, tmp_path, line, domain, want):
    s = send(mailworld, domain, args=[
        "--policy-table", table(tmp_path, line + "\n")])
    if want.startswith("4."):
        assert s.rc == 1 and s.replies("open")[0][1].startswith(want), s
    else:
        assert s.rc == 0 and s.tls == want, s


def test_exemption_active_and_expired(mailworld, tmp_path):
    ok = table(tmp_path, "tlsa-mismatch.example 2999-12-31 stale TLSA, "
               "ticket 42\n", "exempt-ok")
    s = send(mailworld, "tlsa-mismatch.example", args=["--exemptions", ok])
    assert s.rc == 0 and s.tls == "Untrusted TLS", s
    assert "exemption used (until 2999-12-31, stale TLSA, ticket 42)" in \
        s.err, s
    assert "exemption tlsa-mismatch.example uses=1 refused=0" in s.out, s
    assert " exemptions_used=1 " in s.out, s
    assert len(in_sink(mailworld, "tlsa-mismatch.example", s.token,
                       wait=15)) == 1

    old = table(tmp_path, "tlsa-mismatch.example 2020-01-31 stale\n",
                "exempt-old")
    s = send(mailworld, "tlsa-mismatch.example", args=["--exemptions", old])
    assert s.rc == 1, s
    assert "exemption expired on 2020-01-31 (stale): not applied" in s.err
    assert "exemption tlsa-mismatch.example uses=0 refused=1" in s.out, s


def test_tls_required_no(mailworld):
    s = send(mailworld, "tlsa-mismatch.example", args=["--tls-required-no"])
    assert s.rc == 0, s
    assert "TLS-Required: No (RFC 8689): delivering despite" in s.err, s
    assert " tls_required_no=1" in s.out, s


def test_bad_policy_table_names_file_and_line(mailworld, tmp_path):
    p = table(tmp_path, "a.example dane\nb.example maybe\n")
    s = send(mailworld, DANE_EE, args=["--policy-table", p])
    assert s.rc == 3 and "%s:2: unknown policy \"maybe\"" % p in s.err, s


# ------------------------------------------------- replies passed through --

def test_rcpt_replies_mirrored(mailworld, tmp_path, fake):
    srv = fake("plain")
    s = send(mailworld, DANE_EE, rcpts=["bad@dane-ee.example",
                                        "tmp@dane-ee.example",
                                        "good@dane-ee.example"],
             args=["--port", str(FAKE_PORT), "--policy-table",
                   table(tmp_path, "dane-ee.example may\n")])
    assert s.replies("rcpt") == [
        ["550", "5.1.1 <bad@dane-ee.example>: Recipient address rejected"],
        ["451", "4.2.0 <tmp@dane-ee.example>: try again later"],
        ["250", "2.1.5 Ok"]], s
    assert s.replies("end") == [["250", "2.0.0 Ok: queued as FAKE"]], s
    assert srv.messages == 1
    assert re.search(r"to=<bad@dane-ee.example>, .*dsn=5\.1\.1, "
                     r"status=bounced \(550 ", s.err), s
    assert re.search(r"to=<tmp@dane-ee.example>, .*dsn=4\.2\.0, "
                     r"status=deferred \(451 ", s.err), s


def test_smtputf8_not_offered(mailworld, tmp_path, fake):
    srv = fake("plain", smtputf8=False)
    s = send(mailworld, DANE_EE, args=[
        "--smtputf8", "--port", str(FAKE_PORT), "--policy-table",
        table(tmp_path, "dane-ee.example may\n")])
    assert s.rc == 2, s
    assert s.replies("open")[0][0] == "550", s
    assert s.replies("open")[0][1].startswith("5.6.7 "), s
    assert srv.mails == 0


def test_big_message_streams_intact(mailworld):
    line = "x" * 76 + "\n"
    body = "".join("%07d %s" % (i, line) for i in range(36000))  # ~3 MB
    s = send(mailworld, DANE_EE, body=body, args=["--chunk", "1000"],
             timeout=120)
    assert s.rc == 0 and s.tls.startswith("Verified TLS"), s
    files = in_sink(mailworld, DANE_EE, s.token, wait=30)
    assert len(files) == 1
    got = files[0].read_text()
    sent = body.replace("\n", "\n")
    assert hashlib.sha256(got[got.index("\n\n") + 2:].encode()).hexdigest() \
        == hashlib.sha256(sent.encode()).hexdigest()


# --------------------------------------------------------- reuse, resume --

def _sessions(world, since, host):
    return [ln for ln in postfix_log(world)[since:].splitlines()
            if "postfix/%s/smtpd" % host in ln and " disconnect from " in ln]


def test_connection_reuse(mailworld):
    before = len(postfix_log(mailworld))
    s = send(mailworld, DANE_EE, args=["--repeat", "3"])
    assert s.rc == 0, s
    assert len(s.replies("end")) == 3 and all(
        e[0] == "250" for e in s.replies("end")), s
    assert len(in_sink(mailworld, DANE_EE, s.token, wait=15)) == 3
    time.sleep(1.0)
    sessions = _sessions(mailworld, before, "mx.dane-ee.example")
    assert len(sessions) == 1, sessions
    assert " mail=3 " in sessions[0] and " rset=2 " in sessions[0], sessions
    # every transaction's log line says what the session was verified as
    assert s.err.count("tls=Verified TLS (DANE-EE 3 1 1)") == 3, s
    assert "stats transactions=3 sessions=1 reused=2 " in s.out, s


def test_idle_session_expires(mailworld):
    """A cached session is closed after reuse_idle_ms: the next
    transaction makes a new one."""
    before = len(postfix_log(mailworld))
    s = send(mailworld, DANE_EE, args=["--repeat", "2", "--reuse-idle-ms",
                                       "200", "--pause-ms", "1500"])
    assert s.rc == 0, s
    assert "stats transactions=2 sessions=2 reused=0 " in s.out, s
    time.sleep(1.0)
    sessions = _sessions(mailworld, before, "mx.dane-ee.example")
    assert len(sessions) == 2, sessions
    # the expired one said goodbye
    assert " quit=1 " in sessions[0], sessions


def test_no_reuse_resumes_tls_and_still_judges(mailworld):
    before = len(postfix_log(mailworld))
    s = send(mailworld, "dane-ta.example", args=["--repeat", "2",
                                                 "--no-reuse"])
    assert s.rc == 0, s
    assert s.err.count("tls=Verified TLS (DANE-TA 2 0 1)") == 2, s
    assert "TLS session resumed" in s.err, s
    assert "sessions=2 reused=0 resumed=1 " in s.out, s
    time.sleep(1.0)
    assert len(_sessions(mailworld, before, "mx.dane-ta.example")) == 2


# ------------------------------------------------------------------ faults --

def _fake_may(tmp_path):
    return ["--port", str(FAKE_PORT), "--policy-table",
            table(tmp_path, "dane-ee.example may\n")]


def test_remote_drops_mid_data(mailworld, tmp_path, fake):
    srv = fake("plain", fault="drop-in-data")
    s = send(mailworld, DANE_EE, args=_fake_may(tmp_path) + ["--chunk",
                                                              "10"])
    assert s.rc == 1, s
    end = s.replies("end")
    assert end and end[0][0] == "451" and end[0][1].startswith("4.4.2 "), s
    assert srv.messages == 0
    assert re.search(r"to=<test@dane-ee.example>, .*status=deferred \(451 ",
                     s.err), s


def test_remote_silent_after_the_dot(mailworld, tmp_path, fake):
    fake("plain", fault="silent-after-dot")
    t0 = time.monotonic()
    s = send(mailworld, DANE_EE, args=_fake_may(tmp_path) + [
        "--timeout-ms", "2000"])
    assert time.monotonic() - t0 < 30
    assert s.rc == 1, s
    end = s.replies("end")
    assert end and end[0][0] == "451", s
    assert "may have been delivered" in end[0][1], s
    assert "possible duplicate" in s.err, s


@pytest.mark.parametrize("kw,step,want", [
    ({"mail_reply": "550 5.7.1 sender rejected"}, "open",
     ["550", "5.7.1 sender rejected"]),
    ({"mail_reply": "452 4.3.1 insufficient storage"}, "open",
     ["452", "4.3.1 insufficient storage"]),
    ({"end_reply": "554 5.7.1 spam"}, "end", ["554", "5.7.1 spam"]),
    ({"end_reply": "451 4.3.0 try later"}, "end",
     ["451", "4.3.0 try later"]),
    ({"banner": "421 4.3.2 busy"}, "open", None),
])
def test_remote_replies_at_each_stage(mailworld, tmp_path, fake, kw, step,
                                      want):
    fake("plain", **kw)
    s = send(mailworld, DANE_EE, args=_fake_may(tmp_path))
    got = s.replies(step)
    assert got, s
    if want is None:
        # a refused greeting: the next address, none left: 4xx, ours
        assert got[0][0] == "451" and "refused to talk to me: 421" in \
            got[0][1], s
    else:
        assert got[0] == want, s
    assert s.rc == (2 if (want or ["4"])[0].startswith("5") else 1), s


def test_resolver_down(mailworld):
    s = send(mailworld, DANE_EE, args=["--resolver", dgsys.addr("1.99")])
    assert s.rc == 1, s
    assert s.replies("open")[0][0].startswith("4"), s
    assert re.search(r"to=<@dane-ee.example>, relay=none, .*status=deferred",
                     s.err), s


class TlsaServfailProxy:
    """A DNS forwarder (UDP and TCP) in front of the world's main
    danegated that answers SERVFAIL to every TLSA query while fail_tlsa is
    set: an attacker, or a broken server, that makes the TLSA lookup
    fail. The relay forwards to it (--resolver) and still validates."""

    def __init__(self, addr, upstream):
        import dns.message
        import dns.query
        import dns.rcode
        import dns.rdatatype
        self.dns = (dns.message, dns.query, dns.rcode, dns.rdatatype)
        self.addr, self.upstream = addr, upstream
        self.fail_tlsa = False
        self.tlsa_seen = 0
        self.stop = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((addr, 53))
        self.udp.settimeout(0.2)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, 53))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._serve_udp, self._serve_tcp)]
        for t in self.threads:
            t.start()

    def _answer(self, wire):
        message, query, rcode, rdatatype = self.dns
        q = message.from_wire(wire)
        if q.question and q.question[0].rdtype == rdatatype.TLSA:
            self.tlsa_seen += 1
            if self.fail_tlsa:
                r = message.make_response(q)
                r.set_rcode(rcode.SERVFAIL)
                return r.to_wire()
        return query.tcp(q, self.upstream, timeout=5).to_wire()

    def _serve_udp(self):
        while not self.stop:
            try:
                wire, peer = self.udp.recvfrom(65535)
            except OSError:
                continue
            try:
                self.udp.sendto(self._answer(wire), peer)
            except Exception:  # noqa: BLE001 (the client times out)
                pass

    def _serve_tcp(self):
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                continue
            try:
                c.settimeout(5)
                n = int.from_bytes(c.recv(2), "big")
                wire = b""
                while len(wire) < n:
                    chunk = c.recv(n - len(wire))
                    if not chunk:
                        break
                    wire += chunk
                out = self._answer(wire)
                c.sendall(len(out).to_bytes(2, "big") + out)
            except Exception:  # noqa: BLE001
                pass
            finally:
                c.close()

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()


def test_tlsa_servfail_is_4xx_never_a_downgrade(mailworld, dg):
    """Downgrade attack: the TLSA answer for a DANE domain's MX made to
    fail (SERVFAIL). The host is skipped (indeterminate TLSA, RFC 7672
    §2.2), none is left: 4xx, nothing delivered. The same forwarder
    passing TLSA through delivers, so it is the TLSA failure that
    counts."""
    proxy = TlsaServfailProxy(dgsys.addr("5.13"), dgsys.MAIN_ADDR)
    try:
        ok = send(mailworld, DANE_EE, args=["--resolver", proxy.addr])
        assert ok.rc == 0, ok
        assert ok.tls is not None and ok.tls.startswith("Verified"), ok
        assert proxy.tlsa_seen > 0
        proxy.fail_tlsa = True
        proxy.tlsa_seen = 0
        s = send(mailworld, DANE_EE, args=["--resolver", proxy.addr])
        assert proxy.tlsa_seen > 0
        assert s.rc == 1, s
        assert s.replies("open")[0][0].startswith("4"), s
        assert re.search(r"status=deferred", s.err), s
        assert in_sink(mailworld, DANE_EE, s.token, wait=2) == []
    finally:
        proxy.close()


@pytest.mark.parametrize("level,want_rc", [("may", 0), ("encrypt", 1)])
def test_tls_failure_falls_back_only_when_opportunistic(mailworld, tmp_path,
                                                       fake, level, want_rc):
    """A STARTTLS that breaks in the handshake: at level may the same
    address again in plaintext (as Postfix does); at encrypt 4xx."""
    srv = fake("badtls")
    s = send(mailworld, DANE_EE, args=[
        "--port", str(FAKE_PORT), "--policy-table",
        table(tmp_path, "dane-ee.example %s\n" % level)])
    assert s.rc == want_rc, s
    if want_rc == 0:
        assert s.tls == "none" and srv.messages == 1, s
        assert "retrying in plaintext" in s.err, s
    else:
        assert s.replies("open")[0][1].startswith(
            "4.7.5 validation-failure: "), s
        assert srv.mails == 0


@pytest.mark.parametrize("level,want_rc", [("may", 0), ("encrypt", 1)])
def test_helo_fallback_only_when_opportunistic(mailworld, tmp_path, fake,
                                               level, want_rc):
    """A server that does not know EHLO: HELO at level may (RFC 5321
    §3.2), the parameters it cannot take left out; 4xx where TLS is
    required."""
    srv = fake("plain", fault="no-ehlo")
    s = send(mailworld, DANE_EE, args=[
        "--port", str(FAKE_PORT), "--policy-table",
        table(tmp_path, "dane-ee.example %s\n" % level)])
    assert s.rc == want_rc, s
    if want_rc == 0:
        assert s.tls == "none" and srv.messages == 1, s
    else:
        assert s.replies("open")[0][1].startswith(
            "4.7.5 starttls-not-supported: "), s
        assert srv.mails == 0


def _tlsrpt_report(sent):
    import json
    line = [ln for ln in sent.out.splitlines()
            if ln.startswith("tlsrpt-report ")]
    assert len(line) == 1, sent
    return json.loads(line[0].split(" ", 1)[1])


def test_tlsrpt_counts_sessions(mailworld, fake, tmp_path):
    """TLS-RPT (RFC 8460): each session is counted under the TLSA policy
    of its MX, a STARTTLS-stripping man in the middle as a
    starttls-not-supported failure, and the counts survive a restart (a
    new process reading the state file)."""
    state = tmp_path / "tlsrpt.state"
    s = send(mailworld, DANE_EE, args=["--tlsrpt-state", str(state),
                                       "--repeat", "2", "--no-reuse"])
    assert s.rc == 0, s
    fake("strip")
    s = send(mailworld, DANE_EE, args=["--tlsrpt-state", str(state),
                                       "--port", str(FAKE_PORT)])
    assert s.rc == 1, s
    r = _tlsrpt_report(s)
    assert r["date-range"]["start-datetime"].endswith("Z")
    assert len(r["policies"]) == 1, r
    p = r["policies"][0]
    assert p["policy"]["policy-type"] == "tlsa"
    assert p["policy"]["policy-domain"] == DANE_EE
    assert p["policy"]["mx-host"] == ["mx.dane-ee.example"]
    assert all(x.startswith("3 1 1 ") for x in p["policy"]["policy-string"])
    assert p["summary"] == {"total-successful-session-count": 2,
                            "total-failure-session-count": 1}, r
    assert p["failure-details"] == [{
        "result-type": "starttls-not-supported",
        "sending-mta-ip": p["failure-details"][0]["sending-mta-ip"],
        "receiving-mx-hostname": "mx.dane-ee.example",
        "receiving-ip": dgsys.addr("3.1"),
        "failed-session-count": 1}], r
