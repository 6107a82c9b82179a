"""SIGHUP reloads: no answer lost under load; a broken file keeps the old
configuration serving and says why; a good file takes effect."""
import socket
import threading
import time

import dns.message
import dns.rcode
import pytest

from dgsys import addr, mkq, udp

NAMES = [("www.secure.example.", "A", dns.rcode.NOERROR),
         ("www.insecure.example.", "A", dns.rcode.NOERROR),
         ("mx.secure.example.", "AAAA", dns.rcode.NOERROR),
         ("secure.example.", "MX", dns.rcode.NOERROR),
         ("www.nsec3.internal.", "TXT", dns.rcode.NOERROR),
         ("nx.secure.example.", "A", dns.rcode.NXDOMAIN),
         ("chain.secure.example.", "A", dns.rcode.NOERROR)]


class Load(threading.Thread):
    """Sends n UDP queries one after the other, paced; each waits for its
    answer (no retry). Records what came back."""

    def __init__(self, where, n, pace, timeout=3.0):
        super().__init__(daemon=True)
        self.where, self.n, self.pace, self.timeout = where, n, pace, timeout
        self.answered = 0
        self.lost = []
        self.bad = []
        self.finished_at = None

    def run(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((self.where, 53))
            for i in range(self.n):
                name, t, want = NAMES[i % len(NAMES)]
                q = mkq(name, t, do=bool(i & 1), qid=i & 0xffff)
                s.send(q.to_wire())
                deadline = time.monotonic() + self.timeout
                r = None
                while r is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    s.settimeout(left)
                    try:
                        wire = s.recv(65535)
                    except socket.timeout:
                        break
                    m = dns.message.from_wire(wire)
                    if m.id == q.id:
                        r = m
                if r is None:
                    self.lost.append((i, name, t))
                else:
                    self.answered += 1
                    if r.rcode() != want:
                        self.bad.append((i, name, t,
                                         dns.rcode.to_text(r.rcode())))
                time.sleep(self.pace)
        self.finished_at = time.monotonic()


@pytest.mark.slow
def test_sighup_under_load_loses_nothing(danegated):
    d = danegated([addr("1.4")])
    n, hups = 2000, 5
    load = Load(d.addr, n, pace=0.0015)
    since = d.log_size()
    load.start()
    hup_times = []
    time.sleep(0.3)
    for _ in range(hups):
        d.sighup()
        hup_times.append(time.monotonic())
        time.sleep(0.4)
    load.join(120)
    assert not load.is_alive(), "load thread stuck"
    assert load.finished_at > hup_times[-1], (
        "the load ended before the last SIGHUP: the test proves nothing "
        "(make n larger)")
    assert d.running(), "danegated died; log:\n" + d.log()[-3000:]
    assert d.wait_log(r"(?s)(reloaded.*){%d}" % hups, timeout=5,
                      since=since), (
        "want %d 'reloaded' log lines; log:\n%s" % (hups, d.log()[since:]))
    assert not load.lost, "%d of %d queries got no answer, first: %s" % (
        len(load.lost), n, load.lost[:5])
    assert not load.bad, "unexpected rcodes (first 10): %s" % load.bad[:10]
    assert load.answered == n
    assert d.stats()["num.answer.rcode.SERVFAIL"] == 0


def test_broken_config_reload_keeps_serving(danegated):
    d = danegated([addr("1.5")])
    good = d.config_text()
    q = mkq("www.secure.example.", "A")
    assert udp(q, d.addr).rcode() == dns.rcode.NOERROR

    # A broken file that would also refuse us if it were applied.
    broken = d.config_text(acl=["127.0.0.0/8 refuse"],
                           broken_lines=["access-control: 10.0.0.0/8 maybe",
                                         "edns-buffer-size: banana"])
    lines = broken.splitlines()
    bad1 = 1 + next(i for i, ln in enumerate(lines) if "maybe" in ln)
    bad2 = 1 + next(i for i, ln in enumerate(lines) if "banana" in ln)
    d.write_config(broken)
    since = d.log_size()
    d.sighup()
    m = d.wait_log(r"reload failed", timeout=5, since=since)
    assert m, "no 'reload failed' in the log:\n" + d.log()[since:]
    log = d.log()[since:]
    for line in (bad1, bad2):
        assert "%s:%d:" % (d.conf, line) in log, (
            "error for line %d not logged as FILE:LINE:\n%s" % (line, log))
    assert d.running()
    for name in ("www.secure.example.", "www.insecure.example."):
        r = udp(mkq(name, "A"), d.addr)
        assert r.rcode() == dns.rcode.NOERROR, (
            "old configuration not kept after a failed reload: %s" % r)

    # A good file that refuses 127.0.0.0/8 but allows NET.0.0/16 does
    # take effect.
    net16 = d.addr.rsplit(".", 2)[0] + ".0.0/16"
    d.write_config(d.config_text(acl=["127.0.0.0/8 refuse",
                                      net16 + " allow"]))
    since = d.log_size()
    d.sighup()
    assert d.wait_log(r"reloaded", timeout=5, since=since), d.log()[since:]
    assert udp(q, d.addr).rcode() == dns.rcode.REFUSED
    r = udp(q, d.addr, source=d.addr)
    assert r.rcode() == dns.rcode.NOERROR

    # and back
    d.write_config(good)
    since = d.log_size()
    d.sighup()
    assert d.wait_log(r"reloaded", timeout=5, since=since), d.log()[since:]
    assert udp(q, d.addr).rcode() == dns.rcode.NOERROR


def test_control_reload(danegated):
    d = danegated([addr("1.5")])
    since = d.log_size()
    r = d.ctl("reload")
    assert r.stdout.strip() == "ok"
    assert d.wait_log(r"reloaded", timeout=5, since=since)
    assert udp(mkq("www.secure.example.", "A", do=True),
               d.addr).rcode() == dns.rcode.NOERROR
