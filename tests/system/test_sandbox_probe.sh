#!/bin/sh
# test_sandbox_probe.sh - lib/sandbox.c against the real kernel.
#
# Builds tests/system/sandbox_probe.c with lib/sandbox.c (cc + pkg-config
# libseccomp, no configure needed), runs it as root and checks that:
#  - root -> nobody with a chroot ends with every uid/gid 65534, one group,
#    no capability, NoNewPrivs 1, Seccomp 2 (filter), a privileged port that
#    was bindable before the drop no longer is, and the calls the resolver
#    needs still work;
#  - the systemd way (started as the user with an ambient
#    CAP_NET_BIND_SERVICE, emulated with setpriv) ends the same way;
#  - mount, netlink sockets, executable mmap, other ioctls and execve kill
#    the process with SIGSYS;
#  - DANEGATE_SECCOMP=log only logs, and a misspelt value is refused;
#  - an unknown user, or switching users without root, is an error.
#
# Needs root (exit 77 = skip otherwise). Exit 0 pass, 1 fail.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-cc}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (privilege drop and chroot)"
	exit 77
fi
if ! command -v "$CC" >/dev/null 2>&1 ||
    ! pkg-config --exists libseccomp 2>/dev/null; then
	echo "SKIP: needs a C compiler and libseccomp-dev (pkg-config libseccomp)"
	exit 77
fi
nobody_uid=$(id -u nobody 2>/dev/null) || { echo "SKIP: no user nobody"; exit 77; }
nobody_gid=$(id -g nobody)

work=$(mktemp -d "${TMPDIR:-/tmp}/sandbox-probe.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
probe=$work/sandbox_probe
# shellcheck disable=SC2046  # pkg-config output is meant to be split
if ! "$CC" -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -O2 -I"$top/lib" \
    -o "$probe" "$top/tests/system/sandbox_probe.c" "$top/lib/sandbox.c" \
    $(pkg-config --cflags --libs libseccomp); then
	echo "FAIL: cannot build sandbox_probe"
	exit 1
fi
chmod 755 "$work"
# The chroot the probe locks itself into, writable by nobody so that the
# trust-anchor style rename can be tried in it.
jail=$work/jail
mkdir "$jail" && chown "$nobody_uid:$nobody_gid" "$jail"

# No core files from the SIGSYS deaths.
ulimit -c 0
# The status this shell reports for a death by SIGSYS (128 + its number).
sh -c 'kill -s SYS $$' 2>/dev/null
sigsys=$?
failures=0
out=$work/out

fail() {
	echo "FAIL: $*"
	sed 's/^/    /' "$out"
	failures=$((failures + 1))
}

# expect_line PATTERN WHAT: the last run's output has a line matching the
# extended regular expression PATTERN.
expect_line() {
	grep -Eq "$1" "$out" || fail "$2 (no line matching '$1')"
}

# run EXPECTED_RC DESCRIPTION PROBE-ARGS...: runs the probe, output in $out.
run() {
	want=$1 desc=$2
	shift 2
	"$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$desc: exit $rc, expected $want"
		return 1
	fi
	echo "ok: $desc"
	return 0
}

check_locked() {
	expect_line "^Uid:[[:space:]]+$nobody_uid[[:space:]]+$nobody_uid[[:space:]]+$nobody_uid[[:space:]]+$nobody_uid\$" "$1: Uid"
	expect_line "^Gid:[[:space:]]+$nobody_gid[[:space:]]+$nobody_gid[[:space:]]+$nobody_gid[[:space:]]+$nobody_gid\$" "$1: Gid"
	expect_line "^NoNewPrivs:[[:space:]]+1\$" "$1: NoNewPrivs"
	expect_line "^Seccomp:[[:space:]]+2\$" "$1: Seccomp"
	expect_line "^CapEff:[[:space:]]+0+\$" "$1: CapEff"
	expect_line "^CapPrm:[[:space:]]+0+\$" "$1: CapPrm"
	expect_line "^CapAmb:[[:space:]]+0+\$" "$1: CapAmb"
	expect_line "^probe: privileged bind after the drop: refused\$" "$1: capability gone"
	expect_line "^probe: allowed calls ok\$" "$1: allowed calls"
}

# 1. root -> nobody, chroot, the resolver's calls.
if run 0 "root -> nobody in a chroot" "$probe" -u nobody -c "$jail" -b allowed; then
	check_locked "root -> nobody"
	expect_line "^Groups:[[:space:]]+$nobody_gid[[:space:]]*\$" "root -> nobody: Groups"
fi
cat "$out"

# 2. As systemd starts it: already the user, ambient CAP_NET_BIND_SERVICE.
if command -v setpriv >/dev/null 2>&1; then
	if run 0 "started as nobody with ambient CAP_NET_BIND_SERVICE (systemd User=)" \
	    env -C "$jail" setpriv --reuid="$nobody_uid" --regid="$nobody_gid" \
	    --init-groups --inh-caps=+net_bind_service \
	    --ambient-caps=+net_bind_service "$probe" -u nobody -b allowed; then
		check_locked "ambient capability"
	fi
	run 2 "non-root cannot switch to another user" \
	    setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
	    "$probe" -u daemon allowed &&
	    expect_line "cannot switch to user daemon" "refusal names the reason"
else
	echo "note: setpriv (util-linux) missing: systemd-style start not tested"
fi

# 3. Forbidden calls die by SIGSYS.
for mode in mount netlink mmap-exec ioctl execve; do
	run "$sigsys" "$mode is killed by SIGSYS" "$probe" -c "$jail" "$mode"
done

# 4. The debugging switch, and a typo in it.
run 3 "DANEGATE_SECCOMP=log logs instead of killing" \
    env DANEGATE_SECCOMP=log "$probe" -c "$jail" mount &&
    expect_line "^probe: survived mount" "log mode"
run 2 "DANEGATE_SECCOMP=lgo is refused" \
    env DANEGATE_SECCOMP=lgo "$probe" -c "$jail" allowed &&
    expect_line "DANEGATE_SECCOMP=lgo" "typo named"

# 5. Errors.
run 2 "unknown user is an error" "$probe" -u no-such-user-danegate allowed &&
    expect_line "no-such-user-danegate" "unknown user named"
run 2 "uid 0 target is refused" "$probe" -u root allowed &&
    expect_line "uid or gid 0" "root refused"

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS: sandbox probe"
exit 0
