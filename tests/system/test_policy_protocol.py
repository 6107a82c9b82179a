"""danegate-policy against the world, over its real sockets: the
socketmap protocol (malformed netstrings, oversized keys, unknown map
names, pipelining, slow clients, 1,000 concurrent lookups), the answers
for the world's cases, TEMP (never NOTFOUND) while the resolver is down,
the unix socket's mode, SIGHUP and -t, --explain."""
import json
import os
import resource
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

import dgsys
import policysys
from policysys import netstring, read_netstring

TCP_LISTEN = dgsys.addr("1.45") + "@10028"


@pytest.fixture(scope="module")
def policy(world, tmp_path_factory):
    d = tmp_path_factory.mktemp("policy")
    p = policysys.Policy(world, d, [TCP_LISTEN, str(d / "socketmap")],
                         extra=["socket-mode: 0660"])
    try:
        p.start()
        yield p
    finally:
        rc = p.stop()
        assert rc == 0, "exit %r:\n%s" % (rc, p.log()[-3000:])


def _closed(sock):
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True


# ---- refused input first ---------------------------------------------------

@pytest.mark.parametrize("raw,why", [
    (b"x:abc,", "not a decimal number"),
    (b"03:abc,", "leading zero"),
    (b"2000:", "longer than 1024"),
    (b"3:abcd", "no ','"),
    (b"3;abc,", "no ':'"),
])
def test_malformed_netstring_perm_and_close(policy, raw, why):
    s = policy.connect(10)
    s.sendall(raw)
    reply = read_netstring(s)
    assert reply.startswith("PERM ") and why in reply, reply
    assert _closed(s)
    s.close()


def test_oversized_key(policy):
    s = policy.connect(10)
    s.sendall(netstring("policy " + "a" * 1100))
    assert "longer than 1024" in read_netstring(s)
    s.close()


def test_bad_request_keeps_connection(policy):
    s = policy.connect(10)
    s.sendall(netstring("nomap example.org"))
    assert read_netstring(s) == "PERM unknown map name 'nomap'"
    s.sendall(netstring("policy"))
    assert read_netstring(s).startswith("PERM request is not")
    s.sendall(netstring("policy a\tb"))
    assert read_netstring(s).startswith("PERM key empty or not printable")
    s.sendall(netstring("policy .dane-ee.example"))
    assert read_netstring(s) == "NOTFOUND "
    s.close()


# ---- answers -----------------------------------------------------------------

ANSWERS = {
    "dane-ee.example": "OK dane-only",
    "two-mx.example": "OK dane-only",
    "pkix-only.example": "OK dane",
    "insecure-mx.example": "OK dane",
    "implicit-mx.example": "OK dane-only",
    "tlsa-unsigned.example": "NOTFOUND ",
    "no-tlsa.example": "NOTFOUND ",
    "null-mx.example": "NOTFOUND ",
    "sts-testing.example": "NOTFOUND ",
    "sts-enforce.example":
        "OK secure match=mx.sts-enforce.example servername=hostname",
    ".dane-ee.example": "NOTFOUND ",
    "[mx.dane-ee.example]:25": "NOTFOUND ",
}


@pytest.mark.parametrize("key", sorted(ANSWERS))
def test_answer(policy, key):
    assert policy.query(key) == ANSWERS[key]


@pytest.mark.parametrize("key", ["tlsa-bogus.example", "tlsa-expired.example"])
def test_bogus_tlsa_is_temp(policy, key):
    assert policy.query(key).startswith("TEMP dnssec-invalid ")


def test_sts_mismatch_is_temp(policy):
    assert policy.query("sts-mismatch.example").startswith(
        "TEMP validation-failure no MX host")


def test_tlsrpt_map(policy):
    r = policy.query("sts-enforce.example", name="tlsrpt")
    assert r.startswith("OK secure match=mx.sts-enforce.example "
                        "servername=hostname policy_type=sts "
                        "policy_domain=sts-enforce.example "), r


def test_pipelined_in_one_write(policy):
    s = policy.connect(30)
    s.sendall(netstring("policy dane-ee.example") +
              netstring("policy no-tlsa.example") +
              netstring("tlsrpt dane-ee.example"))
    assert [read_netstring(s) for _ in range(3)] == [
        "OK dane-only", "NOTFOUND ", "OK dane-only"]
    s.close()


def test_slow_client_does_not_block_others(policy):
    slow = policy.connect(30)
    req = netstring("policy dane-ta.example")
    slow.sendall(req[:5])
    # another client is served while the slow one dawdles
    assert policy.query("dane-ee.example") == "OK dane-only"
    for b in req[5:]:
        slow.sendall(bytes([b]))
        time.sleep(0.02)
    assert read_netstring(slow) == "OK dane-only"
    slow.close()


def test_thousand_concurrent_lookups(policy):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    keys = ["dane-ee.example", "no-tlsa.example", "dane-ta1.example",
            "cname-mx.example", "nsec3-mail.internal"]
    socks = [policy.connect(60) for _ in range(1000)]
    t0 = time.monotonic()
    for i, s in enumerate(socks):
        s.sendall(netstring("policy " + keys[i % len(keys)]))
    replies = [read_netstring(s) for s in socks]
    elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    want = {"dane-ee.example": "OK dane-only", "no-tlsa.example": "NOTFOUND ",
            "dane-ta1.example": "OK dane-only",
            "cname-mx.example": "OK dane-only",
            "nsec3-mail.internal": "NOTFOUND "}
    wrong = [(keys[i % len(keys)], r) for i, r in enumerate(replies)
             if r != want[keys[i % len(keys)]]]
    assert not wrong, wrong[:5]
    assert elapsed < 30, elapsed


def test_unix_socket(policy):
    path = policy.listen[1]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    assert policy.query("dane-ee.example", sock=s) == "OK dane-only"
    s.close()


def test_explain(policy):
    r = policy.explain("dane-ee.example")
    assert r.returncode == 0, r.stderr
    assert "MX RRset of dane-ee.example: secure" in r.stdout
    assert "TLSA _25._tcp.mx.dane-ee.example: secure" in r.stdout
    assert "reply (policy): OK dane-only" in r.stdout
    r = policy.explain("sts-enforce.example", json_out=True)
    doc = json.loads(r.stdout)
    assert doc["mta_sts"]["mode"] == "enforce"
    assert doc["reply"]["policy"]["text"] == (
        "secure match=mx.sts-enforce.example servername=hostname")


# ---- failures -----------------------------------------------------------------

def test_resolver_down_is_temp_never_notfound(world, tmp_path):
    # nothing listens there: every lookup times out
    p = policysys.Policy(world, tmp_path, [dgsys.addr("1.46") + "@10028"],
                         resolver=dgsys.addr("1.47"),
                         extra=["timeout: 1000"])
    p.start()
    try:
        for key in ("dane-ee.example", "no-tlsa.example",
                    "tlsa-unsigned.example", "sts-enforce.example"):
            r = p.query(key, timeout=30)
            assert r.startswith("TEMP "), (key, r)
    finally:
        assert p.stop() == 0


def test_reload_keeps_old_config_on_error(world, tmp_path):
    p = policysys.Policy(world, tmp_path, [dgsys.addr("1.48") + "@10028"])
    p.start()
    try:
        assert p.query("dane-ee.example") == "OK dane-only"
        p.write_config("policy:\n    cache-ttl: forever\n")
        p.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "keeping the old configuration" not in p.log():
            assert time.monotonic() < deadline, p.log()
            time.sleep(0.05)
        assert "policy.conf:2: cache-ttl: 'forever'" in p.log()
        assert p.query("dane-ee.example") == "OK dane-only"
        p.write_config("policy:\n    tlsrpt-map: report\n")
        p.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reloaded" not in p.log():
            assert time.monotonic() < deadline, p.log()
            time.sleep(0.05)
        assert p.query("dane-ee.example", name="report") == "OK dane-only"
    finally:
        assert p.stop() == 0


def test_config_check(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("policy:\n    socket-mode: 888\n    nonsense: 1\n")
    r = dgsys.run([policysys.POLICY, "-t", "-c", str(bad)])
    assert r.returncode == 1
    assert "bad.conf:2: socket-mode: '888'" in r.stderr
    assert "bad.conf:3: nonsense: unknown key" in r.stderr
    good = tmp_path / "good.conf"
    good.write_text("")
    r = dgsys.run([policysys.POLICY, "-t", "-c", str(good)])
    assert r.returncode == 0, r.stderr


def test_listen_refuses_non_loopback(world, tmp_path):
    r = dgsys.run([policysys.POLICY, "-d", "-c", "/dev/null", "--listen",
                   "0.0.0.0@10028", "--trust-anchor",
                   str(world.dir / "root.key")], timeout=20)
    assert r.returncode == 1
    assert "is not a loopback address" in r.stderr


def test_privilege_drop_and_seccomp(world, tmp_path):
    # libcurl reads the CA file at each fetch, as the dropped user: the
    # world's, under pytest's root-only directory, is copied where nobody
    # can read it (trust anchor and hints are read before the drop)
    import shutil
    import tempfile
    cadir = tempfile.mkdtemp(prefix="policy-ca-")
    os.chmod(cadir, 0o755)
    ca = os.path.join(cadir, "root.pem")
    shutil.copy(world.env["WORLD_CA_FILE"], ca)
    os.chmod(ca, 0o644)
    p = policysys.Policy(world, tmp_path, [dgsys.addr("1.49") + "@10028"],
                         extra=["username: nobody", "ca-file: " + ca])
    p.start()
    try:
        status = open("/proc/%d/status" % p.proc.pid).read()
        fields = dict(ln.split(":", 1) for ln in status.splitlines()
                      if ":" in ln)
        assert fields["Uid"].split()[:3] == ["65534"] * 3, fields["Uid"]
        assert fields["NoNewPrivs"].strip() == "1"
        assert fields["Seccomp"].strip() == "2"
        # DNS and an MTA-STS fetch (libcurl, a worker thread) under the
        # filter
        assert p.query("dane-ee.example") == "OK dane-only"
        assert p.query("sts-enforce.example").startswith("OK secure ")
    finally:
        assert p.stop() == 0
        shutil.rmtree(cadir)


def test_request_answered_at_once_keeps_connection(policy):
    # a 70-byte label: the engine refuses the name before any lookup, so
    # the answer comes back inside the request; the connection must go on
    s = policy.connect(30)
    bad = "a" * 70 + ".example"
    s.sendall(netstring("policy " + bad) + netstring("policy dane-ee.example"))
    assert read_netstring(s) == "NOTFOUND "
    assert read_netstring(s) == "OK dane-only"
    s.sendall(netstring("policy " + bad))
    assert read_netstring(s) == "NOTFOUND "
    s.sendall(netstring("policy no-tlsa.example"))
    assert read_netstring(s) == "NOTFOUND "
    s.close()


def test_pidfile_written(world, tmp_path):
    # pidfile: is documented (danegate-policy(8)) and used to be ignored
    pidfile = tmp_path / "policy.pid"
    p = policysys.Policy(world, tmp_path, [dgsys.addr("1.62") + "@10028"],
                         extra=["pidfile: %s" % pidfile])
    p.start()
    try:
        assert pidfile.read_text() == "%d\n" % p.proc.pid
    finally:
        assert p.stop() == 0
