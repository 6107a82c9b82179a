"""The front answer cache against the world (zone ttl.example., issue 6):
an answer lives no longer than the smallest TTL of everything libunbound
returned with it (a wildcard's NSEC proof, TTL 6, included, also for a
DO=0 client that does not see it), a TTL-0 answer is never kept, served
TTLs only go down; and serve-stale (serve-expired: yes) answers from the
cache with EDE 3 when the zone's authoritative server is stopped."""
import contextlib
import os
import signal
import subprocess
import time
import uuid

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from dgsys import addr, ede_options, mkq, rrsets_of_type, udp

AD = dns.flags.AD


def ttls(msg):
    return [rr.ttl for rr in msg.answer + msg.authority]


def unique(label):
    """A fresh name under the wildcard: never in any cache yet."""
    return "%s-%s.wild.ttl.example." % (label, uuid.uuid4().hex[:8])


def counters(d):
    s = d.stats()
    return s["num.cachehits"], s["num.cachemiss"]


def test_wildcard_answer_lives_no_longer_than_its_proof(danegated):
    d = danegated([addr("1.58")])
    for do in (False, True):
        name = unique("do%d" % do)
        r = udp(mkq(name, "A", do=do), d.addr)
        assert r.rcode() == dns.rcode.NOERROR, r
        assert rrsets_of_type(r.answer, "A")[0].ttl <= 3600, r
        if do:
            # the proof that no closer name exists, TTL 6 (SOA minimum)
            nsec = rrsets_of_type(r.authority, "NSEC")
            assert nsec and nsec[0].ttl <= 6, r
        hits, miss = counters(d)
        r = udp(mkq(name, "A", do=do), d.addr)
        assert counters(d) == (hits + 1, miss), "not cached at all"
        # After the proof's TTL the answer must come from libunbound
        # again (it used to stay in the front cache for 3600 s).
        time.sleep(7)
        r = udp(mkq(name, "A", do=do), d.addr)
        assert r.rcode() == dns.rcode.NOERROR, r
        assert counters(d) == (hits + 1, miss + 1), \
            "DO=%d: served from the front cache after its NSEC expired" % do
        assert all(t <= 3600 for t in ttls(r)), r


def test_zero_ttl_answer_is_never_cached(danegated):
    d = danegated([addr("1.58")])
    for _ in range(2):
        hits, miss = counters(d)
        r = udp(mkq("zero.ttl.example.", "A", do=True), d.addr)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & AD, r
        assert rrsets_of_type(r.answer, "A")[0].ttl == 0, r
        assert counters(d) == (hits, miss + 1)


def test_served_ttls_never_rise(danegated):
    d = danegated([addr("1.58")])
    name = unique("ttl")
    seen = None
    for _ in range(4):
        r = udp(mkq(name, "A", do=True), d.addr)
        t = rrsets_of_type(r.answer, "A")[0].ttl
        assert t <= 3600, r
        assert seen is None or t <= seen, (seen, t)
        seen = t
        time.sleep(0.6)


@contextlib.contextmanager
def leaf_nsd_stopped(world):
    """Stops the world's leaf NSD (it serves ttl.example.); starts it again
    and waits until it answers, whatever happens inside."""
    sdir = world.dir / "nsd" / "leaf"
    pid = int((sdir / "nsd.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("leaf NSD (pid %d) did not stop" % pid)
    try:
        yield
    finally:
        # no pipes: the daemon must hold nothing of pytest's open
        rc = subprocess.call(["nsd", "-c", str(sdir / "nsd.conf")],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, timeout=30)
        assert rc == 0, "leaf NSD did not start again; see %s" % (
            sdir / "nsd.log")
        leaf = world.env["WORLD_LEAF_ADDR"]
        deadline = time.monotonic() + 20
        while True:
            try:
                q = dns.message.make_query("ttl.example.", "SOA")
                q.flags &= ~dns.flags.RD
                if dns.query.udp(q, leaf, timeout=0.5).rcode() == \
                        dns.rcode.NOERROR:
                    break
            except (dns.exception.Timeout, OSError):
                pass
            assert time.monotonic() < deadline, "leaf NSD did not return"
            time.sleep(0.2)


def assert_stale(r, rdtype="A"):
    assert r.rcode() == dns.rcode.NOERROR, r
    assert r.flags & AD, ("a secure stale answer keeps AD", r)
    assert [o.code for o in ede_options(r)] == [3], r   # Stale Answer
    assert rrsets_of_type(r.answer, rdtype), r
    assert set(ttls(r)) == {30}, r                      # reply TTL


def test_serve_stale_when_the_authority_is_down(world, danegated):
    d = danegated([addr("1.59")], extra=[
        "serve-expired: yes",
        "serve-expired-client-timeout: 1500"])
    r = udp(mkq("short.ttl.example.", "A", do=True), d.addr)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & AD, r
    assert not ede_options(r), r
    assert all(t <= 2 for t in ttls(r)), r
    with leaf_nsd_stopped(world):
        time.sleep(3)           # expired in both caches
        # libunbound cannot reach the zone: after the client timeout the
        # stale answer, then (failure known) at once
        for _ in range(2):
            t0 = time.monotonic()
            r = udp(mkq("short.ttl.example.", "A", do=True), d.addr,
                    timeout=8)
            assert_stale(r)
            assert time.monotonic() - t0 < 5, "stale answer too late"
        # DO=0 has its own entry, and none was stored: no stale answer
        # to give (SERVFAIL or silence while libunbound gives up)
        try:
            r = udp(mkq("short.ttl.example.", "A"), d.addr, timeout=3)
            assert not ede_options(r) or \
                3 not in [o.code for o in ede_options(r)], r
        except dns.exception.Timeout:
            pass
    # the authority is back: fresh answers again, no EDE
    deadline = time.monotonic() + 30
    while True:
        r = udp(mkq("short.ttl.example.", "A", do=True), d.addr, timeout=8)
        if not ede_options(r):
            break
        assert time.monotonic() < deadline, ("still stale", r)
        time.sleep(1)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & AD, r
    assert all(t <= 2 for t in ttls(r)), r
