"""Real clients against danegated: dig, kdig, delv (which validates by
itself, so it proves RRSIGs pass through intact), and glibc's stub resolver
(getent) in a network namespace."""
import re

import pytest

from dgsys import addr, ns_pair, run


def dig(where, *args):
    r = run(["dig", "+tries=1", "+time=3", "@" + where] + list(args))
    return r


def flags_line(out, rx=r"^;; flags: ([a-z ]*);"):
    m = re.search(rx, out, re.M)
    assert m, "no flags line in:\n" + out
    return m.group(1).split()


# ------------------------------------------------------------------- dig --

def test_dig_secure_ad(dg):
    r = dig(dg.addr, "+dnssec", "www.secure.example.", "A")
    assert r.returncode == 0, r.stderr
    assert "status: NOERROR" in r.stdout
    assert "ad" in flags_line(r.stdout), r.stdout
    assert re.search(r"www\.secure\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.10",
                     r.stdout)
    assert re.search(r"\sRRSIG\s+A 13 3 ", r.stdout), r.stdout


def test_dig_noadflag_nodnssec_no_ad(dg):
    r = dig(dg.addr, "+noadflag", "www.secure.example.", "A")
    assert "status: NOERROR" in r.stdout
    assert "ad" not in flags_line(r.stdout), r.stdout
    assert "RRSIG" not in r.stdout


def test_dig_insecure_no_ad(dg):
    r = dig(dg.addr, "+dnssec", "www.insecure.example.", "A")
    assert "status: NOERROR" in r.stdout
    assert "ad" not in flags_line(r.stdout), r.stdout
    assert "192.0.2.30" in r.stdout


def test_dig_expired_servfail_ede(dg):
    r = dig(dg.addr, "+dnssec", "www.expired.example.", "A")
    assert "status: SERVFAIL" in r.stdout, r.stdout
    m = re.search(r"^; EDE: (\d+) \([^)]*\):? ?(.*)$", r.stdout, re.M)
    assert m, "no EDE in dig output:\n" + r.stdout
    assert m.group(1) == "7"
    assert m.group(2).strip(), "EDE without EXTRA-TEXT"


def test_dig_big_retries_over_tcp(dg):
    """dig without +ignore retries a truncated answer over TCP."""
    r = dig(dg.addr, "+bufsize=1232", "+dnssec", "big.secure.example.",
            "TXT")
    assert r.returncode == 0, r.stderr
    assert ";; Truncated, retrying in TCP mode." in r.stdout, r.stdout
    assert "status: NOERROR" in r.stdout
    assert "ANSWER: 13," in r.stdout, "12 TXT + 1 RRSIG expected"
    assert len(re.findall(r"^big\.secure\.example\.\s+\d+\s+IN\s+TXT\s",
                          r.stdout, re.M)) == 12
    assert "tc" not in flags_line(r.stdout)


def test_dig_big_udp_only_tc(dg):
    r = dig(dg.addr, "+bufsize=1232", "+notcp", "+ignore", "+dnssec",
            "big.secure.example.", "TXT")
    assert "tc" in flags_line(r.stdout), r.stdout
    assert "ANSWER: 0," in r.stdout


# ------------------------------------------------------------------ kdig --

@pytest.mark.parametrize("transport", [[], ["+tcp"]], ids=["udp", "tcp"])
def test_kdig_secure_ad(dg, transport):
    r = run(["kdig", "+dnssec", "+retry=0", "+timeout=3", "@" + dg.addr,
             "www.secure.example"] + transport)
    assert r.returncode == 0, r.stderr
    assert "status: NOERROR" in r.stdout, r.stdout
    flags = flags_line(r.stdout, r"^;; Flags: ([a-z ]*);")
    assert "ad" in flags, r.stdout
    assert "192.0.2.10" in r.stdout
    assert "RRSIG" in r.stdout
    want = "(TCP)" if transport else "(UDP)"
    assert want in r.stdout, r.stdout


def test_kdig_bogus_servfail(dg):
    r = run(["kdig", "+dnssec", "+retry=0", "+timeout=3", "@" + dg.addr,
             "www.bogus.example"])
    assert "status: SERVFAIL" in r.stdout, r.stdout
    assert "192.0.2.40" not in r.stdout


# ------------------------------------------------------------------ delv --

def _delv(dg, world, name, rdtype="A"):
    return run(["delv", "@" + dg.addr, "-a", world.delv_anchor, "+root=.",
                name, rdtype], timeout=30)


@pytest.mark.parametrize("name,rdtype,data", [
    ("www.secure.example.", "A", "192.0.2.10"),
    ("www.nsec3.internal.", "TXT", '"nsec3"'),
    ("_25._tcp.mx.secure.example.", "TLSA", "3 1 1 "),
    ("big.secure.example.", "TXT", "TXT"),
])
def test_delv_fully_validated(dg, world, name, rdtype, data):
    r = _delv(dg, world, name, rdtype)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "; fully validated" in out, out
    assert data in out, out


@pytest.mark.parametrize("name,rdtype", [
    ("nx.secure.example.", "A"),
    ("nx.nsec3.internal.", "A"),
])
def test_delv_negative_validated(dg, world, name, rdtype):
    r = _delv(dg, world, name, rdtype)
    out = r.stdout + r.stderr
    assert "; negative response, fully validated" in out, out


def test_delv_insecure_unsigned(dg, world):
    r = _delv(dg, world, "www.insecure.example.")
    out = r.stdout + r.stderr
    assert "; unsigned answer" in out, out
    assert "192.0.2.30" in out


@pytest.mark.parametrize("name", ["www.bogus.example.",
                                  "www.expired.example."])
def test_delv_bogus_fails(dg, world, name):
    r = _delv(dg, world, name)
    out = r.stdout + r.stderr
    assert "fully validated" not in out, out
    assert "resolution failed" in out, out


# ---------------------------------------------------------------- getent --

@pytest.fixture
def stub_ns(danegated, netns):
    """danegated on NS_NET.0.1@53 (and NET.1.3), a network namespace at
    NS_NET.0.2 whose resolv.conf names it."""
    host, _ = ns_pair(0)
    ns = netns(0, resolv_conf="nameserver %s\noptions trust-ad attempts:1 "
               "timeout:3\n" % host)
    d = danegated([addr("1.3"), ns.host_addr],
                  acl=["127.0.0.0/8 allow", "%s/30 allow" % ns.host_addr])
    return d, ns


def test_getent_secure(stub_ns):
    d, ns = stub_ns
    r = ns.exec(["cat", "/etc/resolv.conf"])
    assert "nameserver " + ns.host_addr in r.stdout, \
        "ip netns exec did not bind-mount our resolv.conf: " + r.stdout
    r = ns.exec(["getent", "ahosts", "www.secure.example"])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr,
                               d.log()[-2000:])
    addrs = {ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()}
    assert addrs == {"192.0.2.10", "2001:db8::10"}, r.stdout
    r = ns.exec(["getent", "hosts", "mx.secure.example"])
    assert r.returncode == 0 and "mx.secure.example" in r.stdout, r.stdout


def test_getent_bogus_fails(stub_ns):
    d, ns = stub_ns
    r = ns.exec(["getent", "ahosts", "www.bogus.example"])
    assert r.returncode == 2, (r.returncode, r.stdout)
    assert "192.0.2.40" not in r.stdout
    # positive control on the same instance right after
    r = ns.exec(["getent", "ahosts", "www.insecure.example"])
    assert r.returncode == 0 and "192.0.2.30" in r.stdout, r.stdout
