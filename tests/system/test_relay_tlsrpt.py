"""danegate-relay's TLS reports (RFC 8460), end to end with real parts.

The real relay (tlsrpt-state-file:) delivers mail to world domains that
publish `_smtp._tls` records: dane-ta.example (DANE verified; rua
https://reports.dane-ee.example/tlsrpt/dane-ta and
mailto:tlsrpt@dane-ta.example), dane-ee.example (verified; mailto),
no-starttls.example (DANE failing: starttls-not-supported; https) and
no-tlsa.example (no policy, no record). The relay is restarted between
the deliveries (the counts survive in the state file), then SIGUSR1 makes
it send: the world's collector (tests/world/tlsrpt_collector.py, the
world's CA) must have one gzip JSON report per https rua with the right
policy types and counts, and the world Postfix's mailbox the §5.3
multipart/report with the same JSON. A 503 is retried after 1/96 of the
period, and the retry delivers; a collector that keeps answering 503
leaves the report owed in the state file; the relay's next start sends
it.

Addresses: NET.5.6 port 2525: the relay (Prometheus on port 9169); the collector is the world's
NET.4.100 port 443 (reports.dane-ee.example); mailto reports are
submitted to the world Postfix of mx.dane-ee.example (port 25).
"""
import atexit
import base64
import email
import email.policy
import gzip
import json
import re
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import dgsys
from test_relay_e2e import RELAY, mailworld  # noqa: F401 (fixture)
from test_relay_front import Relay

ADDR = dgsys.addr("5.6")
PORT = 2525
METRICS_PORT = 9169
FROM = "sender@client.example"
STARTED = []           # relays to kill when a test ends
COLLECTOR = Path(__file__).resolve().parent.parent / "world" / \
    "tlsrpt_collector.py"


class Collector:
    def __init__(self, world, store, fail=()):
        self.store = Path(store)
        env = world.env
        cmd = [sys.executable, str(COLLECTOR), "--listen",
               "%s:443" % env["WORLD_TLSRPT_COLLECTOR"],
               "--cert", env["WORLD_TLSRPT_COLLECTOR_CHAIN"],
               "--key", env["WORLD_TLSRPT_COLLECTOR_KEY"],
               "--store", str(self.store)]
        for f in fail:
            cmd += ["--fail", f]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        atexit.register(self.stop)
        line = self.proc.stdout.readline()
        assert line.strip() == "listening", line + self.proc.stdout.read()

    def posts(self):
        out = []
        for f in sorted(self.store.glob("*.json"),
                        key=lambda p: int(p.stem)):
            out.append(json.loads(f.read_text()))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def start_relay(world, workdir, state, extra=(), submission=None):
    env = world.env
    Path(workdir).mkdir(parents=True, exist_ok=True)
    r = Relay(world, workdir, ["%s@%d" % (ADDR, PORT)], None, [
        "hostname: relay.world.invalid",
        "ca-file: %s" % env["WORLD_CA_FILE"],
        "tlsrpt-state-file: %s" % state,
        "tlsrpt-organization: \"danegate world relay\"",
        "tlsrpt-contact: mailto:postmaster@relay.world.invalid",
        "tlsrpt-submission: %s" % (submission or
                                   "%s@25" % env["WORLD_SMTP_DANE_EE"]),
        "tlsrpt-max-delay: 0",
        "prometheus-interface: %s@%d" % (ADDR, METRICS_PORT),
    ] + list(extra), binary=RELAY)
    STARTED.append(r)
    r.start()
    r.wait_log("TLS-RPT: counting into")
    return r


def send(rcpt):
    """One message through the relay; True if it was accepted."""
    mid = "tlsrpt.%s@client.example" % uuid.uuid4().hex
    try:
        with smtplib.SMTP(ADDR, PORT, timeout=120) as s:
            s.sendmail(FROM, [rcpt], "From: <%s>\r\nTo: <%s>\r\n"
                       "Message-ID: <%s>\r\n\r\ntls-rpt test\r\n" % (
                           FROM, rcpt, mid))
        return True
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
        return False


def report_of(post):
    assert post["content_type"] == "application/tlsrpt+gzip", post
    return json.loads(gzip.decompress(base64.b64decode(post["body_b64"])))


def policies(report):
    return {(p["policy"]["policy-type"], p["policy"]["policy-domain"]): p
            for p in report["policies"]}


def mailbox_reports(world, domain, report_id, timeout=30, since=0):
    """The §5.3 messages in the world's sink for domain with report_id,
    delivered at or after since (a time.time())."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for sub in ("new", "cur"):
            d = Path(world.env["WORLD_MAIL_SINK"]) / domain / sub
            for f in (d.iterdir() if d.is_dir() else ()):
                if f.stat().st_mtime < since:
                    continue
                m = email.message_from_bytes(f.read_bytes(),
                                             policy=email.policy.default)
                if report_id in str(m.get("Subject", "")):
                    found.append(m)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def check_mail(m, domain, report_id):
    """RFC 8460 §5.3 form; returns the report it carries."""
    assert m["TLS-Report-Domain"] == domain, m
    assert m["TLS-Report-Submitter"] == "relay.world.invalid", m
    assert m["TLS-Required"] == "No", m
    assert m["Message-ID"] and m["Date"], m
    assert re.fullmatch(r"Report Domain: %s Submitter: relay\.world\.invalid"
                        r" Report-ID: <%s>" % (re.escape(domain),
                                               re.escape(report_id)),
                        " ".join(str(m["Subject"]).split())), m["Subject"]
    assert m.get_content_type() == "multipart/report", m
    assert m.get_param("report-type") == "tlsrpt", m
    parts = list(m.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "application/tlsrpt+gzip"], parts
    fn = parts[1].get_filename()
    assert re.fullmatch(r"relay\.world\.invalid!%s!\d+!\d+\.json\.gz" %
                        re.escape(domain), fn), fn
    return json.loads(gzip.decompress(parts[1].get_payload(decode=True)))


def state_of(path):
    return json.loads(Path(path).read_text())


def test_reports_sent_after_restart(mailworld, tmp_path):
    env = mailworld.env
    state = tmp_path / "tlsrpt.state"
    col = Collector(mailworld, tmp_path / "collected")
    try:
        r = start_relay(mailworld, tmp_path / "relay", state)
        assert send("test@dane-ta.example")
        assert send("test@dane-ta.example")
        assert send("test@dane-ee.example")
        assert not send("test@no-starttls.example")
        assert send("test@no-tlsa.example")
        # the counts survive a restart
        assert r.stop() == 0, r.log()[-3000:]
        saved = state_of(state)["domains"]
        assert set(saved) == {"dane-ta.example", "dane-ee.example",
                              "no-starttls.example", "no-tlsa.example"}, \
            saved
        r = start_relay(mailworld, tmp_path / "relay2", state)
        assert send("test@dane-ta.example")
        r.proc.send_signal(signal.SIGUSR1)
        r.wait_log(r"TLS-RPT no-starttls\.example: report \S+ sent to "
                   r"https://reports\.dane-ee\.example/tlsrpt/no-starttls: "
                   r"HTTP 200", 60)
        r.wait_log(r"TLS-RPT dane-ta\.example: report \S+ sent to "
                   r"https://reports\.dane-ee\.example/tlsrpt/dane-ta", 60)
        r.wait_log(r"TLS-RPT dane-ta\.example: report \S+ sent to "
                   r"mailto:tlsrpt@dane-ta\.example", 60)
        r.wait_log(r"TLS-RPT dane-ee\.example: report \S+ sent to "
                   r"mailto:tlsrpt@dane-ee\.example", 60)
        r.wait_log(r"TLS-RPT no-tlsa\.example: no usable TLSRPT record "
                   r"\(none\): report dropped", 60)
        assert "not sent" not in r.log(), r.log()[-3000:]

        posts = {p["path"]: report_of(p) for p in col.posts()}
        assert set(posts) == {"/tlsrpt/no-starttls", "/tlsrpt/dane-ta"}, \
            posts
        ta = posts["/tlsrpt/dane-ta"]
        assert ta["organization-name"] == "danegate world relay"
        assert ta["contact-info"] == "mailto:postmaster@relay.world.invalid"
        p = policies(ta)[("tlsa", "dane-ta.example")]
        # sessions, not messages: the second message of the first run may
        # go over the cached session; each run needs one of its own, so
        # 2 says the first run's count survived the restart
        n = p["summary"]["total-successful-session-count"]
        assert 2 <= n <= 3, p
        assert p["summary"]["total-failure-session-count"] == 0, p
        assert p["policy"]["mx-host"] == ["mx.dane-ta.example"], p
        assert all(s.startswith("2 0 1 ") for s in
                   p["policy"]["policy-string"]), p
        ns = posts["/tlsrpt/no-starttls"]
        p = policies(ns)[("tlsa", "no-starttls.example")]
        assert p["summary"]["total-successful-session-count"] == 0, p
        assert p["summary"]["total-failure-session-count"] >= 1, p
        details = p["failure-details"]
        assert {d["result-type"] for d in details} == {
            "starttls-not-supported"}, details
        assert all(d["receiving-mx-hostname"] == "mx.no-starttls.example"
                   and d["receiving-ip"] == env["WORLD_SMTP_NO_STARTTLS"]
                   for d in details), details
        assert sum(d["failed-session-count"] for d in details) == \
            p["summary"]["total-failure-session-count"]

        # the same report by mail, and dane-ee.example's
        mails = mailbox_reports(mailworld, "dane-ta.example",
                                ta["report-id"])
        assert len(mails) == 1, "no report mail in the sink"
        assert check_mail(mails[0], "dane-ta.example", ta["report-id"]) == ta
        ee_id = re.search(r"TLS-RPT dane-ee\.example: report (\S+) sent",
                          r.log()).group(1)
        mails = mailbox_reports(mailworld, "dane-ee.example", ee_id)
        assert len(mails) == 1
        ee = check_mail(mails[0], "dane-ee.example", ee_id)
        p = policies(ee)[("tlsa", "dane-ee.example")]
        assert p["summary"]["total-successful-session-count"] == 1, p
        # and counted for Prometheus, one per recipient
        import urllib.request
        with urllib.request.urlopen("http://%s:%d/metrics" % (
                ADDR, METRICS_PORT), timeout=10) as resp:
            body = resp.read().decode()
        assert 'danegate_relay_tlsrpt_reports_total{outcome="sent"} 4' in \
            body, body
        assert 'danegate_relay_tlsrpt_reports_total{outcome="failed"} 0' \
            in body, body
        # delivered reports are no longer owed
        assert r.stop() == 0, r.log()[-3000:]
        assert state_of(state).get("owed") == {}, state_of(state)
    finally:
        while STARTED:
            STARTED.pop().kill()
        col.stop()


def test_failed_report_kept_and_sent_at_next_start(mailworld, tmp_path):
    state = tmp_path / "tlsrpt.state"
    col = Collector(mailworld, tmp_path / "c1",
                    fail=["/tlsrpt/no-starttls=503"])
    try:
        r = start_relay(mailworld, tmp_path / "relay", state)
        assert not send("test@no-starttls.example")
        r.proc.send_signal(signal.SIGUSR1)
        r.wait_log(r"TLS-RPT no-starttls\.example: report (\S+) not sent "
                   r"to https://reports\.dane-ee\.example/tlsrpt/"
                   r"no-starttls: HTTP 503", 60)
        r.wait_log(r"TLS-RPT no-starttls\.example: report \S+: retry in "
                   r"\d+ s", 10)
        rid = re.search(r"TLS-RPT no-starttls\.example: report (\S+) not "
                        r"sent", r.log()).group(1)
        assert r.stop() == 0, r.log()[-3000:]
        assert "no-starttls.example" in state_of(state)["owed"]
        assert len(col.posts()) == 1
        col.stop()

        col = Collector(mailworld, tmp_path / "c2")
        r = start_relay(mailworld, tmp_path / "relay2", state)
        r.wait_log(r"TLS-RPT no-starttls\.example: report %s sent to "
                   r"https://reports\.dane-ee\.example/tlsrpt/no-starttls"
                   % re.escape(rid), 60)
        posts = col.posts()
        assert len(posts) == 1 and report_of(posts[0])["report-id"] == rid
        assert r.stop() == 0, r.log()[-3000:]
        assert state_of(state)["owed"] == {}
    finally:
        while STARTED:
            STARTED.pop().kill()
        col.stop()


def test_retry_within_the_period(mailworld, tmp_path):
    """A 503 is retried after 1/96 of the period (tlsrpt-interval: 3600:
    37 s) and the second attempt delivers the same report."""
    left = 3600 - time.time() % 3600
    if left < 150:
        # the hour's run would end the period under the test
        time.sleep(left + 2)
    state = tmp_path / "tlsrpt.state"
    col = Collector(mailworld, tmp_path / "c1",
                    fail=["/tlsrpt/no-starttls=503"])
    try:
        r = start_relay(mailworld, tmp_path / "relay", state,
                        ["tlsrpt-interval: 3600"])
        assert not send("test@no-starttls.example")
        r.proc.send_signal(signal.SIGUSR1)
        r.wait_log(r"TLS-RPT no-starttls\.example: report \S+: retry in "
                   r"37 s", 60)
        rid = re.search(r"TLS-RPT no-starttls\.example: report (\S+) not "
                        r"sent .*HTTP 503", r.log()).group(1)
        col.stop()
        col = Collector(mailworld, tmp_path / "c2")
        r.wait_log(r"TLS-RPT no-starttls\.example: report %s sent to "
                   r"https://reports\.dane-ee\.example/tlsrpt/no-starttls: "
                   r"HTTP 200" % re.escape(rid), 90)
        posts = col.posts()
        assert len(posts) == 1 and report_of(posts[0])["report-id"] == rid
        assert r.stop() == 0, r.log()[-3000:]
        assert state_of(state)["owed"] == {}
    finally:
        while STARTED:
            STARTED.pop().kill()
        col.stop()


def test_check_refuses_bad_tlsrpt_settings(mailworld, tmp_path):
    conf = tmp_path / "bad.conf"
    state = tmp_path / "broken.state"
    state.write_text('{"version":1,"period-start":0,"domains":[]}')
    conf.write_text("relay:\n    tlsrpt-state-file: %s\n"
                    "    tlsrpt-submission: not-an-address\n"
                    "    tlsrpt-interval: 5\n"
                    "    tlsrpt-mail-from: \"a b@c\"\n" % state)
    p = subprocess.run([RELAY, "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert re.search(r"bad\.conf:4: tlsrpt-interval: '5' is not a number "
                     r"from 60 to 86400", out), out
    assert "bad.conf:3: tlsrpt-submission: cannot parse 'not-an-address'" \
        in out, out
    assert "bad.conf:5: tlsrpt-mail-from: 'a b@c' is not a bare address" \
        in out, out
    conf.write_text("relay:\n    tlsrpt-state-file: %s\n" % state)
    p = subprocess.run([RELAY, "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "tlsrpt-state-file: %s: domains: not an object" % state in out, \
        out


def test_sts_policies_reported(mailworld, tmp_path):
    """RFC 8460 §4.3-4.4 for MTA-STS: a session under an MTA-STS policy
    (enforce or testing) is counted with policy-type "sts", the policy's
    lines as policy-string and its mx patterns as mx-host; sts-mismatch
    (enforce, the MX matches no pattern) is a failure, validation-failure,
    naming the MX the relay did not use. The three domains publish
    rua=mailto:tlsrpt@dane-ee.example: the reports arrive there."""
    state = tmp_path / "tlsrpt.state"
    try:
        r = start_relay(mailworld, tmp_path / "relay", state,
                        ["sts-cache-dir: %s" % (tmp_path / "sts")])
        assert send("test@sts-enforce.example")
        assert send("test@sts-testing.example")
        assert not send("test@sts-mismatch.example")
        r.proc.send_signal(signal.SIGUSR1)
        reports = {}
        for dom in ("sts-enforce.example", "sts-testing.example",
                    "sts-mismatch.example"):
            r.wait_log(r"TLS-RPT %s: report \S+ sent to "
                       r"mailto:tlsrpt@dane-ee\.example" % re.escape(dom),
                       60)
            rid = re.search(r"TLS-RPT %s: report (\S+) sent" %
                            re.escape(dom), r.log()).group(1)
            mails = mailbox_reports(mailworld, "dane-ee.example", rid)
            assert len(mails) == 1, (dom, rid)
            reports[dom] = check_mail(mails[0], dom, rid)
        assert r.stop() == 0, r.log()[-3000:]
    finally:
        while STARTED:
            STARTED.pop().kill()

    def sts_policy(dom, mode, mx):
        pols = policies(reports[dom])
        assert set(pols) == {("sts", dom)}, pols
        p = pols[("sts", dom)]
        assert p["policy"]["policy-string"] == [
            "version: STSv1", "mode: " + mode, "mx: " + mx,
            "max_age: 86400"], p
        assert p["policy"]["mx-host"] == [mx], p
        return p

    p = sts_policy("sts-enforce.example", "enforce", "mx.sts-enforce.example")
    assert p["summary"] == {"total-successful-session-count": 1,
                            "total-failure-session-count": 0}, p
    assert p["failure-details"] == [], p
    p = sts_policy("sts-testing.example", "testing", "mx.sts-testing.example")
    assert p["summary"] == {"total-successful-session-count": 1,
                            "total-failure-session-count": 0}, p
    p = sts_policy("sts-mismatch.example", "enforce",
                   "mail.sts-mismatch.example")
    assert p["summary"]["total-successful-session-count"] == 0, p
    assert p["summary"]["total-failure-session-count"] >= 1, p
    assert {d["result-type"] for d in p["failure-details"]} == {
        "validation-failure"}, p
    assert {d["receiving-mx-hostname"] for d in p["failure-details"]} == {
        "mx.sts-mismatch.example"}, p


def test_mailto_through_own_front_despite_policy(mailworld, tmp_path):
    """RFC 8460 §5.3 + RFC 8689: with tlsrpt-submission: the relay's own
    listener, a mailto: report goes through the relay's front and
    outbound side. The policy table makes dane-ee.example fail
    (secure, a match= naming no host of it): ordinary mail is deferred,
    the report, which carries TLS-Required: No, is delivered anyway,
    as the multipart/report with the gzip JSON, and tells of the
    certificate-host-mismatch that deferred the ordinary mail."""
    state = tmp_path / "tlsrpt.state"
    pol = tmp_path / "tls-policy"
    pol.write_text("dane-ee.example secure match=nomatch.invalid\n")
    try:
        r = start_relay(mailworld, tmp_path / "relay", state,
                        ["tls-policy-file: %s" % pol],
                        submission="%s@%d" % (ADDR, PORT))
        assert not send("test@dane-ee.example")
        r.proc.send_signal(signal.SIGUSR1)
        # libcurl's SMTP waits for the reply to the dot in a blocking
        # poll(): on the relay's own loop that was a deadlock with its
        # front until tlsrpt-timeout: (60 s), then a retry (a duplicate)
        t0 = time.monotonic()
        r.wait_log(r"TLS-RPT dane-ee\.example: report \S+ sent to "
                   r"mailto:tlsrpt@dane-ee\.example", 90)
        assert time.monotonic() - t0 < 15, r.log()[-3000:]
        assert "not sent" not in r.log(), r.log()[-3000:]
        rid = re.search(r"TLS-RPT dane-ee\.example: report (\S+) sent",
                        r.log()).group(1)
        mails = mailbox_reports(mailworld, "dane-ee.example", rid)
        assert len(mails) == 1, r.log()[-3000:]
        # it came through the relay itself, let through by the header
        assert "tls_required=no" in r.log(), r.log()[-3000:]
        assert "relay.world.invalid" in str(mails[0]["Received"]), \
            mails[0]["Received"]
        rep = check_mail(mails[0], "dane-ee.example", rid)
        # the submission's SMTP connection closed in the thread: the
        # loop is free to drain at once
        t0 = time.monotonic()
        assert r.stop() == 0, r.log()[-3000:]
        assert time.monotonic() - t0 < 10, r.log()[-3000:]
        # one report only, also after the stop (no retry of it)
        assert len(mailbox_reports(mailworld, "dane-ee.example", rid)) == 1
    finally:
        while STARTED:
            STARTED.pop().kill()
    p = policies(rep)
    failed = [v for v in p.values()
              if v["summary"]["total-failure-session-count"] > 0]
    assert failed, rep
    assert {d["result-type"] for v in failed
            for d in v["failure-details"]} == {
        "certificate-host-mismatch"}, rep


def test_period_closes_at_the_boundary(mailworld, tmp_path):
    """tlsrpt-interval: 60 (the shortest, for tests) and no delay: the
    period ends at the minute; the counts of two runs of the relay within
    it (a restart before the boundary) make one report, sent once; the
    new period starts empty and the next boundary sends nothing."""
    state = tmp_path / "tlsrpt.state"
    # start just after a boundary: 45 s for two runs before the next one
    if time.time() % 60 > 5:
        time.sleep(60 - time.time() % 60 + 1)
    extra = ["tlsrpt-interval: 60"]
    try:
        r = start_relay(mailworld, tmp_path / "r1", state, extra)
        assert send("test@dane-ee.example")
        assert r.stop() == 0, r.log()[-3000:]
        saved = state_of(state)
        assert list(saved["domains"]) == ["dane-ee.example"], saved
        r = start_relay(mailworld, tmp_path / "r2", state, extra)
        assert send("test@dane-ee.example")
        assert time.time() % 60 < 55, "too slow for the minute's period"
        # the report goes out at the boundary, after this: another test's
        # relay (the same hostname) whose period began in the same second
        # gave its report the same id, and it is in the sink too
        before_boundary = time.time()
        pat = r"TLS-RPT dane-ee\.example: report (\S+) sent to " \
            r"mailto:tlsrpt@dane-ee\.example"
        r.wait_log(pat, 90)
        closed = time.time()
        rid = re.search(pat, r.log()).group(1)
        # the next boundary: nothing more to send
        time.sleep(60 - closed % 60 + 8)
        assert len(re.findall(r"TLS-RPT dane-ee\.example: report",
                              r.log())) == 1, r.log()[-3000:]
        assert r.stop() == 0, r.log()[-3000:]
        after = state_of(state)
        assert after["domains"] == {} and after["owed"] == {}, after
    finally:
        while STARTED:
            STARTED.pop().kill()
    mails = mailbox_reports(mailworld, "dane-ee.example", rid,
                            since=before_boundary)
    assert len(mails) == 1
    rep = check_mail(mails[0], "dane-ee.example", rid)
    end = rep["date-range"]["end-datetime"]
    assert end.endswith(":00Z"), rep["date-range"]
    p = policies(rep)[("tlsa", "dane-ee.example")]
    # one session per run: the first run's count survived the restart
    assert p["summary"] == {"total-successful-session-count": 2,
                            "total-failure-session-count": 0}, p
