#!/bin/sh
# test_unit_security.sh - the systemd units' hardening, measured.
#
# For each unit (danegated, danegate-policy, danegate-relay): generates NAME.service from
# images/NAME.service.in (the same sed as images/Makefile.inc), checks it
# and NAME.socket (where there is one) with `systemd-analyze verify` (against a stub binary, so
# that the check does not need an installed program), and scores the
# service with
#
#     systemd-analyze security --offline=true danegated.service
#
# (systemd >= 250; --offline reads the unit file and needs neither a running
# systemd nor an installed unit). Fails unless the overall exposure is at
# most 1.5 (systemd's scale: 0 = locked down, 10 = unprotected).
#
# Exit 0 pass, 1 fail, 77 skip (no systemd-analyze, or one without
# --offline). Needs no root.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
MAX_EXPOSURE=${MAX_EXPOSURE:-1.5}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not installed (Debian package systemd)"
	exit 77
fi
if ! systemd-analyze --help 2>/dev/null | grep -q -- '--offline'; then
	echo "SKIP: systemd-analyze has no --offline (systemd < 250)"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/unit-security.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
failures=0

check_unit() {
name=$1
rm -rf "$work/sbin" "$work/units"
mkdir "$work/sbin" "$work/units"
printf '#!/bin/sh\nexit 0\n' >"$work/sbin/$name"
chmod 755 "$work/sbin/$name"
unit=$work/units/$name.service
sed -e "s|@SBINDIR@|$work/sbin|g" -e 's|@SYSCONFDIR@|/etc|g' \
    "$top/images/$name.service.in" >"$unit" || exit 1
socket=
if [ -f "$top/images/$name.socket" ]; then
	cp "$top/images/$name.socket" "$work/units/"
	socket=$work/units/$name.socket
fi
if grep -n '@[A-Z_]*@' "$unit"; then
	echo "FAIL: unsubstituted @VARIABLE@ left in $name.service"
	failures=$((failures + 1))
fi

# verify: unknown directives, bad values, missing binaries. The ExecStartPre
# helper (unbound-anchor) may legitimately be absent on a build host, and
# the man pages are not installed: drop those complaints only.
# shellcheck disable=SC2086
systemd-analyze verify --man=no "$unit" $socket \
    >"$work/verify" 2>&1
grep -v -e 'unbound-anchor' "$work/verify" >"$work/verify.rest"
if [ -s "$work/verify.rest" ]; then
	echo "FAIL: systemd-analyze verify:"
	sed 's/^/    /' "$work/verify.rest"
	failures=$((failures + 1))
else
	echo "ok: systemd-analyze verify $name.service${socket:+ $name.socket}"
fi

systemd-analyze security --offline=true --no-pager "$unit" \
    >"$work/security" 2>&1
score=$(sed -n "s/.*Overall exposure level for $name\\.service: \\([0-9][0-9]*\\.[0-9]\\).*/\\1/p" \
    "$work/security")
if [ -z "$score" ]; then
	echo "FAIL: no exposure score in the output of systemd-analyze security:"
	sed 's/^/    /' "$work/security"
	failures=$((failures + 1))
	return
fi
echo "what still counts against it:"
grep '✗' "$work/security" | sed 's/^/    /'
echo "command: systemd-analyze security --offline=true $name.service"
echo "exposure: $score (must be <= $MAX_EXPOSURE)"
if awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
	echo "ok: exposure $score"
else
	echo "FAIL: exposure $score is above $MAX_EXPOSURE"
	failures=$((failures + 1))
fi
}

check_unit danegated
check_unit danegate-policy
check_unit danegate-relay

[ "$failures" -eq 0 ] || exit 1
echo "PASS: unit security"
exit 0
