"""danegate-control --policy against a running danegate-policy over its
control socket (control-interface:, lib/ctlsock.c): status, stats,
explain (the same output as `danegate-policy --explain`), reload keeping
the old configuration on error, errors and exit codes."""
import json
import os
import stat

import pytest

import dgsys
import policysys

LISTEN = dgsys.addr("1.49") + "@10028"


@pytest.fixture(scope="module")
def policy(world, tmp_path_factory):
    d = tmp_path_factory.mktemp("policyctl")
    p = policysys.Policy(world, d, [LISTEN], extra=[
        "control-interface: %s" % (d / "control")])
    p.ctl_sock = d / "control"
    try:
        p.start()
        yield p
    finally:
        rc = p.stop()
        assert rc == 0, "exit %r:\n%s" % (rc, p.log()[-3000:])


def ctl(p, *args):
    return dgsys.run([dgsys.CONTROL, "-s", str(p.ctl_sock)] + list(args),
                     timeout=60)


def test_socket_mode(policy):
    st = os.stat(policy.ctl_sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_status(policy):
    r = ctl(policy, "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("version: "), r.stdout
    assert "uptime: " in r.stdout and "clients: " in r.stdout


def test_stats_count_a_lookup(policy):
    def stats():
        r = ctl(policy, "stats")
        assert r.returncode == 0, r.stderr
        return dict(ln.split("=", 1) for ln in r.stdout.splitlines())
    s0 = stats()
    assert policy.query("dane-ee.example") == "OK dane-only"
    s1 = stats()
    assert int(s1["replies.OK"]) == int(s0["replies.OK"]) + 1


@pytest.mark.parametrize("json_out", [False, True])
def test_explain_equals_command_line(policy, json_out):
    args = ["explain"] + (["--json"] if json_out else []) + [
        "dane-ee.example"]
    r = ctl(policy, *args)
    assert r.returncode == 0, r.stderr
    ref = policy.explain("dane-ee.example", json_out=json_out)
    assert ref.returncode == 0, ref.stderr
    if json_out:
        assert json.loads(r.stdout) == json.loads(ref.stdout)
    else:
        assert r.stdout == ref.stdout
    assert "dane-ee.example" in r.stdout


def test_errors(policy):
    r = ctl(policy, "flush")
    assert r.returncode == 1
    assert r.stderr.startswith("error: unknown command 'flush' (try: "
                               "status, stats, reload, explain"), r.stderr
    r = ctl(policy, "explain")
    assert r.returncode == 1 and r.stderr.startswith("error: usage:"), \
        r.stderr
    r = dgsys.run([dgsys.CONTROL, "-s", str(policy.dir / "nothing"),
                   "status"], timeout=10)
    assert r.returncode == 3 and "cannot connect" in r.stderr, r.stderr


def test_reload_keeps_old_config_on_error(policy):
    good = policy.conf.read_text()
    try:
        policy.write_config(good + "    cache-ttl: forever\n")
        r = ctl(policy, "reload")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "old configuration stays in force" in r.stderr
        assert "cache-ttl: 'forever'" in policy.log()
        assert policy.query("dane-ee.example") == "OK dane-only"
    finally:
        policy.write_config(good)
    r = ctl(policy, "reload")
    assert r.returncode == 0 and r.stdout == "ok\n", (r.stdout, r.stderr)
