"""danegate-relay's front (SMTP and LMTP listeners, sessions, access list,
STARTTLS, signals) against the local world's receiving Postfix, with real
clients: Python's smtplib and a sending Postfix (tests/world/sender.sh)
that relays through it, over SMTP (relayhost) and over LMTP
(default_transport = lmtp:...). Mail is counted where it lands, in the
world's sink.

Until the outbound side is merged, the relay under test is
tests/system/danegate-relay-standin: main.c and the real front over a
plaintext stand-in for outbound.h that forwards every transaction to one
SMTP server, here the world's mx.dane-ee.example listener (which accepts
every world domain into its sink). $DANEGATE_RELAY overrides the binary.

Addresses: NET.5.1 (the relay), NET.5.2 (a second relay for the access
list test, also on the host side of a namespace's veth pair), NET.1.1
(the session's danegated, the sending Postfix's resolver).
"""
import atexit
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

import dgsys

RELAY = os.environ.get("DANEGATE_RELAY", str(
    dgsys.REPO / "tests" / "system" / "danegate-relay-standin"))
SENDER_SH = dgsys.REPO / "tests" / "world" / "sender.sh"
ADDR = dgsys.addr("5.1")
ADDR2 = dgsys.addr("5.2")
SMTP_PORT = 2525
LMTP_PORT = 2424


class Relay:
    def __init__(self, world, workdir, listen, lmtp=None, extra=(),
                 binary=None):
        self.binary = binary or RELAY
        self.world = world
        self.dir = Path(workdir)
        self.conf = self.dir / "relay.conf"
        self.logfile = self.dir / "relay.log"
        self.listen = listen
        self.lmtp = lmtp
        self.extra = list(extra)
        self.proc = None

    def write_config(self, lines=None):
        lines = list(self.extra if lines is None else lines)
        if len(self.listen) > 1:
            # --listen names one listener; more go into the file
            lines += ["listen: %s" % spec for spec in self.listen]
        text = "relay:\n" + "".join("    %s\n" % ln for ln in lines)
        self.conf.write_text(text)

    def start(self):
        self.write_config()
        cmd = [self.binary, "-d", "-v", "-c", str(self.conf),
               "--trust-anchor", self.world.env["WORLD_TRUST_ANCHOR"],
               "--unbound-conf", self.world.env["WORLD_LIBUNBOUND_CONF"]]
        if len(self.listen) == 1:
            cmd += ["--listen", self.listen[0]]
        if self.lmtp:
            cmd += ["--lmtp", self.lmtp]
        env = dict(os.environ)
        env["DANEGATE_RELAY_STANDIN"] = \
            self.world.env["WORLD_SMTP_DANE_EE"] + "@25"
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        # the sanitizers' run-time makes calls the relay never does
        env["DANEGATE_SECCOMP"] = "log"
        self.proc = subprocess.Popen(cmd, stdout=open(self.logfile, "ab"),
                                     stderr=subprocess.STDOUT, env=env)
        atexit.register(self.kill)
        self.wait_log("started", 15)

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return
            if self.proc.poll() is not None:
                pytest.fail("relay exited (%r):\n%s" % (self.proc.returncode,
                                                        self.log()[-3000:]))
            time.sleep(0.05)
        pytest.fail("no /%s/ in the relay's log:\n%s" % (pattern,
                                                         self.log()[-3000:]))

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def mailworld(world):
    if world.env.get("WORLD_MAIL") != "1":
        pytest.skip("the world runs without mail servers (WORLD_MAIL=0)")
    if not os.access(RELAY, os.X_OK):
        pytest.fail("%s not built (make tests/system/danegate-relay-standin"
                    ", or set DANEGATE_RELAY)" % RELAY)
    return world


@pytest.fixture(scope="module")
def relay(mailworld, tmp_path_factory):
    r = Relay(mailworld, tmp_path_factory.mktemp("relay"),
              ["%s@%d" % (ADDR, SMTP_PORT)], "%s@%d" % (ADDR, LMTP_PORT),
              ["hostname: relay.world.invalid"])
    r.start()
    yield r
    rc = r.stop()
    assert rc == 0, "relay exit status %r; log:\n%s" % (rc, r.log()[-3000:])


def sink_count(world, domain):
    d = Path(world.env["WORLD_MAIL_SINK"]) / domain / "new"
    return len(list(d.iterdir())) if d.exists() else 0


def sink_find(world, domain, token, timeout=20):
    """The text of the message holding token in domain's sink, or None."""
    d = Path(world.env["WORLD_MAIL_SINK"]) / domain / "new"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if d.exists():
            for f in d.iterdir():
                text = f.read_text(errors="replace")
                if token in text:
                    return text
        time.sleep(0.1)
    return None


def token(tag):
    return "%s-%d-%d" % (tag, os.getpid(), time.monotonic_ns())


def message(tok):
    return ("From: a@client.example\r\nSubject: %s\r\nMessage-ID: <%s@t>"
            "\r\n\r\nbody %s\r\n" % (tok, tok, tok))


class Raw:
    """A line-oriented SMTP client that sees every reply line."""

    def __init__(self, host, port=None, source=None):
        if port is None:        # a unix socket path
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(10)
            self.s.connect(host)
        else:
            self.s = socket.create_connection(
                (host, port), 10, (source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def reply(self):
        """One complete reply: (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] == b" ":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        self.s.close()


# ----------------------------------------------------------------- SMTP --

def test_smtp_delivers_with_received_line(relay, mailworld):
    tok = token("smtp")
    before = sink_count(mailworld, "dane-ee.example")
    with smtplib.SMTP(ADDR, SMTP_PORT, timeout=30) as s:
        code, caps = s.ehlo("client.test")
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE", b"8BITMIME", b"SMTPUTF8",
                    b"ENHANCEDSTATUSCODES", b"DSN",
                    b"LIMITS RCPTDOMAINMAX=1"):
            assert ext in caps
        s.sendmail("a@client.example", ["rcpt@dane-ee.example"],
                   message(tok))
    text = sink_find(mailworld, "dane-ee.example", tok)
    assert text is not None
    assert sink_count(mailworld, "dane-ee.example") == before + 1
    assert re.search(r"Received: from client\.test \(\[[0-9.]+\]\)\r?\n\s+"
                     r"by relay\.world\.invalid \(danegate-relay\) with "
                     r"ESMTP id [0-9A-F]+\r?\n\s+for <rcpt@dane-ee\.example>;",
                     text), text[:600]


def test_smtp_one_domain_per_transaction(relay, mailworld):
    c = Raw(ADDR, SMTP_PORT)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@client.example>")[0] == 250
    assert c.cmd("RCPT TO:<x@dane-ee.example>")[0] == 250
    code, lines = c.cmd("RCPT TO:<y@dane-ta.example>")
    assert code == 452 and lines[0].startswith("452 4.5.3 "), lines
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    c.close()


def test_smtp_pipelined_and_smuggling_refused(relay, mailworld):
    """Everything in one write; the "<LF>.<LF>" inside must neither end
    the data nor start a second, smuggled, transaction."""
    tok, evil = token("smuggle"), token("evil")
    before = sink_count(mailworld, "dane-ee.example")
    c = Raw(ADDR, SMTP_PORT)
    assert c.reply()[0] == 220
    c.send("EHLO client.test\r\nMAIL FROM:<a@client.example>\r\n"
           "RCPT TO:<x@dane-ee.example>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    c.send("Subject: %s\r\n\r\nhello\n.\nMAIL FROM:<e@client.example>\r\n"
           "RCPT TO:<x@dane-ee.example>\r\nDATA\r\nSubject: %s\r\n\r\n"
           "smuggled\r\n.\r\nQUIT\r\n" % (tok, evil))
    code, lines = c.reply()
    assert code == 550 and "5.5.2" in lines[0], lines
    assert c.reply()[0] == 221
    time.sleep(2)
    assert sink_find(mailworld, "dane-ee.example", evil, timeout=0.5) is None
    assert sink_find(mailworld, "dane-ee.example", tok, timeout=0.5) is None
    assert sink_count(mailworld, "dane-ee.example") == before


# ----------------------------------------------------------------- LMTP --

def test_lmtp_fans_out_one_reply_per_recipient(relay, mailworld):
    tok = token("lmtp")
    c = Raw(ADDR, LMTP_PORT)
    code, lines = c.reply()
    assert code == 220 and "LMTP" in lines[0]
    assert c.cmd("EHLO client.test")[0] == 500     # RFC 2033: LHLO only
    code, lines = c.cmd("LHLO client.test")
    assert code == 250 and not any("LIMITS" in ln for ln in lines)
    assert c.cmd("MAIL FROM:<a@client.example>")[0] == 250
    for rcpt in ("x@dane-ee.example", "y@dane-ta.example",
                 "z@dane-ee.example"):
        assert c.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(message(tok) + ".\r\n")
    finals = [c.reply() for _ in range(3)]
    assert [f[0] for f in finals] == [250, 250, 250], finals
    assert c.cmd("QUIT")[0] == 221
    assert sink_find(mailworld, "dane-ee.example", tok) is not None
    assert sink_find(mailworld, "dane-ta.example", tok) is not None


def test_lmtp_unix_socket(mailworld, tmp_path):
    """--lmtp PATH: a unix socket listener (Postfix's lmtp:unix:PATH)."""
    tok = token("lmtp-unix")
    path = tmp_path / "lmtp.sock"
    r = Relay(mailworld, tmp_path, ["%s@%d" % (ADDR2, SMTP_PORT)], str(path))
    r.start()
    try:
        c = Raw(str(path))
        assert c.reply()[0] == 220
        assert c.cmd("LHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<a@client.example>")[0] == 250
        assert c.cmd("RCPT TO:<x@dane-ee.example>")[0] == 250
        assert c.cmd("RCPT TO:<y@dane-ta.example>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(message(tok) + ".\r\n")
        assert [c.reply()[0] for _ in range(2)] == [250, 250]
        assert c.cmd("QUIT")[0] == 221
        c.close()
        assert sink_find(mailworld, "dane-ee.example", tok) is not None
        assert sink_find(mailworld, "dane-ta.example", tok) is not None
    finally:
        assert r.stop() == 0
    assert not path.exists()


# ----------------------------------------------------- the access list --

def test_access_list_refuses_another_network(mailworld, tmp_path, netns):
    """Loopback may relay by default; a client in a network namespace
    (another address, another interface) gets 5xx before DATA."""
    ns = netns(20)
    r = Relay(mailworld, tmp_path, ["%s@%d" % (ADDR2, SMTP_PORT),
                                    "%s@%d" % (ns.host_addr, SMTP_PORT)])
    r.start()
    try:
        script = (
            "import smtplib\n"
            "s = smtplib.SMTP(%r, %d, timeout=10)\n"
            "s.ehlo('outsider.test')\n"
            "print(s.docmd('MAIL FROM:<a@client.example>'))\n"
            "print(s.docmd('RCPT TO:<x@dane-ee.example>'))\n"
            "print(s.docmd('DATA'))\n" % (ns.host_addr, SMTP_PORT))
        out = ns.exec(["/usr/bin/python3", "-c", script])
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].startswith("(550, b'5.7.1 Client host [%s]" %
                                   ns.ns_addr), out.stdout
        assert lines[1].startswith("(550, b'5.7.1"), out.stdout
        assert lines[2].startswith("(503, "), out.stdout
        # and loopback is served
        c = Raw(ADDR2, SMTP_PORT)
        assert c.reply()[0] == 220
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<a@client.example>")[0] == 250
        c.close()
    finally:
        assert r.stop() == 0


# ------------------------------------------------------------- STARTTLS --

def test_starttls_discards_pipelined_plaintext(mailworld, tmp_path):
    """CVE-2011-0411: a command sent in the same packet as STARTTLS must
    not be answered as if it had come through TLS."""
    ca = Path(mailworld.env["WORLD_CA_DIR"])
    r = Relay(mailworld, tmp_path, ["%s@%d" % (ADDR2, SMTP_PORT)], None,
              ["tls-cert-file: %s" % (ca / "mx.dane-ee.example.pem"),
               "tls-key-file: %s" % (ca / "mx.dane-ee.example.key")])
    r.start()
    try:
        c = Raw(ADDR2, SMTP_PORT)
        assert c.reply()[0] == 220
        code, lines = c.cmd("EHLO client.test")
        assert "250-STARTTLS" in lines
        c.send("STARTTLS\r\nNOOP injected\r\n")
        code, lines = c.reply()
        assert code == 220, lines
        assert c.buf == b""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = ctx.wrap_socket(c.s)
        c.s = tls
        # the first reply after the handshake is EHLO's, not NOOP's
        code, lines = c.cmd("EHLO client.test")
        assert code == 250 and lines[0].startswith("250-"), lines
        assert "250-STARTTLS" not in lines
        assert c.cmd("QUIT")[0] == 221
    finally:
        assert r.stop() == 0


def test_thousand_sessions(mailworld, tmp_path):
    """max-sessions: 1000 concurrent clients are served (a message goes
    through while 999 others sit idle), the next one gets 421."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4096:
        pytest.skip("RLIMIT_NOFILE hard limit %d < 4096" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    tok = token("thousand")
    r = Relay(mailworld, tmp_path, ["%s@%d" % (ADDR2, SMTP_PORT)])
    r.start()       # inherits the raised limit
    idle = []
    try:
        for _ in range(999):
            c = Raw(ADDR2, SMTP_PORT)
            idle.append(c)
        for c in idle:
            assert c.reply()[0] == 220
        busy = Raw(ADDR2, SMTP_PORT)
        assert busy.reply()[0] == 220
        extra = Raw(ADDR2, SMTP_PORT)
        code, lines = extra.reply()
        assert code == 421 and "4.3.2" in lines[0], lines
        extra.close()
        assert busy.cmd("EHLO client.test")[0] == 250
        assert busy.cmd("MAIL FROM:<a@client.example>")[0] == 250
        assert busy.cmd("RCPT TO:<x@dane-ee.example>")[0] == 250
        assert busy.cmd("DATA")[0] == 354
        busy.send(message(tok) + ".\r\n")
        assert busy.reply()[0] == 250
        assert sink_find(mailworld, "dane-ee.example", tok) is not None
        busy.close()
    finally:
        for c in idle:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert r.stop() == 0


# ------------------------------------------------------ signals, config --

def test_config_check_names_file_and_line(mailworld, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("relay:\n    listen: 127.0.0.1@2525\n"
                    "    command-timeout: 5\n    frobnicate: yes\n")
    out = subprocess.run([RELAY, "-t", "-c", str(conf)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1
    assert "%s:3: command-timeout: '5' is not a number from 10 to 3600" % \
        conf in out.stderr
    assert "%s:4: frobnicate: unknown key" % conf in out.stderr
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    out = subprocess.run([RELAY, "-t", "-c", str(empty), "--listen",
                          "%s@%d" % (ADDR2, SMTP_PORT)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0, out.stderr


def test_sighup_keeps_old_config_on_error(relay, mailworld):
    relay.write_config(["hostname: relay.world.invalid", "listen: nonsense"])
    relay.proc.send_signal(signal.SIGHUP)
    relay.wait_log("reload failed: keeping the old configuration")
    assert "relay.conf:3: listen: 'nonsense' is not ADDR@PORT" in relay.log()
    c = Raw(ADDR, SMTP_PORT)
    assert c.reply()[1][0].startswith("220 relay.world.invalid ")
    c.close()
    relay.write_config(["hostname: relay2.world.invalid"])
    relay.proc.send_signal(signal.SIGHUP)
    relay.wait_log("reloaded ")
    c = Raw(ADDR, SMTP_PORT)
    assert c.reply()[1][0].startswith("220 relay2.world.invalid ")
    c.close()
    relay.write_config()


def test_sigterm_drains_transaction_in_flight(mailworld, tmp_path):
    tok = token("drain")
    r = Relay(mailworld, tmp_path, ["%s@%d" % (ADDR2, SMTP_PORT)], None,
              ["drain-timeout: 20"])
    r.start()
    busy = Raw(ADDR2, SMTP_PORT)
    idle = Raw(ADDR2, SMTP_PORT)
    assert busy.reply()[0] == 220 and idle.reply()[0] == 220
    assert busy.cmd("EHLO client.test")[0] == 250
    assert busy.cmd("MAIL FROM:<a@client.example>")[0] == 250
    assert busy.cmd("RCPT TO:<x@dane-ee.example>")[0] == 250
    assert busy.cmd("DATA")[0] == 354
    r.proc.send_signal(signal.SIGTERM)
    r.wait_log("draining")
    # the idle session is told, new ones are not accepted
    code, lines = idle.reply()
    assert code == 421, lines
    with pytest.raises(OSError):
        socket.create_connection((ADDR2, SMTP_PORT), 2)
    busy.send(message(tok) + ".\r\n")
    assert busy.reply()[0] == 250
    assert sink_find(mailworld, "dane-ee.example", tok) is not None
    assert r.proc.wait(20) == 0


# ------------------------------------------------- a real Postfix in front --

@pytest.fixture(scope="module")
def front_postfix(relay, dg, tmp_path_factory):
    for tool in ("postfix", "sendmail", "postconf", "unshare"):
        if shutil.which(tool) is None and not os.path.exists(
                "/usr/sbin/" + tool):
            pytest.skip("%s is not installed" % tool)
    senddir = tmp_path_factory.mktemp("front-postfix")

    def sh(*args):
        return dgsys.run(["bash", str(SENDER_SH)] + list(args), timeout=90)

    atexit.register(sh, "down", str(senddir))
    r = sh("up", str(senddir), dg.addr)
    if r.returncode != 0:
        pytest.fail("sender.sh up failed:\n%s%s" % (r.stdout, r.stderr))
    yield senddir
    sh("down", str(senddir))


def postfix_send(senddir, rcpts, tok):
    conf = str(senddir / "etc")
    r = subprocess.run(["sendmail", "-C", conf, "-f", "sender@client.example"]
                       + rcpts, input=message(tok), text=True,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


def postfix_set(senddir, *settings):
    conf = str(senddir / "etc")
    for s in settings:
        assert dgsys.run(["postconf", "-c", conf, "-e", s]).returncode == 0
    assert dgsys.run(["postfix", "-c", conf, "reload"]).returncode == 0


def queue_empty(senddir, timeout=30):
    conf = str(senddir / "etc")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = dgsys.run(["postqueue", "-c", conf, "-j"]).stdout
        if out.strip() == "":
            return True
        time.sleep(0.2)
    return False


def test_postfix_relayhost_smtp(front_postfix, mailworld):
    tok = token("pf-smtp")
    postfix_set(front_postfix, "relayhost = [%s]:%d" % (ADDR, SMTP_PORT),
                "default_transport = smtp",
                "smtp_tls_security_level = may")
    postfix_send(front_postfix, ["a@dane-ee.example", "b@dane-ta.example"],
                 tok)
    # dane-ta.example's recipient gets 452 4.5.3 and comes back from
    # Postfix's queue in a second transaction
    assert sink_find(mailworld, "dane-ee.example", tok, 30) is not None
    dgsys.run(["postqueue", "-c", str(front_postfix / "etc"), "-f"])
    assert sink_find(mailworld, "dane-ta.example", tok, 30) is not None
    assert queue_empty(front_postfix)


def test_postfix_lmtp(front_postfix, mailworld):
    tok = token("pf-lmtp")
    conf = str(front_postfix / "etc")
    # sender.sh's master.cf has no lmtp(8) service: add one
    assert dgsys.run(["postconf", "-c", conf, "-M", "-e",
                      "lmtp/unix=lmtp unix - - n - - lmtp"]).returncode == 0
    postfix_set(front_postfix, "relayhost =",
                "default_transport = lmtp:inet:[%s]:%d" % (ADDR, LMTP_PORT))
    before = (sink_count(mailworld, "dane-ee.example"),
              sink_count(mailworld, "dane-ta.example"))
    postfix_send(front_postfix, ["a@dane-ee.example", "b@dane-ta.example",
                                 "c@dane-ee.example"], tok)
    assert sink_find(mailworld, "dane-ta.example", tok, 30) is not None
    assert queue_empty(front_postfix)
    time.sleep(1)
    after = (sink_count(mailworld, "dane-ee.example"),
             sink_count(mailworld, "dane-ta.example"))
    # one message per destination domain transaction, none twice
    assert after[1] == before[1] + 1
    assert after[0] - before[0] in (1, 2)
