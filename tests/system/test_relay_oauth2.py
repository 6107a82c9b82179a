"""test_relay_oauth2.py - the relay's OAuth2 token module (issue 9)
against the world's token endpoint (tests/world/oauth2_endpoint.py, HTTPS
with a CA made here), driven by relay_oauth2_token: each grant gets a
token; an expiring token is renewed with the refresh token before it
expires; a wrong password is 535 and caches nothing; a bad secret,
certificate or client is 535 with the AADSTS cause; the endpoint down is
a 4xx; a secret file others can read is refused with the reason; no
secret or token appears in any output.

SECURITY: test program; listens on NET.1.70 only.
"""
import json
import os
import pathlib
import re
import ssl
import subprocess
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests/system/relay_oauth2_token"
ENDPOINT = ROOT / "tests/world/oauth2_endpoint.py"
NET = os.environ.get("WORLD_NET", "127.53")
ADDR = NET + ".1.70"
PORT = 8443
URL = "https://%s:%d/tenant/oauth2/v2.0/token" % (ADDR, PORT)
SECRET = "s3cret-Value~abc"
PASSWORD = "correct horse battery"


def certtool(*args):
    subprocess.run(["certtool", *args], check=True, capture_output=True)


def template(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def private(path, text):
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


@pytest.fixture(scope="module")
def ep(tmp_path_factory):
    d = tmp_path_factory.mktemp("oauth2")
    # the CA, the endpoint's certificate (IP SAN), the app's certificate
    certtool("--generate-privkey", "--outfile", str(d / "ca.key"))
    certtool("--generate-self-signed", "--load-privkey", str(d / "ca.key"),
             "--template", template(d / "ca.tmpl", [
                 'cn = "oauth2 test CA"', "ca", "cert_signing_key",
                 "expiration_days = 2"]), "--outfile", str(d / "ca.pem"))
    certtool("--generate-privkey", "--outfile", str(d / "ep.key"))
    certtool("--generate-certificate", "--load-privkey", str(d / "ep.key"),
             "--load-ca-certificate", str(d / "ca.pem"),
             "--load-ca-privkey", str(d / "ca.key"),
             "--template", template(d / "ep.tmpl", [
                 'cn = "token endpoint"', "ip_address = " + ADDR,
                 "tls_www_server", "encryption_key", "signing_key",
                 "expiration_days = 2"]), "--outfile", str(d / "ep.pem"))
    for name in ("app", "other"):
        certtool("--generate-privkey", "--rsa", "--bits", "2048",
                 "--outfile", str(d / (name + ".key")))
        certtool("--generate-self-signed", "--load-privkey",
                 str(d / (name + ".key")), "--template",
                 template(d / (name + ".tmpl"), [
                     'cn = "%s"' % name, "signing_key",
                     "expiration_days = 2"]),
                 "--outfile", str(d / (name + ".pem")))
        (d / (name + ".key")).chmod(0o600)
    cfg = {"clients": {"app-id": {"secret": SECRET,
                                  "cert": str(d / "app.pem")}},
           "users": {"head@school.example": PASSWORD},
           "ttl": 3600}
    (d / "cfg.json").write_text(json.dumps(cfg))
    log = open(d / "endpoint.log", "w")
    p = subprocess.Popen(
        ["/usr/bin/python3", str(ENDPOINT), "--listen",
         "%s:%d" % (ADDR, PORT), "--cert", str(d / "ep.pem"),
         "--key", str(d / "ep.key"), "--config", str(d / "cfg.json")],
        stdout=subprocess.PIPE, stderr=log, text=True)
    assert p.stdout.readline().strip() == "ready"
    yield d
    p.terminate()
    p.wait(timeout=10)
    log.close()


def set_ttl(d, ttl):
    cfg = json.loads((d / "cfg.json").read_text())
    cfg["ttl"] = ttl
    (d / "cfg.json").write_text(json.dumps(cfg))


def stats(d):
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    with urllib.request.urlopen("https://%s:%d/stats" % (ADDR, PORT),
                                context=ctx, timeout=5) as r:
        return json.load(r)


def drive(d, grant, *extra, url=URL, cafile=True):
    cmd = [str(DRIVER), "-g", grant, "-e", url, "-i", "app-id"]
    if cafile:
        cmd += ["-c", str(d / "ca.pem")]
    cmd += list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    out = r.stdout + r.stderr
    # never a secret, a password or a token in what the relay says
    assert SECRET not in out and PASSWORD not in out
    assert not re.search(r"[A-Za-z0-9_-]{40,}", out)
    return r.returncode, r.stdout.splitlines(), r.stderr


def secret_file(d):
    return private(d / "secret", SECRET)


def test_secret_grant(ep):
    rc, lines, _ = drive(ep, "secret", "-s", secret_file(ep), "-n", "2")
    assert rc == 0
    assert [l.split(" ")[1] for l in lines] == ["fetched=requested",
                                                "fetched=cached"]


def test_certificate_grant(ep):
    before = stats(ep)["client_credentials"]
    rc, lines, _ = drive(ep, "cert", "-k", str(ep / "app.key"),
                         "-x", str(ep / "app.pem"))
    assert rc == 0 and lines[0].startswith("ok fetched=requested")
    assert stats(ep)["client_credentials"] == before + 1


def test_certificate_not_registered(ep):
    """A key and certificate the app registration does not have."""
    rc, lines, _ = drive(ep, "cert", "-k", str(ep / "other.key"),
                         "-x", str(ep / "other.pem"))
    assert rc == 1
    assert lines == ["fail smtp=535 AADSTS700027: the certificate "
                     "assertion was refused (certificate expired, not "
                     "registered, or signature invalid); upload the "
                     "current certificate to the app registration"]


def test_bad_secret(ep):
    rc, lines, _ = drive(ep, "secret", "-s", private(ep / "bad", "nope"))
    assert rc == 1
    assert lines[0].startswith("fail smtp=535 AADSTS7000215: the client "
                               "secret is wrong;")


def test_password_grant_and_wrong_password(ep):
    pw = private(ep / "pw", PASSWORD)
    rc, lines, _ = drive(ep, "password", "-s", secret_file(ep), "-u",
                         "head@school.example", "-p", pw, "-n", "2")
    assert rc == 0
    assert [l.split(" ")[1] for l in lines] == ["fetched=requested",
                                                "fetched=cached"]
    before = stats(ep)
    rc, lines, _ = drive(ep, "password", "-s", secret_file(ep), "-u",
                         "head@school.example",
                         "-p", private(ep / "wrong", "guess"), "-n", "2")
    # 535 each time: a refused password is never cached, so the second
    # attempt asks the endpoint again
    assert rc == 1
    assert lines == ["fail smtp=535 AADSTS50126: wrong username or "
                     "password for the mailbox; check the mailbox password "
                     "the client sends"] * 2
    assert stats(ep)["errors"] == before["errors"] + 2


def issued(d):
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    with urllib.request.urlopen("https://%s:%d/issued" % (ADDR, PORT),
                                context=ctx, timeout=5) as r:
        got = json.load(r)
    return set(got["access"]) | set(got["refresh"])


def test_token_states_hold_no_token(ep):
    """What danegate-control's "tokens" shows of a cache (the states
    oauth2_cache_foreach() hands out, formatted by
    oauth2_token_state_format()): mailbox, state, expiry, never the access
    or refresh token the endpoint issued for it."""
    before = issued(ep)
    pw = private(ep / "pw", PASSWORD)
    r = subprocess.run([str(DRIVER), "-g", "password", "-e", URL, "-i",
                        "app-id", "-c", str(ep / "ca.pem"), "-s",
                        secret_file(ep), "-u", "head@school.example", "-p",
                        pw, "-L"], capture_output=True, text=True,
                       timeout=60,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    new = issued(ep) - before
    assert r.returncode == 0, r.stderr
    assert len(new) == 2, new          # one access, one refresh token
    states = [l for l in r.stdout.splitlines() if l.startswith("state ")]
    assert len(states) == 1, r.stdout
    assert re.fullmatch(r"state head@school\.example state=valid "
                        r"expires-in=3[56]\d\ds refresh-token=yes "
                        r"key=mailbox-password", states[0]), states
    for tok in new:
        assert tok not in r.stdout + r.stderr
    assert PASSWORD not in r.stdout + r.stderr


def test_expiring_token_renewed_with_refresh(ep):
    """A token of 6 s is due for renewal when half its life is left (a
    life shorter than twice the 300 s margin): 4 s later the second
    message gets a refreshed token, the client sees no failure."""
    set_ttl(ep, 6)
    try:
        before = stats(ep)
        rc, lines, _ = drive(ep, "password", "-s", secret_file(ep), "-u",
                             "head@school.example",
                             "-p", private(ep / "pw", PASSWORD),
                             "-n", "2", "-w", "4")
        after = stats(ep)
    finally:
        set_ttl(ep, 3600)
    assert rc == 0
    assert [l.split(" ")[1] for l in lines] == ["fetched=requested",
                                                "fetched=refreshed"]
    assert after["refresh_token"] == before["refresh_token"] + 1


def test_endpoint_down_is_4xx(ep):
    rc, lines, _ = drive(ep, "secret", "-s", secret_file(ep),
                         url="https://%s:%d/t/oauth2/v2.0/token"
                         % (ADDR, PORT + 1))
    assert rc == 1
    assert lines[0].startswith("fail smtp=454 token endpoint unreachable")


def test_untrusted_endpoint_is_4xx(ep):
    """Without the world's CA the endpoint's certificate is not trusted:
    the secret is never sent, the client gets a 4xx."""
    before = stats(ep)["errors"]
    rc, lines, _ = drive(ep, "secret", "-s", secret_file(ep), cafile=False)
    assert rc == 1 and lines[0].startswith("fail smtp=454 ")
    assert stats(ep)["errors"] == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_loose_secret_file_refused(ep, mode):
    path = private(ep / "loose", SECRET)
    os.chmod(path, mode)
    rc, lines, err = drive(ep, "secret", "-s", path)
    assert rc == 2 and lines == []
    assert "refused: %s: mode %04o: readable by group or others; chmod " \
        "600 %s" % (path, mode, path) in err


RELAY = os.environ.get("DANEGATE_RELAY_REAL", str(
    ROOT / "plugin/relay/danegate-relay"))


@pytest.mark.parametrize("mode", [0o640, 0o644])
def test_route_secret_file_checked_by_t(tmp_path, mode):
    """danegate-relay -t reads a route's client-secret-file: one others
    can read is refused with FILE:LINE, the route and the reason; a
    private one passes. The secret is never in the output."""
    path = private(tmp_path / "exo.secret", SECRET)
    os.chmod(path, mode)
    conf = tmp_path / "relay.conf"
    conf.write_text("relay:\n    hostname: relay.test\n"
                    "route:\n    name: exo\n    grant: secret\n"
                    "    client-id: 11111111-2222-3333-4444-555555555555\n"
                    "    tenant: contoso.onmicrosoft.com\n"
                    "    client-secret-file: %s\n" % path)
    p = subprocess.run([RELAY, "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "%s:3: route: exo: client-secret-file: %s: mode %04o: " \
        "readable by group or others; chmod 600 %s" % (
            conf, path, mode, path) in p.stderr, p.stderr
    assert SECRET not in p.stdout + p.stderr
    os.chmod(path, 0o600)
    p = subprocess.run([RELAY, "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "configuration OK" in p.stdout
    assert SECRET not in p.stdout + p.stderr
