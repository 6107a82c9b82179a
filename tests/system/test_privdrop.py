"""Privilege drop: with username: "nobody" danegated runs as uid 65534,
with no_new_privs and a seccomp filter, and still answers."""
import pwd

import dns.flags
import dns.rcode

from dgsys import addr, mkq, tcp, udp


def _status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fields


def test_runs_as_nobody_with_seccomp(danegated):
    nobody = pwd.getpwnam("nobody")
    d = danegated([addr("1.7")], username="nobody")
    st = _status(d.pid)
    assert st["Uid"] == [str(nobody.pw_uid)] * 4, st["Uid"]
    assert st["Gid"] == [str(nobody.pw_gid)] * 4, st["Gid"]
    assert all(g == str(nobody.pw_gid) for g in st.get("Groups", [])), \
        "supplementary groups kept: %s" % st.get("Groups")
    assert st["NoNewPrivs"] == ["1"], st["NoNewPrivs"]
    assert st["Seccomp"] == ["2"], st["Seccomp"]
    assert st["CapEff"] == ["0000000000000000"], st["CapEff"]
    # still answers, over UDP and TCP, also queries needing resolution
    for name, want in (("www.secure.example.", "192.0.2.10"),
                       ("www.nsec3.internal.", "192.0.2.20"),
                       ("mx.insecure.example.", "192.0.2.31")):
        for transport in (udp, tcp):
            r = transport(mkq(name, "A", do=True), d.addr)
            assert r.rcode() == dns.rcode.NOERROR, (name, r)
            assert want in r.to_text()
    r = udp(mkq("www.bogus.example.", "A", do=True), d.addr)
    assert r.rcode() == dns.rcode.SERVFAIL
    r = udp(mkq("nx.secure.example.", "A", do=True), d.addr)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AD
    # the control socket works after the drop
    assert d.stats()["num.queries"] >= 8
    assert d.running()
