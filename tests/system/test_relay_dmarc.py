"""danegate-relay's DMARC guard and From: check (issue 9): the real relay
(front and outbound side) against the world's NSD, which serves signed
dmarc-*.example zones (tests/world/zones), and the world's receiving
Postfix (mx.dane-ee.example, which takes every message for dane-ee.example
into its sink). The client is smtplib, STARTTLS and AUTH as a client of a
`danegate-relay passwd` client file.

Cases: p=reject and the relay not in SPF, no route: 550 at MAIL with the
text, nothing at the receiver; the same for a subdomain (the parent's
sp=); p=none: delivered; p=reject but the relay's spf-address: passes SPF:
delivered; p=quarantine with a route listing the domain: ROUTED (the route
leg is not merged yet: 451 4.3.0 naming the route at RCPT, the log line
naming it), never delivered direct; a bogus _dmarc TXT: 4xx; a From: the
client is not mapped to: 550 after the data, the remote transaction
abandoned without its dot, nothing at the receiver; a From: domain with
p=reject behind a harmless envelope sender: the same; a folded From: with
an RFC 2047 display name and comments, mapped: delivered.

SPF in full and the organizational domain by the Public Suffix List:
an SPF that includes another world domain whose a: lists the relay's
spf-address: delivered direct; a subdomain three labels below
dmarc-reject.example (no record of its own, the organizational domain's
p=reject found by the PSL), with an include that does not list the relay
or no SPF: 550; an SPF include loop (11 DNS terms): permerror, 550; an
SPF include of a bogus TXT: temperror, 451 4.4.3.

Addresses: NET.5.9 (this file's relay).
"""
import os
import smtplib
import ssl
import time
from pathlib import Path

import pytest

import dgsys
from test_relay_auth import passwd
from test_relay_e2e import RELAY as REAL_RELAY
from test_relay_front import Relay, sink_count, sink_find, token

ADDR = dgsys.addr("5.9")
PORT = 2587
PASSWORD = "dmarc-Pa55-%d" % os.getpid()
RCPT = "user@dane-ee.example"
SINK = "dane-ee.example"
MAILBOXES = ",".join([
    "office@school.example", "desk@dmarc-none.example",
    "x@dmarc-reject.example", "x@news.dmarc-reject.example",
    "x@dmarc-quarantine.example", "x@dmarc-spf.example",
    "x@dmarc-bogus.example", "x@inc.dmarc-reject.example",
    "x@a.b.dmarc-reject.example", "x@a.b.c.dmarc-reject.example",
    "x@loop.dmarc-reject.example", "x@spffail.dmarc-reject.example"])


@pytest.fixture(scope="module")
def mailworld(world):
    if world.env.get("WORLD_MAIL") != "1":
        pytest.skip("the world runs without mail servers (WORLD_MAIL=0)")
    if not os.access(REAL_RELAY, os.X_OK):
        pytest.fail("%s not built (make)" % REAL_RELAY)
    return world


@pytest.fixture(scope="module")
def guard(mailworld, tmp_path_factory):
    d = tmp_path_factory.mktemp("dmarcrelay")
    ca = Path(mailworld.env["WORLD_CA_DIR"])
    cf = d / "clients"
    assert passwd(cf, "scanner", PASSWORD, MAILBOXES).returncode == 0
    secret = d / "exo.secret"
    secret.write_text("not-a-real-secret\n")
    secret.chmod(0o600)
    r = Relay(mailworld, d, ["%s@%d" % (ADDR, PORT)], None,
              ["hostname: relay.world.invalid",
               "tls-cert-file: %s" % (ca / "mx.dane-ee.example.pem"),
               "tls-key-file: %s" % (ca / "mx.dane-ee.example.key"),
               "client-file: %s" % cf,
               # compared with the SPF records only, never contacted
               "spf-address: 198.51.100.25"],
              binary=REAL_RELAY)
    write = r.write_config

    def write_with_route(lines=None):
        write(lines)
        r.conf.write_text(r.conf.read_text() + (
            "route:\n    name: exo\n    grant: secret\n"
            "    client-id: 11111111-2222-3333-4444-555555555555\n"
            "    tenant: contoso.onmicrosoft.com\n"
            "    client-secret-file: %s\n"
            "    domain: dmarc-quarantine.example\n" % secret))
    r.write_config = write_with_route
    r.start()
    yield r
    rc = r.stop()
    assert rc == 0, "relay exit status %r; log:\n%s" % (rc, r.log()[-3000:])


def client():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP(ADDR, PORT, local_hostname="client.test", timeout=60)
    s.ehlo()
    s.starttls(context=ctx)
    s.ehlo()
    s.login("scanner", PASSWORD)
    return s


def message(tok, frm):
    return ("From: %s\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@t>"
            "\r\n\r\nbody %s\r\n" % (frm, RCPT, tok, tok, tok))


def nothing_delivered(world, tok, before):
    time.sleep(1)
    assert sink_find(world, SINK, tok, timeout=1) is None
    assert sink_count(world, SINK) == before


@pytest.mark.parametrize("sender", ["x@dmarc-reject.example",
                                    "x@news.dmarc-reject.example"])
def test_reject_unrouted_refused(guard, mailworld, sender):
    tok = token("dmarc-reject")
    before = sink_count(mailworld, SINK)
    s = client()
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail(sender, [RCPT], message(tok, sender))
    assert e.value.smtp_code == 550
    assert (b"5.7.1 DMARC p=reject for %s: send through its mailbox route"
            % sender.split("@")[1].encode()) in e.value.smtp_error
    s.quit()
    nothing_delivered(mailworld, tok, before)
    guard.wait_log(r"from=<%s>: DMARC guard: 550 5\.7\.1 DMARC p=reject"
                   % sender.replace(".", r"\."))


@pytest.mark.parametrize("sender", ["desk@dmarc-none.example",
                                    "x@dmarc-spf.example"])
def test_none_or_spf_pass_delivered(guard, mailworld, sender):
    tok = token("dmarc-direct")
    s = client()
    s.sendmail(sender, [RCPT], message(tok, "<%s>" % sender))
    s.quit()
    assert sink_find(mailworld, SINK, tok) is not None, guard.log()[-3000:]


def test_routed_never_direct(guard, mailworld):
    """A sender of the route's domain goes through the route (its
    smarthost, smtp.office365.com by default, has no address in the
    world: 4xx), never straight to the recipient's MX."""
    tok = token("dmarc-routed")
    before = sink_count(mailworld, SINK)
    s = client()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        s.sendmail("x@dmarc-quarantine.example", [RCPT],
                   message(tok, "x@dmarc-quarantine.example"))
    code, text = e.value.recipients[RCPT]
    assert 400 <= code < 500, (code, text)
    s.quit()
    guard.wait_log(r"from=<x@dmarc-quarantine\.example>.* through route exo")
    nothing_delivered(mailworld, tok, before)


def test_bogus_dmarc_deferred(guard, mailworld):
    tok = token("dmarc-bogus")
    before = sink_count(mailworld, SINK)
    s = client()
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("x@dmarc-bogus.example", [RCPT],
                   message(tok, "x@dmarc-bogus.example"))
    assert 400 <= e.value.smtp_code < 500, e.value
    assert b"4.4.3" in e.value.smtp_error
    s.quit()
    nothing_delivered(mailworld, tok, before)


def data_refused(guard, mailworld, frm, want):
    tok = token("from-check")
    before = sink_count(mailworld, SINK)
    s = client()
    with pytest.raises(smtplib.SMTPDataError) as e:
        # a message long enough that part of it reached the remote
        s.sendmail("office@school.example", [RCPT],
                   message(tok, frm) + ("x" * 70 + "\r\n") * 2000)
    assert e.value.smtp_code == 550, e.value
    assert want in e.value.smtp_error, e.value.smtp_error
    # the session goes on
    assert s.noop()[0] == 250
    s.quit()
    guard.wait_log(r"to domain dane-ee\.example: transaction aborted "
                   r"before the final dot, nothing delivered: 550")
    nothing_delivered(mailworld, tok, before)


def test_from_not_mapped_refused(guard, mailworld):
    data_refused(guard, mailworld, "Boss <boss@school.example>",
                 b"5.7.1 <boss@school.example>: client scanner is not "
                 b"allowed to send as From: <boss@school.example>")


def test_from_second_address_not_mapped_refused(guard, mailworld):
    data_refused(guard, mailworld, "office@school.example,\r\n "
                 "\"Other, A\" <a@client.example>",
                 b"<a@client.example>: client scanner is not allowed")


def test_from_domain_guarded_refused(guard, mailworld):
    data_refused(guard, mailworld, "<x@dmarc-reject.example>",
                 b"5.7.1 DMARC p=reject for dmarc-reject.example")


def test_from_folded_encoded_mapped_delivered(guard, mailworld):
    tok = token("from-folded")
    s = client()
    s.sendmail("office@school.example", [RCPT], message(
        tok, "=?UTF-8?Q?B=C3=BCro?= (the office)\r\n\t<office(c)"
        "@school.example>, \"Desk; \\\"2\\\"\"\r\n <DESK@dmarc-none.example>"))
    s.quit()
    assert sink_find(mailworld, SINK, tok) is not None, guard.log()[-3000:]


def test_spf_include_passes_direct(guard, mailworld):
    """inc.dmarc-reject.example's SPF includes _spf.dmarc-none.example,
    whose a: is the relay's spf-address: direct, no route."""
    tok = token("spf-include")
    s = client()
    s.sendmail("x@inc.dmarc-reject.example", [RCPT],
               message(tok, "<x@inc.dmarc-reject.example>"))
    s.quit()
    assert sink_find(mailworld, SINK, tok) is not None, guard.log()[-3000:]
    guard.wait_log(r"from=<x@inc\.dmarc-reject\.example>: DMARC guard: "
                   r"DMARC sp=reject for inc\.dmarc-reject\.example, the "
                   r"relay's addresses pass its SPF: direct")


@pytest.mark.parametrize("sender,spf", [
    ("x@a.b.dmarc-reject.example", "fail"),
    ("x@a.b.c.dmarc-reject.example", "none"),
    ("x@loop.dmarc-reject.example", "permerror")])
def test_spf_not_passing_refused(guard, mailworld, sender, spf):
    """Three labels below the organizational domain, its p=reject
    applies (the PSL; "the parent" has no record); the SPF verdict is
    fail (an include without the relay, then -all), none, or permerror
    (an include loop: the 11th DNS term)."""
    tok = token("spf-refused")
    before = sink_count(mailworld, SINK)
    s = client()
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail(sender, [RCPT], message(tok, sender))
    assert e.value.smtp_code == 550, e.value
    assert (b"5.7.1 DMARC p=reject for %s" % sender.split("@")[1].encode()
            in e.value.smtp_error)
    s.quit()
    nothing_delivered(mailworld, tok, before)
    guard.wait_log(r"from=<%s>: DMARC guard: 550 5\.7\.1 .*\(SPF %s\)"
                   % (sender.replace(".", r"\."), spf))


def test_spf_servfail_deferred(guard, mailworld):
    """An SPF include of a bogus TXT RRset: temperror, 451 4.4.3."""
    tok = token("spf-servfail")
    before = sink_count(mailworld, SINK)
    s = client()
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("x@spffail.dmarc-reject.example", [RCPT],
                   message(tok, "x@spffail.dmarc-reject.example"))
    assert e.value.smtp_code == 451, e.value
    assert b"4.4.3" in e.value.smtp_error
    assert b"temperror" in e.value.smtp_error
    s.quit()
    nothing_delivered(mailworld, tok, before)
