"""danegate-relay's per-destination connection limit (issue 7, "Connection
reuse"; destination-concurrency-limit:), against the world's real receiving
Postfix.

The receiver's service for mx.dane-ee.example is made to allow one client
address N connections at a time (smtpd_client_connection_count_limit = N,
and no exception for 127.0.0.0/8, which is in its mynetworks): a relay that
opens more gets Postfix's own "421 4.7.0 Error: too many connections" and
the client a 4xx. With destination-concurrency-limit: N, 3N concurrent
client sessions must all be delivered, each message exactly once, while
the receiver never has more than N connections open (its established
sockets, sampled from /proc/net/tcp, and its log: no "Connection
concurrency limit exceeded"). A transaction that finds no connection free
within destination-concurrency-wait: gets 451 4.4.5.

Addresses: NET.5.12 port 2525 (the relay).
"""
import smtplib
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import dgsys
from test_relay_e2e import (  # noqa: F401 (fixture)
    mailworld, start_relay, sink_copies, RawClient, SMTP_PORT, FROM)

ADDR = dgsys.addr("5.12")
DOMAIN = "dane-ee.example"
RCPT = "test@" + DOMAIN
LIMIT = 3


def _postconf(world, *args):
    conf = world.env["WORLD_POSTFIX_CONFIG"]
    subprocess.run(["postconf", "-c", conf] + list(args), check=True,
                   capture_output=True)


def _reload(world):
    subprocess.run(["postfix", "-c", world.env["WORLD_POSTFIX_CONFIG"],
                    "reload"], check=True, capture_output=True)
    time.sleep(1.5)     # the master restarts the smtpd processes


@pytest.fixture
def limited_receiver(mailworld):
    """mx.dane-ee.example's smtpd: at most LIMIT connections per client
    address; restored afterwards."""
    svc = "%s:25/inet" % mailworld.env["WORLD_SMTP_DANE_EE"]
    params = ["smtpd_client_connection_count_limit=%d" % LIMIT,
              "smtpd_client_event_limit_exceptions="]
    _postconf(mailworld, "-P", *["%s/%s" % (svc, p) for p in params])
    _reload(mailworld)
    try:
        yield mailworld
    finally:
        _postconf(mailworld, "-PX", *["%s/%s" % (svc, p.split("=")[0])
                                      for p in params])
        _reload(mailworld)


def _hexaddr(addr, port):
    a = socket.inet_aton(addr)
    return "%08X:%04X" % (int.from_bytes(a, "little"), port)


class ReceiverSockets(threading.Thread):
    """Samples the receiver's established sockets on MX:25 (local address
    MX:25, state 01) every few milliseconds; .peak is the most seen."""

    def __init__(self, mx):
        super().__init__(daemon=True)
        self.local = _hexaddr(mx, 25)
        self.peak = 0
        self.stop = threading.Event()

    def count(self):
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for ln in f:
                fields = ln.split()
                if fields[1] == self.local and fields[3] == "01":
                    n += 1
        return n

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.count())
            time.sleep(0.005)


def _send(mid):
    with smtplib.SMTP(ADDR, SMTP_PORT, timeout=120) as s:
        s.sendmail(FROM, [RCPT], "From: <%s>\r\nTo: <%s>\r\nMessage-ID: "
                   "<%s>\r\n\r\nconcurrency test\r\n" % (FROM, RCPT, mid))


def _maillog_tail(world, offset):
    with open(world.env["WORLD_POSTFIX_LOG"], errors="replace") as f:
        f.seek(offset)
        return f.read()


def test_limit_holds_and_every_message_arrives_once(limited_receiver,
                                                    tmp_path):
    world = limited_receiver
    log = Path(world.env["WORLD_POSTFIX_LOG"])
    r = start_relay(world, tmp_path / "r", ADDR, [
        "destination-concurrency-limit: %d" % LIMIT])
    sampler = ReceiverSockets(world.env["WORLD_SMTP_DANE_EE"])
    sessions, per_session = 3 * LIMIT, 3
    mids = ["conc.%d.%d.%s@client.example" % (i, j, uuid.uuid4().hex)
            for i in range(sessions) for j in range(per_session)]
    errors = []
    try:
        offset = log.stat().st_size
        sampler.start()

        def client(i):
            for mid in mids[i * per_session:(i + 1) * per_session]:
                try:
                    _send(mid)
                except (smtplib.SMTPException, OSError) as e:
                    errors.append((mid, repr(e)))

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
                sink_copies(world, DOMAIN, m) == 0 for m in mids):
            time.sleep(0.3)
        time.sleep(1.0)
        sampler.stop.set()
        sampler.join(5)
        copies = {m: sink_copies(world, DOMAIN, m) for m in mids}
        received = _maillog_tail(world, offset)
        relay_log = r.log()
        assert not errors, (errors[:5], relay_log[-3000:])
        assert all(n == 1 for n in copies.values()), \
            sorted(n for n in copies.values())
        assert "Connection concurrency limit exceeded" not in received, \
            received[-3000:]
        assert "too many connections" not in received
        assert 1 <= sampler.peak <= LIMIT, sampler.peak
        # sessions were handed from one transaction to the next
        assert relay_log.count("status=sent") >= len(mids)
    finally:
        sampler.stop.set()
        assert r.stop() == 0, r.log()[-3000:]


def test_wait_ends_in_451(limited_receiver, tmp_path):
    """With the only connection held mid-DATA, a second transaction
    waits destination-concurrency-wait: and gets 451 4.4.5; the first is
    then delivered."""
    world = limited_receiver
    r = start_relay(world, tmp_path / "r", ADDR, [
        "destination-concurrency-limit: 1",
        "destination-concurrency-wait: 2"])
    first = None
    try:
        first = RawClient(r, ADDR)
        mid = "held.%s@client.example" % uuid.uuid4().hex
        first.start_data(RCPT)
        with smtplib.SMTP(ADDR, SMTP_PORT, timeout=60) as s:
            s.ehlo()
            s.mail(FROM)
            t0 = time.monotonic()
            code, text = s.rcpt(RCPT)
            took = time.monotonic() - t0
        assert code == 451 and text.startswith(b"4.4.5"), (code, text)
        assert 1.5 <= took < 10, took
        first.s.sendall(("From: <%s>\r\nMessage-ID: <%s>\r\n\r\nheld\r\n"
                         % (FROM, mid)).encode())
        first.cmd(".", "250")
        deadline = time.monotonic() + 20
        while sink_copies(world, DOMAIN, mid) == 0 and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert sink_copies(world, DOMAIN, mid) == 1
        assert "destination-concurrency-limit" in r.log()
    finally:
        if first is not None:
            first.close()
        assert r.stop() == 0, r.log()[-3000:]
