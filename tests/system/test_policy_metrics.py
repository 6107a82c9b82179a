"""danegate-policy's Prometheus endpoint (prometheus-interface:,
lib/http_metrics.c): a few socketmap lookups against the world, then
/metrics over HTTP must be valid Prometheus text (checked by the small
parser below) whose counters moved by exactly what was asked: replies by
status and level, the cache hit of the repeated key, the MTA-STS fetch,
the histogram's count. A client outside access-control: gets 403; -t
names file:line; it works under the privilege drop and seccomp, and with
a socketmap socket passed by systemd."""
import http.client
import math
import os
import re
import signal
import subprocess
import time

import dgsys
import policysys

LISTEN = dgsys.addr("1.80") + "@10028"
METRICS_ADDR = dgsys.addr("1.80")
METRICS_PORT = 9168
ALLOWED = dgsys.addr("2.81")       # allowed by an access-control: line
REFUSED = dgsys.addr("2.80")       # refused by one (loopback, else allowed)
DENIED = dgsys.addr("2.82")

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"^(%s)(\{([^}]*)\})? (\S+)$" % _NAME)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')


def parse_prometheus(text):
    """Text format 0.0.4 -> {(name, frozenset(labels)): value}; asserts
    HELP and TYPE once per family before its samples, well-formed names,
    labels and values, no duplicate series, and for every histogram
    cumulative buckets in increasing le ending with +Inf equal to _count,
    and a _sum."""
    assert text.endswith("\n"), "no final newline"
    types, helps, samples, seen_family = {}, set(), {}, []
    for ln in text.splitlines():
        assert ln.strip() == ln and ln, "blank or padded line %r" % ln
        if ln.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.+)$" % _NAME, ln)
            assert m, "bad comment line %r" % ln
            kind, name, rest = m.groups()
            if kind == "HELP":
                assert name not in helps, "HELP twice for " + name
                helps.add(name)
            else:
                assert name not in types, "TYPE twice for " + name
                assert rest in ("counter", "gauge", "histogram",
                                "summary", "untyped"), ln
                types[name] = rest
                seen_family.append(name)
            continue
        m = _SAMPLE.match(ln)
        assert m, "bad sample line %r" % ln
        name, _, labeltext, value = m.groups()
        labels = {}
        if labeltext:
            pos = 0
            while pos < len(labeltext):
                lm = _LABEL.match(labeltext, pos)
                assert lm, "bad labels in %r" % ln
                assert lm.group(1) not in labels, ln
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        v = float(value)    # "+Inf", "NaN" parse too
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(
                    name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        assert family in types, "sample before its TYPE: %r" % ln
        assert family == seen_family[-1], "family %s interleaved" % family
        assert family in helps, "no HELP for " + family
        if types[family] == "counter":
            assert v >= 0 and name.endswith("_total"), ln
        key = (name, frozenset(labels.items()))
        assert key not in samples, "duplicate series %r" % ln
        samples[key] = v
    for fam, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted(
            (float(dict(k[1])["le"]), v) for k, v in samples.items()
            if k[0] == fam + "_bucket")
        assert buckets and math.isinf(buckets[-1][0]), fam
        for (_, a), (_, b) in zip(buckets, buckets[1:]):
            assert a <= b, "%s buckets not cumulative" % fam
        assert samples[(fam + "_count", frozenset())] == buckets[-1][1]
        assert (fam + "_sum", frozenset()) in samples
    return samples


def get(path="/metrics", source=ALLOWED, port=METRICS_PORT,
        addr=METRICS_ADDR):
    c = http.client.HTTPConnection(addr, port, timeout=10,
                                   source_address=(source, 0))
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type") or "", \
            r.read().decode()
    finally:
        c.close()


def scrape(**kw):
    status, ctype, body = get(**kw)
    assert status == 200, (status, body)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return parse_prometheus(body)


def val(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0.0)


def wait_log(p, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in p.log():
        assert time.monotonic() < deadline, p.log()[-3000:]
        time.sleep(0.05)


def metrics_conf(extra=()):
    return ["prometheus-interface: %s@%d" % (METRICS_ADDR, METRICS_PORT),
            "access-control: %s/32 allow" % ALLOWED,
            "access-control: %s/32 refuse" % REFUSED,
            "access-control: %s/32 deny" % DENIED,
            "cache-ttl: 300"] + list(extra)


def test_parser_refuses_bad_text():
    good = ("# HELP x_seconds t\n# TYPE x_seconds histogram\n"
            'x_seconds_bucket{le="0.1"} 1\nx_seconds_bucket{le="+Inf"} 2\n'
            "x_seconds_sum 0.3\nx_seconds_count 2\n")
    parse_prometheus(good)
    for bad in (good.replace('le="+Inf"} 2', 'le="+Inf"} 0'),
                good.replace("x_seconds_count 2", "x_seconds_count 3"),
                good.replace("# HELP x_seconds t\n", ""),
                good.replace('{le="+Inf"}', '{le="1"}'),
                "# TYPE y_total counter\n# HELP y_total h\ny_total -1\n"):
        try:
            parse_prometheus(bad)
        except AssertionError:
            continue
        raise AssertionError("accepted:\n" + bad)


def test_lookups_move_counters_exactly(world, tmp_path):
    p = policysys.Policy(world, tmp_path, [LISTEN], extra=metrics_conf())
    p.start()
    try:
        wait_log(p, "Prometheus metrics on http://%s@%d/metrics" % (
            METRICS_ADDR, METRICS_PORT))
        m0 = scrape()
        asked = [
            ("dane-ee.example", "policy", "OK dane-only"),
            ("dane-ee.example", "policy", "OK dane-only"),     # cache hit
            ("insecure-mx.example", "policy", "OK dane"),
            ("sts-enforce.example", "policy", "OK secure "),
            ("no-tlsa.example", "policy", "NOTFOUND "),
            (".dane-ee.example", "policy", "NOTFOUND "),      # no lookup
            ("tlsa-bogus.example", "policy", "TEMP "),
            ("tlsa-bogus.example", "policy", "TEMP "),        # not cached
            ("dane-ee.example", "nomap", "PERM "),
        ]
        for key, name, want in asked:
            r = p.query(key, name=name)
            assert r.startswith(want), (key, r)
        m1 = scrape()

        def d(name, **labels):
            return val(m1, name, **labels) - val(m0, name, **labels)

        lk = "danegate_policy_lookups_total"
        assert d(lk, reply="OK", level="dane-only") == 2
        assert d(lk, reply="OK", level="dane") == 1
        assert d(lk, reply="OK", level="secure") == 1
        assert d(lk, reply="NOTFOUND") == 2
        assert d(lk, reply="TEMP") == 2
        assert d(lk, reply="PERM") == 1
        assert d("danegate_policy_cache_hits_total") == 1
        # dane-ee, insecure-mx, sts-enforce, no-tlsa, tlsa-bogus twice
        assert d("danegate_policy_cache_misses_total") == 6
        assert d("danegate_policy_sts_fetches_total", result="fetched") == 1
        assert d("danegate_policy_sts_fetches_total", result="failed") == 0
        assert d("danegate_policy_lookup_seconds_count") == len(asked)
        assert d("danegate_policy_lookup_seconds_bucket",
                 le="+Inf") == len(asked)
        assert d("danegate_policy_lookup_seconds_sum") > 0
        # the cached answer, the parent-domain key and the PERM are
        # answered at once: at least those three within 10 ms
        assert d("danegate_policy_lookup_seconds_bucket", le="0.01") >= 3
        assert val(m1, "danegate_policy_cache_entries") >= 4
        # the control socket counts the same
        assert val(m1, lk, reply="OK", level="dane-only") >= 2
    finally:
        assert p.stop() == 0, p.log()[-3000:]


def test_access_rule_and_reload(world, tmp_path):
    p = policysys.Policy(world, tmp_path, [dgsys.addr("1.81") + "@10028"],
                         extra=[ln.replace(METRICS_ADDR, dgsys.addr("1.81"))
                                if "prometheus" in ln else ln
                                for ln in metrics_conf()])
    a = dgsys.addr("1.81")
    p.start()
    try:
        wait_log(p, "Prometheus metrics on")
        assert get(addr=a)[0] == 200
        # loopback outside every access-control: line: allowed by default
        assert get(addr=a, source=dgsys.addr("2.83"))[0] == 200
        for src in (REFUSED, DENIED):
            status, _, body = get(addr=a, source=src)
            assert status == 403 and "danegate_policy" not in body, src
        assert get("/other", addr=a)[0] == 404
        # a reload takes the new access list at once
        p.write_config("policy:\n    prometheus-interface: %s@%d\n"
                       "    access-control: %s/32 refuse\n" % (
                           a, METRICS_PORT, ALLOWED))
        p.proc.send_signal(signal.SIGHUP)
        wait_log(p, "reloaded")
        assert get(addr=a)[0] == 403
        assert get(addr=a, source=REFUSED)[0] == 200
        # the socket was bound as root: another address waits for a restart
        p.write_config("policy:\n    prometheus-interface: %s@%d\n" % (
            a, METRICS_PORT + 1))
        p.proc.send_signal(signal.SIGHUP)
        wait_log(p, "takes effect at the next start")
        assert get(addr=a)[0] == 200
    finally:
        assert p.stop() == 0, p.log()[-3000:]


def test_config_check_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("policy:\n    cache-ttl: 60\n"
                   "    prometheus-interface: localhost@9167\n"
                   "    prometheus-interface: 127.0.0.1@99999\n"
                   "    access-control: 10.0.0.0/33 allow\n"
                   "    access-control: 10.0.0.0/8 maybe\n")
    r = dgsys.run([policysys.POLICY, "-t", "-c", str(bad)])
    assert r.returncode == 1
    assert "bad.conf:3: prometheus-interface: 'localhost@9167'" in r.stderr
    assert "bad.conf:4: prometheus-interface: '127.0.0.1@99999'" in r.stderr
    assert "bad.conf:5: access-control: bad prefix length 33" in r.stderr
    assert "bad.conf:6: access-control:" in r.stderr
    good = tmp_path / "good.conf"
    good.write_text("policy:\n    prometheus-interface: ::1\n"
                    "    prometheus-interface: [::1]@9100\n"
                    "    prometheus-interface: 127.0.0.1@9100\n"
                    "    prometheus-interface: \"\"\n"
                    "    access-control: 192.0.2.0/24 allow\n")
    r = dgsys.run([policysys.POLICY, "-t", "-c", str(good)])
    assert r.returncode == 0, r.stderr


def test_under_privilege_drop_and_seccomp(world, tmp_path):
    a = dgsys.addr("1.82")
    p = policysys.Policy(world, tmp_path, [a + "@10028"], extra=[
        "username: nobody",
        "prometheus-interface: %s@%d" % (a, METRICS_PORT)])
    p.start()
    try:
        status = open("/proc/%d/status" % p.proc.pid).read()
        assert re.search(r"^Uid:\s+65534\s+65534\s+65534", status, re.M)
        assert re.search(r"^Seccomp:\s+2$", status, re.M)
        assert p.query("dane-ee.example") == "OK dane-only"
        m = scrape(addr=a, source=a)
        assert val(m, "danegate_policy_lookups_total", reply="OK",
                   level="dane-only") == 1
        assert val(m, "danegate_policy_lookup_seconds_count") == 1
        assert p.proc.poll() is None
    finally:
        assert p.stop() == 0, p.log()[-3000:]


def test_with_systemd_socket(world, tmp_path):
    """The socketmap socket from systemd (socket activation), /metrics
    bound by the service itself."""
    a = dgsys.addr("1.83")
    conf = tmp_path / "policy.conf"
    conf.write_text("policy:\n    prometheus-interface: %s@%d\n" % (
        a, METRICS_PORT))
    helper = policysys.Policy(world, tmp_path, [a + "@10028"])
    log = open(tmp_path / "policy.log", "a")
    # systemd-socket-activate passes no environment of its own accord: a
    # sanitizer build's leak check at exit would meet the seccomp filter
    passenv = ["-E", "ASAN_OPTIONS"] if "ASAN_OPTIONS" in os.environ else []
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", "%s:10028" % a] + passenv +
        [policysys.POLICY, "-d", "-v", "-c", str(conf)] +
        helper.world_options(), stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT)
    dgsys._live_procs.add(proc)
    try:
        deadline = time.monotonic() + 10
        while "Listening on" not in helper.log():
            assert time.monotonic() < deadline, helper.log()
            assert proc.poll() is None, helper.log()
            time.sleep(0.05)
        # the first connection starts the service with the socket
        assert helper.query("dane-ee.example") == "OK dane-only"
        assert "systemd socket fd 3" in helper.log()
        m = scrape(addr=a, source=a)
        assert val(m, "danegate_policy_lookups_total", reply="OK",
                   level="dane-only") == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(15)
        dgsys._live_procs.discard(proc)
        log.close()
        assert rc == 0, helper.log()[-3000:]
