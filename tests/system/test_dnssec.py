"""DNSSEC results through danegated: AD only for secure data, SERVFAIL with
an RFC 8914 Extended DNS Error for bogus data, DNSSEC records only for DO
clients, and the oversized answer (TC over UDP, full over TCP)."""
import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from dgsys import (ede_options, mkq, rrsets_of_type,
                   rrsig_covering, tcp, udp)

AD = dns.flags.AD
TC = dns.flags.TC


def a_addrs(msg, rdtype="A"):
    out = set()
    for rr in rrsets_of_type(msg.answer, rdtype):
        out |= {r.to_text() for r in rr}
    return out


# ---------------------------------------------------------------- secure --

@pytest.mark.parametrize("name,rdtype,want", [
    ("www.secure.example.", "A", "192.0.2.10"),
    ("www.secure.example.", "AAAA", "2001:db8::10"),
    ("secure.example.", "MX", "10 mx.secure.example."),
    ("www.nsec3.internal.", "A", "192.0.2.20"),
    ("_25._tcp.mx.secure.example.", "TLSA",
     "3 1 1 4f1f0159fcd841df78dffc676cebb8df861a971fd2c7c855cf8870dcbaee0d7d"),
])
def test_secure_with_do_has_ad(dg, name, rdtype, want):
    for attempt in ("resolved or cached", "cached"):
        r = udp(mkq(name, rdtype, do=True), dg.addr)
        assert r.rcode() == dns.rcode.NOERROR, (attempt, r)
        assert r.flags & AD, ("AD missing (%s)" % attempt, r)
        assert want in {x.lower() for x in a_addrs(r, rdtype)}, r


@pytest.mark.parametrize("edns", [True, False], ids=["edns", "noedns"])
def test_secure_with_ad_no_do_has_ad(dg, edns):
    """RFC 6840 §5.7: AD in the query asks for AD in the answer."""
    r = udp(mkq("www.secure.example.", "A", do=False, edns=edns, ad=True),
            dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & AD, r
    assert a_addrs(r) == {"192.0.2.10"}


def test_secure_without_do_or_ad_has_no_ad(dg):
    r = udp(mkq("www.secure.example.", "A", do=False, ad=False), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.flags & AD, r
    assert a_addrs(r) == {"192.0.2.10"}


@pytest.mark.parametrize("name,rdtype,rcode,ntype", [
    ("nx.secure.example.", "A", dns.rcode.NXDOMAIN, "NSEC"),
    ("www.secure.example.", "MX", dns.rcode.NOERROR, "NSEC"),
    ("nx.nsec3.internal.", "A", dns.rcode.NXDOMAIN, "NSEC3"),
    ("www.nsec3.internal.", "AAAA", dns.rcode.NOERROR, "NSEC3"),
], ids=["nxdomain-nsec", "nodata-nsec", "nxdomain-nsec3", "nodata-nsec3"])
def test_secure_denial_has_ad(dg, name, rdtype, rcode, ntype):
    for attempt in ("first", "again"):
        r = udp(mkq(name, rdtype, do=True), dg.addr)
        assert r.rcode() == rcode, (attempt, r)
        assert r.flags & AD, ("AD missing (%s)" % attempt, r)
        assert not r.answer, r
        # DO=1: the proof is in the authority section, signed
        assert rrsets_of_type(r.authority, ntype), r
        assert rrsig_covering(r.authority, ntype), r


# -------------------------------------------------------------- insecure --

@pytest.mark.parametrize("do,ad", [(True, False), (False, True)],
                         ids=["do", "ad"])
def test_insecure_has_no_ad(dg, do, ad):
    r = udp(mkq("www.insecure.example.", "A", do=do, ad=ad), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.flags & AD, r
    assert a_addrs(r) == {"192.0.2.30"}


# ----------------------------------------------------------------- bogus --

BOGUS = [
    # name, EDE codes that fit (RFC 8914)
    ("www.bogus.example.", {6}),            # DNSSEC Bogus (crypto failed)
    ("www.expired.example.", {7}),          # Signature Expired
    ("www.badds.example.", {6, 9}),         # Bogus / DNSKEY Missing
    ("www.nokey.example.", {6, 9}),         # Bogus / DNSKEY Missing
]


@pytest.mark.parametrize("name,codes", BOGUS, ids=[b[0] for b in BOGUS])
@pytest.mark.parametrize("do", [True, False], ids=["do", "nodo"])
def test_bogus_servfail_with_ede(dg, name, codes, do):
    for attempt in ("first", "again"):
        r = udp(mkq(name, "A", do=do), dg.addr)
        assert r.rcode() == dns.rcode.SERVFAIL, (attempt, r)
        assert not r.flags & AD, r
        assert not r.answer, r
        edes = ede_options(r)
        assert len(edes) == 1, ("want one EDE option (%s)" % attempt, r)
        assert int(edes[0].code) in codes, (
            "EDE %s for %s, want one of %s" % (int(edes[0].code), name,
                                               sorted(codes)))
        assert edes[0].text, "EDE EXTRA-TEXT is empty: %r" % edes[0]


@pytest.mark.parametrize("name", [b[0] for b in BOGUS])
def test_bogus_servfail_without_edns(dg, name):
    r = udp(mkq(name, "A", edns=False), dg.addr)
    assert r.rcode() == dns.rcode.SERVFAIL, r
    assert r.edns < 0, "no OPT record for a query without EDNS"
    assert not r.answer


def test_bogus_zone_rest_is_secure(dg):
    """Only www A is broken in bogus.example."""
    r = udp(mkq("bogus.example.", "SOA", do=True), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & AD


# ------------------------------------------------------ DNSSEC records --

def test_do1_answer_has_rrsig(dg):
    r = udp(mkq("www.secure.example.", "A", do=True), dg.addr)
    assert rrsig_covering(r.answer, "A"), r
    assert r.edns == 0 and r.ednsflags & dns.flags.DO, "DO not echoed"


@pytest.mark.parametrize("edns", [True, False], ids=["edns-do0", "noedns"])
@pytest.mark.parametrize("name,rdtype", [
    ("www.secure.example.", "A"),
    ("secure.example.", "MX"),
    ("nx.secure.example.", "A"),
    ("www.secure.example.", "MX"),
    ("nx.nsec3.internal.", "A"),
    ("www.nsec3.internal.", "AAAA"),
    ("chain.secure.example.", "A"),
])
def test_do0_answer_has_no_dnssec_records(dg, name, rdtype, edns):
    # make sure the signed version was seen (cached) first
    udp(mkq(name, rdtype, do=True), dg.addr)
    r = udp(mkq(name, rdtype, do=False, edns=edns), dg.addr)
    assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), r
    for section in (r.answer, r.authority, r.additional):
        for rr in section:
            assert rr.rdtype not in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC,
                                     dns.rdatatype.NSEC3), (
                "DO=0 answer contains %s" % rr)


def test_negative_do1_has_proof_do0_has_soa_only(dg):
    r1 = udp(mkq("nx.nsec3.internal.", "A", do=True), dg.addr)
    assert rrsets_of_type(r1.authority, "NSEC3"), r1
    r0 = udp(mkq("nx.nsec3.internal.", "A", do=False), dg.addr)
    assert [dns.rdatatype.to_text(rr.rdtype) for rr in r0.authority] == \
        ["SOA"], r0


def test_chain_secure(dg):
    r = udp(mkq("chain.secure.example.", "A", do=True), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & AD
    assert a_addrs(r) == {"192.0.2.10"}
    assert len(rrsets_of_type(r.answer, "CNAME")) == 2, r


# ------------------------------------------------------ oversized answer --

def test_big_answer_truncated_over_udp_full_over_tcp(dg):
    q = mkq("big.secure.example.", "TXT", do=True, payload=1232)
    r = udp(q, dg.addr, ignore_trunc=True)
    assert r.flags & TC, "TC=1 expected for a 1232-byte buffer: %s" % r
    assert r.rcode() == dns.rcode.NOERROR
    wire = r.to_wire()
    assert len(wire) <= 1232
    r = tcp(mkq("big.secure.example.", "TXT", do=True), dg.addr)
    assert not r.flags & TC
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & AD
    txt = rrsets_of_type(r.answer, "TXT")
    assert len(txt) == 1 and len(txt[0]) == 12, r
    assert rrsig_covering(r.answer, "TXT"), r
    assert len(r.to_wire()) > 1232


def test_big_answer_without_do_truncated_over_udp(dg):
    r = udp(mkq("big.secure.example.", "TXT", do=False, payload=1232),
            dg.addr, ignore_trunc=True)
    assert r.flags & TC, r
    r = udp(mkq("big.secure.example.", "TXT", edns=False), dg.addr,
            ignore_trunc=True)
    assert r.flags & TC, "no EDNS: 512-byte limit: %s" % r
