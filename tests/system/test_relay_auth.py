"""SMTP AUTH on danegate-relay's front (issue 9): a real client (Python's
smtplib, STARTTLS then AUTH PLAIN or LOGIN) against the relay with a
client file written by `danegate-relay passwd`, delivering into the
world's sink through the front's stand-in for the outbound side (see
test_relay_front.py).

Cases: AUTH not advertised and refused (538 5.7.11) before STARTTLS;
good credentials (PLAIN and LOGIN) deliver; a bad password gets 535
5.7.8 and three failures end the session; MAIL without AUTH gets 530;
a client sending as a mailbox it is not mapped to gets 550 5.7.1 and
nothing is delivered; the helper's hash is one crypt(3) verifies; no
password appears in the relay's log; a client file readable by others
is refused at start with the reason.

Addresses: NET.5.3 (this file's relay).
"""
import base64
import os
import smtplib
import ssl
import subprocess
import time
from pathlib import Path

import pytest

import dgsys
from test_relay_front import (Raw, Relay, RELAY, mailworld, message,  # noqa
                              sink_count, sink_find, token)

ADDR = dgsys.addr("5.3")
PORT = 2587
TLS_PORT = 2465         # listen-tls: (RFC 8314 implicit TLS)
PASSWORD = "s3cret-Pa55-%d" % os.getpid()
OTHER_PW = "0ther-Pa55-%d" % os.getpid()
MAILBOX = "office@school.example"
# a domain the world's mx.dane-ee.example accepts into its sink
RCPT_DOMAIN = "dane-ee.example"


def passwd(client_file, client, password, mailboxes=None):
    cmd = [RELAY, "passwd", "-f", str(client_file)]
    if mailboxes:
        cmd += ["-m", mailboxes]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    return subprocess.run(cmd + [client], input=password + "\n",
                          capture_output=True, text=True, timeout=30,
                          env=env)


@pytest.fixture(scope="module")
def authrelay(mailworld, tmp_path_factory):
    d = tmp_path_factory.mktemp("authrelay")
    ca = Path(mailworld.env["WORLD_CA_DIR"])
    cf = d / "clients"
    assert passwd(cf, "scanner", PASSWORD, MAILBOX).returncode == 0
    assert passwd(cf, "erp", OTHER_PW, "erp@school.example").returncode == 0
    r = Relay(mailworld, d, ["%s@%d" % (ADDR, PORT)], None,
              ["hostname: relay.world.invalid",
               "tls-cert-file: %s" % (ca / "mx.dane-ee.example.pem"),
               "tls-key-file: %s" % (ca / "mx.dane-ee.example.key"),
               "client-file: %s" % cf,
               "listen-tls: %s@%d" % (ADDR, TLS_PORT)])
    r.start()
    r.client_file = cf
    yield r
    rc = r.stop()
    assert rc == 0, "relay exit status %r; log:\n%s" % (rc, r.log()[-3000:])


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client(starttls=True):
    s = smtplib.SMTP(ADDR, PORT, local_hostname="client.test", timeout=30)
    s.ehlo()
    if starttls:
        s.starttls(context=tls_ctx())
        s.ehlo()
    return s


def test_passwd_writes_a_crypt_hash(authrelay):
    import crypt  # deprecated, still in bookworm's Python 3.11
    text = authrelay.client_file.read_text()
    assert PASSWORD not in text
    line = [ln for ln in text.splitlines() if ln.startswith("scanner:")][0]
    name, h, boxes = line.split(":")
    assert h.startswith("$y$"), h
    assert crypt.crypt(PASSWORD, h) == h
    assert crypt.crypt(PASSWORD + "x", h) != h
    assert boxes == MAILBOX
    assert authrelay.client_file.stat().st_mode & 0o777 == 0o600


def test_auth_refused_before_starttls(authrelay):
    c = Raw(ADDR, PORT)
    assert c.reply()[0] == 220
    code, lines = c.cmd("EHLO client.test")
    assert "250-STARTTLS" in lines
    assert not any("AUTH" in ln for ln in lines), lines
    cred = base64.b64encode(b"\0scanner\0" + PASSWORD.encode()).decode()
    code, lines = c.cmd("AUTH PLAIN " + cred)
    assert code == 538 and "5.7.11" in lines[0], lines
    code, lines = c.cmd("MAIL FROM:<%s>" % MAILBOX)
    assert code == 530, lines
    c.cmd("QUIT")
    c.close()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_good_credentials_deliver(authrelay, mailworld, mech):
    tok = token("auth-" + mech)
    s = client()
    assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
    s.user, s.password = "scanner", PASSWORD
    code, resp = s.auth(mech, getattr(s, "auth_" + mech.lower()),
                        initial_response_ok=(mech == "PLAIN"))
    assert code == 235, resp
    # the From: must be the client's mailbox too (test_relay_dmarc.py)
    s.sendmail(MAILBOX, ["user@%s" % RCPT_DOMAIN], message(tok).replace(
        "From: a@client.example", "From: <%s>" % MAILBOX))
    s.quit()
    assert sink_find(mailworld, RCPT_DOMAIN, tok) is not None
    authrelay.wait_log("AUTH %s: client scanner authenticated" % mech)


def raw_tls():
    c = Raw(ADDR, PORT)
    assert c.reply()[0] == 220
    c.cmd("EHLO client.test")
    assert c.cmd("STARTTLS")[0] == 220
    c.s = tls_ctx().wrap_socket(c.s)
    code, lines = c.cmd("EHLO client.test")
    assert "250-AUTH PLAIN LOGIN" in lines, lines
    return c


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" +
                            pw.encode()).decode()


def test_bad_password_535_then_421(authrelay):
    c = raw_tls()
    for attempt in range(2):
        code, lines = c.cmd("AUTH PLAIN " + plain("scanner", PASSWORD + "x"))
        assert code == 535 and "5.7.8" in lines[0], lines
    # the other client's password is not scanner's
    code, lines = c.cmd("AUTH PLAIN " + plain("scanner", OTHER_PW))
    assert code == 421, lines
    with pytest.raises((EOFError, OSError)):
        c.cmd("NOOP")
    c.close()
    authrelay.wait_log(r"authentication failed for client scanner "
                       r"\(attempt 3\)")
    # an unknown client gets the same answer as a wrong password
    c = raw_tls()
    code, lines = c.cmd("AUTH PLAIN " + plain("nobody", PASSWORD))
    assert code == 535, lines
    c.cmd("QUIT")
    c.close()


def test_sasl_cancel(authrelay):
    s = client()
    code, resp = s.docmd("AUTH", "LOGIN")
    assert code == 334
    code, resp = s.docmd("*")
    assert code == 501, resp
    # the session goes on: a real login still works
    s.login("scanner", PASSWORD)
    s.quit()


def test_sender_not_mapped_refused(authrelay, mailworld):
    tok = token("notmapped")
    before = sink_count(mailworld, RCPT_DOMAIN)
    s = client()
    s.login("scanner", PASSWORD)
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("erp@school.example", ["user@%s" % RCPT_DOMAIN],
                   message(tok))
    assert e.value.smtp_code == 550
    assert b"not allowed to send as" in e.value.smtp_error
    s.quit()
    time.sleep(1)
    assert sink_find(mailworld, RCPT_DOMAIN, tok, timeout=1) is None
    assert sink_count(mailworld, RCPT_DOMAIN) == before


def test_implicit_tls_submission(authrelay, mailworld):
    """RFC 8314: listen-tls: speaks TLS from the first byte, then the same
    front: no STARTTLS offered (already TLS), AUTH is, the message is
    delivered, and the relay's Received: line says ESMTPSA."""
    tok = token("implicit-tls")
    s = smtplib.SMTP_SSL(ADDR, TLS_PORT, local_hostname="client.test",
                         timeout=30, context=tls_ctx())
    code, _ = s.ehlo()
    assert code == 250
    assert "starttls" not in s.esmtp_features, s.esmtp_features
    assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
    s.login("scanner", PASSWORD)
    s.sendmail(MAILBOX, ["user@%s" % RCPT_DOMAIN], message(tok).replace(
        "From: a@client.example", "From: <%s>" % MAILBOX))
    s.quit()
    text = sink_find(mailworld, RCPT_DOMAIN, tok)
    assert text is not None
    assert "by relay.world.invalid (danegate-relay) with ESMTPSA" in text, \
        text[:1500]
    authrelay.wait_log(r"connect from \[[0-9.]+\] \(TLS\)")


def test_implicit_tls_port_says_nothing_in_plaintext(authrelay):
    """A plaintext client on the TLS port never sees a greeting: the
    relay waits for a ClientHello and drops what is not one."""
    c = Raw(ADDR, TLS_PORT)
    c.send("EHLO client.test\r\n")
    got = b""
    try:
        while True:
            chunk = c.s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    c.close()
    assert b"220" not in got and b"250" not in got, got


def test_listen_tls_needs_a_certificate(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("relay:\n    listen-tls: %s@%d\n"
                    "    listen-tls: /tmp/not-a-socket\n" % (ADDR, TLS_PORT))
    out = subprocess.run([RELAY, "-t", "-c", str(conf), "--listen",
                          "%s@%d" % (ADDR, PORT)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1
    assert "%s:3: listen-tls: expects one ADDR@PORT" % conf in out.stderr
    assert "%s:2: listen-tls: needs tls-cert-file and tls-key-file" % conf \
        in out.stderr, out.stderr


def test_no_password_in_the_log(authrelay):
    log = authrelay.log()
    assert "scanner" in log
    for pw in (PASSWORD, OTHER_PW):
        assert pw not in log
        assert base64.b64encode(pw.encode()).decode() not in log
        assert base64.b64encode(b"\0scanner\0" + pw.encode()).decode() \
            not in log


def test_loose_client_file_refused(mailworld, tmp_path):
    cf = tmp_path / "clients"
    assert passwd(cf, "scanner", PASSWORD, MAILBOX).returncode == 0
    cf.chmod(0o644)
    ca = Path(mailworld.env["WORLD_CA_DIR"])
    conf = tmp_path / "relay.conf"
    conf.write_text("relay:\n    tls-cert-file: %s\n    tls-key-file: %s\n"
                    "    client-file: %s\n" % (
                        ca / "mx.dane-ee.example.pem",
                        ca / "mx.dane-ee.example.key", cf))
    out = subprocess.run([RELAY, "-t", "-c", str(conf), "--listen",
                          "%s@%d" % (ADDR, PORT)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1
    assert "mode 0644: readable by group or others" in out.stderr
    cf.chmod(0o600)
    cf.write_text(cf.read_text() + "erp:plain:erp@school.example\n")
    out = subprocess.run([RELAY, "-t", "-c", str(conf), "--listen",
                          "%s@%d" % (ADDR, PORT)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1
    assert "%s:2: hash is not a yescrypt" % cf in out.stderr
