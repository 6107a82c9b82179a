"""Operations: danegate-control stats/status/flush and the Prometheus
endpoint."""
import urllib.request

import dns.rcode

from dgsys import MAIN_ADDR, PROM_PORT, mkq, udp


def test_stats_queries_grow(dg):
    s0 = dg.stats()
    for key in ("num.queries", "num.answer.rcode.SERVFAIL",
                "num.answer.secure", "num.answer.bogus", "num.cachehits",
                "num.acl.refused", "num.ratelimited"):
        assert key in s0, "stats lack %s:\n%s" % (key, s0)
    for _ in range(5):
        udp(mkq("www.secure.example.", "A", do=True), dg.addr)
    udp(mkq("www.bogus.example.", "A", do=True), dg.addr)
    s1 = dg.stats()
    assert s1["num.queries"] >= s0["num.queries"] + 6
    assert s1["num.cachehits"] >= s0["num.cachehits"] + 4
    assert s1["num.answer.secure"] >= s0["num.answer.secure"] + 5
    assert s1["num.answer.rcode.SERVFAIL"] >= \
        s0["num.answer.rcode.SERVFAIL"] + 1
    assert s1["num.answer.bogus"] >= s0["num.answer.bogus"] + 1


def test_status(dg):
    out = dg.ctl("status").stdout
    assert "version:" in out and "uptime:" in out, out


def test_unknown_command_is_an_error(dg):
    r = dg.ctl("frobnicate", check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)


def test_flush_then_miss(dg):
    udp(mkq("www.secure.example.", "A"), dg.addr)
    assert dg.ctl("flush").stdout.strip() == "ok"
    s0 = dg.stats()
    r = udp(mkq("www.secure.example.", "A"), dg.addr)
    assert r.rcode() == dns.rcode.NOERROR
    s1 = dg.stats()
    assert s1["num.cachemiss"] == s0["num.cachemiss"] + 1


def _metrics():
    url = "http://%s:%d/metrics" % (MAIN_ADDR, PROM_PORT)
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        return resp.read().decode()


def _udp_total(text):
    for line in text.splitlines():
        if line.startswith('danegated_queries_total{transport="udp"}'):
            return int(float(line.split()[-1]))
    raise AssertionError("no danegated_queries_total udp line:\n" + text)


def test_prometheus_metrics(dg):
    m0 = _metrics()
    assert "# TYPE danegated_queries_total counter" in m0
    n0 = _udp_total(m0)
    for _ in range(3):
        udp(mkq("www.secure.example.", "A"), dg.addr)
    assert _udp_total(_metrics()) >= n0 + 3


def test_prometheus_404(dg):
    import urllib.error
    url = "http://%s:%d/nope" % (MAIN_ADDR, PROM_PORT)
    try:
        urllib.request.urlopen(url, timeout=5)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
