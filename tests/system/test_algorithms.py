"""DNSSEC algorithms and DS digest types (RFC 8624) through danegated.

The world has one signed zone per DNSKEY algorithm and per DS digest type
(tests/world/README.md "Algorithms", DIR/algorithms.tsv). A validator that
cannot validate a zone's algorithm or digest treats it as insecure (RFC
4035 §5.2): no AD, and for DANE no TLSA: a downgrade. So danegated must
answer secure (AD) for every algorithm and digest RFC 8624 says a validator
MUST validate, never insecure, and what it cannot validate must be what its
start-up check logged ("cannot validate DNSSEC algorithm N").

Each run records, in DIR/algorithm-results.tsv and on stdout (pytest -s),
danegated's result beside the Unbound daemon's (Debian's unbound package,
built on OpenSSL: the reference), and, when danegated is not linked with
Debian's libunbound8 (Nettle), a second danegated run on that one
(LD_LIBRARY_PATH), so the two libraries are compared in the same world.

Addresses: NET.1.60 (the reference Unbound), NET.1.61 (danegated on
Debian's libunbound8)."""
import os
import re
import subprocess
import time

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

import dgsys
from dgsys import addr, mkq, udp

REF_ADDR = addr("1.60")
DEBIAN_ADDR = addr("1.61")
DEBIAN_LIBDIR = "/usr/lib/x86_64-linux-gnu"
WWW = "192.0.2.80"

# The contract of tests/world/world.sh ALG_ZONES: zone -> (kind, number,
# RFC 8624). kind "algorithm": the zone's DNSKEY algorithm (DS SHA-256);
# "digest": the DS digest type in example. (algorithm 13 unless named).
ZONES = {
    "alg5.example.": ("algorithm", 5, "MUST"),
    "alg5-ds1.example.": ("digest", 1, "MUST"),
    "alg7.example.": ("algorithm", 7, "MUST"),
    "alg7-ds1.example.": ("digest", 1, "MUST"),
    "alg8.example.": ("algorithm", 8, "MUST"),
    "alg8-ds1.example.": ("digest", 1, "MUST"),
    "alg10.example.": ("algorithm", 10, "MUST"),
    "alg13.example.": ("algorithm", 13, "MUST"),
    "alg13-ds1.example.": ("digest", 1, "MUST"),
    "alg13-ds4.example.": ("digest", 4, "RECOMMENDED"),
    "alg14.example.": ("algorithm", 14, "RECOMMENDED"),
    "alg15.example.": ("algorithm", 15, "RECOMMENDED"),
    "alg16.example.": ("algorithm", 16, "RECOMMENDED"),
}


def outcome(where, zone):
    """secure | insecure | bogus | other(...) of www.ZONE A at where."""
    r = udp(mkq("www." + zone, "A", do=True), where, timeout=5)
    if r.rcode() == dns.rcode.SERVFAIL:
        return "bogus"
    addrs = [rd.address for rrset in r.answer
             if rrset.rdtype == dns.rdatatype.A for rd in rrset]
    if r.rcode() != dns.rcode.NOERROR or WWW not in addrs:
        return "other(%s %s)" % (dns.rcode.to_text(r.rcode()), addrs)
    return "secure" if r.flags & dns.flags.AD else "insecure"


def linked_libunbound(binary):
    """The path of the libunbound.so the binary loads (ldd)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"libunbound\.so\S*\s+=>\s+(\S+)", out)
    return os.path.realpath(m.group(1)) if m else None


def unsupported(log):
    """{("algorithm", N), ("digest", N)} from the start-up check's lines."""
    found = set()
    for kind, num in re.findall(
            r"cannot validate (DNSSEC algorithm|DS digest type) (\d+) ",
            log):
        found.add(("algorithm" if kind == "DNSSEC algorithm" else "digest",
                   int(num)))
    return found


def expected_unsupported(zone, gaps):
    """True if the start-up check said danegated cannot validate ZONE:
    its algorithm, or its DS digest (then the key is ECDSA or RSA, whose
    algorithm the ZONES table names by the zone's name)."""
    kind, num, _ = ZONES[zone]
    if (kind, num) in gaps:
        return True
    alg = int(re.match(r"alg(\d+)", zone).group(1))
    # a -dsN zone also needs its algorithm, a plain zone its DS SHA-256
    return ("algorithm", alg) in gaps or (
        kind == "algorithm" and ("digest", 2) in gaps)


@pytest.fixture(scope="module")
def reference(world, tmp_path_factory):
    """The Unbound daemon (Debian's unbound, OpenSSL) on the world."""
    tmp = tmp_path_factory.mktemp("ref-unbound")
    conf = tmp / "unbound.conf"
    conf.write_text(
        "server:\n"
        "    interface: %s@53\n"
        "    access-control: 127.0.0.0/8 allow\n"
        "    username: \"\"\n    chroot: \"\"\n    directory: \"%s\"\n"
        "    pidfile: \"\"\n    use-syslog: no\n    num-threads: 1\n"
        "    logfile: \"%s\"\n%s" % (
            REF_ADDR, tmp, tmp / "unbound.log",
            "".join("    %s\n" % ln for ln in world.fragment)))
    proc = subprocess.Popen(["unbound", "-d", "-c", str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                r = udp(mkq(".", "SOA", do=True), REF_ADDR, timeout=0.5)
                if r.flags & dns.flags.AD:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            assert proc.poll() is None, "reference unbound exited"
            assert time.monotonic() < deadline, "reference unbound not up"
            time.sleep(0.2)
        yield REF_ADDR
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def debian_dg(world, tmp_path_factory):
    """danegated on Debian's libunbound8, if it is not the linked one;
    else None."""
    system = os.path.join(DEBIAN_LIBDIR, "libunbound.so.8")
    if not os.path.exists(system) or \
            linked_libunbound(dgsys.DANEGATED) == os.path.realpath(system):
        yield None
        return
    d = dgsys.Danegated(world, tmp_path_factory.mktemp("dg-debian"),
                        [DEBIAN_ADDR])
    old = os.environ.get("LD_LIBRARY_PATH")
    os.environ["LD_LIBRARY_PATH"] = DEBIAN_LIBDIR
    try:
        d.start()
    finally:
        if old is None:
            del os.environ["LD_LIBRARY_PATH"]
        else:
            os.environ["LD_LIBRARY_PATH"] = old
    try:
        yield d
    finally:
        assert d.stop() == 0, d.log()[-3000:]


@pytest.fixture(scope="module")
def results(world, dg, reference, debian_dg):
    """zone -> {"danegated": ..., "unbound": ..., "debian": ...}, written
    to DIR/algorithm-results.tsv."""
    table = {}
    for zone in ZONES:
        row = {"danegated": outcome(dg.addr, zone),
               "unbound": outcome(reference, zone)}
        if debian_dg is not None:
            row["debian"] = outcome(debian_dg.addr, zone)
        table[zone] = row
    cols = ["danegated", "unbound"] + (["debian"] if debian_dg else [])
    heads = {"danegated": "danegated (%s)" %
             linked_libunbound(dgsys.DANEGATED),
             "unbound": "Unbound daemon (OpenSSL)",
             "debian": "danegated on Debian's libunbound8 (Nettle)"}
    lines = ["# zone\tkind\tnumber\trfc8624\t" +
             "\t".join(heads[c] for c in cols)]
    for zone, row in table.items():
        kind, num, req = ZONES[zone]
        lines.append("%s\t%s\t%d\t%s\t%s" % (
            zone, kind, num, req, "\t".join(row[c] for c in cols)))
    (world.dir / "algorithm-results.tsv").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    return table


def test_world_lists_the_zones(world):
    """The world's algorithms.tsv is the table this module knows."""
    rows = [ln.split("\t") for ln in
            (world.dir / "algorithms.tsv").read_text().splitlines()
            if not ln.startswith("#")]
    assert {r[0]: r[3] for r in rows} == \
        {z: v[2] for z, v in ZONES.items()}


def test_reference_validates_every_zone(results):
    """The Unbound daemon (OpenSSL) validates all of them: the zones are
    good, so whatever danegated does not validate is danegated's gap."""
    bad = {z: r["unbound"] for z, r in results.items()
           if r["unbound"] != "secure"}
    assert not bad


@pytest.mark.parametrize("zone", [z for z, v in ZONES.items()
                                  if v[2] == "MUST"])
def test_must_is_secure(results, zone):
    """RFC 8624 MUST: secure with AD, never insecure (a downgrade)."""
    assert results[zone]["danegated"] == "secure", results[zone]


@pytest.mark.parametrize("zone", [z for z, v in ZONES.items()
                                  if v[2] == "RECOMMENDED"])
def test_recommended_secure_unless_logged(results, dg, zone):
    """RFC 8624 RECOMMENDED: secure, unless the start-up check logged that
    the linked libunbound cannot validate it; then insecure (what RFC 4035
    prescribes for an unsupported algorithm), never bogus."""
    want = "insecure" if expected_unsupported(zone, unsupported(dg.log())) \
        else "secure"
    assert results[zone]["danegated"] == want, results[zone]


def test_startup_check_logged(dg):
    """One notice naming what validates, and every MUST among it."""
    m = re.search(r"libunbound \S+ validates DNSSEC algorithms ([\d ]+|"
                  r"\(none\)) and DS digest types ([\d ]+|\(none\))",
                  dg.log())
    assert m, dg.log()[-3000:]
    algs = set(m.group(1).split())
    digests = set(m.group(2).split())
    assert {"5", "7", "8", "10", "13"} <= algs
    assert {"1", "2"} <= digests
    # the gaps and the list do not overlap
    for kind, num in unsupported(dg.log()):
        assert str(num) not in (algs if kind == "algorithm" else digests)


def test_debian_libunbound_gaps_are_logged(results, debian_dg):
    """On Debian's libunbound8 too, whatever is not secure is exactly what
    its start-up check logged (recorded beside the others above)."""
    if debian_dg is None:
        pytest.skip("danegated is linked with Debian's libunbound8")
    gaps = unsupported(debian_dg.log())
    for zone, row in results.items():
        want = "insecure" if expected_unsupported(zone, gaps) else "secure"
        assert row["debian"] == want, (zone, row, sorted(gaps))
