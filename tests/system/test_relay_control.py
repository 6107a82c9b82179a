"""danegate-control against a running danegate-relay over its control
socket (control-interface:, lib/ctlsock.c): status, stats, reload keeping
the old configuration on error, unknown commands, tokens, tlsrpt. The
module's relay needs no world: nothing is delivered (its resolver address
is silent); test_listings_with_traffic runs one in the world for sts and
tlsrpt with real entries."""
import os
import socket
import stat
import subprocess
import time

import pytest

import dgsys
from test_relay_e2e import mailworld  # noqa: F401 (fixture)

RELAY = str(dgsys.REPO / "plugin" / "relay" / "danegate-relay")
LISTEN = dgsys.addr("1.50") + "@2525"
SECRET = "route-Secret~never-shown"


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    d = tmp_path_factory.mktemp("relayctl")
    conf = d / "relay.conf"
    secret = d / "exo.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    conf.write_text("relay:\n    control-interface: %s\n"
                    "route:\n    name: exo\n    grant: secret\n"
                    "    client-id: app-id\n    tenant: contoso.example\n"
                    "    client-secret-file: %s\n" % (d / "control", secret))
    log = open(d / "relay.log", "w")
    proc = subprocess.Popen(
        [RELAY, "-d", "-c", str(conf), "--listen", LISTEN,
         "--resolver", dgsys.addr("1.51"),
         "--trust-anchor", "/usr/share/dns/root.key"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    dgsys._live_procs.add(proc)
    deadline = time.monotonic() + 30
    while "started" not in (d / "relay.log").read_text():
        assert proc.poll() is None, (d / "relay.log").read_text()
        assert time.monotonic() < deadline, (d / "relay.log").read_text()
        time.sleep(0.05)
    try:
        yield d, conf
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, (d / "relay.log").read_text()
        dgsys._live_procs.discard(proc)
        log.close()


def ctl(d, *args):
    return dgsys.run([dgsys.CONTROL, "-s", str(d / "control")] + list(args),
                     timeout=30)


def test_socket_mode(relay):
    st = os.stat(relay[0] / "control")
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660


def test_status_counts_a_session(relay):
    d, _ = relay
    r = ctl(d, "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("version: ") and "draining: no" in r.stdout
    # nothing delivered here: no transaction, no session kept
    assert "\ntransactions in flight: 0\n" in r.stdout, r.stdout
    assert "\nsessions kept for reuse: 0\n" in r.stdout, r.stdout
    s0 = dict(ln.split("=", 1) for ln in ctl(d, "stats").stdout.split())
    host, port = LISTEN.rsplit("@", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        assert s.recv(512).startswith(b"220")
        s.sendall(b"QUIT\r\n")
        s.recv(512)
    s1 = dict(ln.split("=", 1) for ln in ctl(d, "stats").stdout.split())
    assert int(s1["sessions"]) == int(s0["sessions"]) + 1


def test_unknown_command(relay):
    r = ctl(relay[0], "flush")
    assert r.returncode == 1
    assert r.stderr == ("error: unknown command 'flush' (try: status, "
                        "stats, reload, sts, tokens, tlsrpt)\n"), r.stderr


def test_reload_keeps_old_config_on_error(relay):
    d, conf = relay
    good = conf.read_text()
    try:
        conf.write_text(good.replace("route:", "    bogus-key: 1\nroute:",
                                     1))
        r = ctl(d, "reload")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "old configuration stays in force" in r.stderr
        assert "relay.conf:3: bogus-key" in (d / "relay.log").read_text()
        assert ctl(d, "status").returncode == 0
    finally:
        conf.write_text(good)
    r = ctl(d, "reload")
    assert r.returncode == 0 and r.stdout == "ok\n", (r.stdout, r.stderr)


def test_off_features_say_so(relay):
    """Without MTA-STS traffic, tlsrpt-state-file: or a token: what the
    listings say; the route's secret is never shown."""
    d, _ = relay
    r = ctl(d, "tlsrpt")
    assert (r.returncode, r.stdout) == (
        0, "TLS-RPT: off (no tlsrpt-state-file:)\n"), r
    r = ctl(d, "tokens")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "route exo grant=secret endpoint=https://login.microsoftonline.com/"
        "contoso.example/oauth2/v2.0/token\n  no token\n"), r.stdout
    assert SECRET not in r.stdout
    r = ctl(d, "sts")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("MTA-STS")


def test_listings_with_traffic(mailworld, tmp_path):
    """The real relay in the world: after deliveries to MTA-STS domains,
    'sts' lists their cached policies and 'tlsrpt' the period's counts;
    after SIGUSR1 the reports are counted as sent and the period is
    empty again."""
    import re
    import signal
    import test_relay_tlsrpt as tr
    sock = tmp_path / "control"
    try:
        r = tr.start_relay(mailworld, tmp_path / "relay",
                           tmp_path / "tlsrpt.state", [
                               "control-interface: %s" % sock,
                               "sts-cache-dir: %s" % (tmp_path / "sts")])
        assert tr.send("test@sts-enforce.example")
        assert not tr.send("test@sts-mismatch.example")
        out = ctl(tmp_path, "sts")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("MTA-STS cache: 2 domains"), out.stdout
        assert re.search(r"^sts-enforce\.example mode=enforce "
                         r"id=20260101000000 fetched=\S+Z expires=\S+Z "
                         r"\(in 86\d\d\d s\)$", out.stdout, re.M), out.stdout
        assert re.search(r"^sts-mismatch\.example mode=enforce id=\S+ ",
                         out.stdout, re.M), out.stdout
        out = ctl(tmp_path, "tlsrpt")
        assert out.returncode == 0, out.stderr
        assert "\ndomain sts-enforce.example success=1 failure=0\n" in \
            out.stdout, out.stdout
        assert re.search(r"^domain sts-mismatch\.example success=0 "
                         r"failure=[1-9]\d*$", out.stdout, re.M), out.stdout
        assert out.stdout.endswith("reports.owed=0\nreports.sent=0\n"
                                   "reports.failed=0\n"), out.stdout
        st = ctl(tmp_path, "status").stdout
        assert re.search(r"^transactions in flight: 0$", st, re.M), st
        assert re.search(r"^sessions kept for reuse: \d+$", st, re.M), st
        r.proc.send_signal(signal.SIGUSR1)
        for dom in ("sts-enforce", "sts-mismatch"):
            r.wait_log(r"TLS-RPT %s\.example: report \S+ sent to mailto:"
                       % dom, 60)
        out = ctl(tmp_path, "tlsrpt").stdout
        assert "domain " not in out and "owed " not in out, out
        assert "reports.sent=2\nreports.failed=0\n" in out, out
        assert r.stop() == 0, r.log()[-3000:]
    finally:
        while tr.STARTED:
            tr.STARTED.pop().kill()
