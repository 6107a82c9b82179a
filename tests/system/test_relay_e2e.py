"""danegate-relay end to end: a real Postfix in front, the real relay
(plugin/relay/danegate-relay: front.c + outbound.c), the world's real
receiving Postfix behind it.

- The differential, the judge: the front Postfix (tests/world/sender.sh,
  then relayhost = [relay]:2525 over SMTP, or default_transport =
  lmtp:inet:relay:2424 over LMTP) sends one message per mail case of the
  world; the outcome per case (delivered with Verified / Trusted /
  unauthenticated TLS / no TLS, deferred, bounced), read from the front
  Postfix's log and queue, the relay's log line (tls=) and the receiver's
  Maildir (exactly one copy, or none), must be what the reference Postfix
  DANE sender gets on the same case (test_postfix_differential.py's `run`)
  and what tlsa-check's verdict says. The table is printed (pytest -rP)
  and written next to the front's log.
- Faults through the real relay, each with no message lost and none
  duplicated: the relay killed with SIGKILL mid-transaction, the client
  gone mid-DATA, the resolver down, 1,000 concurrent sessions.
- The configuration checks of main.c: -t with a bad policy table or
  exemption list names FILE:LINE; SIGHUP with a bad one keeps the old.

Addresses: NET.5.3 ports 2525 (SMTP) and 2424 (LMTP): the relay; NET.1.40:
the danegated of the differential (both Postfix instances resolve through
it); NET.5.4 port 2525: the relay of the fault tests, NET.5.5 port 53 a
forwarder that can be stopped (resolver down).
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import dgsys
# The reference: the sending Postfix (dane, dnssec) and its run over every
# mail case, with tlsa-check's verdicts; its log reader.
from test_postfix_differential import (  # noqa: F401 (fixtures)
    resolver, sender, run as postfix_run, parse_maillog, _sender, _env_file,
    _read, DOMAINS)
from test_relay_front import Relay
from test_relay_outbound import postfix_outcome, same_tls

RELAY = os.environ.get("DANEGATE_RELAY_REAL", str(
    dgsys.REPO / "plugin" / "relay" / "danegate-relay"))
ADDR = dgsys.addr("5.3")
FAULT_ADDR = dgsys.addr("5.4")
SMTP_PORT = 2525
LMTP_PORT = 2424
FROM = "sender@client.example"
DEADLINE = 90.0


@pytest.fixture(scope="module")
def mailworld(world):
    if world.env.get("WORLD_MAIL") != "1":
        pytest.skip("the world runs without mail servers (WORLD_MAIL=0)")
    if not os.access(RELAY, os.X_OK):
        pytest.fail("%s not built (make, or set DANEGATE_RELAY_REAL)" %
                    RELAY)
    return world


def start_relay(world, workdir, addr, extra=(), resolver=None):
    Path(workdir).mkdir(parents=True, exist_ok=True)
    extra = ["hostname: relay.world.invalid"] + list(extra)
    if resolver:
        extra.append("resolver: %s" % resolver)
    r = Relay(world, workdir, ["%s@%d" % (addr, SMTP_PORT)],
              "%s@%d" % (addr, LMTP_PORT), extra, binary=RELAY)
    r.start()
    return r


@pytest.fixture(scope="module")
def relay(mailworld, tmp_path_factory):
    r = start_relay(mailworld, tmp_path_factory.mktemp("relay"), ADDR)
    yield r
    rc = r.stop()
    assert rc == 0, "relay exit status %r; log:\n%s" % (rc, r.log()[-3000:])


class Front:
    """A sending Postfix (sender.sh) that hands everything to the relay."""

    def __init__(self, senddir, resolver_addr, settings):
        self.dir = Path(senddir)
        r = _sender("up", self.dir, resolver_addr)
        if r.returncode != 0:
            pytest.fail("sender.sh up: %s%s" % (r.stdout, r.stderr))
        self.env = _env_file(self.dir / "sender.env")
        self.conf = self.env["SENDER_CONFIG"]
        # the relay decides about TLS; the front speaks plaintext to it on
        # loopback and waits as long as the relay may take for a reply
        settings = dict({
            "smtp_tls_security_level": "none",
            "smtp_rcpt_timeout": "300s", "smtp_data_done_timeout": "600s",
            "lmtp_rcpt_timeout": "300s", "lmtp_data_done_timeout": "600s",
            "smtp_connect_timeout": "5s", "lmtp_connect_timeout": "5s",
            "minimal_backoff_time": "2s", "maximal_backoff_time": "4s",
            "queue_run_delay": "2s"}, **settings)
        dgsys.run(["postconf", "-c", self.conf, "-e"] +
                  ["%s=%s" % kv for kv in settings.items()], check=True)
        # sender.sh's master.cf has no lmtp(8) service
        dgsys.run(["postconf", "-c", self.conf, "-M", "-e",
                   "lmtp/unix=lmtp unix - - n - - lmtp"], check=True)
        dgsys.run(["postfix", "-c", self.conf, "reload"], check=True)

    def send(self, rcpt, message_id, body="end-to-end test\n"):
        msg = ("From: <%s>\nTo: <%s>\nSubject: relay e2e\nMessage-ID: <%s>"
               "\n\n%s" % (FROM, rcpt, message_id, body))
        p = dgsys.run(["sendmail", "-C", self.conf, "-f", FROM, rcpt],
                      input=msg, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr

    def log(self):
        return _read(self.env["SENDER_LOG"])

    def queue(self):
        r = dgsys.run(["postqueue", "-c", self.conf, "-p"], timeout=20)
        return r.stdout

    def queued_ids(self):
        return re.findall(r"^([0-9A-F]{6,})[*!]?\s", self.queue(), re.M)

    def flush(self):
        dgsys.run(["postqueue", "-c", self.conf, "-f"], timeout=20)

    def down(self):
        _sender("down", self.dir)


def sink_copies(world, domain, message_id):
    n = 0
    for sub in ("new", "cur"):
        d = Path(world.env["WORLD_MAIL_SINK"]) / domain / sub
        if d.is_dir():
            n += sum(1 for f in d.iterdir()
                     if "<%s>" % message_id in _read(f))
    return n


RELAY_LINE_RX = r"to=<%s>, relay=(\S+), .*status=(\w+) .*, tls=(.*)$"


def relay_tls(relay_log, rcpt):
    """TLS of the relay's delivering attempt: Verified/Trusted/Untrusted/
    Anonymous or plain (its log line's tls=), or None."""
    hits = re.findall(RELAY_LINE_RX % re.escape(rcpt), relay_log, re.M)
    sent = [h for h in hits if h[1] == "sent"]
    if not sent:
        return None
    tls = sent[-1][2].strip()
    return "plain" if tls == "none" else tls.split(" ", 1)[0]


@pytest.fixture(scope="module", params=["smtp", "lmtp"])
def e2e(request, mailworld, resolver, relay, postfix_run,
        tmp_path_factory):
    """One message per mail case through front Postfix -> relay; per
    domain {'front': attempt, 'tls': ..., 'copies': n}."""
    proto = request.param
    if proto == "smtp":
        settings = {"relayhost": "[%s]:%d" % (ADDR, SMTP_PORT)}
    else:
        settings = {"default_transport": "lmtp:inet:%s:%d" % (ADDR,
                                                              LMTP_PORT)}
    front = Front(tmp_path_factory.mktemp("front-" + proto), resolver.addr,
                  settings)
    try:
        token = uuid.uuid4().hex[:12]
        mids = {d: "e2e.%s.%s.%s@client.example" % (proto, token, d)
                for d in DOMAINS}
        for d in DOMAINS:
            front.send("test@" + d, mids[d])
        final = {}
        deadline = time.monotonic() + DEADLINE
        while len(final) < len(DOMAINS) and time.monotonic() < deadline:
            qids, attempts = parse_maillog(front.log())
            for d in DOMAINS:
                qid = qids.get(mids[d])
                mine = attempts.get(qid, []) if qid else []
                if d in final or not mine:
                    continue
                final[d] = dict(mine[-1], qid=qid)
            time.sleep(0.3)
        time.sleep(2)           # a duplicate would have landed by now
        queued = set(front.queued_ids())
        out = {}
        for d in DOMAINS:
            a = final.get(d) or {"status": None, "text": "no outcome",
                                 "qid": None, "relay": "none"}
            out[d] = {"front": a, "queued": a["qid"] in queued,
                      "tls": relay_tls(relay.log(), "test@" + d),
                      "copies": sink_copies(mailworld, d, mids[d])}
        rows = ["%-28s %-13s %-18s %-18s %-7s %s" % (
            "domain (%s)" % proto, "tlsa-check", "Postfix dane",
            "front->relay", "copies", "front's status text")]
        for d in DOMAINS:
            o = out[d]
            rows.append("%-28s %-13s %-18s %-18s %-7s %s" % (
                d, (postfix_run["tlsa"].get(d) or {}).get("verdict", "-"),
                "/".join(postfix_outcome(postfix_run["postfix"][d])),
                "/".join(e2e_outcome(o)), o["copies"],
                o["front"]["text"][:60]))
        table = "\n".join(rows) + "\n"
        (front.dir / "e2e-differential.txt").write_text(table)
        print(table)
        yield {"proto": proto, "cases": out, "table": table, "front": front}
    finally:
        front.down()


def e2e_outcome(o):
    status = o["front"]["status"]
    if status != "sent":
        return (status or "none", "-")
    return ("sent", o["tls"] or "?")


@pytest.mark.parametrize("domain", DOMAINS)
def test_e2e_equals_postfix(e2e, postfix_run, domain):
    """The judge: the front Postfix's outcome through the relay is the
    reference dane sender's, and tlsa-check's verdict predicts it."""
    o = e2e["cases"][domain]
    mine = e2e_outcome(o)
    pf = postfix_run["postfix"][domain]
    theirs = postfix_outcome(pf)
    why = "%s: relay %s, Postfix %s (%s)\nfront: %s\n%s" % (
        e2e["proto"], mine, theirs, pf["text"], o["front"].get("line"),
        e2e["table"])
    assert mine[0] == theirs[0] and same_tls(mine[1], theirs[1]), why
    # counted at the receiver: one copy when sent, none otherwise
    assert o["copies"] == (1 if mine[0] == "sent" else 0), why
    # a deferred message is still in the front's queue, nothing else is
    assert o["queued"] == (mine[0] == "deferred"), why
    verdict = (postfix_run["tlsa"].get(domain) or {}).get("verdict")
    want = {"dane-valid": "sent", "dane-partial": "sent",
            "encrypt-only": "sent", "no-dane": "sent",
            "dane-failing": "deferred", "dns-failure": "deferred",
            "no-mail": "bounced"}.get(verdict)
    assert want == mine[0], "tlsa-check says %s\n%s" % (verdict, why)


# ------------------------------------------------------ configuration ---

def test_check_names_policy_file_line(mailworld, tmp_path):
    pol = tmp_path / "policy"
    pol.write_text("example.com dane\nbad.example bogus\n")
    exe = tmp_path / "exempt"
    exe.write_text("x.example 2027-01-31\n")
    conf = tmp_path / "relay.conf"
    conf.write_text("relay:\n    tls-policy-file: %s\n"
                    "    dane-exemptions-file: %s\n" % (pol, exe))
    p = dgsys.run([RELAY, "-t", "-c", str(conf)])
    assert p.returncode == 1, p.stdout + p.stderr
    assert "%s:2: " % pol in p.stderr, p.stderr
    assert "%s:1: " % exe in p.stderr, p.stderr
    pol.write_text("example.com dane\n")
    exe.write_text("x.example 2027-01-31 stale keys\n")
    p = dgsys.run([RELAY, "-t", "-c", str(conf)])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "configuration OK" in p.stdout


def test_policy_table_reaches_outbound_and_reload(mailworld, tmp_path):
    """tls-policy-file: is used (encrypt on a no-TLS case would defer; here
    `none` for dane-ee.example turns Verified TLS into plaintext), and a
    bad file on SIGHUP keeps the old table."""
    pol = tmp_path / "policy"
    pol.write_text("dane-ee.example none\n")
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR,
                    ["tls-policy-file: %s" % pol])
    try:
        def deliver():
            mid = "pol.%s@client.example" % uuid.uuid4().hex
            smtp_send(FAULT_ADDR, "test@dane-ee.example", mid)
            assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1
            return relay_tls(r.log(), "test@dane-ee.example")

        assert deliver() == "plain", r.log()[-2000:]
        pol.write_text("dane-ee.example nonsense\n")
        r.proc.send_signal(signal.SIGHUP)
        r.wait_log(r"%s:1: [^\n]*\n[^\n]*reload failed: keeping" %
                   re.escape(str(pol)))
        assert deliver() == "plain", r.log()[-2000:]
        pol.write_text("dane-ee.example dane-only\n")
        r.proc.send_signal(signal.SIGHUP)
        r.wait_log("reloaded")
        assert deliver() == "Verified", r.log()[-2000:]
    finally:
        assert r.stop() == 0, r.log()[-3000:]


# ------------------------------------------------------------- faults ---

def smtp_send(addr, rcpt, message_id, port=SMTP_PORT):
    import smtplib
    with smtplib.SMTP(addr, port, timeout=120) as s:
        s.sendmail(FROM, [rcpt], "From: <%s>\r\nTo: <%s>\r\nMessage-ID: "
                   "<%s>\r\n\r\nrelay e2e fault test\r\n" % (
                       FROM, rcpt, message_id))


def wait_copies(world, domain, message_id, want, timeout=20.0):
    deadline = time.monotonic() + timeout
    n = sink_copies(world, domain, message_id)
    while n < want and time.monotonic() < deadline:
        time.sleep(0.2)
        n = sink_copies(world, domain, message_id)
    time.sleep(1.0)
    return sink_copies(world, domain, message_id)


class RawClient:
    """A hand-driven SMTP client that can stop or vanish at any point."""

    def __init__(self, relay, addr):
        self.r = relay
        self.s = socket.create_connection((addr, SMTP_PORT), timeout=30)
        self.f = self.s.makefile("rb")

    def cmd(self, line, want):
        if line is not None:
            self.s.sendall(line.encode() + b"\r\n")
        while True:
            reply = self.f.readline().decode()
            if reply[3:4] != "-":
                break
        assert reply.startswith(want), (line, reply, self.r.log()[-2000:])
        return reply

    def start_data(self, rcpt):
        self.cmd(None, "220")
        self.cmd("EHLO client.example", "250")
        self.cmd("MAIL FROM:<%s>" % FROM, "250")
        self.cmd("RCPT TO:<%s>" % rcpt, "250")
        self.cmd("DATA", "354")

    def close(self):
        # the file object holds the socket open too: close both, or the
        # relay never sees the connection end (what made this test's
        # first version an xfail: its client never closed)
        self.f.close()
        self.s.close()


def test_client_gone_mid_data(mailworld, tmp_path):
    """The client vanishes in the middle of the message: the relay
    notices at once, drops the outbound transaction without a dot (the
    remote never gets a complete message) and logs it."""
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR)
    try:
        mid = "gone.%s@client.example" % uuid.uuid4().hex
        c = RawClient(r, FAULT_ADDR)
        c.start_data("test@dane-ee.example")
        c.s.sendall(("Message-ID: <%s>\r\n\r\n" % mid).encode() +
                    (b"x" * 998 + b"\r\n") * 100)
        time.sleep(1.0)
        c.close()
        r.wait_log(r"to domain dane-ee.example: client \S+ gone in the "
                   r"middle of the data after \d+ bytes: transaction "
                   r"aborted before the final dot", 15)
        assert wait_copies(mailworld, "dane-ee.example", mid, 1,
                           timeout=5) == 0
    finally:
        assert r.stop() == 0, r.log()[-3000:]


def test_client_stalls_mid_data(mailworld, tmp_path):
    """The client stops sending in the middle of the message: at the
    command timeout it gets 421, the outbound transaction is dropped
    without a dot, nothing is delivered."""
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR,
                    ["command-timeout: 10"])
    try:
        mid = "stall.%s@client.example" % uuid.uuid4().hex
        c = RawClient(r, FAULT_ADDR)
        c.start_data("test@dane-ee.example")
        c.s.sendall(("Message-ID: <%s>\r\n\r\n" % mid).encode() +
                    (b"y" * 998 + b"\r\n") * 50)
        t0 = time.monotonic()
        c.cmd(None, "421 4.4.2")
        assert time.monotonic() - t0 < 20
        c.close()
        r.wait_log(r"to domain dane-ee.example: client \S+ timed out in "
                   r"the middle of the data", 5)
        assert wait_copies(mailworld, "dane-ee.example", mid, 1,
                           timeout=5) == 0
    finally:
        assert r.stop() == 0, r.log()[-3000:]


def test_client_gone_after_accept(mailworld, tmp_path):
    """The client vanishes after its final dot, before the remote's
    reply reaches it: the message is delivered once, and the relay logs
    a possible duplicate naming the remote's queue id."""
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR)
    try:
        mid = "dup.%s@client.example" % uuid.uuid4().hex
        c = RawClient(r, FAULT_ADDR)
        c.start_data("test@dane-ee.example")
        c.s.sendall(("Message-ID: <%s>\r\n\r\nhi\r\n.\r\n" %
                     mid).encode())
        c.close()
        r.wait_log(r"gone before the reply to its data: possible "
                   r"duplicate: dane-ee.example accepted it: 250 .*queued "
                   r"as [0-9A-Za-z]+", 30)
        assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1
    finally:
        assert r.stop() == 0, r.log()[-3000:]


def test_sigkill_mid_transaction(mailworld, resolver, tmp_path):
    """SIGKILL while the front Postfix's transaction is open (the RCPT
    accepted, the data not ended): nothing reached the receiver, the
    message stays in the front's queue and is delivered once after the
    restart."""
    front = Front(tmp_path / "front", resolver.addr, {
        "relayhost": "[%s]:%d" % (FAULT_ADDR, SMTP_PORT)})
    r = None
    try:
        r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR)
        mid = "kill.%s@client.example" % uuid.uuid4().hex
        # 5 MB: the data takes a while, the relay dies before the dot
        front.send("test@dane-ee.example", mid,
                   body=("z" * 998 + "\n") * 5000)
        deadline = time.monotonic() + 30
        while "rcpt reply 250" not in r.log():
            assert time.monotonic() < deadline, r.log()[-2000:]
            time.sleep(0.01)
        r.proc.kill()
        r.proc.wait(5)
        time.sleep(2)
        assert sink_copies(mailworld, "dane-ee.example", mid) == 0, (
            "delivered before the kill: the test did not kill it "
            "mid-transaction\n" + r.log()[-2000:])
        assert len(front.queued_ids()) == 1, "message lost:\n" + \
            front.queue() + front.log()[-2000:]
        r = start_relay(mailworld, tmp_path / "r2", FAULT_ADDR)
        deadline = time.monotonic() + 60
        while front.queued_ids() and time.monotonic() < deadline:
            front.flush()
            time.sleep(1)
        assert front.queued_ids() == [], front.queue()
        assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1, (
            "want exactly one copy\n" + front.log()[-3000:])
    finally:
        if r is not None:
            assert r.stop() == 0, r.log()[-3000:]
        front.down()


def test_resolver_down(mailworld, resolver, tmp_path):
    """The relay's resolver is down: 4xx, the message stays queued in the
    front; once it is back, delivered once."""
    fwd = dgsys.Danegated(mailworld, tmp_path / "fwd", [dgsys.addr("5.5")],
                          acl=["127.0.0.0/8 allow"])
    fwd.start()
    fwd_up = True
    front = Front(tmp_path / "front", resolver.addr, {
        "relayhost": "[%s]:%d" % (FAULT_ADDR, SMTP_PORT)})
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR,
                    resolver=dgsys.addr("5.5"))
    try:
        fwd.stop()
        fwd_up = False
        mid = "resdown.%s@client.example" % uuid.uuid4().hex
        front.send("test@dane-ee.example", mid)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if re.search(r"status=deferred \((host \S+ said: )?4\d\d",
                         front.log()):
                break
            time.sleep(0.5)
        assert re.search(r"status=deferred", front.log()), front.log()
        assert sink_copies(mailworld, "dane-ee.example", mid) == 0
        assert len(front.queued_ids()) == 1, front.queue()
        fwd.start()
        fwd_up = True
        deadline = time.monotonic() + 90
        while front.queued_ids() and time.monotonic() < deadline:
            front.flush()
            time.sleep(2)
        assert front.queued_ids() == [], front.queue() + front.log()[-2000:]
        assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1
    finally:
        assert r.stop() == 0, r.log()[-3000:]
        front.down()
        if fwd_up:
            fwd.stop()


def test_thousand_concurrent_sessions(mailworld, tmp_path):
    """1,000 sessions at once (loopback): every one greeted and answered
    within a bounded time, the relay still delivers afterwards."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        # both ends of 1,000 sessions: this process and the relay
        # (which inherits it)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR,
                    ["max-sessions: 1100"])
    socks = []
    try:
        t0 = time.monotonic()
        errors = []

        def one(i):
            try:
                s = socket.create_connection((FAULT_ADDR, SMTP_PORT),
                                             timeout=60)
                socks.append(s)
                f = s.makefile("rb")
                if not f.readline().startswith(b"220"):
                    errors.append(i)
                    return
                s.sendall(b"NOOP\r\n")
                if not f.readline().startswith(b"250"):
                    errors.append(i)
            except OSError as e:
                errors.append((i, e))

        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(1000)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        took = time.monotonic() - t0
        assert not errors, errors[:10]
        assert took < 90, took
        mid = "after1000.%s@client.example" % uuid.uuid4().hex
        smtp_send(FAULT_ADDR, "test@dane-ee.example", mid)
        assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1
    finally:
        for s in socks:
            s.close()
        assert r.stop() == 0, r.log()[-3000:]


# ------------------------------------------------------------ metrics ---

def test_prometheus_metrics(mailworld, tmp_path):
    """prometheus-interface: the counters of one delivered message and one
XX"""
    import http.client
    metrics_port = 9168
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR, [
        "prometheus-interface: %s@%d" % (FAULT_ADDR, metrics_port)])
    try:
        r.wait_log("Prometheus metrics on http://%s@%d/metrics" % (
            re.escape(FAULT_ADDR), metrics_port))
        mid = "metrics.%s@client.example" % uuid.uuid4().hex
        smtp_send(FAULT_ADDR, "test@dane-ee.example", mid)
        assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1
        import smtplib
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp_send(FAULT_ADDR, "test@null-mx.example", mid)

        def get(method, path):
            c = http.client.HTTPConnection(FAULT_ADDR, metrics_port,
                                           timeout=10)
            c.request(method, path)
            resp = c.getresponse()
            return resp.status, resp.getheader("Content-Type"), \
                resp.read().decode()

        status, ctype, body = get("GET", "/metrics")
        assert status == 200 and ctype.startswith("text/plain"), body
        values = dict(ln.rsplit(" ", 1) for ln in body.splitlines()
                      if ln and not ln.startswith("#"))
        assert int(values["danegate_relay_sessions_total"]) == 2, body
        assert values['danegate_relay_recipients_total{outcome='
                      '"delivered"}'] == "1", body
        assert values['danegate_relay_deliveries_total{status='
                      '"sent"}'] == "1", body
        # the null MX refusal is at RCPT, before any per-recipient
        # outcome: counted as a transaction only
        assert values["danegate_relay_reply_latency_seconds_count"] == \
            "1", body
        assert values['danegate_relay_reply_latency_seconds_bucket{le='
                      '"+Inf"}'] == "1", body
        assert int(values['danegate_relay_outbound_total{what='
                          '"transactions"}']) == 2, body
        assert get("GET", "/other")[0] == 404
        assert get("POST", "/metrics")[0] == 501    # evhttp: not allowed
    finally:
        assert r.stop() == 0, r.log()[-3000:]


def scrape(addr, port):
    """The relay's /metrics as {series: value}."""
    import http.client
    c = http.client.HTTPConnection(addr, port, timeout=10)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    return body, dict(ln.rsplit(" ", 1) for ln in body.splitlines()
                      if ln and not ln.startswith("#"))


def attempts(values, policy, outcome, result_type):
    return int(values.get('danegate_relay_attempts_total{policy="%s",'
                          'outcome="%s",result_type="%s"}' % (
                              policy, outcome, result_type), "0"))


def test_tls_required_no(mailworld, tmp_path):
    """RFC 8689: to a destination whose DANE check fails
    (tlsa-mismatch.example), a message whose header says TLS-Required: No
    is delivered (opportunistic TLS, logged tls_required=no); the same
    message without it gets the policy's 4xx at the end of the data and
    is not delivered. The metrics count both by policy."""
    import smtplib
    port = 9169
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR, [
        "prometheus-interface: %s@%d" % (FAULT_ADDR, port)])
    try:
        rcpt = "test@tlsa-mismatch.example"
        yes = "rfc8689.%s@client.example" % uuid.uuid4().hex
        no = "rfc8689-no.%s@client.example" % uuid.uuid4().hex
        msg = ("From: <%s>\r\nTo: <%s>\r\nMessage-ID: <%s>\r\n%s"
               "Subject: report\r\n\r\nbody\r\n")
        with smtplib.SMTP(FAULT_ADDR, SMTP_PORT, timeout=120) as s:
            s.sendmail(FROM, [rcpt], msg % (FROM, rcpt, yes,
                                            "TLS-Required: No\r\n"))
        assert wait_copies(mailworld, "tlsa-mismatch.example", yes, 1) == 1
        assert re.search(r"to domain tlsa-mismatch.example: "
                         r"tls_required=no", r.log()), r.log()[-3000:]
        with smtplib.SMTP(FAULT_ADDR, SMTP_PORT, timeout=120) as s:
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail(FROM, [rcpt], msg % (FROM, rcpt, no, ""))
        assert e.value.smtp_code == 451, e.value
        assert b"4.7.5 certificate-not-trusted" in e.value.smtp_error
        assert wait_copies(mailworld, "tlsa-mismatch.example", no, 1,
                           timeout=3) == 0
        body, values = scrape(FAULT_ADDR, port)
        assert values["danegate_relay_tls_required_no_total"] == "1", body
        assert attempts(values, "tls-required-no", "sent", "none") == 1, \
            body
        # both opens failed the DANE check first
        assert attempts(values, "dane", "deferred",
                        "certificate-not-trusted") == 2, body
    finally:
        assert r.stop() == 0, r.log()[-3000:]


def test_metrics_by_policy(mailworld, tmp_path):
    """danegate_relay_attempts_total moves by policy and result type:
    DANE verified, DANE trusted (insecure MX), MTA-STS enforce (with the
    world's CA), opportunistic (no TLSA), null MX; a client gone
    mid-data counts as aborted."""
    port = 9170
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR, [
        "prometheus-interface: %s@%d" % (FAULT_ADDR, port),
        "ca-file: %s" % mailworld.env["WORLD_CA_FILE"],
        "sts-cache-dir: %s" % (tmp_path / "sts")])
    try:
        import smtplib
        for dom in ("dane-ee.example", "insecure-mx.example",
                    "sts-enforce.example", "no-tlsa.example"):
            mid = "policy.%s@client.example" % uuid.uuid4().hex
            smtp_send(FAULT_ADDR, "test@" + dom, mid)
            assert wait_copies(mailworld, dom, mid, 1) == 1, dom
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp_send(FAULT_ADDR, "test@null-mx.example", "x@y")
        c = RawClient(r, FAULT_ADDR)
        c.start_data("test@dane-ee.example")
        c.s.sendall(b"Subject: x\r\n\r\nhalf")
        time.sleep(0.5)
        c.close()
        r.wait_log("gone in the middle", 10)
        body, values = scrape(FAULT_ADDR, port)
        assert attempts(values, "dane", "sent", "dane-verified") == 1, body
        assert attempts(values, "dane", "sent", "dane-trusted") == 1, body
        assert attempts(values, "sts", "sent", "none") == 1, body
        assert attempts(values, "opportunistic", "sent", "none") == 1, body
        assert attempts(values, "unknown", "bounced", "null-mx") == 1, body
        assert values["danegate_relay_aborted_total"] == "1", body
        assert int(values["danegate_relay_sessions_total"]) == 6, body
        # sts-cache-dir: the policy is on disk for the next start
        assert (tmp_path / "sts" / "sts-enforce.example").is_file()
    finally:
        assert r.stop() == 0, r.log()[-3000:]


def test_check_sts_cache_dir(mailworld, tmp_path):
    """sts-cache-dir: -t names FILE:LINE for a relative path and for a
    path that is not a directory; none and an absolute path pass."""
    conf = tmp_path / "relay.conf"
    conf.write_text("relay:\n    sts-cache-dir: var/sts\n"
                    "    sts-cache-dir: /etc/passwd\n")
    p = dgsys.run([RELAY, "-t", "-c", str(conf)])
    assert p.returncode == 1, p.stdout + p.stderr
    assert "%s:2: sts-cache-dir: 'var/sts' is not an absolute path" % \
        conf in p.stderr, p.stderr
    assert "%s:3: sts-cache-dir: '/etc/passwd' exists and is not a " \
        "directory" % conf in p.stderr, p.stderr
    for value in ("none", str(tmp_path / "sts")):
        conf.write_text("relay:\n    sts-cache-dir: %s\n" % value)
        p = dgsys.run([RELAY, "-t", "-c", str(conf)])
        assert p.returncode == 0, p.stdout + p.stderr


def test_large_message_streams_through(mailworld, tmp_path):
    """A 2 MB message (more than the outbound side's 64 KiB buffer) goes
    through the real front and outbound side, exactly once."""
    import smtplib
    r = start_relay(mailworld, tmp_path / "r", FAULT_ADDR)
    try:
        mid = "large.%s@client.example" % uuid.uuid4().hex
        body = ("w" * 998 + "\r\n") * 2000
        with smtplib.SMTP(FAULT_ADDR, SMTP_PORT, timeout=120) as s:
            s.sendmail(FROM, ["test@dane-ee.example"],
                       "Message-ID: <%s>\r\n\r\n%s" % (mid, body))
        assert wait_copies(mailworld, "dane-ee.example", mid, 1) == 1
    finally:
        assert r.stop() == 0, r.log()[-3000:]
