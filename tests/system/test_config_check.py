"""danegated -t: 0 for a usable configuration, 1 and every error as
FILE:LINE: message for a broken one."""
import re

import pytest

from dgsys import DANEGATED, addr, run


def _check(path):
    return run([DANEGATED, "-t", "-c", str(path)], timeout=30)


def _server(world, *lines):
    body = ["server:", "    interface: %s@53" % addr("1.9"),
            '    username: ""']
    body += ["    " + ln for ln in world.fragment]
    body += ["    " + ln for ln in lines]
    return "\n".join(body) + "\n"


def _line_of(text, needle):
    return 1 + next(i for i, ln in enumerate(text.splitlines())
                    if needle in ln)


def test_good_config_exit_0(world, tmp_path):
    p = tmp_path / "good.conf"
    p.write_text(_server(world, "access-control: 127.0.0.0/8 allow",
                         "ip-ratelimit: 100", "harden-glue: yes") +
                 "remote-control:\n    control-enable: no\n")
    r = _check(p)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration OK" in r.stdout


@pytest.mark.parametrize("errors", [
    ("access-control: 10.0.0.0/8 maybe", "edns-buffer-size: banana"),
    ("interface: 999.1.1.1", "ip-ratelimit: -3"),
    # a front-end error and an option only libunbound can judge
    ("access-control: 10.0.0.0/8 maybe", "no-such-option-xyz: 1"),
], ids=["frontend-frontend", "frontend-frontend-2", "frontend-libunbound"])
def test_two_errors_both_reported(world, tmp_path, errors):
    text = _server(world, "verbosity: 1", errors[0], "harden-glue: yes",
                   errors[1])
    p = tmp_path / "bad.conf"
    p.write_text(text)
    r = _check(p)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    for needle in errors:
        line = _line_of(text, needle)
        assert re.search(r"^.*%s:%d: " % (re.escape(str(p)), line),
                         r.stderr, re.M), (
            "no '%s:%d: ...' error for %r in:\n%s" % (p, line, needle,
                                                     r.stderr))
    assert "configuration OK" not in r.stdout


def test_libunbound_option_error_reported(world, tmp_path):
    text = _server(world, "no-such-option-xyz: 1")
    p = tmp_path / "bad.conf"
    p.write_text(text)
    r = _check(p)
    assert r.returncode == 1
    assert "%s:%d:" % (p, _line_of(text, "no-such-option")) in r.stderr, \
        r.stderr


def test_missing_file(tmp_path):
    r = _check(tmp_path / "nope.conf")
    assert r.returncode == 1
    assert r.stderr.strip()


def test_version():
    r = run([DANEGATED, "-V"])
    assert r.returncode == 0
    assert r.stdout.startswith("danegated ")
