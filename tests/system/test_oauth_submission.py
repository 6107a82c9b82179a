"""test_oauth_submission.py - the world's OAuth2 submission server
(oauthsys.py: smtp.office.example, Postfix with Dovecot SASL whose oauth2
passdb introspects every token at the world's token endpoint) is honest:
a token the endpoint issued for the mailbox is accepted and the message
delivered; a forged, revoked or expired token, a token of another mailbox
and AUTH PLAIN/LOGIN (not offered) are refused and deliver nothing; every check is an
introspection the endpoint counts.

SECURITY: test program; talks to NET.3.27:587 and NET.4.101:443 only.
"""
import base64
import hashlib
import json
import secrets
import smtplib
import subprocess
import time
import urllib.error

import pytest

import oauthsys

HEAD = "head@office.example"
CLERK = "clerk@office.example"


def delivered_after(sub, before, want):
    """Wait (up to 10 s) until the Maildir holds before + want messages;
    the count."""
    end = time.monotonic() + 10
    while len(sub.delivered()) < before + want and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(0.3 if want == 0 else 0)
    return len(sub.delivered()) - before


def test_password_grant_token_delivers(oauth_submission):
    sub = oauth_submission
    before, st = len(sub.delivered()), sub.stats()
    tok = sub.token(HEAD)
    code, text, final = sub.send(HEAD, tok)
    assert (code, final) == (235, 250), text
    assert delivered_after(sub, before, 1) == 1
    after = sub.stats()
    assert after["introspect"] == st["introspect"] + 1
    assert after["introspect_active"] == st["introspect_active"] + 1


def test_client_credentials_token_delivers(oauth_submission):
    """An app token acts for the one mailbox the app is granted."""
    sub = oauth_submission
    before = len(sub.delivered())
    tok = sub.token(grant="client_credentials")
    code, text, final = sub.send(HEAD, tok)
    assert (code, final) == (235, 250), text
    assert delivered_after(sub, before, 1) == 1


def _b64url(data):
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_certificate_grant_token_delivers(oauth_submission, tmp_path):
    """client_credentials with an RS256 JWT assertion (the certificate
    credential): an app registered with set_client(cert=...) gets a token
    that the submission server accepts for its mailbox."""
    sub = oauth_submission
    key, cert = tmp_path / "app.key", tmp_path / "app.pem"
    subprocess.run(["certtool", "--generate-privkey", "--rsa", "--bits",
                    "2048", "--outfile", str(key)], check=True,
                   capture_output=True)
    (tmp_path / "app.tmpl").write_text('cn = "cert app"\nsigning_key\n'
                                       "expiration_days = 2\n")
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                    str(key), "--template", str(tmp_path / "app.tmpl"),
                    "--outfile", str(cert)], check=True,
                   capture_output=True)
    sub.set_client("cert-app", cert=str(cert), mailbox=CLERK)
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform",
                          "DER"], check=True, capture_output=True).stdout
    now = int(time.time())
    signing_input = "%s.%s" % (
        _b64url({"alg": "RS256", "typ": "JWT",
                 "x5t#S256": _b64url(hashlib.sha256(der).digest())}),
        _b64url({"aud": sub.token_url, "iss": "cert-app",
                 "sub": "cert-app", "jti": secrets.token_hex(16),
                 "nbf": now, "exp": now + 600}))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)],
                         input=signing_input.encode(), check=True,
                         capture_output=True).stdout
    status, body = sub.https(
        "/%s/oauth2/v2.0/token" % oauthsys.TENANT,
        {"client_id": "cert-app", "grant_type": "client_credentials",
         "scope": "https://outlook.office365.com/.default",
         "client_assertion_type":
         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
         "client_assertion": signing_input + "." + _b64url(sig)})
    assert status == 200, body
    before = len(sub.delivered())
    code, text, final = sub.send(CLERK, body["access_token"])
    assert (code, final) == (235, 250), text
    assert delivered_after(sub, before, 1) == 1
    # the app acts for clerk@ only
    assert sub.send(HEAD, body["access_token"])[0] == 535


def test_oauthbearer_accepted(oauth_submission):
    """RFC 7628 OAUTHBEARER, the standard form of the same check."""
    sub = oauth_submission
    tok = sub.token(CLERK)
    resp = base64.b64encode(("n,a=%s,\x01auth=Bearer %s\x01\x01"
                             % (CLERK, tok)).encode()).decode()
    with sub.connect() as s:
        code, text = s.docmd("AUTH", "OAUTHBEARER " + resp)
    assert code == 235, text


@pytest.mark.parametrize("token", ["forged", "random"])
def test_forged_token_refused(oauth_submission, token):
    sub = oauth_submission
    if token == "random":
        token = secrets.token_urlsafe(32)      # the endpoint's format
    before, st = len(sub.delivered()), sub.stats()
    code, text, final = sub.send(HEAD, token)
    assert code == 535 and final is None, text
    assert delivered_after(sub, before, 0) == 0
    after = sub.stats()
    assert after["introspect"] == st["introspect"] + 1
    assert after["introspect_active"] == st["introspect_active"]


def test_token_of_another_mailbox_refused(oauth_submission):
    """A good token, but issued for head@: refused as clerk@."""
    sub = oauth_submission
    before = len(sub.delivered())
    code, text, _ = sub.send(CLERK, sub.token(HEAD))
    assert code == 535, text
    assert delivered_after(sub, before, 0) == 0


def test_sending_as_another_mailbox_refused(oauth_submission):
    """Authenticated as head@, MAIL FROM clerk@: 5xx, nothing delivered."""
    sub = oauth_submission
    before = len(sub.delivered())
    code, text, final = sub.send(HEAD, sub.token(HEAD), sender=CLERK)
    assert code == 235, text
    assert final == 553
    assert delivered_after(sub, before, 0) == 0


def test_revoked_token_refused(oauth_submission):
    sub = oauth_submission
    tok = sub.token(HEAD)
    assert sub.send(HEAD, tok)[0] == 235
    sub.revoke(tok)
    before = len(sub.delivered())
    code, text, _ = sub.send(HEAD, tok)
    assert code == 535, text
    assert delivered_after(sub, before, 0) == 0


def test_expired_token_refused(oauth_submission):
    """short-app's tokens live 2 s: good at once, refused after."""
    sub = oauth_submission
    body = sub.token_response(grant="client_credentials",
                              client_id="short-app")
    assert body["expires_in"] == 2
    tok = body["access_token"]
    assert sub.send(CLERK, tok)[0] == 235
    time.sleep(2.5)
    before = len(sub.delivered())
    code, text, _ = sub.send(CLERK, tok)
    assert code == 535, text
    assert delivered_after(sub, before, 0) == 0


@pytest.mark.parametrize("command", [
    "AUTH PLAIN " + base64.b64encode(
        ("\0%s\0%s" % (HEAD, oauthsys.MAILBOXES[HEAD])).encode()).decode(),
    "AUTH PLAIN",
    "AUTH LOGIN",
    "auth login " + base64.b64encode(HEAD.encode()).decode(),
])
def test_basic_auth_refused(oauth_submission, command):
    """The mailbox's right password over PLAIN or LOGIN: refused (Postfix
    cannot give Exchange Online's 550 5.7.30 here, see
    tests/world/README.md), nothing relayed or delivered."""
    sub = oauth_submission
    before = len(sub.delivered())
    with sub.connect() as s:
        verb, _, arg = command.partition(" ")
        code, text = s.docmd(verb, arg)
        assert "%d %s" % (code, text.decode()) == oauthsys.BASIC_AUTH_REPLY
        # the session goes on, not authenticated: nothing is relayed
        code, _ = s.docmd("MAIL", "FROM:<%s>" % HEAD)
        assert code == 250
        code, text = s.docmd("RCPT", "TO:<someone@dane-ee.example>")
        assert code in (553, 554), text
    assert delivered_after(sub, before, 0) == 0


def test_basic_auth_mechanisms_not_offered(oauth_submission):
    with oauth_submission.connect() as s:
        assert s.esmtp_features["auth"].split() == ["XOAUTH2",
                                                    "OAUTHBEARER"]


def test_no_auth_before_starttls(oauth_submission):
    sub = oauth_submission
    with smtplib.SMTP(sub.addr, oauthsys.PORT, timeout=15) as s:
        s.ehlo("client.example")
        assert "auth" not in s.esmtp_features
        code, _ = s.docmd("AUTH", "XOAUTH2 " + oauthsys._xoauth2(HEAD, "x"))
        assert code == 530


def test_token_endpoint_down(oauth_submission):
    """login.office.example down: no new token (connection refused), but
    one issued before is still accepted, and still after the endpoint is
    back (tokens outlive its restart)."""
    sub = oauth_submission
    tok = sub.token(HEAD)
    before = len(sub.delivered())
    sub.stop_endpoint()
    try:
        with pytest.raises(urllib.error.URLError):
            sub.token(HEAD)
        code, text, final = sub.send(HEAD, tok)
        assert (code, final) == (235, 250), text
    finally:
        sub.start_endpoint()
    code, text, final = sub.send(HEAD, tok)
    assert (code, final) == (235, 250), text
    assert delivered_after(sub, before, 2) == 2
    assert sub.send(HEAD, sub.token(HEAD))[0] == 235
