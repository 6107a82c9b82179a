"""What danegated's answer writer (daemon/msg.c) sends, end to end: names
with repeated labels come back well-formed (the question intact, no
compression loop), a question compressed into the header is FORMERR, ANY
and RRSIG answers are one RRset (RFC 8482), and minimal-responses leaves
out what Unbound leaves out while keeping DNSSEC denial proofs."""
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dgsys import header, mkq, raw_udp, rrsets_of_type, rrsig_covering, udp


def strict_answer(wire, q):
    """Parses wire with dnspython (which refuses forward and looping
    compression pointers) and checks the question is the query's."""
    r = dns.message.from_wire(wire)
    assert len(r.question) == 1
    got = r.question[0]
    want = q.question[0]
    assert got.name.to_wire() == want.name.to_wire()
    assert (got.rdtype, got.rdclass) == (want.rdtype, want.rdclass)
    return r


# names whose labels repeat: "s.s." was once compressed into a loop and
# its question overwritten ("got s.s/URI/CLASS256"); bulk.example has a
# signed wildcard, so bulk.bulk.example. is an expansion that repeats
@pytest.mark.parametrize("name,rdtype", [
    ("s.s.", "A"), ("a.a.a.", "A"), ("s.s.s.s.", "AAAA"),
    ("bulk.bulk.example.", "MX"), ("x.x.bulk.example.", "MX"),
    ("example.example.", "A"),
])
def test_repeated_labels_well_formed(dg, name, rdtype):
    for do in (False, True):
        q = mkq(name, rdtype, do=do)
        # the first answer comes from libunbound, the rest from the cache
        for _ in range(20):
            wire = raw_udp(q.to_wire(), dg.addr)
            assert wire is not None
            r = strict_answer(wire, q)
            assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
    if name.endswith("bulk.example."):
        r = udp(mkq(name, rdtype, do=True), dg.addr)
        assert r.flags & dns.flags.AD
        assert rrsets_of_type(r.answer, "MX"), r


def test_question_pointer_into_header_formerr(dg):
    # the pointer at offset 12 points to offset 0: the header's bytes
    # would read as the name "a.\000."
    pkt = bytes.fromhex("016101000001000000000000c00000010001")
    wire = raw_udp(pkt, dg.addr)
    assert wire is not None
    assert header(wire)[1] & 0xf == dns.rcode.FORMERR


def covered_types(section):
    return {rd.type_covered for rr in section
            if rr.rdtype == dns.rdatatype.RRSIG for rd in rr}


@pytest.mark.parametrize("name", [".", "secure.example."])
def test_any_is_one_rrset(dg, name):
    # fill libunbound's cache with several types at the name first
    for t in ("SOA", "NS", "MX", "A"):
        udp(mkq(name, t, do=True), dg.addr)
    q = mkq(name, "ANY", edns=False)
    wire = raw_udp(q.to_wire(), dg.addr)
    r = strict_answer(wire, q)
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.answer) == 1, r
    assert not r.authority and not r.additional, r
    assert not rrsets_of_type(r.answer, "RRSIG"), "DO=0 gets no RRSIG"
    assert len(wire) <= 512
    # DO=1: the same RRset with its signatures
    r = udp(mkq(name, "ANY", do=True), dg.addr)
    types = {rr.rdtype for rr in r.answer} - {dns.rdatatype.RRSIG}
    assert len(types) == 1, r
    assert covered_types(r.answer) == types


def test_rrsig_query_one_type_covered(dg):
    q = mkq(".", "RRSIG", edns=False)
    wire = raw_udp(q.to_wire(), dg.addr)
    r = strict_answer(wire, q)
    assert r.rcode() == dns.rcode.NOERROR
    assert len(covered_types(r.answer)) == 1, r
    assert not r.authority and not r.additional
    # the issue measured 23 times the query's size
    assert len(wire) < 12 * len(q.to_wire()), len(wire)


def test_minimal_positive_answer(dg):
    r = udp(mkq("www.secure.example.", "A", do=True), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert rrsets_of_type(r.answer, "A")
    assert not r.authority, r
    assert not r.additional, r


@pytest.mark.parametrize("name,ntype", [
    ("nx-minimal.secure.example.", "NSEC"),
    ("nx-minimal.nsec3.internal.", "NSEC3"),
])
def test_minimal_keeps_denial_proofs(dg, name, ntype):
    r = udp(mkq(name, "A", do=True), dg.addr)
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.flags & dns.flags.AD
    assert rrsets_of_type(r.authority, "SOA"), r
    assert rrsets_of_type(r.authority, ntype), r
    assert rrsig_covering(r.authority, ntype), r
    assert not r.additional, r


@pytest.mark.parametrize("name", ["secure.example.", "two-mx.example."])
def test_minimal_mx_without_additional(dg, name):
    # libunbound returns the MX hosts' addresses and their RRSIGs as
    # additional data (436 bytes for secure.example. with DO=1); Unbound
    # leaves them out of a positive answer, and so does danegated now
    q = mkq(name, "MX", do=True, payload=512)
    wire = raw_udp(q.to_wire(), dg.addr)
    r = strict_answer(wire, q)
    assert not r.flags & dns.flags.TC
    assert rrsets_of_type(r.answer, "MX") and rrsig_covering(r.answer, "MX")
    assert not r.authority and not r.additional, r
    assert len(wire) < 300, len(wire)
