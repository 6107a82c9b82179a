"""danegate-control against a running danegate-relay over its control
socket (control-interface:, lib/ctlsock.c): status, stats, reload keeping
the old configuration on error, unknown commands. The relay needs no
world here: nothing is delivered (its resolver address is silent)."""
import os
import socket
import stat
import subprocess
import time

import pytest

import dgsys

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
