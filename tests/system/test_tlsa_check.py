"""tlsa-check against the local world (tests/world, with its mail part):
every mail case's verdict and reason, the JSON document (tlsa-check(1),
JSON OUTPUT), the text report and exit statuses, --no-connect, --resolver
behind a non-validating forwarder, `gen` (checked against the records the
world serves, validated by delv), --next-cert, -f - and -j.

Addresses: NET.1.41 (a non-validating Unbound), NET.1.42 port 5300 (a
server that answers every query with SERVFAIL), NET.3.1 port 2525 (a
listener that proves --no-connect connects nowhere). Only the world's mail
domains are ever connected to; the DNS-only secure.example (MX on
192.0.2.25, a real network here) only with --no-connect, and only after the
guard showed that --no-connect really connects nowhere.
"""
import os
import socket
import threading
import time

import pytest

import dgsys
import tlsacheck
from tlsacheck import by_domain, strip_dot

PLAIN_ADDR = dgsys.addr("1.41")
SERVFAIL_ADDR = dgsys.addr("1.42")
SERVFAIL_PORT = 5300
GUARD_PORT = 2525

MAIL_DOMAINS = tlsacheck.mail_domains_from_world_sh()


# ---------------------------------------------------------------- fixtures --

@pytest.fixture(scope="module")
def tool(world):
    if not os.access(tlsacheck.TLSA_CHECK, os.X_OK):
        pytest.fail("tlsa-check not built: %s (make, or set TLSA_CHECK)" %
                    tlsacheck.TLSA_CHECK)
    if world.env.get("WORLD_MAIL", "1") != "1":
        pytest.skip("the world runs without its mail part (WORLD_MAIL=0)")
    return tlsacheck.Tool(world)


@pytest.fixture(scope="module")
def cases(world):
    return tlsacheck.read_mail_cases(world)


@pytest.fixture(scope="module")
def hosts(world):
    return tlsacheck.read_mail_hosts(world)


@pytest.fixture(scope="module")
def report(tool, cases):
    """One run over every mail domain at once (-j 8): (CompletedProcess,
    JSON document, {domain: domain document})."""
    t0 = time.monotonic()
    r, doc = tool.run_json(["-j", "8"] + list(cases))
    print("tlsa-check -j 8 on %d mail domains: %.2f s, exit %d" %
          (len(cases), time.monotonic() - t0, r.returncode))
    return r, doc, by_domain(doc)


@pytest.fixture(scope="module")
def plain(world, tmp_path_factory):
    """A non-validating Unbound (iterator only) on NET.1.41."""
    u = tlsacheck.PlainUnbound(world, tmp_path_factory.mktemp("plain"),
                               PLAIN_ADDR)
    try:
        u.start()
        yield u
    finally:
        u.stop()


@pytest.fixture(scope="module")
def servfail(world):
    """A server on NET.1.42 port 5300 that answers every query with
    SERVFAIL, as a broken authoritative server does."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((SERVFAIL_ADDR, SERVFAIL_PORT))

    def serve():
        while True:
            try:
                q, peer = s.recvfrom(4096)
            except OSError:
                return
            if len(q) < 12:
                continue
            r = bytearray(q)
            r[2] |= 0x80                        # QR
            r[3] = (r[3] & 0x70) | 0x80 | 2     # RA, SERVFAIL
            s.sendto(bytes(r), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield "%s@%d" % (SERVFAIL_ADDR, SERVFAIL_PORT)
    finally:
        # on Linux this wakes recvfrom() even though an unconnected
        # UDP socket reports ENOTCONN
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        t.join(5)


def domain_doc(report, name):
    docs = report[2]
    assert name in docs, "%s missing from the report (%s)" % (
        name, sorted(docs))
    return docs[name]


def only_mx(d):
    assert len(d["mx"]) == 1, d["mx"]
    return d["mx"][0]


def only_connection(mx):
    assert len(mx["connections"]) == 1, mx["connections"]
    return mx["connections"][0]


# ------------------------------------------------------ 1. every mail case --

def test_mail_case_list_matches_world(cases, report):
    # the parametrization below comes from world.sh; the world's tsv must
    # list the same domains, and the report must cover them in order
    assert MAIL_DOMAINS, "no MAIL_CASES table found in world.sh"
    assert list(cases) == MAIL_DOMAINS
    r, doc, _ = report
    assert [d["domain"] for d in doc["domains"]] == list(cases)
    # exit: the document's and the process's, the worst exit_class
    worst = max(d["exit_class"] for d in doc["domains"])
    assert doc["exit"] == r.returncode == worst, (doc["exit"], r.returncode,
                                                  worst, r.stderr[-2000:])


@pytest.mark.parametrize("domain", MAIL_DOMAINS)
def test_mail_case(domain, cases, report):
    want = cases[domain]
    d = domain_doc(report, domain)
    got = "%s/%s" % (d["verdict"], d["reason"])
    assert d["verdict"] == want["verdict"], "%s: got %s (%s), want %s" % (
        domain, got, d["why"], want["verdict"])
    if want["reason"] != "-":
        assert d["reason"] == want["reason"], "%s: got %s (%s), want %s" % (
            domain, got, d["why"], want["reason"])


@pytest.mark.parametrize("domain", MAIL_DOMAINS)
def test_mail_case_sts_and_posture(domain, cases, report):
    want = cases[domain]
    d = domain_doc(report, domain)
    sts = d["mta_sts"]
    if want["sts"] == "-":
        assert sts["published"] is False and sts["fetched"] is False, sts
        assert sts["mode"] is None, sts
    else:
        mode, _, twist = want["sts"].partition("+")
        assert sts["published"] is True and sts["fetched"] is True, sts
        assert sts["mode"] == mode, sts
        assert sts["mx_all_match"] is (twist != "mx-mismatch"), sts
    for rec in ("spf", "tls_rpt", "dmarc"):
        # "tlsrpt": only the _smtp._tls record (world.sh MAIL_CASES)
        present = want["posture"] == "yes" or (
            want["posture"] == "tlsrpt" and rec == "tls_rpt")
        assert d[rec]["present"] is present, (rec, d[rec])
        if present:
            assert d[rec]["valid"] is True, (rec, d[rec])


def test_exit_class_follows_the_man_page(report):
    # EXIT STATUS: 2 fails or would defer; 1 warnings only (no-dane and
    # encrypt-only count as warnings); 0 good
    wrong = []
    for d in report[1]["domains"]:
        if d["verdict"] in tlsacheck.FAILING:
            want = 2
        elif d["verdict"] in tlsacheck.WARNING_VERDICTS or d["warnings"]:
            want = 1
        else:
            want = 0
        if d["exit_class"] != want:
            wrong.append((d["domain"], d["verdict"], d["warnings"],
                          d["exit_class"], want))
    assert not wrong, wrong


# -------------------------------------------------------- 2. JSON schema --

DOMAIN_KEYS = {"domain": str, "verdict": str, "reason": str, "why": str,
               "exit_class": int, "elapsed_ms": (int, float),
               "mx_dnssec": str, "implicit_mx": bool, "null_mx": bool,
               "mx": list, "mta_sts": dict, "tls_rpt": dict, "spf": dict,
               "dmarc": dict, "warnings": list}
MX_KEYS = {"name": str, "preference": int, "expanded": str,
           "tlsa_base": str, "verdict": str, "policy": str, "reason": str,
           "why": str, "trusted_only": bool, "address_dnssec": str,
           "addresses": list,
           # null where no TLSA lookup was made (insecure addresses)
           "tlsa_dnssec": (str, type(None)), "tlsa": list,
           "connections": list}
TLSA_KEYS = {"usage": int, "selector": int, "matching_type": int,
             "data": str, "usable": bool, "usability": str}
CONN_KEYS = {"address": str, "connected": bool, "starttls": bool,
             "tls": bool, "tls_version": str, "cipher": str, "reason": str,
             "error": str, "chain": list, "match": dict}
CERT_KEYS = {"subject": str, "issuer": str, "key": str,
             "not_before": int, "not_after": int}
MATCH_KEYS = {"matched": bool, "record": int, "depth": int, "reason": str,
              "why": str}
STS_KEYS = {"published": bool, "id": str, "fetched": bool,
            "mode": (str, type(None)), "max_age": (int, type(None)),
            "mx_all_match": bool, "reason": str, "error": str}
POSTURE_KEYS = {"dnssec": str, "present": bool, "valid": bool,
                "record": str, "detail": str}


def _check_keys(where, obj, keys, problems):
    for k, typ in keys.items():
        if k not in obj:
            problems.append("%s: no %r" % (where, k))
        elif not isinstance(obj[k], typ) or (
                typ is int and isinstance(obj[k], bool)):
            problems.append("%s: %r is %r" % (where, k, obj[k]))


def test_json_schema(report):
    doc = report[1]
    assert doc["version"] == 1
    assert isinstance(doc["domains"], list) and doc["domains"]
    assert isinstance(doc["exit"], int)
    problems = []
    for d in doc["domains"]:
        w = d.get("domain", "?")
        _check_keys(w, d, DOMAIN_KEYS, problems)
        if d.get("verdict") not in tlsacheck.VERDICTS:
            problems.append("%s: verdict %r" % (w, d.get("verdict")))
        if d.get("reason") not in tlsacheck.REASONS:
            problems.append("%s: reason %r" % (w, d.get("reason")))
        _check_keys(w + " mta_sts", d.get("mta_sts", {}), STS_KEYS, problems)
        for rec in ("tls_rpt", "spf", "dmarc"):
            _check_keys(w + " " + rec, d.get(rec, {}), POSTURE_KEYS,
                        problems)
        for mx in d.get("mx", []):
            wm = "%s mx %s" % (w, mx.get("name"))
            _check_keys(wm, mx, MX_KEYS, problems)
            if mx.get("verdict") not in tlsacheck.VERDICTS:
                problems.append("%s: verdict %r" % (wm, mx.get("verdict")))
            for t in mx.get("tlsa", []):
                _check_keys(wm + " tlsa", t, TLSA_KEYS, problems)
            for c in mx.get("connections", []):
                wc = "%s conn %s" % (wm, c.get("address"))
                _check_keys(wc, c, CONN_KEYS, problems)
                _check_keys(wc + " match", c.get("match", {}), MATCH_KEYS,
                            problems)
                for cert in c.get("chain", []):
                    _check_keys(wc + " chain", cert, CERT_KEYS, problems)
    assert not problems, "\n".join(problems)


def test_json_match_record_is_a_usable_tlsa(report):
    # every match names the TLSA record (an index into mx.tlsa) it used,
    # and that record is a usable one
    seen = 0
    for d in report[1]["domains"]:
        for mx in d["mx"]:
            for c in mx["connections"]:
                m = c["match"]
                if not m["matched"]:
                    continue
                seen += 1
                where = (d["domain"], mx["name"], c["address"], m)
                assert 0 <= m["record"] < len(mx["tlsa"]), where
                assert mx["tlsa"][m["record"]]["usable"] is True, where
                assert 0 <= m["depth"] < len(c["chain"]), where
    assert seen >= 8, "only %d matched connections in the world" % seen


def test_json_dane_ee(report, hosts):
    d = domain_doc(report, "dane-ee.example")
    assert d["mx_dnssec"] == "secure"
    assert d["implicit_mx"] is False and d["null_mx"] is False
    mx = only_mx(d)
    assert strip_dot(mx["name"]) == "mx.dane-ee.example"
    assert mx["preference"] == 10
    assert mx["policy"] == "dane"
    assert mx["address_dnssec"] == "secure"
    assert mx["tlsa_dnssec"] == "secure"
    assert mx["addresses"] == [hosts["mx.dane-ee.example"]["address"]]
    assert len(mx["tlsa"]) == 1
    t = mx["tlsa"][0]
    assert (t["usage"], t["selector"], t["matching_type"]) == (3, 1, 1)
    assert t["data"].lower() == tlsacheck.spki_sha256(
        hosts["mx.dane-ee.example"]["leaf"])
    assert t["usable"] is True and t["usability"] == "usable"
    c = only_connection(mx)
    assert c["address"] == hosts["mx.dane-ee.example"]["address"]
    assert c["connected"] is True
    assert c["starttls"] is True and c["tls"] is True
    assert c["tls_version"].startswith("TLS1."), c["tls_version"]
    assert c["cipher"]
    assert c["reason"] == "dane-verified"
    assert c["error"] == ""
    # leaf + intermediate, as the world's Postfix sends them
    assert len(c["chain"]) == 2, c["chain"]
    for cert in c["chain"]:
        assert cert["subject"] and cert["issuer"] and cert["key"], cert
        assert cert["not_before"] < cert["not_after"], cert
    assert "mx.dane-ee.example" in c["chain"][0]["subject"]
    assert c["chain"][0]["issuer"] == c["chain"][1]["subject"]
    assert c["chain"][0]["key"] == "ECDSA P-256"
    m = c["match"]
    assert m["matched"] is True and m["depth"] == 0, m
    assert mx["tlsa"][m["record"]]["usable"] is True
    assert m["reason"] == "dane-verified"


@pytest.mark.parametrize("domain,depth,chain_len,tlsa", [
    ("dane-ta.example", 2, 3, (2, 0, 1)),
    ("dane-ta1.example", 1, 2, (2, 1, 1)),
])
def test_json_dane_ta_depth(report, domain, depth, chain_len, tlsa):
    mx = only_mx(domain_doc(report, domain))
    assert [(t["usage"], t["selector"], t["matching_type"])
            for t in mx["tlsa"]] == [tlsa]
    c = only_connection(mx)
    assert len(c["chain"]) == chain_len, c["chain"]
    m = c["match"]
    assert m["matched"] is True and m["reason"] == "dane-verified", m
    assert m["depth"] == depth, m
    assert "CA" in c["chain"][depth]["subject"], c["chain"][depth]


def test_json_pkix_only(report):
    mx = only_mx(domain_doc(report, "pkix-only.example"))
    assert mx["tlsa_dnssec"] == "secure"
    assert sorted((t["usage"], t["selector"], t["matching_type"])
                  for t in mx["tlsa"]) == [(0, 0, 1), (1, 1, 1)]
    for t in mx["tlsa"]:
        assert t["usable"] is False and t["usability"] == "pkix-usage", t
    assert mx["policy"] == "encrypt"
    c = only_connection(mx)
    assert c["tls"] is True
    assert c["match"]["matched"] is False
    d = domain_doc(report, "pkix-only.example")
    # WARNINGS: usage 0/1 records are unusable for SMTP
    assert any("PKIX" in w or "usage" in w for w in d["warnings"]), \
        d["warnings"]


def test_json_bad_length(report, hosts):
    mx = only_mx(domain_doc(report, "bad-length.example"))
    good = tlsacheck.spki_sha256(hosts["mx.bad-length.example"]["leaf"])
    assert len(mx["tlsa"]) == 2
    bad = [t for t in mx["tlsa"] if not t["usable"]]
    ok = [t for t in mx["tlsa"] if t["usable"]]
    assert len(bad) == 1 and len(ok) == 1, mx["tlsa"]
    assert bad[0]["usability"] == "bad-digest-length"
    assert len(bad[0]["data"]) == 62 and good.startswith(
        bad[0]["data"].lower())
    assert ok[0]["data"].lower() == good
    c = only_connection(mx)
    assert c["match"]["matched"] is True
    assert mx["tlsa"][c["match"]["record"]] == ok[0]


def test_json_cname_mx(report):
    mx = only_mx(domain_doc(report, "cname-mx.example"))
    assert strip_dot(mx["name"]) == "mx.cname-mx.example"
    assert strip_dot(mx["expanded"]) == "host.cname-target.example"
    assert strip_dot(mx["tlsa_base"]) == "host.cname-target.example"
    assert mx["tlsa"] and mx["tlsa"][0]["usable"] is True
    assert only_connection(mx)["match"]["matched"] is True


# The CNAME'd MX hosts of issue 6: (domain, expanded name, TLSA base,
# address DNSSEC state). Every other TLSA base would meet a record that
# matches nothing (tests/world/README.md), so a match proves the base.
CNAME_CASES = [
    # secure CNAME into an unsigned zone: the alias (RFC 7672 §2.2.2)
    ("cname-unsigned.example", "host.cname-insecure-target.example",
     "mx.cname-unsigned.example", "insecure"),
    ("cname-alias.example", "alias.cname-secure-target.example",
     "mx.cname-alias.example", "secure"),
    ("cname-both.example", "both.cname-secure-target.example",
     "both.cname-secure-target.example", "secure"),
    ("cname-chain.example", "chain.cname-secure-target.example",
     "chain.cname-secure-target.example", "secure"),
    # through an unsigned hop: the alias, not the (signed) end
    ("cname-chain-unsigned.example", "leave.cname-secure-target.example",
     "mx.cname-chain-unsigned.example", "insecure"),
]


@pytest.mark.parametrize("domain,expanded,base,addresses", CNAME_CASES)
def test_json_cname_tlsa_base(report, hosts, domain, expanded, base,
                              addresses):
    d = domain_doc(report, domain)
    assert d["mx_dnssec"] == "secure"
    mx = only_mx(d)
    assert strip_dot(mx["name"]) == "mx." + domain
    assert strip_dot(mx["expanded"]) == expanded
    assert mx["address_dnssec"] == addresses
    assert mx["addresses"] == [hosts[expanded]["address"]]
    assert strip_dot(mx["tlsa_base"]) == base, mx["why"]
    assert mx["tlsa_dnssec"] == "secure"
    assert [t["usable"] for t in mx["tlsa"]] == [True], mx["tlsa"]
    assert mx["policy"] == "dane" and mx["trusted_only"] is False
    assert mx["verdict"] == "dane-valid", mx["why"]
    c = only_connection(mx)
    assert c["match"]["matched"] is True, c
    assert c["reason"] == "dane-verified"


def test_json_insecure_mx(report):
    d = domain_doc(report, "insecure-mx.example")
    assert d["mx_dnssec"] == "insecure"
    assert d["reason"] == "dane-trusted"
    mx = only_mx(d)
    assert strip_dot(mx["name"]) == "mx.dane-ee.example"
    assert mx["trusted_only"] is True
    assert mx["address_dnssec"] == "secure" and mx["tlsa_dnssec"] == "secure"
    c = only_connection(mx)
    assert c["match"]["matched"] is True
    assert c["reason"] == "dane-trusted"
    # and the secure MX of dane-ee.example is verified, not just trusted
    assert only_mx(domain_doc(report, "dane-ee.example"))[
        "trusted_only"] is False


def test_json_null_mx(report):
    d = domain_doc(report, "null-mx.example")
    assert d["null_mx"] is True
    assert d["mx"] == [] or all(m.get("null_mx") for m in d["mx"]), d["mx"]
    assert d["mx_dnssec"] == "secure"


def test_json_implicit_mx(report, hosts):
    d = domain_doc(report, "implicit-mx.example")
    assert d["implicit_mx"] is True and d["null_mx"] is False
    mx = only_mx(d)
    assert strip_dot(mx["name"]) == "implicit-mx.example"
    assert strip_dot(mx["tlsa_base"]) == "implicit-mx.example"
    assert mx["addresses"] == [hosts["implicit-mx.example"]["address"]]
    assert only_connection(mx)["match"]["matched"] is True


def test_json_tlsa_bogus_skips_the_host(report):
    for domain in ("tlsa-bogus.example", "tlsa-expired.example"):
        mx = only_mx(domain_doc(report, domain))
        assert mx["tlsa_dnssec"] == "bogus", (domain, mx)
        assert mx["verdict"] == "dane-failing", (domain, mx)
        # a bogus RRset is never shown or used as if it were data
        assert mx["tlsa"] == [], (domain, mx["tlsa"])


def test_json_tlsa_unsigned(report):
    # insecure addresses: no TLSA lookup, so the published (insecure,
    # non-matching) record is neither shown as usable nor used
    d = domain_doc(report, "tlsa-unsigned.example")
    assert d["mx_dnssec"] == "insecure"
    mx = only_mx(d)
    assert mx["address_dnssec"] == "insecure"
    assert mx["tlsa_dnssec"] in (None, "insecure"), mx["tlsa_dnssec"]
    assert not any(t["usable"] for t in mx["tlsa"]), mx["tlsa"]
    assert mx["policy"] not in ("dane", "encrypt"), mx["policy"]
    for c in mx["connections"]:
        assert c["match"]["matched"] is False, c["match"]


def test_json_mta_sts_enforce(report):
    d = domain_doc(report, "sts-enforce.example")
    s = d["mta_sts"]
    assert s["published"] is True and s["fetched"] is True, s
    assert s["mode"] == "enforce" and s["mx_all_match"] is True, s
    assert s["id"] == "20260101000000" and s["max_age"] == 86400, s
    assert s["error"] == "", s
    assert not any("MTA-STS" in w for w in d["warnings"]), d["warnings"]


def test_json_mta_sts_testing(report):
    s = domain_doc(report, "sts-testing.example")["mta_sts"]
    assert s["fetched"] is True and s["mode"] == "testing", s
    assert s["mx_all_match"] is True, s


def test_json_mta_sts_mismatch(report):
    d = domain_doc(report, "sts-mismatch.example")
    s = d["mta_sts"]
    assert s["fetched"] is True and s["mode"] == "enforce", s
    assert s["mx_all_match"] is False, s
    assert any("MTA-STS" in w for w in d["warnings"]), d["warnings"]


def test_json_posture_dane_ee(report):
    d = domain_doc(report, "dane-ee.example")
    for rec, text in (("tls_rpt", "v=TLSRPTv1"), ("spf", "v=spf1"),
                      ("dmarc", "v=DMARC1")):
        p = d[rec]
        assert p["present"] is True and p["valid"] is True, (rec, p)
        assert p["dnssec"] == "secure", (rec, p)
        assert p["record"].startswith(text), (rec, p)
    assert d["dmarc"]["detail"] == "p=reject", d["dmarc"]
    # and none on a domain without posture records
    d = domain_doc(report, "no-tlsa.example")
    for rec in ("tls_rpt", "spf", "dmarc"):
        assert d[rec]["present"] is False, (rec, d[rec])


def test_json_expired_leaf_warned(report):
    # DANE-EE ignores dates (dane-valid), but the admin is warned
    d = domain_doc(report, "ee-mismatch-expired.example")
    assert any("expire" in w for w in d["warnings"]), d["warnings"]


# ------------------------------------------- 3. text output, exit status --

def test_text_report_dane_ee(tool, report):
    r = tool.run(["dane-ee.example"])
    lines = r.stdout.splitlines()
    assert lines, (r.returncode, r.stderr)
    first = lines[0]
    assert first.startswith("dane-ee.example"), first
    assert "dane-valid" in first and "dane-verified" in first, first
    mx = only_mx(domain_doc(report, "dane-ee.example"))
    for t in mx["tlsa"]:
        rec = "%d %d %d %s" % (t["usage"], t["selector"], t["matching_type"],
                               t["data"].upper())
        assert rec in r.stdout.upper(), (rec, r.stdout)
    # exit status: 0 no warnings, 1 warnings only (the world publishes no
    # rollover record, so a warning is expected here)
    warnings = domain_doc(report, "dane-ee.example")["warnings"]
    assert r.returncode == (1 if warnings else 0), (r.returncode, warnings)
    for w in warnings:
        assert w in r.stdout, (w, r.stdout)


def test_exit_status_all_good_is_0(tool):
    r, doc = tool.run_json(["null-mx.example"])
    assert doc["domains"][0]["warnings"] == []
    assert r.returncode == 0 == doc["exit"], (r.returncode, r.stdout)


def test_exit_status_failing_domain_is_2(tool):
    r = tool.run(["tlsa-mismatch.example"])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines()[0].startswith("tlsa-mismatch.example")
    assert "dane-failing" in r.stdout.splitlines()[0]
    # the worst domain decides
    r = tool.run(["dane-ee.example", "tlsa-mismatch.example"])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("args", [
    ["--port", "0"],
    ["--port", "65536"],
    ["-4", "-6"],
    ["--no-such-option"],
    ["-j", "0"],
    ["-j", "257"],
    ["--timeout", "0"],
], ids=lambda a: " ".join(a))
def test_usage_error_is_3(tool, args):
    r = tool.run(["--no-connect"] + args + ["dane-ee.example"])
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    assert r.stderr.strip(), "no message on stderr"


def test_no_domain_is_3(tool):
    r = tool.run([])
    assert r.returncode == 3 and "usage" in r.stderr, (r.returncode,
                                                       r.stderr)


def test_missing_trust_anchor_is_3(tool, tmp_path):
    r = tool.run(["--trust-anchor", str(tmp_path / "missing.key"),
                  "--unbound-conf", tool.unbound_conf, "--no-connect",
                  "dane-ee.example"], world_options=False)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert "trust" in r.stderr, r.stderr


def test_broken_trust_anchor_is_3(tool, tmp_path):
    bad = tmp_path / "broken.key"
    bad.write_text("this is not a DS record\n")
    r = tool.run(["--trust-anchor", str(bad), "--unbound-conf",
                  tool.unbound_conf, "--no-connect", "dane-ee.example"],
                 world_options=False)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)


def test_wrong_trust_anchor_says_why(tool, tmp_path):
    # a well-formed root DS that matches no key: the check says so
    # (danegated's rule, danegate_resolver_check) instead of letting
    # every domain look like a DNS failure
    real = open(tool.trust_anchor).read().split()
    digest = real[-1]
    real[-1] = ("0" if digest[0] != "0" else "1") + digest[1:]
    wrong = tmp_path / "wrong.key"
    wrong.write_text(" ".join(real) + "\n")
    # the world's libunbound.conf names the real anchor too: leave it out
    conf = tmp_path / "no-anchor.conf"
    conf.write_text("".join(
        ln for ln in open(tool.unbound_conf).readlines()
        if "trust-anchor" not in ln))
    r = tool.run(["--trust-anchor", str(wrong), "--unbound-conf",
                  str(conf), "--no-connect", "dane-ee.example"],
                 world_options=False)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert ("the trust anchor for . does not validate: DNSKEY bogus"
            in r.stderr), r.stderr


def test_indeterminate_lookup_says_what_happened(tool, servfail, tmp_path):
    # secure.example's server answers SERVFAIL: the verdict is a DNS
    # failure, and why says what happened, not "unknown error" (what
    # ub_strerror() calls the rcode libunbound reports as the error)
    conf = tmp_path / "servfail.conf"
    conf.write_text(open(tool.unbound_conf).read() +
                    "stub-zone:\n    name: \"secure.example\"\n"
                    "    stub-addr: %s\n" % servfail)
    args = ["--trust-anchor", tool.trust_anchor, "--unbound-conf",
            str(conf), "--no-connect", "secure.example"]
    r, doc = tool.run_json(args, world_options=False)
    d = doc["domains"][0]
    assert d["verdict"] == "dns-failure", d
    assert d["mx_dnssec"] == "indeterminate", d
    assert "unknown error" not in d["why"], d["why"]
    assert ("MX lookup for secure.example is indeterminate: SERVFAIL "
            "(EDE 22 No Reachable Authority)" in d["why"]), d["why"]
    assert r.returncode == 2
    r = tool.run(args, world_options=False)
    assert "indeterminate: SERVFAIL (EDE 22 No Reachable Authority)" in \
        r.stdout, r.stdout


# -------------------------------------------------------- 4. --no-connect --

def test_no_connect_dns_only(tool, hosts):
    # Guard first: a listener on dane-ee's MX address, port 2525. Without
    # --no-connect tlsa-check connects to it; with --no-connect it must
    # not. Only then is secure.example (MX 192.0.2.25) touched.
    addr = hosts["mx.dane-ee.example"]["address"]
    lst = tlsacheck.Listener(addr, GUARD_PORT)
    try:
        r = tool.run(["--port", str(GUARD_PORT), "--timeout", "1",
                      "dane-ee.example"])
        assert lst.drain() >= 1, ("the guard saw no connection without "
                                  "--no-connect", r.stdout, r.stderr)
        r, doc = tool.run_json(["--no-connect", "--port", str(GUARD_PORT),
                                "--timeout", "2", "dane-ee.example"])
        connected = lst.drain()
    finally:
        lst.close()
    assert connected == 0, "--no-connect connected %d times" % connected
    assert all(mx["connections"] == [] for mx in doc["domains"][0]["mx"])

    r, doc = tool.run_json(["--no-connect", "secure.example"])
    d = doc["domains"][0]
    assert d["domain"] == "secure.example"
    assert (d["verdict"], d["reason"]) == ("dane-valid", "dane-verified"), d
    mx = only_mx(d)
    assert strip_dot(mx["name"]) == "mx.secure.example"
    assert "192.0.2.25" in mx["addresses"]
    assert mx["tlsa_dnssec"] == "secure"
    assert sorted((t["usage"], t["selector"], t["matching_type"])
                  for t in mx["tlsa"]) == [(2, 1, 1), (3, 1, 1)]
    assert all(t["usable"] for t in mx["tlsa"])
    assert mx["connections"] == [], mx["connections"]
    assert r.returncode == doc["exit"] and r.returncode in (0, 1)


# ----------------------------------------------------------- 5. --resolver --

@pytest.mark.parametrize("domain,verdict,reason", [
    ("tlsa-bogus.example", "dane-failing", "dnssec-invalid"),
    ("tlsa-expired.example", "dane-failing", "dnssec-invalid"),
    ("dane-ee.example", "dane-valid", "dane-verified"),
    ("tlsa-unsigned.example", "no-dane", "insecure-address"),
])
def test_resolver_behind_non_validating_forwarder(tool, plain, domain,
                                                  verdict, reason):
    before = len(plain.log())
    r, doc = tool.run_json(["--resolver", PLAIN_ADDR, "--trust-anchor",
                            tool.trust_anchor, "--ca-file", tool.ca_file,
                            domain], world_options=False)
    d = doc["domains"][0]
    assert (d["verdict"], d["reason"]) == (verdict, reason), (d["why"],
                                                             r.stderr)
    # and the forwarder was really asked (no root hints were given)
    log = plain.log()[before:]
    assert domain + ". MX IN" in log, log[-2000:]


def test_forwarder_passes_bogus_data(plain):
    # the premise: the forwarder does hand out the bogus TLSA RRset
    r = dgsys.udp(dgsys.mkq("_25._tcp.mx.tlsa-bogus.example", "TLSA",
                            do=True), PLAIN_ADDR)
    assert r.rcode() == 0 and r.answer, r


# ------------------------------------------------------------------ 6. gen --

def test_gen_leaf_equals_served_record(tool, world, hosts, plain):
    leaf = hosts["mx.dane-ee.example"]["leaf"]
    g = tool.gen(["--host", "mx.dane-ee.example", leaf])
    assert g.returncode == 0, g.stderr
    recs = tlsacheck.parse_tlsa_lines(g.stdout)
    assert len(recs) == 1, g.stdout
    owner, u, s, m, data = recs[0]
    assert owner == "_25._tcp.mx.dane-ee.example.", owner
    ok, served, out = tlsacheck.delv_tlsa(world, PLAIN_ADDR,
                                          "_25._tcp.mx.dane-ee.example")
    assert ok, out
    assert served == [(u, s, m, data)], (served, g.stdout)
    # and without --host: the certificate's DNS name
    g = tool.gen([leaf])
    assert tlsacheck.parse_tlsa_lines(g.stdout) == recs, g.stdout


def test_gen_chain(tool, world, hosts, plain, tmp_path):
    # leaf + intermediate + root, as mx.dane-ta.example sends them
    files = hosts["mx.dane-ta.example"]["chain"]
    assert len(files) == 3, files
    chain = tmp_path / "fullchain.pem"
    chain.write_text("".join(open(f).read() for f in files))
    g = tool.gen(["--host", "mx.dane-ta.example", str(chain)])
    assert g.returncode == 0, g.stderr
    recs = tlsacheck.parse_tlsa_lines(g.stdout)
    want = [("_25._tcp.mx.dane-ta.example.", 3 if i == 0 else 2, 1, 1,
             tlsacheck.spki_sha256(f)) for i, f in enumerate(files)]
    assert recs == want, g.stdout
    # the intermediate's 2 1 1 is what mx.dane-ta1.example publishes
    ok, served, out = tlsacheck.delv_tlsa(world, PLAIN_ADDR,
                                          "_25._tcp.mx.dane-ta1.example")
    assert ok, out
    assert served == [(2, 1, 1, recs[1][4])], (served, g.stdout)
    # the world's own chain file (leaf + intermediate) of an HTTPS host
    sts = tool.world.dir / "ca" / "mta-sts.sts-enforce.example.chain.pem"
    g = tool.gen([str(sts)])
    recs = tlsacheck.parse_tlsa_lines(g.stdout)
    assert [(o, u, s, m) for o, u, s, m, _ in recs] == [
        ("_25._tcp.mta-sts.sts-enforce.example.", 3, 1, 1),
        ("_25._tcp.mta-sts.sts-enforce.example.", 2, 1, 1)], g.stdout
    assert recs[1][4] == want[1][4]


def test_gen_root_ca_full_certificate(tool, world, plain):
    # --usage 2 --selector 0: the 2 0 1 that mx.dane-ta.example publishes
    root = tool.world.dir / "ca" / "root.pem"
    g = tool.gen(["--usage", "2", "--selector", "0", "--host",
                  "mx.dane-ta.example", str(root)])
    assert g.returncode == 0, g.stderr
    recs = tlsacheck.parse_tlsa_lines(g.stdout)
    ok, served, out = tlsacheck.delv_tlsa(world, PLAIN_ADDR,
                                          "_25._tcp.mx.dane-ta.example")
    assert ok, out
    assert [(u, s, m, d) for _, u, s, m, d in recs] == served, (served,
                                                                g.stdout)


def test_gen_key_equals_cert(tool, hosts):
    h = hosts["mx.dane-ee.example"]
    cert = tlsacheck.parse_tlsa_lines(
        tool.gen(["--host", "mx.dane-ee.example", h["leaf"]]).stdout)
    g = tool.gen(["--host", "mx.dane-ee.example", h["key"]])
    assert g.returncode == 0, g.stderr
    key = tlsacheck.parse_tlsa_lines(g.stdout)
    assert key == cert, (key, cert)
    assert key[0][1:4] == (3, 1, 1)


def test_gen_errors_are_3(tool, tmp_path):
    assert tool.gen([]).returncode == 3
    assert tool.gen([str(tmp_path / "missing.pem")]).returncode == 3
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    g = tool.gen([str(junk)])
    assert g.returncode == 3 and g.stderr.strip(), (g.returncode, g.stderr)


# ------------------------------------------------------------ 7. --next-cert --

@pytest.fixture(scope="module")
def next_cert(tmp_path_factory):
    return tlsacheck.make_cert(tmp_path_factory.mktemp("next"),
                               "mx.dane-ee.example")[0]


def _next_cert_warnings(doc, path):
    return [w for w in doc["domains"][0]["warnings"] if str(path) in w]


def test_next_cert_unpublished_warns(tool, next_cert):
    r, doc = tool.run_json(["--next-cert", str(next_cert),
                            "dane-ee.example"])
    d = doc["domains"][0]
    assert d["verdict"] == "dane-valid", d["why"]
    warns = _next_cert_warnings(doc, next_cert)
    assert len(warns) == 1, d["warnings"]
    digest = tlsacheck.spki_sha256(next_cert)
    assert ("3 1 1 " + digest).upper() in warns[0].upper(), warns[0]
    assert r.returncode == 1


def test_next_cert_suggests_the_tlsa_owner(tool, next_cert):
    r, doc = tool.run_json(["--next-cert", str(next_cert),
                            "dane-ee.example"])
    warns = _next_cert_warnings(doc, next_cert)
    assert warns and "_25._tcp.mx.dane-ee.example" in warns[0], warns


def test_next_cert_published_no_warning(tool, hosts, report):
    leaf = hosts["mx.dane-ee.example"]["leaf"]
    r, doc = tool.run_json(["--next-cert", leaf, "dane-ee.example"])
    d = doc["domains"][0]
    assert d["verdict"] == "dane-valid", d["why"]
    assert not _next_cert_warnings(doc, leaf), d["warnings"]
    # exactly the warnings of a run without --next-cert
    assert d["warnings"] == domain_doc(report, "dane-ee.example")[
        "warnings"]


# ------------------------------------------------------------- 8. -f, -j --

def test_domains_from_stdin(tool, cases):
    text = ("# mail domains for tlsa-check\n"
            "\n"
            "dane-ee.example\n"
            "   \t\n"
            "  no-tlsa.example   # trailing comment\n"
            "#tlsa-mismatch.example\n"
            "\tnull-mx.example#no space before the comment\n"
            "pkix-only.example\r\n")
    r, doc = tool.run_json(["-f", "-"], stdin=text)
    got = [(d["domain"], d["verdict"]) for d in doc["domains"]]
    want = [(n, cases[n]["verdict"]) for n in
            ("dane-ee.example", "no-tlsa.example", "null-mx.example",
             "pkix-only.example")]
    assert got == want, (got, r.stderr)


def test_domain_file_two_names_on_a_line_is_3(tool):
    r = tool.run(["-f", "-"], stdin="dane-ee.example no-tlsa.example\n")
    assert r.returncode == 3 and r.stderr.strip(), (r.returncode, r.stderr)
    assert r.stdout == ""


def test_jobs_do_not_change_verdicts(tool, cases, report):
    timings = {}
    results = {}
    for jobs in ("1", "16"):
        t0 = time.monotonic()
        r, doc = tool.run_json(["-j", jobs] + list(cases))
        timings[jobs] = time.monotonic() - t0
        results[jobs] = [(d["domain"], d["verdict"], d["reason"])
                         for d in doc["domains"]]
        assert doc["exit"] == r.returncode
    print("tlsa-check on %d mail domains: -j 1 %.2f s, -j 16 %.2f s" %
          (len(cases), timings["1"], timings["16"]))
    assert results["1"] == results["16"]
    assert results["1"] == [(d["domain"], d["verdict"], d["reason"])
                            for d in report[1]["domains"]]
