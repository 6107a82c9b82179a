"""Differential test of danegate-policy, the judge (issue 8): a sending
Postfix with smtp_tls_security_level = may plus danegate-policy as its
smtp_tls_policy_maps must end every DANE case of the world exactly as the
reference sending Postfix with `dane` does, and enforce the MTA-STS cases
that `dane` alone ignores.

Both senders (tests/world/sender.sh; the policy one with
SENDER_MAIN_CF_EXTRA) resolve through one danegated; danegate-policy
forwards to it too and validates itself. One message per mail case of the
world goes through each sender at the same time; an outcome is one of

  verified   delivered over "Verified TLS"
  tls        delivered over TLS that is not "Verified" (Trusted,
             Untrusted, Anonymous)
  plain      delivered without TLS
  deferred   still queued (or deferred) when the run ends
  bounced

The policy sender has the world CA as smtp_tls_CAfile (MTA-STS `secure`
needs it), so its opportunistic deliveries may say "Trusted" where the
reference says "Untrusted": both are "tls". For the same reason "Trusted"
cannot tell DANE behind an insecure MX (insecure-mx.example) from PKIX;
that case's map answer is checked to be `OK dane` as well.

MTA-STS (the reference ignores it): sts-enforce.example must be
delivered verified, sts-mismatch.example deferred, sts-testing.example
delivered like the reference.
"""
import atexit
import time
import uuid
from pathlib import Path

import pytest

import dgsys
import policysys
from test_postfix_differential import (ENVELOPE_FROM, _env_file, _message,
                                       _read, _sender, parse_maillog,
                                       tls_level)

RESOLVER_ADDR = dgsys.addr("1.43")
POLICY_LISTEN = dgsys.addr("1.44") + "@10028"
DEADLINE = 30.0

STS_EXPECTED = {
    "sts-enforce.example": "verified",
    "sts-mismatch.example": "deferred",
}


@pytest.fixture(scope="module")
def mailworld(world):
    if world.env.get("WORLD_MAIL") != "1":
        pytest.skip("the world runs without mail servers (WORLD_MAIL=0)")
    return world


@pytest.fixture(scope="module")
def resolver(mailworld, tmp_path_factory):
    d = dgsys.Danegated(mailworld, tmp_path_factory.mktemp("danegated"),
                        [RESOLVER_ADDR], acl=["127.0.0.0/8 allow"])
    try:
        d.start()
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def policy(mailworld, resolver, tmp_path_factory):
    p = policysys.Policy(mailworld, tmp_path_factory.mktemp("policy"),
                         [POLICY_LISTEN], resolver=RESOLVER_ADDR)
    try:
        p.start()
        yield p
    finally:
        rc = p.stop()
        assert rc == 0, "danegate-policy exit %r:\n%s" % (rc, p.log()[-3000:])


def _start_sender(senddir, resolver_addr, extra=None):
    import os
    env_backup = os.environ.get("SENDER_MAIN_CF_EXTRA")
    if extra is not None:
        os.environ["SENDER_MAIN_CF_EXTRA"] = extra
    try:
        r = _sender("up", senddir, resolver_addr)
    finally:
        if env_backup is None:
            os.environ.pop("SENDER_MAIN_CF_EXTRA", None)
        else:
            os.environ["SENDER_MAIN_CF_EXTRA"] = env_backup
    if r.returncode != 0:
        pytest.fail("sender.sh up failed (%d):\n%s%s\nmaillog:\n%s" % (
            r.returncode, r.stdout, r.stderr, _read(senddir / "maillog")))
    env = _env_file(senddir / "sender.env")
    env["dir"] = senddir
    return env


@pytest.fixture(scope="module")
def senders(mailworld, resolver, policy, tmp_path_factory):
    ref_dir = tmp_path_factory.mktemp("sender-dane")
    pol_dir = tmp_path_factory.mktemp("sender-policy")
    host, port = POLICY_LISTEN.rsplit("@", 1)
    extra = "\n".join([
        "smtp_tls_security_level = may",
        "smtp_tls_dane_insecure_mx_policy = dane",
        "smtp_tls_policy_maps = socketmap:inet:%s:%s:policy" % (host, port),
        "smtp_tls_CAfile = %s" % mailworld.env["WORLD_CA_FILE"],
    ])

    def down():
        _sender("down", ref_dir)
        _sender("down", pol_dir)

    atexit.register(down)
    try:
        ref = _start_sender(ref_dir, resolver.addr)
        pol = _start_sender(pol_dir, resolver.addr, extra)
        yield ref, pol
    finally:
        down()
        atexit.unregister(down)


def _outcome(attempts):
    if not attempts:
        return "deferred"
    last = attempts[-1]
    if last["status"] == "sent":
        lv = tls_level(last)
        return {"Verified": "verified", "plain": "plain"}.get(lv, "tls")
    if last["status"] == "bounced":
        return "bounced"
    return "deferred"


def _send_all(sender, domains, tag):
    token = uuid.uuid4().hex[:10]
    mids = {d: "poldiff.%s.%s.%s@client.example" % (tag, token, d)
            for d in domains}
    for d in domains:
        r = dgsys.subprocess.run(
            ["sendmail", "-C", sender["SENDER_CONFIG"], "-f", ENVELOPE_FROM,
             "test@" + d], input=_message(d, mids[d]), text=True,
            capture_output=True, timeout=20)
        assert r.returncode == 0, r.stdout + r.stderr
    return mids


def _collect(sender, domains, mids):
    qids, attempts = parse_maillog(_read(sender["SENDER_LOG"]))
    out = {}
    for d in domains:
        qid = qids.get(mids[d])
        mine = [a for a in attempts.get(qid, [])
                if a["rcpt"] == "test@" + d] if qid else []
        out[d] = (mine, _outcome(mine))
    return out


@pytest.fixture(scope="module")
def table(mailworld, senders):
    ref, pol = senders
    cases = [ln.split("\t") for ln in
             Path(mailworld.env["WORLD_MAIL_CASES"]).read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    domains = [c[0] for c in cases]
    mids_ref = _send_all(ref, domains, "ref")
    mids_pol = _send_all(pol, domains, "pol")
    deadline = time.monotonic() + DEADLINE
    while True:
        a = _collect(ref, domains, mids_ref)
        b = _collect(pol, domains, mids_pol)
        settled = all(a[d][0] and a[d][0][-1]["status"] in ("sent",
                      "bounced") and b[d][0] and b[d][0][-1]["status"] in
                      ("sent", "bounced") for d in domains)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rows = []
    for d in domains:
        want = STS_EXPECTED.get(d, a[d][1])
        rows.append((d, a[d][1], b[d][1], want,
                     b[d][0][-1]["text"] if b[d][0] else ""))
    text = "\n".join("%-28s dane=%-9s policy=%-9s want=%-9s %s" % (
        r[0], r[1], r[2], r[3], "OK" if r[2] == r[3] else "DIFF " + r[4])
        for r in rows)
    print("\n" + text)
    Path(mailworld.dir / "policy-differential.txt").write_text(text + "\n")
    return rows, text


def test_every_case_ends_as_the_reference(table):
    rows, text = table
    bad = [r for r in rows if r[2] != r[3]]
    assert not bad, "differences:\n" + text


def test_reference_saw_dane(table):
    """The reference did DANE at all: a verified and a deferred case."""
    rows, text = table
    outcomes = {r[1] for r in rows}
    assert {"verified", "deferred", "bounced"} <= outcomes, text


def test_insecure_mx_answer_is_dane(policy):
    # "Trusted" of insecure-mx cannot show DANE under the CA file: the map
    # itself must say dane
    assert policy.query("insecure-mx.example") == "OK dane"
