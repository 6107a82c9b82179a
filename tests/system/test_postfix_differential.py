"""Differential test: tlsa-check's verdicts against Postfix, the reference
SMTP DANE implementation (RFC 7672).

One sending Postfix (tests/world/sender.sh: smtp_tls_security_level = dane,
smtp_dns_support_level = dnssec) resolves through a danegated instance on
NET.1.40 and sends one message to every mail domain of the world
(DIR/mail-cases.tsv), all at once; one polling loop reads each message's
outcome from the sender's maillog (and `postqueue -j`) and the receiving
sink's Maildir. Meanwhile `tlsa-check --json` audits the same domains with
the world's trust anchor. Then, per domain, the verdict must predict what
Postfix did:

  dane-valid    delivered, "Verified TLS" ("Trusted TLS" for reason
                dane-trusted: insecure MX), through a lowest-preference MX
  dane-partial  delivered with Verified/Trusted TLS through an MX host that
                tlsa-check judged dane-valid
  dane-failing  deferred (still queued) for a DANE reason; the reason code
                names Postfix's reason
  encrypt-only  delivered with unauthenticated TLS (Untrusted/Anonymous)
  no-dane       delivered, TLS not authenticated (or no TLS)
  dns-failure   deferred
  no-mail       bounced (null MX, RFC 7505)

A failure message shows both sides: tlsa-check's verdict, reason and "why",
and Postfix's status line, TLS line and the smtp(8) lines before it.

The danegated instance is module-scoped (one run serves every per-domain
test), so it is built from dgsys.Danegated directly, like conftest's
function-scoped `danegated` factory does, with the same exit-status check.
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import dns.flags
import dns.rcode
import pytest

import dgsys

SENDER_SH = dgsys.REPO / "tests" / "world" / "sender.sh"
TLSA_CHECK = os.environ.get("TLSA_CHECK",
                            str(dgsys.REPO / "tools" / "tlsa-check"))
RESOLVER_ADDR = dgsys.addr("1.40")
ENVELOPE_FROM = "sender@client.example"
DEADLINE = 25.0          # seconds for every message to reach an outcome


def _mail_domains():
    """The mail-case domains, from world.sh's MAIL_CASES table (the same
    list `up` writes to DIR/mail-cases.tsv; test_case_list checks that)."""
    text = dgsys.WORLD_SH.read_text()
    m = re.search(r"^MAIL_CASES=\(\n(.*?)^\)", text, re.S | re.M)
    if not m:
        return []
    return [ln.split()[0] for ln in re.findall(r'^\s*"([^"]+)"', m.group(1),
                                                re.M)]


DOMAINS = _mail_domains()

# Known disagreements, each a tlsa-check bug: domain -> reason (xfail strict).
KNOWN_BUGS = {}


# ------------------------------------------------------------ the sender --

def _sender(cmd, senddir, *args, timeout=60):
    return dgsys.run(["bash", str(SENDER_SH), cmd, str(senddir)] +
                     list(args), timeout=timeout)


def _env_file(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = re.sub(r"\\(.)", r"\1", v)
    return env


@pytest.fixture(scope="module")
def mailworld(world):
    if world.env.get("WORLD_MAIL") != "1":
        pytest.skip("the world runs without mail servers (WORLD_MAIL=0)")
    for tool in ("postfix", "sendmail", "postqueue", "unshare", "nsenter"):
        if shutil.which(tool) is None and not os.path.exists(
                "/usr/sbin/" + tool):
            pytest.skip("%s is not installed" % tool)
    if not os.access(TLSA_CHECK, os.X_OK):
        pytest.fail("tlsa-check not found or not executable: %s (build "
                    "with make, or set TLSA_CHECK)" % TLSA_CHECK)
    return world


@pytest.fixture(scope="module")
def resolver(mailworld, tmp_path_factory):
    """danegated on NET.1.40, resolving in the world (AD for secure data)."""
    d = dgsys.Danegated(mailworld, tmp_path_factory.mktemp("danegated"),
                        [RESOLVER_ADDR], acl=["127.0.0.0/8 allow"])
    try:
        d.start()
        yield d
    finally:
        rc = d.stop()
    assert rc == 0, ("danegated on %s: exit status %r after SIGTERM (want "
                     "0); log tail:\n%s" % (d.addr, rc, d.log()[-3000:]))


@pytest.fixture(scope="module")
def sender(resolver, tmp_path_factory):
    """The sending Postfix, its resolver being `resolver`."""
    senddir = tmp_path_factory.mktemp("sender")

    def down():
        _sender("down", senddir)

    atexit.register(down)
    try:
        r = _sender("up", senddir, resolver.addr)
        if r.returncode != 0:
            pytest.fail("sender.sh up failed (%d):\n%s%s\nmaillog:\n%s" % (
                r.returncode, r.stdout, r.stderr,
                _read(senddir / "maillog")))
        env = _env_file(senddir / "sender.env")
        env["dir"] = senddir
        yield env
    finally:
        down()
        atexit.unregister(down)


def _read(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


# ------------------------------------------------------ the sender's log --

LINE_RX = re.compile(r"^\S+\s+\d+\s+[\d:]+\s+\S+\s+postfix/(?P<svc>[\w/.-]+)"
                     r"\[(?P<pid>\d+)\]:\s+(?P<msg>.*)$")
MSGID_RX = re.compile(r"^(?P<qid>[0-9A-F]+): message-id=<(?P<mid>[^>]*)>")
STATUS_RX = re.compile(r"^(?P<qid>[0-9A-F]+): to=<(?P<rcpt>[^>]*)>, "
                       r"(?:orig_to=<[^>]*>, )?relay=(?P<relay>[^,]+), .*?"
                       r"dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) "
                       r"\((?P<text>.*)\)$")
TLS_RX = re.compile(r"^(?P<level>Verified|Trusted|Untrusted|Anonymous) TLS "
                    r"connection established to (?P<host>[^\[]+)\[")


def parse_maillog(text):
    """{message-id: qid} and {qid: [attempt, ...]}; an attempt is the
    status line with the smtp(8) lines of the same process since its
    previous status line (TLS, DANE warnings)."""
    qids = {}
    attempts = {}
    pending = {}          # pid -> lines since its last status line
    for line in text.splitlines():
        m = LINE_RX.match(line)
        if not m:
            continue
        svc, pid, msg = m.group("svc"), m.group("pid"), m.group("msg")
        mm = MSGID_RX.match(msg)
        if mm and svc == "cleanup":
            qids[mm.group("mid")] = mm.group("qid")
            continue
        ms = STATUS_RX.match(msg)
        if ms:
            context = pending.pop(pid, [])
            tls = [(t.group("level"), t.group("host"))
                   for t in (TLS_RX.match(LINE_RX.match(c).group("msg"))
                             for c in context) if t]
            attempts.setdefault(ms.group("qid"), []).append({
                "line": line, "svc": svc, "rcpt": ms.group("rcpt"),
                "relay": ms.group("relay"), "dsn": ms.group("dsn"),
                "status": ms.group("status"), "text": ms.group("text"),
                "context": context, "tls": tls})
            continue
        if svc in ("smtp", "error", "discard"):
            pending.setdefault(pid, []).append(line)
    return qids, attempts


def relay_host(relay):
    """'mx.a.example[127.0.0.1]:25' -> 'mx.a.example'; 'none' -> ''."""
    return "" if relay == "none" else relay.split("[", 1)[0].rstrip(".").lower()


def tls_level(attempt):
    """TLS of the delivering connection: Verified/Trusted/Untrusted/
    Anonymous, or 'plain' when no TLS line names the relay host."""
    host = relay_host(attempt["relay"])
    levels = [lv for lv, h in attempt["tls"] if h.lower() == host]
    return levels[-1] if levels else "plain"


def find_in_sink(sink, domain, message_id):
    """(path, 'by' host of the top Received: header) or (None, None)."""
    for sub in ("new", "cur"):
        d = Path(sink) / domain / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            text = _read(f)
            if "<%s>" % message_id not in text:
                continue
            m = re.search(r"^Received: .*?\bby (\S+) \(Postfix\)", text,
                          re.M | re.S)
            return str(f), (m.group(1).lower() if m else None)
    return None, None


# ------------------------------------------------------------- the run --

def _message(domain, message_id):
    return ("From: <%s>\nTo: <test@%s>\nSubject: postfix differential %s\n"
            "Message-ID: <%s>\n\nDANE differential test message for %s.\n"
            % (ENVELOPE_FROM, domain, domain, message_id, domain))


@pytest.fixture(scope="module")
def run(mailworld, resolver, sender):
    """Sends to every mail domain, runs tlsa-check; per domain
    {'postfix': {...}, 'tlsa': {...}} plus the run's metadata."""
    w = mailworld
    cases = [ln.split("\t") for ln in
             Path(w.env["WORLD_MAIL_CASES"]).read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    domains = [c[0] for c in cases]
    expected = {c[0]: (c[1], c[2]) for c in cases}
    conf = sender["SENDER_CONFIG"]
    maillog = sender["SENDER_LOG"]
    sink = w.env["WORLD_MAIL_SINK"]
    queries_before = resolver.stats().get("num.queries", 0)

    # tlsa-check in the background while Postfix delivers.
    tc = subprocess.Popen(
        [TLSA_CHECK, "--json", "-j", "8",
         "--trust-anchor", str(w.dir / "root.key"),
         "--unbound-conf", str(w.dir / "libunbound.conf"),
         "--ca-file", w.env["WORLD_CA_FILE"]] + domains,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    dgsys._live_procs.add(tc)

    token = uuid.uuid4().hex[:12]
    mids = {d: "pfdiff.%s.%s@client.example" % (token, d) for d in domains}
    subs = {}
    for d in domains:
        p = subprocess.Popen(["sendmail", "-C", conf, "-f", ENVELOPE_FROM,
                              "test@" + d], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        dgsys._live_procs.add(p)
        subs[d] = p
        p.stdin.write(_message(d, mids[d]))
        p.stdin.close()
    submit_errors = {}
    for d, p in subs.items():
        out = p.stdout.read()
        if p.wait(20) != 0:
            submit_errors[d] = "sendmail exit %d: %s" % (p.returncode, out)
        dgsys._live_procs.discard(p)

    # One polling loop until every message is sent (and in the sink),
    # bounced or deferred.
    final = {}
    deadline = time.monotonic() + DEADLINE
    while True:
        qids, attempts = parse_maillog(_read(maillog))
        for d in domains:
            if d in final or d in submit_errors:
                continue
            qid = qids.get(mids[d])
            mine = [a for a in attempts.get(qid, [])
                    if a["rcpt"] == "test@" + d] if qid else []
            if not mine:
                continue
            last = mine[-1]
            path, by = (None, None)
            if last["status"] == "sent":
                path, by = find_in_sink(sink, d, mids[d])
                if path is None:
                    continue            # not in the Maildir yet
            final[d] = dict(last, qid=qid, attempts=mine, sink=path,
                            received_by=by)
        if len(final) + len(submit_errors) == len(domains):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)

    queue = {}
    r = dgsys.run(["postqueue", "-c", conf, "-j"], timeout=20)
    for line in r.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        queue[entry.get("queue_id")] = entry
    queries_after = resolver.stats().get("num.queries", 0)

    try:
        out, err = tc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        tc.kill()
        out, err = tc.communicate()
    dgsys._live_procs.discard(tc)
    if tc.returncode not in (0, 1, 2):
        pytest.fail("tlsa-check exited %s:\n%s%s" % (tc.returncode, out, err))
    report = json.loads(out)
    tlsa = {x["domain"].rstrip(".").lower(): x for x in report["domains"]}

    qids, _ = parse_maillog(_read(maillog))
    postfix = {}
    for d in domains:
        o = final.get(d)
        qid = qids.get(mids[d])
        if o is None:
            o = {"status": None, "qid": qid, "line": "",
                 "text": submit_errors.get(d, "no outcome within %.0f s"
                                           % DEADLINE),
                 "relay": "none", "context": [], "tls": [], "attempts": [],
                 "sink": None, "received_by": None}
            if d not in submit_errors:
                o["sink"], o["received_by"] = find_in_sink(sink, d, mids[d])
        o["queued"] = queue.get(qid) if qid else None
        o["message_id"] = mids[d]
        postfix[d] = o
    return {"domains": domains, "expected": expected, "postfix": postfix,
            "tlsa": tlsa, "maillog": maillog,
            "queries": (queries_before, queries_after),
            "sender": sender}


# ----------------------------------------------------------- predictions --

DANE_REASON_RX = re.compile(r"TLSA|Server certificate not verified|"
                            r"STARTTLS|TLS is required|dane", re.I)

# tlsa-check's reason code -> what Postfix must say for that deferral
# (status text or the smtp(8) lines before it).
REASON_RX = {
    "dnssec-invalid": r"TLSA lookup error",
    "starttls-not-supported": r"TLS is required, but was not offered",
    "certificate-not-trusted": r"no matching DANE TLSA records",
    "certificate-host-mismatch": r"hostname mismatch",
    "certificate-expired": r"certificate has expired",
}


def _names(mx):
    out = {mx["name"].rstrip(".").lower()}
    if mx.get("expanded"):
        out.add(mx["expanded"].rstrip(".").lower())
    return out


def check_prediction(tc, pf):
    """The problems (strings) with tc (tlsa-check's domain object) as a
    prediction of pf (Postfix's outcome); [] when it holds."""
    problems = []
    verdict, reason = tc["verdict"], tc["reason"]
    status = pf["status"]
    level = tls_level(pf) if status else "plain"
    host = relay_host(pf["relay"])
    delivered = status == "sent" and pf["sink"] is not None
    mxs = tc.get("mx") or []

    def want(cond, what):
        if not cond:
            problems.append(what)

    if verdict in ("dane-valid", "dane-partial", "encrypt-only", "no-dane"):
        want(delivered, "want delivered (status=sent and in the sink), got "
             "status=%s, sink=%s" % (status, pf["sink"]))
    if verdict == "dane-valid":
        want_level = {"dane-verified": ("Verified",),
                      "dane-trusted": ("Trusted",)}.get(
                          reason, ("Verified", "Trusted"))
        want(level in want_level, "want %s TLS (reason %s), got %s" % (
            "/".join(want_level), reason, level))
        if mxs and status == "sent":
            best = min(m["preference"] for m in mxs)
            first = set().union(*(_names(m) for m in mxs
                                  if m["preference"] == best))
            want(host in first, "want delivery through a first MX %s, got "
                 "%s" % (sorted(first), host))
    elif verdict == "dane-partial":
        want(level in ("Verified", "Trusted"),
             "want Verified/Trusted TLS, got %s" % level)
        good = set().union(set(), *(_names(m) for m in mxs
                                    if m["verdict"] == "dane-valid"))
        if status == "sent":
            want(host in good, "want delivery through an MX tlsa-check "
                 "found dane-valid %s, got %s" % (sorted(good), host))
    elif verdict == "encrypt-only":
        want(level in ("Untrusted", "Anonymous"),
             "want unauthenticated TLS (Untrusted/Anonymous), got %s" % level)
    elif verdict == "no-dane":
        want(level in ("Untrusted", "Anonymous", "plain"),
             "want opportunistic TLS (not authenticated), got %s" % level)
    elif verdict in ("dane-failing", "dns-failure"):
        want(status == "deferred", "want deferred, got status=%s" % status)
        want(pf["sink"] is None, "want nothing in the sink, found %s"
             % pf["sink"])
        want(pf["queued"] is not None, "want the message still queued "
             "(postqueue -j), it is not")
        evidence = "\n".join([pf["text"]] + pf["context"])
        if verdict == "dane-failing" and status == "deferred":
            want(DANE_REASON_RX.search(evidence),
                 "want a DANE reason in Postfix's log, got %r" % pf["text"])
            rx = REASON_RX.get(reason)
            if rx:
                want(re.search(rx, evidence), "reason %s: want /%s/ in "
                     "Postfix's log" % (reason, rx))
    elif verdict == "no-mail":
        want(status == "bounced", "want bounced, got status=%s" % status)
        want(pf["sink"] is None, "want nothing in the sink, found %s"
             % pf["sink"])
    else:
        problems.append("unknown verdict %r" % verdict)
    return problems


def describe(domain, tc, pf, expected):
    lines = ["domain %s (world's verdict: %s / %s)" % (
        (domain,) + tuple(expected))]
    if tc is None:
        lines.append("  tlsa-check: no result for this domain")
    else:
        lines.append("  tlsa-check: %s / %s: %s" % (
            tc["verdict"], tc["reason"], tc.get("why", "")))
        for m in tc.get("mx") or []:
            lines.append("    MX %s %s%s: %s / %s: %s" % (
                m["preference"], m["name"],
                " (-> %s)" % m["expanded"] if m.get("expanded") else "",
                m["verdict"], m["reason"], m.get("why", "")))
    lines.append("  Postfix: status=%s, TLS=%s, relay=%s, sink=%s, "
                 "received by %s" % (
                     pf["status"], tls_level(pf) if pf["status"] else "-",
                     pf["relay"], pf["sink"], pf["received_by"]))
    if pf["queued"]:
        lines.append("  queued: %s" % json.dumps(pf["queued"]))
    for a in pf["attempts"] or [pf]:
        for c in a["context"]:
            lines.append("    " + c)
        lines.append("    " + (a["line"] or a["text"]))
    return "\n".join(lines)


# ----------------------------------------------------------------- tests --

def test_case_list(run):
    """The parametrized domains are exactly DIR/mail-cases.tsv's."""
    assert sorted(run["domains"]) == sorted(DOMAINS)


def test_resolver_sets_ad(resolver):
    """danegated on NET.1.40 resolves in the world: AD for secure data,
    none for insecure data."""
    r = dgsys.udp(dgsys.mkq("dane-ee.example.", "MX", do=True), resolver.addr)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD, r
    r = dgsys.udp(dgsys.mkq("insecure-mx.example.", "MX", do=True),
                  resolver.addr)
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AD, r


def test_sender_resolves_through_danegated(run):
    """Postfix's smtp(8) asked danegated (at least one query per domain)
    and saw validated answers (no 'DNSSEC validation may be unavailable')."""
    before, after = run["queries"]
    assert after - before >= len(run["domains"]), (
        "danegated num.queries grew by %d while Postfix sent %d messages"
        % (after - before, len(run["domains"])))
    log = _read(run["maillog"])
    assert "DNSSEC validation may be unavailable" not in log, log[-3000:]


@pytest.mark.parametrize("domain", [
    pytest.param(d, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[d]))
    if d in KNOWN_BUGS else d for d in DOMAINS])
def test_verdict_predicts_postfix(run, domain):
    pf = run["postfix"].get(domain)
    assert pf is not None, "%s is not in mail-cases.tsv" % domain
    tc = run["tlsa"].get(domain)
    text = describe(domain, tc, pf, run["expected"].get(domain, ("?", "?")))
    assert tc is not None, text
    problems = check_prediction(tc, pf)
    assert not problems, "tlsa-check and Postfix disagree:\n  - %s\n%s" % (
        "\n  - ".join(problems), text)


# The CNAME'd MX hosts of issue 6 -> the TLSA base RFC 7672 §2.2.2 gives
# (Postfix's tls_dane_resolve()). The world puts a record that matches
# nothing at every other candidate base, so Postfix's "Verified" shows
# which base it used, and tlsa-check must have used the same.
CNAME_BASES = {
    "cname-unsigned.example": "mx.cname-unsigned.example",
    "cname-alias.example": "mx.cname-alias.example",
    "cname-both.example": "both.cname-secure-target.example",
    "cname-chain.example": "chain.cname-secure-target.example",
    "cname-chain-unsigned.example": "mx.cname-chain-unsigned.example",
}


def test_cname_cases_in_world():
    assert set(CNAME_BASES) <= set(DOMAINS), sorted(set(CNAME_BASES) -
                                                    set(DOMAINS))


@pytest.mark.parametrize("domain", sorted(CNAME_BASES))
def test_cname_tlsa_base_as_postfix(run, domain):
    pf = run["postfix"][domain]
    tc = run["tlsa"].get(domain)
    text = describe(domain, tc, pf, run["expected"].get(domain, ("?", "?")))
    assert pf["status"] == "sent" and pf["sink"] is not None, text
    assert tls_level(pf) == "Verified", text
    assert tc is not None and tc["verdict"] == "dane-valid", text
    bases = [(m.get("tlsa_base") or "").rstrip(".").lower()
             for m in tc.get("mx") or []]
    assert bases == [CNAME_BASES[domain]], text


def test_report_table(run):
    """Writes the side-by-side table to the sender directory (and prints
    it: pytest -rP shows it)."""
    rows = ["%-28s %-9s %-10s %-13s %-26s %-34s %s" % (
        "domain", "postfix", "tls", "verdict", "reason", "tlsa base",
        "relay / reason")]
    for d in run["domains"]:
        tc = run["tlsa"].get(d) or {"verdict": "-", "reason": "-"}
        pf = run["postfix"][d]
        bases = ",".join((m.get("tlsa_base") or "-").rstrip(".")
                         for m in tc.get("mx") or []) or "-"
        rows.append("%-28s %-9s %-10s %-13s %-26s %-34s %s" % (
            d, pf["status"], tls_level(pf) if pf["status"] else "-",
            tc["verdict"], tc["reason"], bases,
            pf["relay"] if pf["status"] == "sent" else pf["text"]))
    table = "\n".join(rows) + "\n"
    Path(run["sender"]["dir"], "differential.txt").write_text(table)
    print(table)
