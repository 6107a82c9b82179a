"""TCP cannot be denied to everyone (issue 6, section 3; RFC 7766
section 6.2.3): a message must arrive whole within tcp-read-timeout
(slowloris), answers must make progress within tcp-write-timeout (a
pipelining client that never reads), one address holds at most
tcp-connections-per-client connections, and under pressure the oldest
idle connection makes room for a new client.

Every client runs on loopback from NET.2.x source addresses; every test is
bounded in time (the longest about 15 s).
"""
import socket
import time

import dns.flags
import dns.message
import dns.rcode

import dgsys
from dgsys import addr, mkq, udp

SLOW_ADDR = addr("1.52")
PIPE_ADDR = addr("1.53")
ONE_ADDR = addr("1.54")
EVICT_ADDR = addr("1.55")


def framed(name="www.secure.example", qid=None):
    w = mkq(name, do=True, qid=qid).to_wire()
    return len(w).to_bytes(2, "big") + w


def connect(server, source, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((server, 53))
    return s


def served(server, source, timeout=2):
    """A fresh connection from source gets an answer to one query."""
    try:
        with connect(server, source, timeout) as s:
            s.sendall(framed())
            r = dns.message.from_wire(dgsys.tcp_read_msg(s))
            return r.rcode() == dns.rcode.NOERROR
    except (OSError, EOFError):
        return False


def closed_by_server(s, timeout=5):
    """True if the server closed s (EOF or reset) within timeout; data
    still in flight is read and thrown away."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if s.recv(65536) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def wait_stat(d, key, pred, timeout):
    deadline = time.monotonic() + timeout
    while True:
        v = int(d.stats().get(key, -1))
        if pred(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.2)


def test_slowloris_cannot_hold_the_connections(danegated):
    """incoming-num-tcp connections each sending one byte every half
    second: each message has tcp-read-timeout (default 5 s) to arrive
    whole, so they are closed and a new client is served within that, not
    after tcp-idle-timeout (30 s) of trickling bytes."""
    d = danegated([SLOW_ADDR], extra=["incoming-num-tcp: 10"])
    wire = framed()
    slow = [connect(d.addr, addr("2.1")) for _ in range(10)]
    try:
        start = time.monotonic()
        for s in slow:
            s.send(wire[:1])
        sent = 1
        time.sleep(0.2)
        # busy, not idle: none of them makes room
        assert not served(d.addr, addr("2.2"), timeout=1)
        ok_after = None
        while time.monotonic() - start < 9:
            for s in slow:
                try:
                    s.send(wire[sent % 2:sent % 2 + 1])   # never whole
                except OSError:
                    pass
            sent += 1
            if served(d.addr, addr("2.2"), timeout=0.4):
                ok_after = time.monotonic() - start
                break
            time.sleep(0.5)
        assert ok_after is not None, d.stats()
        assert ok_after < 8, ok_after
        assert all(closed_by_server(s, 2) for s in slow)
    finally:
        for s in slow:
            s.close()


def test_pipelining_client_that_never_reads_is_closed(danegated):
    """A client pipelines queries and never reads its answers: once the
    answers stop moving for tcp-write-timeout (default 10 s) the
    connection is closed, instead of held open for ever."""
    d = danegated([PIPE_ADDR])
    r = udp(mkq("www.secure.example", do=True), d.addr)   # now cached
    assert r.flags & dns.flags.AD
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((addr("2.3"), 0))
    s.settimeout(5)
    s.connect((d.addr, 53))
    try:
        batch = framed() * 64
        s.settimeout(0.2)
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < 4 and sent < 40000:
            try:
                s.sendall(batch)
                sent += 64
            except socket.timeout:
                break           # danegated stopped reading: back-pressure
        assert sent >= 64
        assert int(d.stats()["tcp.open"]) == 1
        # closed within the write timeout (plus slack), answers unread
        left = wait_stat(d, "tcp.open", lambda v: v == 0, 15)
        assert left == 0, d.stats()
        assert int(d.stats()["tcp.timeout.write"]) == 1
        assert closed_by_server(s, 5)
    finally:
        s.close()


def test_one_address_cannot_fill_the_cap(danegated):
    """One address opens 100 idle connections (incoming-num-tcp's
    default): it keeps at most tcp-connections-per-client (default 32),
    its own oldest idle ones make room for its newest, and another client
    is served at once."""
    d = danegated([ONE_ADDR])
    hog = []
    try:
        for _ in range(100):
            hog.append(connect(d.addr, addr("2.4")))
        time.sleep(0.3)
        st = d.stats()
        assert int(st["tcp.open"]) == 32, st
        assert int(st["tcp.evicted"]) == 68, st
        assert served(d.addr, addr("2.5"))
        # the newest of the hog's connections are the ones kept
        hog[-1].sendall(framed())
        assert len(dgsys.tcp_read_msg(hog[-1])) > 12
        assert closed_by_server(hog[0], 2)
    finally:
        for s in hog:
            s.close()


def test_oldest_idle_connection_makes_room(danegated):
    """At incoming-num-tcp, a new client gets the place of the connection
    that has been idle longest; the others keep working."""
    d = danegated([EVICT_ADDR], extra=["incoming-num-tcp: 6"])
    conns = []
    try:
        for i in range(6):
            conns.append(connect(d.addr, addr("2.%d" % (6 + i % 3))))
            time.sleep(0.02)
        # all but the first have been active since
        for s in conns[1:]:
            s.sendall(framed())
            assert len(dgsys.tcp_read_msg(s)) > 12
        assert served(d.addr, addr("2.9"))
        assert closed_by_server(conns[0], 2)
        for s in conns[1:]:
            s.sendall(framed())
            assert len(dgsys.tcp_read_msg(s)) > 12
        st = d.stats()
        assert int(st["tcp.evicted"]) >= 1 and int(st["tcp.rejected"]) == 0
    finally:
        for s in conns:
            s.close()


RESUME_ADDR = addr("1.57")


def test_pipelined_queries_past_the_per_connection_limit(danegated):
    """80 uncached queries in one segment: danegated works on 64 at a time
    and stops reading; the 16 already in its input buffer must be answered
    when it resumes, without the client sending anything more."""
    d = danegated([RESUME_ADDR])
    wire = b"".join(framed("p%d.bulk.example" % i, qid=i) for i in range(80))
    with connect(d.addr, addr("2.12"), timeout=10) as s:
        s.sendall(wire)
        ids = set()
        for _ in range(80):
            r = dns.message.from_wire(dgsys.tcp_read_msg(s))
            ids.add(r.id)
        assert ids == set(range(80))
