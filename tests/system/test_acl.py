"""access-control: clients outside the ACL get REFUSED (never an open
resolver), `deny` gets silence; from a second loopback address and from a
network namespace."""
import socket
import struct

import dns.exception
import dns.rcode
import pytest

from dgsys import addr, mkq, tcp, udp

ACL_ADDR = addr("1.2")          # this instance listens here ...
REFUSED_SRC = "127.99.0.1"      # ... refuses this source
DENIED_SRC = "127.98.0.1"       # ... and ignores this one


@pytest.fixture
def acl_dg(danegated, netns):
    ns = netns(0)               # 10.53.0.1 host side, 10.53.0.2 inside
    d = danegated([ACL_ADDR, ns.host_addr],
                  acl=["%s.0.0/16 allow" % ACL_ADDR.rsplit(".", 2)[0],
                       "127.0.0.0/8 refuse",
                       "127.98.0.0/16 deny"],
                  ready_source=ACL_ADDR)
    return d, ns


def test_allowed_source_answered(acl_dg):
    d, _ = acl_dg
    r = udp(mkq("www.secure.example.", "A"), d.addr, source=ACL_ADDR)
    assert r.rcode() == dns.rcode.NOERROR
    r = tcp(mkq("www.secure.example.", "A"), d.addr, source=ACL_ADDR)
    assert r.rcode() == dns.rcode.NOERROR


def test_second_loopback_address_refused(acl_dg):
    d, _ = acl_dg
    before = d.stats()["num.acl.refused"]
    for name in ("www.secure.example.", "nx.secure.example.",
                 "www.bogus.example."):
        r = udp(mkq(name, "A", do=True), d.addr, source=REFUSED_SRC)
        assert r.rcode() == dns.rcode.REFUSED, (name, r)
        assert not r.answer and not r.authority, r
        r = tcp(mkq(name, "A"), d.addr, source=REFUSED_SRC)
        assert r.rcode() == dns.rcode.REFUSED, (name, r)
        assert not r.answer
    # the default source (127.0.0.1) is in 127.0.0.0/8 refuse too
    r = udp(mkq("www.secure.example.", "A"), d.addr)
    assert r.rcode() == dns.rcode.REFUSED
    assert d.stats()["num.acl.refused"] >= before + 7


def test_network_namespace_refused(acl_dg):
    d, ns = acl_dg
    for extra in ([], ["+tcp"]):
        r = ns.exec(["dig", "+tries=1", "+time=2", "@" + ns.host_addr,
                     "www.secure.example.", "A"] + extra)
        assert "status: REFUSED" in r.stdout, (extra, r.stdout, r.stderr)
        assert "192.0.2.10" not in r.stdout
    # the same instance still answers an allowed client
    r = udp(mkq("www.secure.example.", "A"), d.addr, source=ACL_ADDR)
    assert r.rcode() == dns.rcode.NOERROR


def test_deny_is_silent(acl_dg):
    d, _ = acl_dg
    before = d.stats()["num.acl.dropped"]
    with pytest.raises(dns.exception.Timeout):
        udp(mkq("www.secure.example.", "A"), d.addr, timeout=1.5,
            source=DENIED_SRC)
    # TCP: the connection is closed without an answer
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((DENIED_SRC, 0))
    s.settimeout(3)
    got = b""
    try:
        s.connect((d.addr, 53))
        w = mkq("www.secure.example.", "A").to_wire()
        try:
            s.sendall(struct.pack("!H", len(w)) + w)
            got = s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
    except ConnectionRefusedError:
        pass
    except socket.timeout:
        pytest.fail("denied TCP client: connection neither closed nor "
                    "answered within 3 s")
    finally:
        s.close()
    assert got == b"", "denied client got an answer: %r" % got[:40]
    # alive, and it counted the drops
    r = udp(mkq("www.secure.example.", "A"), d.addr, source=ACL_ADDR)
    assert r.rcode() == dns.rcode.NOERROR
    assert d.stats()["num.acl.dropped"] >= before + 2


def test_main_instance_allows_loopback(dg):
    """The main instance's ACL (127.0.0.0/8 allow) answers any loopback
    source, including one another instance refuses."""
    r = udp(mkq("www.secure.example.", "A"), dg.addr, source=REFUSED_SRC)
    assert r.rcode() == dns.rcode.NOERROR
