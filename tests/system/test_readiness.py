"""The trust anchor readiness probe (issue 6, section 2): a probe that
fails because the upstream is not answering yet must leave nothing behind
that clients then get (SERVFAIL from a remembered failure), must back off,
and `readiness-probe: no` reports READY as soon as the listeners are up.

Stops and restarts the world's root NSD for one test; it is running again
when the test ends, also when the test fails.
"""
import os
import re
import signal
import socket
import subprocess
import time

import dns.flags
import dns.rcode
import pytest

import dgsys
from dgsys import addr, mkq, udp

PROBE_ADDR = addr("1.50")
# with the root down, libunbound gives up on a query after its retries
# (about 19 s with its default timeouts); capping the timeout at 1 s makes
# that about 4 s, for a shorter test
FAST_FAIL = ["infra-cache-max-rtt: 1000"]
NO_PROBE_ADDR = addr("1.51")


class NotifySocket:
    """The systemd side of sd_notify(3)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
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


def root_answers(world, timeout=0.3):
    try:
        r = udp(mkq(".", "SOA", rd=False), world.env["WORLD_ROOT_ADDR"],
                timeout=timeout)
        return r.rcode() == dns.rcode.NOERROR
    except Exception:  # noqa: BLE001 - timeout, refused: not answering
        return False


class RootServer:
    """Stops the world's root NSD, and starts it again."""

    def __init__(self, world):
        self.world = world
        self.sdir = world.dir / "nsd" / "root"

    def stop(self):
        pid = int((self.sdir / "nsd.pid").read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        assert not root_answers(self.world), "root NSD still answers"

    def start(self):
        if root_answers(self.world):
            return
        r = dgsys.run(["nsd", "-c", str(self.sdir / "nsd.conf")],
                      timeout=20)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 10
        while not root_answers(self.world):
            assert time.monotonic() < deadline, "root NSD did not restart"
            time.sleep(0.05)


@pytest.fixture
def root_server(world):
    rs = RootServer(world)
    try:
        yield rs
    finally:
        rs.start()


def spawn(d, env):
    log = open(d.logfile, "ab")
    try:
        proc = subprocess.Popen([dgsys.DANEGATED, "-d", "-c", str(d.conf)],
                                env=env, stdout=log, stderr=log,
                                start_new_session=True)
    finally:
        log.close()
    dgsys._live_procs.add(proc)
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(15)
    dgsys._live_procs.discard(proc)
    return rc


def test_failed_probe_leaves_nothing_behind(world, root_server, tmp_path):
    """danegated starts while the root server is down: the probe fails.
    Once the root is back, the first client query for a secure name gets
    its answer with AD at once (no SERVFAIL remembered from the probe),
    and READY follows after the back-off."""
    d = dgsys.Danegated(world, tmp_path / "probe", [PROBE_ADDR],
                        extra=FAST_FAIL)
    d.write_config()
    n = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=n.path)
    root_server.stop()
    proc = spawn(d, env)
    try:
        assert d.wait_log(r"trust anchor check failed.*retrying in 1 s",
                          timeout=30), d.log()
        assert not n.collect(0.5, until="READY=1"), n.messages
        root_server.start()
        r = udp(mkq("www.secure.example", do=True), d.addr, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR, (r, d.log())
        assert r.flags & dns.flags.AD, r
        assert [rr.address for rr in r.answer[0]] == ["192.0.2.10"]
        # the probe retries on its own (1 s, 2 s, 4 s, ...) and succeeds
        assert n.collect(20, until="READY=1"), (n.messages, d.log())
        log = d.log()
        # backed off: never two retries 1 s apart after the first
        assert "retrying in 3 s" not in log
        assert "trust anchors validate: ready" in log
    finally:
        assert stop(proc) == 0, d.log()


def test_probe_backs_off_up_to_a_minute(world, root_server, tmp_path):
    """While the upstream stays down the probe waits 1, 2, 4, 8 s... and
    not a fixed 3 s."""
    d = dgsys.Danegated(world, tmp_path / "backoff", [PROBE_ADDR],
                        extra=FAST_FAIL)
    d.write_config()
    root_server.stop()
    proc = spawn(d, dict(os.environ))
    try:
        m = d.wait_log(r"retrying in 4 s", timeout=40)
        assert m, d.log()
        delays = [int(x) for x in
                  re.findall(r"retrying in (\d+) s", d.log())]
        # one line per failed round (one anchor): 1, 2, 4
        assert delays[:3] == [1, 2, 4], delays
    finally:
        assert stop(proc) == 0, d.log()


def test_readiness_probe_no_reports_ready_at_once(world, root_server,
                                                  tmp_path):
    """readiness-probe: no: READY=1 as soon as the listeners are up, even
    with the upstream down (a test harness, an air-gapped site); queries
    still validate once the upstream answers."""
    d = dgsys.Danegated(world, tmp_path / "noprobe", [NO_PROBE_ADDR],
                        extra=["readiness-probe: no"] + FAST_FAIL)
    d.write_config()
    n = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=n.path)
    root_server.stop()
    proc = spawn(d, env)
    try:
        assert n.collect(10, until="READY=1"), (n.messages, d.log())
        assert "trust anchor check failed" not in d.log()
        root_server.start()
        r = udp(mkq("www.secure.example", do=True), d.addr, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD, r
    finally:
        assert stop(proc) == 0, d.log()
