"""danegate-policy's caches against the world (issue 8): an answer is
kept no longer than the DNS data it came from (ttl.example.'s mail domain,
MX TTL 3), and MTA-STS policies live in the engine's on-disk cache
(sts-cache-dir:), so a restarted service still applies one it cannot
fetch again."""
import re
import signal
import time

import dgsys
import policysys

LISTEN = dgsys.addr("1.46") + "@10029"


def counter(p, name):
    """The last value of a counter the service logged on SIGUSR1."""
    before = p.log().count("counters:")
    p.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while p.log().count("counters:") == before:
        assert time.monotonic() < deadline, p.log()[-2000:]
        time.sleep(0.05)
    return int(re.findall(r"^%s (\d+)$" % name, p.log(), re.M)[-1])


def test_answer_kept_no_longer_than_dns_ttl(world, tmp_path):
    p = policysys.Policy(world, tmp_path, [LISTEN], extra=["cache-ttl: 60"])
    p.start()
    try:
        assert p.query("mail.ttl.example") == "NOTFOUND "
        assert p.query("mail.ttl.example") == "NOTFOUND "
        hits = counter(p, "danegate_policy_cache_hits_total")
        misses = counter(p, "danegate_policy_cache_misses_total")
        assert hits == 1, p.log()[-2000:]
        # the MX's TTL is 3 s: cache-ttl 60 must not keep the answer
        time.sleep(4.5)
        assert p.query("mail.ttl.example") == "NOTFOUND "
        assert counter(p, "danegate_policy_cache_hits_total") == hits
        assert counter(p,
                       "danegate_policy_cache_misses_total") == misses + 1
    finally:
        assert p.stop() == 0, p.log()[-3000:]


def test_sts_policy_survives_restart_from_disk(world, tmp_path):
    cache = tmp_path / "sts"
    enforce = "OK secure match=mx.sts-enforce.example servername=hostname"
    p = policysys.Policy(world, tmp_path / "a", [LISTEN],
                         extra=["sts-cache-dir: %s" % cache,
                                "sts-fetch-failure: temp"])
    (tmp_path / "a").mkdir()
    p.start()
    try:
        assert p.query("sts-enforce.example") == enforce
    finally:
        assert p.stop() == 0, p.log()[-3000:]
    assert (cache / "sts-enforce.example").is_file()
    assert "mode: enforce" in (cache / "sts-enforce.example").read_text()

    # restarted, with the policy host out of reach (no CA trusts it: every
    # fetch fails): the unexpired copy on disk answers
    (tmp_path / "b").mkdir()
    wrong_ca = tmp_path / "b" / "other-ca.pem"
    wrong_ca.write_text(open("/etc/ssl/certs/ca-certificates.crt").read())
    q = policysys.Policy(world, tmp_path / "b", [LISTEN],
                         extra=["sts-cache-dir: %s" % cache,
                                "sts-fetch-failure: temp",
                                "ca-file: %s" % wrong_ca])
    q.start()
    try:
        assert q.query("sts-enforce.example") == enforce, q.log()[-3000:]
        # the same CA fails a domain it never fetched: the fetch is real
        r = q.query("sts-mismatch.example")
        assert r.startswith("TEMP sts-"), r
    finally:
        assert q.stop() == 0, q.log()[-3000:]
