"""Fixtures of danegated's system tests (see README.md next to this file).

- world:      the local signed DNS world (tests/world/world.sh up/down),
              once per session, in a temporary directory.
- dg:         the main danegated, once per session, on NET.1.1@53 (default
              127.53.1.1) with a control socket and Prometheus on
              NET.1.1@9167; stopped with SIGTERM at the end, exit status 0
              asserted.
- danegated:  a factory for more instances with their own configuration
              (each on its own address); each is stopped with SIGTERM at the
              end of its test, exit status 0 asserted.
- netns:      a factory for network namespaces joined by a veth pair;
              removed at the end of the test.
- oauth_submission: the world's OAuth2 submission service (oauthsys.py),
              once per session: the token endpoint login.office.example
              (NET.4.101:443) and smtp.office.example (NET.3.27:587,
              Postfix + Dovecot XOAUTH2); stopped at the end.
"""
import os
import shutil
import signal

import pytest

# pytest-xdist (tests/run-all runs -n 2 --dist loadfile): each worker runs
# a world of its own on its own addresses, before dgsys reads WORLD_NET:
# worker gwN takes WORLD_NET's second octet minus N (127.60, 127.59...).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw") and _WORKER[2:].isdigit() and \
        int(_WORKER[2:]) > 0:
    _first, _second = os.environ.get("WORLD_NET", "127.53").split(".")
    os.environ["WORLD_NET"] = "%s.%d" % (_first,
                                          int(_second) - int(_WORKER[2:]))

import dgsys  # noqa: E402 (after the worker's WORLD_NET)
import oauthsys  # noqa: E402


def _sigterm(signum, frame):
    # SIGTERM (e.g. a CI timeout) becomes ^C, so that pytest still runs the
    # finalizers: danegated instances, the world's NSDs, netns and veths.
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    signal.signal(signal.SIGTERM, _sigterm)


@pytest.fixture(scope="session", autouse=True)
def _preconditions():
    if os.geteuid() != 0:
        pytest.skip("system tests need root (port 53, network namespaces)")
    for path, what in ((dgsys.DANEGATED, "DANEGATED"),
                       (dgsys.CONTROL, "DANEGATE_CONTROL")):
        if not os.access(path, os.X_OK):
            pytest.fail("%s not found or not executable: %s (build with "
                        "make, or set %s)" % (path, path, what))
    for tool in ("nsd", "ldns-signzone", "dig", "kdig", "delv", "ip",
                 "getent"):
        if shutil.which(tool) is None and not os.path.exists(
                "/usr/sbin/" + tool):
            pytest.fail("%s is not installed" % tool)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    w = dgsys.World(tmp_path_factory.mktemp("world"))
    try:
        w.start()
        yield w
    finally:
        w.stop()


class _Instances:
    def __init__(self, world, tmp_path_factory):
        self.world = world
        self.tmp = tmp_path_factory
        self.started = []

    def __call__(self, listen, **kw):
        d = dgsys.Danegated(self.world, self.tmp.mktemp("danegated"),
                            listen, **kw)
        self.started.append(d)
        d.start()
        return d

    def stop_all(self):
        failures = []
        for d in self.started:
            if d.proc is None:
                continue
            rc = d.stop()
            if rc != 0:
                failures.append("danegated on %s: exit status %r after "
                                "SIGTERM (want 0); log tail:\n%s" %
                                (d.addr, rc, d.log()[-3000:]))
        return failures


@pytest.fixture(scope="session")
def dg(world, tmp_path_factory):
    """The main instance."""
    inst = _Instances(world, tmp_path_factory)
    try:
        d = inst(
            [dgsys.MAIN_ADDR],
            acl=["127.0.0.0/8 allow"],
            prometheus="%s@%d" % (dgsys.MAIN_ADDR, dgsys.PROM_PORT))
        yield d
    finally:
        failures = inst.stop_all()
    assert not failures, "\n".join(failures)


@pytest.fixture
def danegated(world, tmp_path_factory):
    """Factory: danegated(listen=[addr, ...], acl=[...], extra=[...],
    username=..., ready_source=...) -> a started Danegated."""
    inst = _Instances(world, tmp_path_factory)
    try:
        yield inst
    finally:
        failures = inst.stop_all()
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def oauth_submission(world, tmp_path_factory):
    """An oauthsys.Submission, started: .addr/.token_url/.cafile/.maildir,
    .token(mailbox) / .token(grant="client_credentials"), .revoke(),
    .stats(), .delivered(), .send(), .stop_endpoint()/.start_endpoint()."""
    if shutil.which("dovecot") is None and not os.path.exists(
            "/usr/sbin/dovecot"):
        pytest.fail("dovecot is not installed (dovecot-core, see "
                    "tests/install-deps)")
    sub = oauthsys.Submission(world, tmp_path_factory.mktemp("oauth"))
    try:
        sub.start()
        yield sub
    finally:
        sub.stop()


@pytest.fixture
def netns():
    """Factory: netns(index, resolv_conf=None) -> a set-up Netns using the
    /30 number index of NS_NET.0.0/24 (0: 10.53.0.1 host, 10.53.0.2
    inside)."""
    made = []

    def make(index=0, resolv_conf=None):
        host, inside = dgsys.ns_pair(index)
        ns = dgsys.Netns(str(index), host, inside, resolv_conf)
        made.append(ns)
        ns.setup()
        return ns

    try:
        yield make
    finally:
        for ns in made:
            ns.cleanup()
