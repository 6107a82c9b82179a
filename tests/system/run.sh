#!/bin/sh
# Runs danegated's system tests (needs root) with Debian's python3:
#   tests/system/run.sh                       the whole suite
#   tests/system/run.sh -k acl -x             extra pytest options
#   tests/system/run.sh tests/system/test_acl.py::test_deny_is_silent
# Without a tests/... path argument, tests/system is run. Exit status:
# pytest's. Environment: DANEGATED, DANEGATE_CONTROL (binaries; default:
# the build tree), WORLD_NET (default 127.53).
cd "$(dirname "$0")/../.." || exit 2
export PYTHONDONTWRITEBYTECODE=1        # no __pycache__ in the source tree
paths=tests/system
prev=
for a in "$@"; do
    case $prev in
    --deselect|--ignore|--ignore-glob|-k|-m|-p|-o|--rootdir|--confcutdir|\
    --basetemp|-c) ;;
    *) case $a in tests/*) paths= ;; esac ;;
    esac
    prev=$a
done
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider $paths "$@"
