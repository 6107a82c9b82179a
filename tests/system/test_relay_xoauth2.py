"""danegate-relay's submission routes (issue 9) end to end: a client
(smtplib, STARTTLS + AUTH PLAIN) -> the real danegate-relay -> the
world's submission server smtp.office.example:587 (Postfix + Dovecot,
XOAUTH2 tokens introspected at the world's token endpoint, see
oauthsys.py), which delivers into its Maildir.

Cases: per grant (password = ROPC pass-through, secret, certificate) a
message is delivered and its Received chain shows client -> relay ->
smtp.office.example (ESMTPSA); a token that expired between two messages
is renewed and the client sees nothing, and a password-grant token with
the refresh token; a revoked cached token is replaced unseen, and while
the endpoint is down it is a 4xx, then delivery recovers;
the endpoint down is a 4xx (never 5xx); a wrong mailbox password is 535
at AUTH and caches nothing (a later wrong password is refused again,
endpoint /stats), a right one is taken at AUTH and its token serves the
message, and with the endpoint down a password-grant AUTH is 454; a client sending as a mailbox it is not mapped to gets 5xx; no
secret, password or token appears in the relay's log.

Addresses: NET.5.9 (this file's relay).
"""
import base64
import email
import json
import os
import re
import smtplib
import ssl
import subprocess
import time
from pathlib import Path

import pytest

import dgsys
import oauthsys
from test_relay_front import Relay

RELAY = os.environ.get("DANEGATE_RELAY_REAL", str(
    dgsys.REPO / "plugin" / "relay" / "danegate-relay"))
ADDR = dgsys.addr("5.9")
PORT = 2589
CLIENT_PW = "scanner-Pa55-%d" % os.getpid()
MAPPED_SRC = dgsys.addr("5.10")     # client-address: -> HEAD
UNMAPPED_SRC = dgsys.addr("5.11")
HEAD = "head@office.example"
CLERK = "clerk@office.example"
RCPT = "someone@dane-ee.example"


def certtool(*args):
    subprocess.run(["certtool", *args], check=True, capture_output=True)


def passwd(client_file, client, password, mailboxes):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run([RELAY, "passwd", "-f", str(client_file), "-m",
                        mailboxes, client], input=password + "\n",
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr


class RouteRelay(Relay):
    """The real relay with one route: clause after its relay: clause."""

    def __init__(self, world, workdir, relay_lines, route_lines):
        super().__init__(world, workdir, ["%s@%d" % (ADDR, PORT)], None,
                         relay_lines, binary=RELAY)
        self.route_lines = route_lines

    def write_config(self, lines=None):
        super().write_config(lines)
        with open(self.conf, "a") as f:
            f.write("route:\n" + "".join("    %s\n" % ln
                                          for ln in self.route_lines))


@pytest.fixture(scope="module")
def sub(oauth_submission, world):
    if world.env.get("WORLD_MAIL") != "1":
        pytest.skip("the world runs without mail servers (WORLD_MAIL=0)")
    if not os.access(RELAY, os.X_OK):
        pytest.fail("%s not built" % RELAY)
    return oauth_submission


@pytest.fixture(scope="module")
def files(sub, tmp_path_factory):
    d = tmp_path_factory.mktemp("xoauth2")
    f = {"dir": d}
    f["secret"] = d / "exo.secret"
    f["secret"].write_text(oauthsys.CLIENT_SECRET + "\n")
    f["secret"].chmod(0o600)
    f["short_secret"] = d / "short.secret"
    f["short_secret"].write_text(oauthsys.CLIENT_SECRET + "-short\n")
    f["short_secret"].chmod(0o600)
    # the certificate grant's application: its own key and certificate,
    # registered at the endpoint (its config is read for each request)
    key, cert = d / "app.key", d / "app.pem"
    certtool("--generate-privkey", "--rsa", "--bits", "2048",
             "--outfile", str(key))
    tmpl = d / "app.tmpl"
    tmpl.write_text('cn = "relay app"\nsigning_key\nexpiration_days = 2\n')
    certtool("--generate-self-signed", "--load-privkey", str(key),
             "--template", str(tmpl), "--outfile", str(cert))
    key.chmod(0o600)
    f["key"], f["cert"] = key, cert
    cfg = json.loads(sub.endpoint_cfg.read_text())
    cfg["clients"]["cert-app"] = {"cert": str(cert), "mailbox": HEAD}
    sub.endpoint_cfg.write_text(json.dumps(cfg, indent=1))
    f["clients"] = d / "clients"
    passwd(f["clients"], "scanner", CLIENT_PW, HEAD)
    passwd(f["clients"], "desk", CLIENT_PW, CLERK)
    return f


ROUTES = {
    "password": lambda f: ["grant: password",
                           "client-id: %s" % oauthsys.CLIENT_ID,
                           "client-secret-file: %s" % f["secret"]],
    "secret": lambda f: ["grant: secret",
                         "client-id: %s" % oauthsys.CLIENT_ID,
                         "client-secret-file: %s" % f["secret"]],
    "certificate": lambda f: ["grant: certificate", "client-id: cert-app",
                              "certificate-file: %s" % f["cert"],
                              "private-key-file: %s" % f["key"]],
    # 2-second tokens (oauthsys.APPS), acting for clerk@
    "short": lambda f: ["grant: secret", "client-id: short-app",
                        "client-secret-file: %s" % f["short_secret"]],
}

LOGS = []


@pytest.fixture
def relay(sub, files, world, request):
    """Factory: relay(grant) -> a started RouteRelay (stopped after)."""
    started = []

    def start(grant):
        ca = Path(world.env["WORLD_CA_DIR"])
        d = files["dir"] / ("relay-%s-%d" % (grant, len(LOGS)))
        d.mkdir()
        lines = ["hostname: relay.world.invalid",
                 "control-interface: %s" % (d / "control"),
                 "tls-cert-file: %s" % (ca / "mx.dane-ee.example.pem"),
                 "tls-key-file: %s" % (ca / "mx.dane-ee.example.key"),
                 "ca-file: %s" % sub.cafile]
        if grant != "password":
            lines.append("client-file: %s" % files["clients"])
            # a scanner that cannot authenticate at all, known by its
            # address (issue 9)
            lines.append("client-address: %s/32 %s" % (MAPPED_SRC, HEAD))
        route = ["name: exo",
                 "smarthost: %s@%d" % (oauthsys.HOST, oauthsys.PORT),
                 "domain: office.example",
                 "token-endpoint: %s" % sub.token_url] + \
            ROUTES[grant](files)
        r = RouteRelay(world, d, lines, route)
        r.start()
        started.append(r)
        LOGS.append(r.logfile)
        return r

    yield start
    for r in started:
        rc = r.stop()
        assert rc == 0, "relay exit %r:\n%s" % (rc, r.log()[-3000:])


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def session():
    """A client session after STARTTLS, before AUTH."""
    s = smtplib.SMTP(ADDR, PORT, local_hostname="scanner.test", timeout=60)
    s.ehlo()
    s.starttls(context=tls_ctx())
    s.ehlo()
    return s


def client(user, password):
    s = session()
    s.login(user, password)
    return s


def auth_plain(s, user, password):
    """One AUTH PLAIN with its initial response (smtplib's login() would
    try LOGIN after a refused PLAIN); its reply (code, text)."""
    ir = base64.b64encode(b"\0" + user.encode() + b"\0" +
                          password.encode()).decode()
    code, text = s.docmd("AUTH", "PLAIN " + ir)
    return code, text.decode(errors="replace")


def message(sender, tag):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: "
            "<%s@scanner.test>\r\n\r\nscan attached (%s)\r\n"
            % (sender, RCPT, tag, tag, tag))


def find(sub, tag, timeout=20):
    """The delivered message with tag in its subject, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in sub.delivered():
            m = email.message_from_bytes(p.read_bytes())
            if m["Subject"] == tag:
                return m
        time.sleep(0.2)
    return None


def submit(s, sender, from_header, tag):
    """One message on session s; None if accepted, else (code, text)."""
    try:
        s.sendmail(sender, [RCPT], message(from_header, tag))
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return code, text.decode(errors="replace")
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")
    return None


def send(user, password, sender, tag):
    """Sends one message after AUTH; None if accepted, else (code, text)."""
    with client(user, password) as s:
        return submit(s, sender, sender, tag)


def tag(name):
    return "xoauth2-%s-%d-%d" % (name, os.getpid(), time.time_ns())


@pytest.mark.parametrize("grant", ["password", "secret", "certificate"])
def test_grant_delivers(relay, sub, grant):
    r = relay(grant)
    t = tag(grant)
    if grant == "password":
        # ROPC: the mailbox's own name and password
        assert send(HEAD, oauthsys.MAILBOXES[HEAD], HEAD, t) is None
    else:
        assert send("scanner", CLIENT_PW, HEAD, t) is None
    m = find(sub, t)
    assert m is not None, sub.logs()
    received = m.get_all("Received")
    # newest first: the submission server took it from the relay with
    # SASL (ESMTPSA), the relay from the client
    assert "by %s" % oauthsys.HOST in received[0], received
    assert "ESMTPSA" in received[0], received
    # RFC 3848: the relay took it from an authenticated client over TLS
    ours = [h for h in received if "by relay.world.invalid" in h]
    assert len(ours) == 1 and "with ESMTPSA" in ours[0], received
    r.wait_log(r"route exo: .* accepted AUTH XOAUTH2 as %s" % re.escape(
        HEAD))
    r.wait_log(r"relay=%s\[[0-9.]+\]:587.*status=sent" % re.escape(
        oauthsys.HOST))
    # the second message takes the cached token
    before = sub.stats()
    t2 = tag(grant + "-2")
    if grant == "password":
        assert send(HEAD, oauthsys.MAILBOXES[HEAD], HEAD, t2) is None
    else:
        assert send("scanner", CLIENT_PW, HEAD, t2) is None
    assert find(sub, t2) is not None
    after = sub.stats()
    for g in ("password", "client_credentials", "refresh_token"):
        assert after.get(g, 0) == before.get(g, 0), (before, after)
    # danegate-control shows the token's state under its route, never
    # the token itself
    out = dgsys.run([dgsys.CONTROL, "-s", str(r.dir / "control"),
                     "tokens"], timeout=30)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^route exo grant=%s " % grant, out.stdout, re.M), \
        out.stdout
    assert re.search(r"^  %s state=valid expires-in=\d+s refresh-token=%s "
                     r"key=%s$" % (re.escape(HEAD),
                                   "yes" if grant == "password" else "no",
                                   "mailbox-password" if grant == "password"
                                   else "route"), out.stdout, re.M), out.stdout
    live = sub.https("/issued")[1]
    for tok in live["access"] + live["refresh"]:
        assert tok not in out.stdout


def test_expired_token_renewed(relay, sub):
    r = relay("short")
    t1, t2 = tag("short-1"), tag("short-2")
    before = sub.stats().get("client_credentials", 0)
    assert send("desk", CLIENT_PW, CLERK, t1) is None
    assert find(sub, t1) is not None
    time.sleep(3)           # the 2-second token has expired
    assert send("desk", CLIENT_PW, CLERK, t2) is None
    assert find(sub, t2) is not None
    assert sub.stats().get("client_credentials", 0) == before + 2
    assert "refused the cached token" not in r.log()


def test_ropc_token_refreshed(relay, sub):
    """A password-grant token near its end is renewed with the refresh
    token, not with the password again."""
    cfg_path = sub.endpoint_cfg
    saved = cfg_path.read_text()
    cfg = json.loads(saved)
    # CLIENT_ID's tokens: 6 s (no ttl of its own); due for renewal when
    # half is left, so the token AUTH got still serves its message
    cfg["ttl"] = 6
    cfg_path.write_text(json.dumps(cfg, indent=1))
    try:
        r = relay("password")
        pw = oauthsys.MAILBOXES[HEAD]
        before = sub.stats()
        t1, t2 = tag("refresh-1"), tag("refresh-2")
        assert send(HEAD, pw, HEAD, t1) is None
        assert find(sub, t1) is not None
        time.sleep(7)
        assert send(HEAD, pw, HEAD, t2) is None
        assert find(sub, t2) is not None
        after = sub.stats()
        assert after.get("password", 0) == before.get("password", 0) + 1
        assert after.get("refresh_token", 0) == \
            before.get("refresh_token", 0) + 1, (before, after)
        r.wait_log("token for %s refreshed" % re.escape(HEAD))
    finally:
        cfg_path.write_text(saved)


def revoke_all(sub, mailbox):
    """Revokes every token the endpoint issued for mailbox (read from
    its --state file); returns how many."""
    state = json.loads((sub.endpoint_cfg.parent / "state.json").read_text())
    toks = [t for t, v in state["tokens"].items() if v["user"] == mailbox]
    for t in toks:
        sub.revoke(t)
    return len(toks)


def test_revoked_token_replaced(relay, sub):
    """A revoked cached token: the smarthost's 535 drops it, a new one is
    fetched and the client sees nothing."""
    r = relay("secret")
    t1, t2 = tag("rev-1"), tag("rev-2")
    assert send("scanner", CLIENT_PW, HEAD, t1) is None
    assert find(sub, t1) is not None
    assert revoke_all(sub, HEAD) >= 1
    assert send("scanner", CLIENT_PW, HEAD, t2) is None
    assert find(sub, t2) is not None
    r.wait_log("refused the cached token")


def test_revoked_with_endpoint_down_4xx_then_recovery(relay, sub):
    r = relay("secret")
    t1 = tag("revdown-1")
    assert send("scanner", CLIENT_PW, HEAD, t1) is None
    assert find(sub, t1) is not None
    # the cached token is revoked and no new one can be had: 4xx
    assert revoke_all(sub, HEAD) >= 1
    sub.stop_endpoint()
    try:
        t2 = tag("revdown-2")
        res = send("scanner", CLIENT_PW, HEAD, t2)
        assert res is not None and 400 <= res[0] < 500, res
        assert find(sub, t2, timeout=2) is None
    finally:
        sub.start_endpoint()
    r.wait_log("refused the cached token")
    r.wait_log("token endpoint unreachable")
    # recovery: the next message gets a new token
    t3 = tag("revdown-3")
    assert send("scanner", CLIENT_PW, HEAD, t3) is None
    assert find(sub, t3) is not None


def test_endpoint_down_is_4xx(relay, sub):
    relay("certificate")
    sub.stop_endpoint()
    try:
        t = tag("down")
        res = send("scanner", CLIENT_PW, HEAD, t)
        assert res is not None and res[0] in (421, 450, 451, 452, 454), res
        assert "4.7.0" in res[1] and "token endpoint" in res[1], res
    finally:
        sub.start_endpoint()


def test_wrong_mailbox_password_535_nothing_cached(relay, sub):
    """The password grant: the token endpoint checks the mailbox's own
    password at AUTH. A wrong one is 535 there (with the endpoint's
    cause) and the session stays unauthenticated; a right one is 235 and
    the token it got serves the message; the same password again is
    answered from the cache; a wrong one again is never given that
    token: the endpoint is asked and says no."""
    r = relay("password")
    good = oauthsys.MAILBOXES[CLERK]
    before = sub.stats()
    with session() as s:
        code, text = auth_plain(s, CLERK, good + "-wrong")
        assert code == 535 and "5.7.8" in text and "50126" in text, \
            (code, text)
        # not authenticated: no mail
        res = submit(s, CLERK, CLERK, tag("wrong-1"))
        assert res is not None and res[0] == 530, res
    after = sub.stats()
    assert after.get("errors", 0) == before.get("errors", 0) + 1
    assert after.get("password", 0) == before.get("password", 0)
    r.wait_log(r"AUTH PLAIN: mailbox %s: 535 5\.7\.8 .*AADSTS50126.* "
               r"\(attempt 1\)" % re.escape(CLERK))
    # the right password: 235 after the endpoint issued the token, which
    # the message then uses (one request in all)
    t = tag("right")
    with session() as s:
        assert auth_plain(s, CLERK, good)[0] == 235
        r.wait_log(r"AUTH PLAIN: mailbox %s: password taken by the token "
                   r"endpoint of route exo" % re.escape(CLERK))
        assert submit(s, CLERK, CLERK, t) is None
    assert find(sub, t) is not None
    mid = sub.stats()
    assert mid.get("password", 0) == before.get("password", 0) + 1, mid
    # the same password again: the cached token, no request
    with session() as s:
        assert auth_plain(s, CLERK, good)[0] == 235
    assert sub.stats().get("password", 0) == mid.get("password", 0)
    # a wrong one again never reuses that token: the endpoint says no
    with session() as s:
        code, text = auth_plain(s, CLERK, good + "-wrong")
        assert code == 535 and "50126" in text, (code, text)
    assert sub.stats().get("errors", 0) == before.get("errors", 0) + 2
    r.wait_log(r"no token for %s: AADSTS50126" % re.escape(CLERK))


def test_password_auth_three_wrong_then_421(relay, sub):
    """Wrong mailbox passwords count as failed attempts: the third ends
    the session, as a wrong client password does."""
    relay("password")
    good = oauthsys.MAILBOXES[HEAD]
    with session() as s:
        for attempt in (1, 2):
            code, text = auth_plain(s, HEAD, "%s-%d" % (good, attempt))
            assert code == 535, (attempt, code, text)
        code, text = auth_plain(s, HEAD, good + "-3")
        assert code == 421 and "4.7.0" in text, (code, text)


def test_password_auth_endpoint_down_454(relay, sub):
    """With the token endpoint down, a password-grant AUTH is a temporary
    failure (454 4.7.0, RFC 4954 §6), never a 535 or a 5xx; once it is
    back, the same password is taken."""
    r = relay("password")
    pw = oauthsys.MAILBOXES[HEAD]
    sub.stop_endpoint()
    try:
        with session() as s:
            code, text = auth_plain(s, HEAD, pw)
            assert code == 454 and "4.7.0" in text, (code, text)
            assert "token endpoint" in text, text
    finally:
        sub.start_endpoint()
    r.wait_log(r"AUTH PLAIN: mailbox %s: 454 4\.7\.0" % re.escape(HEAD))
    t = tag("after-outage")
    with session() as s:
        assert auth_plain(s, HEAD, pw)[0] == 235
        assert submit(s, HEAD, HEAD, t) is None
    assert find(sub, t) is not None


def test_unmapped_sender_5xx(relay, sub):
    relay("secret")
    t = tag("unmapped")
    res = send("scanner", CLIENT_PW, CLERK, t)
    assert res is not None and res[0] == 550, res
    assert find(sub, t, timeout=2) is None


def send_from(source, sender, from_header, tag):
    """Without AUTH, from source: None if accepted, else (code, text)."""
    with smtplib.SMTP(ADDR, PORT, local_hostname="scanner.test", timeout=60,
                      source_address=(source, 0)) as s:
        s.ehlo()
        return submit(s, sender, from_header, tag)


def test_client_known_by_address(relay, sub):
    """client-address: a program that cannot authenticate sends as its
    mailbox from its address, through the route (client credentials),
    that mailbox the SASL user at the smarthost; only as that mailbox,
    in the envelope and in From:; other addresses must authenticate."""
    r = relay("secret")
    t = tag("by-address")
    assert send_from(MAPPED_SRC, HEAD, HEAD, t) is None
    m = find(sub, t)
    assert m is not None, sub.logs()
    r.wait_log(r"client=\[%s\] mapped to %s by \S+relay\.conf:\d+" % (
        re.escape(MAPPED_SRC), re.escape(HEAD)))
    r.wait_log(r"route exo: .* accepted AUTH XOAUTH2 as %s" % re.escape(
        HEAD))
    # another mailbox in the envelope, or in From:
    t2 = tag("by-address-envelope")
    res = send_from(MAPPED_SRC, CLERK, CLERK, t2)
    assert res is not None and res[0] == 550 and "5.7.1" in res[1], res
    t3 = tag("by-address-from")
    res = send_from(MAPPED_SRC, HEAD, CLERK, t3)
    assert res is not None and res[0] == 550 and "From:" in res[1], res
    # an address no line maps: SMTP AUTH as before
    t4 = tag("unmapped-address")
    res = send_from(UNMAPPED_SRC, HEAD, HEAD, t4)
    assert res is not None and res[0] == 530, res
    for t_ in (t2, t3, t4):
        assert find(sub, t_, timeout=2) is None, t_


def test_client_address_config_errors(files, world, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(
        "relay:\n"
        "    client-address: 10.1.0.0/16 head@office.example\n"
        "    client-address: 10.1.2.3/32 clerk@office.example\n"
        "    client-address: 10.2.0.0/33 head@office.example\n"
        "    client-address: 10.3.0.1 nobody@elsewhere.example\n"
        "    client-address: 10.4.0.1 not-a-mailbox\n"
        "route:\n"
        "    name: exo\n"
        "    domain: office.example\n"
        "    grant: password\n"
        "    client-id: x\n"
        "    client-secret-file: %s\n" % files["secret"])
    r = subprocess.run([RELAY, "-t", "-c", str(conf), "--listen",
                        "%s@%d" % (ADDR, PORT)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 1
    err = r.stderr
    assert "bad.conf:3: client-address: 10.1.2.3/32 overlaps 10.1.0.0/16 " \
        "of %s:2" % conf in err, err
    assert "bad.conf:4: client-address: bad prefix length 33" in err, err
    assert "bad.conf:6: client-address: 'not-a-mailbox' is not a mailbox" \
        in err, err
    assert "bad.conf:5: client-address: nobody@elsewhere.example: no " \
        "route: has its domain" in err, err
    assert "bad.conf:2: client-address: head@office.example: route exo " \
        "trades the mailbox's own password" in err, err


def test_zz_no_secret_in_any_log(sub):
    secrets = [oauthsys.CLIENT_SECRET, CLIENT_PW, "Bearer", "auth=",
               base64.b64encode(b"user=").decode()[:6]]
    secrets += list(oauthsys.MAILBOXES.values())
    assert LOGS, "no relay ran"
    for f in LOGS:
        text = f.read_text(errors="replace")
        for s in secrets:
            assert s not in text, (f, s)
