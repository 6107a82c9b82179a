"""danegated with its surroundings: a non-validating upstream (forwarding
mode), systemd's notify protocol and watchdog, and socket activation.

Addresses: NET.1.20-29 (see dgsys.addr)."""
import os
import signal
import socket
import subprocess
import time

import dns.flags
import dns.name
import dns.rdatatype
import dns.rcode
import pytest

import dgsys
from dgsys import addr, mkq, udp

UPSTREAM_ADDR = addr("1.20")
FORWARDER_ADDR = addr("1.21")
NOTIFY_ADDR = addr("1.22")
ACTIVATED_ADDR = addr("1.23")
UNUSED_ADDR = addr("1.24")


@pytest.fixture
def plain_upstream(world, tmp_path):
    """An Unbound daemon that resolves the world WITHOUT validating (no
    trust anchor, iterator only): what a careless ISP resolver gives."""
    conf = tmp_path / "upstream.conf"
    hints = [ln for ln in world.fragment if ln.startswith("root-hints")]
    conf.write_text(
        "server:\n"
        "    interface: %s@53\n"
        "    access-control: 127.0.0.0/8 allow\n"
        "    username: \"\"\n    chroot: \"\"\n    directory: \"%s\"\n"
        "    pidfile: \"\"\n    use-syslog: no\n    num-threads: 1\n"
        "    do-not-query-localhost: no\n"
        "    module-config: \"iterator\"\n"
        "    %s\n" % (UPSTREAM_ADDR, tmp_path, hints[0]))
    proc = subprocess.Popen(["unbound", "-d", "-c", str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                r = udp(mkq("www.bogus.example", do=True), UPSTREAM_ADDR,
                        timeout=0.5)
                if r.rcode() == dns.rcode.NOERROR:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            assert time.monotonic() < deadline, "upstream unbound not up"
            time.sleep(0.2)
        yield UPSTREAM_ADDR
    finally:
        proc.terminate()
        proc.wait(10)


def forwarding_config(d, world, upstream):
    anchors = [ln for ln in world.fragment
               if ln.startswith("trust-anchor-file")]
    return ("server:\n"
            "    interface: %s@53\n"
            "    access-control: 127.0.0.0/8 allow\n"
            "    username: \"\"\n"
            "    do-not-query-localhost: no\n"
            "    %s\n"
            "remote-control:\n"
            "    control-enable: yes\n"
            "    control-interface: %s\n"
            "forward-zone:\n"
            "    name: \".\"\n"
            "    forward-addr: %s\n" % (d.addr, anchors[0], d.ctl_sock,
                                        upstream))


def test_forwarding_still_validates_locally(world, plain_upstream,
                                            tmp_path):
    # the upstream itself hands out the bogus record as if it were fine
    r = udp(mkq("www.bogus.example", do=True), plain_upstream)
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    d = dgsys.Danegated(world, tmp_path / "fwd", [FORWARDER_ADDR])
    text = forwarding_config(d, world, plain_upstream)
    d.config_text = lambda *a, **kw: text
    d.start()
    try:
        r = udp(mkq("www.secure.example", do=True), d.addr)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AD
        r = udp(mkq("www.insecure.example", do=True), d.addr)
        assert r.rcode() == dns.rcode.NOERROR
        assert not r.flags & dns.flags.AD
        r = udp(mkq("www.bogus.example", do=True), d.addr)
        assert r.rcode() == dns.rcode.SERVFAIL
        assert dgsys.ede_options(r), "bogus via forwarder: no EDE"
        # and the forwarder was really used: root hints are not configured
        assert "root-hints" not in d.conf.read_text()
    finally:
        assert d.stop() == 0


class NotifySocket:
    """The systemd side of sd_notify(3): a datagram socket to listen on."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def collect(self, seconds, until=None):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                continue
            if until and any(until in m for m in self.messages):
                return True
        return False

    def seen(self, word):
        return sum(1 for m in self.messages
                   for ln in m.split("\n") if ln == word)


def test_sd_notify_ready_watchdog_reload_stop(world, tmp_path):
    d = dgsys.Danegated(world, tmp_path / "notify", [NOTIFY_ADDR])
    d.write_config()
    n = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC="400000")
    proc = subprocess.Popen([dgsys.DANEGATED, "-d", "-c", str(d.conf)],
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert n.collect(15, until="READY=1"), n.messages
        # READY only after the trust anchor validated, with a status
        assert any(m.startswith("STATUS=") or "\nSTATUS=" in m
                   for m in n.messages)
        n.collect(1.2)
        # watchdog every WATCHDOG_USEC/2 = 0.2 s
        assert n.seen("WATCHDOG=1") >= 3, n.messages
        before = len(n.messages)
        proc.send_signal(signal.SIGHUP)
        n.collect(3, until="RELOADING=1")
        n.collect(2, until="READY=1")
        after = n.messages[before:]
        assert any("RELOADING=1" in m for m in after), after
        assert any("READY=1" in m for m in after), after
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        n.collect(0.5)
        assert n.seen("STOPPING=1") == 1, n.messages
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_socket_activation_uses_passed_socket(world, tmp_path):
    """systemd-socket-activate passes a UDP socket; danegated serves on it
    and does not bind its configured interface."""
    d = dgsys.Danegated(world, tmp_path / "activated", [UNUSED_ADDR])
    d.write_config()
    log = open(d.logfile, "ab")
    # it passes no environment unless told: keep the sanitizers' options
    passenv = ["-E", "ASAN_OPTIONS"] if "ASAN_OPTIONS" in os.environ else []
    proc = subprocess.Popen(
        ["systemd-socket-activate", "--datagram", *passenv,
         "-l", "%s:53" % ACTIVATED_ADDR,
         dgsys.DANEGATED, "-d", "-c", str(d.conf)],
        stdout=log, stderr=log, start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 20
        r = None
        while time.monotonic() < deadline:
            try:
                r = udp(mkq("www.secure.example", do=True), ACTIVATED_ADDR,
                        timeout=0.5)
                if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD:
                    break
            except Exception:  # noqa: BLE001 - still starting
                pass
            time.sleep(0.2)
        assert r is not None and r.flags & dns.flags.AD, r
        assert [rr.address for rr in r.answer[0]] == ["192.0.2.10"]
        # the configured interface was not bound
        with pytest.raises(Exception):
            udp(mkq("www.secure.example"), UNUSED_ADDR, timeout=0.5)
        assert "using 1 socket(s) from systemd" in d.log()
    finally:
        # systemd-socket-activate exec()s danegated in its own process
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


LOCAL_ADDR = addr("1.25")
WRONG_ANCHOR_ADDR = addr("1.26")


def test_local_data_answers_from_inside_the_resolve_call(danegated):
    """libunbound answers local data inside ub_resolve_event() itself: the
    query must be complete before the call and answered exactly once."""
    d = danegated([LOCAL_ADDR], extra=[
        'local-data: "relay.corp.example. A 192.0.2.99"',
        'local-zone: "blocked.example." refuse',
        'local-zone: "test." nodefault'])
    for _ in range(3):      # first from libunbound, then from the cache
        r = udp(mkq("relay.corp.example", do=True), d.addr)
        assert r.rcode() == dns.rcode.NOERROR
        assert [rr.address for rr in r.answer[0]] == ["192.0.2.99"]
        assert not r.flags & dns.flags.AD      # local data is not signed
    r = udp(mkq("www.blocked.example"), d.addr)
    assert r.rcode() == dns.rcode.REFUSED
    # "test." is no longer answered locally (RFC 6761 default): it goes to
    # the world's root, whose SOA (not libunbound's local one) proves the
    # name does not exist
    r = udp(mkq("foo.test", do=True), d.addr)
    assert r.rcode() == dns.rcode.NXDOMAIN
    soa = [rrset for rrset in r.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert soa and soa[0].name == dns.name.root, r.authority


def test_wrong_trust_anchor_never_reports_ready(world, tmp_path):
    """An anchor that matches no key must not look like a working
    resolver: no READY=1, a STATUS saying why, and secure names fail."""
    bad_anchor = tmp_path / "wrong.key"
    real = world.dir / "root.key"
    fields = real.read_text().split()
    digest = fields[-1]
    fields[-1] = ("0" if digest[0] != "0" else "1") + digest[1:]
    bad_anchor.write_text(" ".join(fields) + "\n")
    d = dgsys.Danegated(world, tmp_path / "wrong", [WRONG_ANCHOR_ADDR])
    text = d.config_text().replace(str(real), str(bad_anchor))
    assert str(bad_anchor) in text
    d.conf.write_text(text)
    n = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=n.path)
    log = open(d.logfile, "ab")
    proc = subprocess.Popen([dgsys.DANEGATED, "-d", "-c", str(d.conf)],
                            env=env, stdout=log, stderr=log)
    log.close()
    try:
        assert not n.collect(6, until="READY=1"), n.messages
        assert any("STATUS=not ready: trust anchor check failed" in m
                   for m in n.messages), n.messages
        r = udp(mkq("www.secure.example", do=True), d.addr)
        assert r.rcode() == dns.rcode.SERVFAIL
        assert "not ready" in d.log()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


TCP_LIMITS_ADDR = addr("1.27")


def test_tcp_idle_timeout_and_connection_cap(danegated):
    """RFC 7766: an idle connection is closed after tcp-idle-timeout; past
    incoming-num-tcp connections, a new one is closed at once when every
    open one is busy (here: a message begun), while the open ones keep
    working. (With an idle one open, the oldest idle one makes room:
    test_tcp_limits.py.)"""
    d = danegated([TCP_LIMITS_ADDR], extra=["tcp-idle-timeout: 400",
                                            "incoming-num-tcp: 2"])
    q = mkq("www.secure.example", do=True)
    wire = len(q.to_wire()).to_bytes(2, "big") + q.to_wire()
    first = socket.create_connection((d.addr, 53), timeout=5)
    second = socket.create_connection((d.addr, 53), timeout=5)
    try:
        # both busy: a message has begun on each
        first.sendall(wire[:1])
        second.sendall(wire[:1])
        time.sleep(0.1)          # both accepted and read before the third
        third = socket.create_connection((d.addr, 53), timeout=5)
        try:
            third.settimeout(2)
            # refused by closing: a query on it gets EOF (or a reset),
            # never an answer (which a served connection would get)
            try:
                third.sendall(wire)
                got = third.recv(512)
            except (ConnectionResetError, BrokenPipeError):
                got = b""
            assert got == b"", "third connection over the cap was served"
        finally:
            third.close()
        # the two within the cap still answer
        for s in (first, second):
            s.sendall(wire[1:])
            r = dgsys.tcp_read_msg(s)
            assert r is not None and len(r) > 12
        assert int(d.stats()["tcp.rejected"]) >= 1
        # now idle: closed within the timeout (plus slack), not before
        start = time.monotonic()
        first.settimeout(5)
        assert first.recv(512) == b""
        waited = time.monotonic() - start
        assert 0.2 < waited < 3, waited
    finally:
        first.close()
        second.close()
