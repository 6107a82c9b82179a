"""The DNS front end: TCP pipelining, malformed packets, opcodes, zone
transfers, EDNS versions and options, and the question echoed exactly."""
import os
import random
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.update
import pytest

from dgsys import (header, mkq, raw_udp, tcp_read_msg, udp,
                   udp_socket)

QR = 0x8000


# ------------------------------------------------------------ pipelining --

def test_pipelined_tcp_all_answered(dg):
    # cached ones first
    warm = [("www.secure.example.", "A"), ("secure.example.", "MX"),
            ("www.insecure.example.", "A")]
    for name, t in warm:
        udp(mkq(name, t, do=True), dg.addr)
    tok = "%x%x" % (os.getpid(), int(time.time() * 1000) % 0xffffff)
    fresh = [("p%s-%d.secure.example." % (tok, i), "A", dns.rcode.NXDOMAIN)
             for i in range(5)]
    fresh += [("p%s-%d.nsec3.internal." % (tok, i), "TXT", dns.rcode.NXDOMAIN)
              for i in range(5)]
    fresh += [("www.nsec3.internal.", "TXT", dns.rcode.NOERROR),
              ("mx.secure.example.", "AAAA", dns.rcode.NOERROR),
              ("_dmarc.secure.example.", "TXT", dns.rcode.NOERROR),
              ("www.bogus.example.", "A", dns.rcode.SERVFAIL)]
    cached = [(n, t, dns.rcode.NOERROR) for n, t in warm] * 2
    plan = [x for pair in zip(cached, fresh) for x in pair]
    plan += fresh[len(cached):]
    assert len(plan) == 20
    ids = random.sample(range(1, 65535), len(plan))
    sent = {}
    data = b""
    for qid, (name, t, rc) in zip(ids, plan):
        q = mkq(name, t, do=True, qid=qid)
        w = q.to_wire()
        sent[qid] = (q, rc)
        data += struct.pack("!H", len(w)) + w
    answers = {}
    order = []
    with socket.create_connection((dg.addr, 53), timeout=10) as s:
        s.sendall(data)             # every query before reading anything
        for _ in plan:
            wire = tcp_read_msg(s)
            r = dns.message.from_wire(wire)
            assert r.id in sent, "answer with unknown ID %d" % r.id
            assert r.id not in answers, "two answers for ID %d" % r.id
            answers[r.id] = r
            order.append(r.id)
    assert set(answers) == set(sent)
    for qid, (q, rc) in sent.items():
        r = answers[qid]
        assert q.is_response(r), (q, r)
        assert r.rcode() == rc, (q.question, dns.rcode.to_text(r.rcode()))


def test_tcp_two_connections_interleaved(dg):
    """A slow query on one connection does not hold up another."""
    with socket.create_connection((dg.addr, 53), timeout=10) as a, \
            socket.create_connection((dg.addr, 53), timeout=10) as b:
        for s, name, qid in ((a, "www.secure.example.", 1),
                             (b, "www.nsec3.internal.", 2)):
            w = mkq(name, "A", qid=qid).to_wire()
            s.sendall(struct.pack("!H", len(w)) + w)
        for s, qid in ((b, 2), (a, 1)):
            r = dns.message.from_wire(tcp_read_msg(s))
            assert r.id == qid and r.rcode() == dns.rcode.NOERROR


# ------------------------------------------------------ malformed packets --

HDR_Q = struct.pack("!HHHHHH", 0x4d41, 0x0100, 1, 0, 0, 0)


def qname_wire(text):
    return dns.name.from_text(text).to_wire()


def question(text, qtype=1, qclass=1):
    return qname_wire(text) + struct.pack("!HH", qtype, qclass)


MALFORMED = {
    # name: (packet, expected: "FORMERR" | "silence")
    "empty": (b"", "silence"),
    "truncated-header-5": (b"\x4d\x41\x01\x00\x00", "silence"),
    "truncated-header-11": (HDR_Q[:11], "silence"),
    "header-only": (HDR_Q, "FORMERR"),
    "garbage": (HDR_Q + bytes(random.Random(7).randrange(256)
                                  for _ in range(40)), "FORMERR"),
    "label-past-end": (HDR_Q + b"\x3fwww", "FORMERR"),
    "label-type-0x40": (HDR_Q + b"\x43www\x00\x00\x01\x00\x01", "FORMERR"),
    "label-type-0x80": (HDR_Q + b"\x83www\x00\x00\x01\x00\x01", "FORMERR"),
    "name-too-long": (HDR_Q + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 +
                      b"\x3f" + b"c" * 63 + b"\x3f" + b"d" * 63 +
                      b"\x00\x00\x01\x00\x01", "FORMERR"),
    "no-root-label": (HDR_Q + b"\x03www\x06secure\x07example", "FORMERR"),
    "missing-qtype": (HDR_Q + qname_wire("www.secure.example."), "FORMERR"),
    "pointer-loop-self": (HDR_Q + b"\xc0\x0c\x00\x01\x00\x01", "FORMERR"),
    "pointer-loop-two": (HDR_Q + b"\xc0\x0e\xc0\x0c\x00\x01\x00\x01",
                         "FORMERR"),
    "pointer-forward": (HDR_Q + b"\xc0\x20" + b"\x00" * 30, "FORMERR"),
    "qdcount-0": (struct.pack("!HHHHHH", 0x4d41, 0x0100, 0, 0, 0, 0),
                  "FORMERR"),
    "qdcount-2": (struct.pack("!HHHHHH", 0x4d41, 0x0100, 2, 0, 0, 0) +
                  question("www.secure.example.") +
                  question("mx.secure.example."), "FORMERR"),
    "qdcount-2-one-present": (struct.pack("!HHHHHH", 0x4d41, 0x0100, 2, 0, 0,
                                          0) +
                              question("www.secure.example."), "FORMERR"),
    "arcount-past-end": (struct.pack("!HHHHHH", 0x4d41, 0x0100, 1, 0, 0, 1) +
                         question("www.secure.example."), "FORMERR"),
    "two-opt": (struct.pack("!HHHHHH", 0x4d41, 0x0100, 1, 0, 0, 2) +
                question("www.secure.example.") +
                b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00" * 2,
                "FORMERR"),
    "opt-rdlen-past-end": (struct.pack("!HHHHHH", 0x4d41, 0x0100, 1, 0, 0, 1)
                           + question("www.secure.example.") +
                           b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x20",
                           "FORMERR"),
    "response-qr1": (struct.pack("!HHHHHH", 0x4d41, 0x8180, 1, 0, 0, 0) +
                     question("www.secure.example."), "silence"),
    "response-qr1-garbage": (b"\x4d\x41\xff\xff" + b"\xff" * 30, "silence"),
}


@pytest.fixture(scope="module")
def warm_www(dg):
    r = udp(mkq("www.secure.example.", "A"), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_udp(dg, warm_www, case):
    pkt, want = MALFORMED[case]
    good = mkq("www.secure.example.", "A", qid=0x600d)
    with udp_socket(timeout=3) as s:
        s.connect((dg.addr, 53))
        s.send(pkt)
        s.send(good.to_wire())
        got_bad = None
        got_good = None
        # danegated handles datagrams in order and answers errors at once:
        # whatever comes for the bad packet comes before the good answer.
        deadline = time.monotonic() + 3
        while got_good is None and time.monotonic() < deadline:
            try:
                wire = s.recv(65535)
            except socket.timeout:
                break
            if len(wire) >= 2 and wire[:2] == b"\x60\x0d":
                got_good = wire
            else:
                got_bad = wire
        if want == "silence":
            s.settimeout(0.2)
            try:
                extra = s.recv(65535)
                if extra[:2] != b"\x60\x0d":
                    got_bad = got_bad or extra
            except socket.timeout:
                pass
    assert got_good is not None, "the next good query was not answered"
    r = dns.message.from_wire(got_good)
    assert r.rcode() == dns.rcode.NOERROR
    if want == "silence":
        assert got_bad is None, "expected silence, got %r" % got_bad[:40]
        return
    assert got_bad is not None, "expected FORMERR, got silence"
    qid, flags, *_ = header(got_bad)
    assert qid == 0x4d41, "ID not echoed"
    assert flags & QR
    assert flags & 0xf == dns.rcode.FORMERR, \
        "rcode %d, want FORMERR" % (flags & 0xf)


@pytest.mark.parametrize("case", ["garbage", "pointer-loop-self",
                                  "qdcount-2", "truncated-header-5",
                                  "response-qr1"])
def test_malformed_tcp(dg, warm_www, case):
    pkt, want = MALFORMED[case]
    good = mkq("www.secure.example.", "A", qid=0x600d).to_wire()
    with socket.create_connection((dg.addr, 53), timeout=5) as s:
        s.sendall(struct.pack("!H", len(pkt)) + pkt +
                  struct.pack("!H", len(good)) + good)
        first = tcp_read_msg(s)
        if want == "FORMERR":
            qid, flags, *_ = header(first)
            assert qid == 0x4d41 and flags & QR
            assert flags & 0xf == dns.rcode.FORMERR
            first = tcp_read_msg(s)
        assert first[:2] == b"\x60\x0d", "want the good answer, got %r" % (
            first[:40],)
        assert dns.message.from_wire(first).rcode() == dns.rcode.NOERROR


# ----------------------------------------------- opcodes, XFR, EDNS, case --

@pytest.mark.parametrize("opcode", ["NOTIFY", "UPDATE", "STATUS", "IQUERY"])
def test_other_opcodes_notimp(dg, opcode):
    if opcode == "UPDATE":
        q = dns.update.UpdateMessage("secure.example.")
        q.add("x.secure.example.", 300, "A", "192.0.2.99")
    else:
        q = dns.message.make_query("secure.example.", "SOA")
        q.set_opcode(dns.opcode.from_text(opcode))
        q.flags &= ~dns.flags.RD
    wire = raw_udp(q.to_wire(), dg.addr)
    assert wire is not None, "no answer to %s" % opcode
    qid, flags, *_ = header(wire)
    assert qid == q.id and flags & QR
    assert (flags >> 11) & 0xf == dns.opcode.from_text(opcode), \
        "opcode not echoed"
    assert flags & 0xf == dns.rcode.NOTIMP, \
        "%s: rcode %d, want NOTIMP" % (opcode, flags & 0xf)


def _ixfr_query():
    q = dns.message.make_query("secure.example.", "IXFR", use_edns=None)
    soa = dns.rrset.from_text("secure.example.", 0, "IN", "SOA",
                              "ns. host. 1 3600 900 86400 300")
    q.authority.append(soa)
    return q


@pytest.mark.parametrize("transport", ["udp", "tcp"])
# an IXFR query carries the client's SOA in authority (RFC 1995 §3): it
# must still be refused, not answered FORMERR
@pytest.mark.parametrize("kind", ["AXFR", "IXFR"])
def test_zone_transfer_refused(dg, kind, transport):
    q = _ixfr_query() if kind == "IXFR" else \
        dns.message.make_query("secure.example.", "AXFR")
    w = q.to_wire()
    if transport == "udp":
        wire = raw_udp(w, dg.addr)
    else:
        with socket.create_connection((dg.addr, 53), timeout=5) as s:
            s.sendall(struct.pack("!H", len(w)) + w)
            wire = tcp_read_msg(s)
    assert wire is not None
    qid, flags, qd, an, ns, ar = header(wire)
    assert qid == q.id and flags & QR
    assert flags & 0xf == dns.rcode.REFUSED, \
        "%s over %s: rcode %s, want REFUSED" % (
            kind, transport, dns.rcode.to_text(flags & 0xf))
    assert an == 0


def test_edns_version_1_badvers(dg):
    q = mkq("www.secure.example.", "A", version=1)
    r = udp(q, dg.addr)
    assert r.rcode() == dns.rcode.BADVERS, dns.rcode.to_text(r.rcode())
    assert r.edns == 0, "BADVERS answer must carry OPT version 0"
    assert not r.answer


def test_unknown_edns_option_ignored(dg):
    q = mkq("www.secure.example.", "A", do=True,
            options=[dns.edns.GenericOption(65001, b"danegate-test"),
                     dns.edns.GenericOption(0xfffe, b"")])
    r = udp(q, dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AD
    assert {x.to_text() for rr in r.answer for x in rr
            if rr.rdtype == dns.rdatatype.A} == {"192.0.2.10"}
    assert not [o for o in r.options if o.otype in (65001, 0xfffe)], \
        "unknown options must not be echoed"


@pytest.mark.parametrize("name,rdtype", [
    ("WwW.SeCuRe.ExAmPlE.", "A"),           # cached in lower case
    ("Mx.InSeCuRe.ExAmPlE.", "A"),          # probably not yet resolved
    ("NX.nsec3.INTERNAL.", "A"),            # negative
    ("WWW.BOGUS.example.", "A"),            # error answer
])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_question_echoed_exactly(dg, name, rdtype, transport):
    udp(mkq(name.lower(), rdtype), dg.addr)     # cache the lower-case form
    q = mkq(name, rdtype, do=True)
    w = q.to_wire()
    qlen = len(dns.name.from_text(name).to_wire()) + 4
    if transport == "udp":
        wire = raw_udp(w, dg.addr)
    else:
        with socket.create_connection((dg.addr, 53), timeout=5) as s:
            s.sendall(struct.pack("!H", len(w)) + w)
            wire = tcp_read_msg(s)
    assert wire is not None
    assert header(wire)[2] == 1
    assert wire[12:12 + qlen] == w[12:12 + qlen], (
        "question not echoed byte-for-byte: sent %r got %r" %
        (w[12:12 + qlen], wire[12:12 + qlen]))


def test_class_chaos_refused(dg):
    q = dns.message.make_query("version.bind.", "TXT", "CH")
    wire = raw_udp(q.to_wire(), dg.addr)
    assert wire is not None
    assert header(wire)[1] & 0xf == dns.rcode.REFUSED
