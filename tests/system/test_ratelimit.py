"""ip-ratelimit: queries per second per client address."""
import socket
import time

import dns.message
import dns.rcode

from dgsys import addr, mkq, udp

LIMIT = 50
BURST = 300


def _align_to_second():
    """danegated counts per second of CLOCK_MONOTONIC_COARSE: start the
    burst just after such a second begins, so that it fits in one."""
    now = time.clock_gettime(getattr(time, "CLOCK_MONOTONIC_COARSE", 6))
    frac = now - int(now)
    time.sleep((1.0 - frac) + 0.05)


def test_ratelimit_burst(danegated):
    d = danegated([addr("1.6")], extra=["ip-ratelimit: %d" % LIMIT])
    udp(mkq("www.secure.example.", "A"), d.addr)       # cache it
    before = d.stats()
    time.sleep(1.1)                 # a fresh second for this client
    _align_to_second()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.connect((d.addr, 53))
        t0 = time.monotonic()
        for i in range(BURST):
            s.send(mkq("www.secure.example.", "A", qid=i + 1).to_wire())
        burst_time = time.monotonic() - t0
        ids = set()
        s.settimeout(0.5)
        while True:
            try:
                ids.add(dns.message.from_wire(s.recv(65535)).id)
            except socket.timeout:
                break
    assert burst_time < 0.8, "the burst took %.2f s" % burst_time
    after = d.stats()
    limited = after["num.ratelimited"] - before["num.ratelimited"]
    assert 1 <= len(ids) <= LIMIT + 10, (
        "%d of %d queries in %.3f s answered with ip-ratelimit: %d" %
        (len(ids), BURST, burst_time, LIMIT))
    assert len(ids) >= LIMIT - 5, (
        "only %d answered: the limit should let ~%d through" %
        (len(ids), LIMIT))
    assert limited > 0 and limited >= BURST - len(ids) - 5, (
        "num.ratelimited grew by %d" % limited)
    # a rate, not a ban: the next second answers again
    time.sleep(1.1)
    r = udp(mkq("www.secure.example.", "A"), d.addr, timeout=2)
    assert r.rcode() == dns.rcode.NOERROR


def test_no_ratelimit_by_default(dg):
    """The main instance has no limit: a burst of BURST is all answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.connect((dg.addr, 53))
        udp(mkq("www.secure.example.", "A"), dg.addr)
        for i in range(BURST):
            s.send(mkq("www.secure.example.", "A", qid=i + 1).to_wire())
        ids = set()
        s.settimeout(1.0)
        while len(ids) < BURST:
            try:
                ids.add(dns.message.from_wire(s.recv(65535)).id)
            except socket.timeout:
                break
    assert len(ids) == BURST
