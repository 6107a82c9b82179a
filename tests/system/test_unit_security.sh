#!/bin/sh
# test_unit_security.sh - the systemd unit's hardening, measured.
#
# Generates danegated.service from images/danegated.service.in (the same sed
# as images/Makefile.inc), checks it and danegated.socket with
# `systemd-analyze verify` (against a stub binary, so that the check does
# not need an installed danegated), and scores the service with
#
#     systemd-analyze security --offline=true danegated.service
#
# (systemd >= 250; --offline reads the unit file and needs neither a running
# systemd nor an installed unit). Fails unless the overall exposure is at
# most 1.5 (systemd's scale: 0 = locked down, 10 = unprotected). The same
# for danegate-relay.service (images/danegate-relay.service.in).
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
mkdir "$work/sbin" "$work/units"
printf '#!/bin/sh\nexit 0\n' >"$work/sbin/danegated"
chmod 755 "$work/sbin/danegated"
unit=$work/units/danegated.service
sed -e "s|@SBINDIR@|$work/sbin|g" -e 's|@SYSCONFDIR@|/etc|g' \
    "$top/images/danegated.service.in" >"$unit" || exit 1
cp "$top/images/danegated.socket" "$work/units/"
failures=0

if grep -n '@[A-Z_]*@' "$unit"; then
	echo "FAIL: unsubstituted @VARIABLE@ left in danegated.service"
	failures=$((failures + 1))
fi

# verify: unknown directives, bad values, missing binaries. The ExecStartPre
# helper (unbound-anchor) may legitimately be absent on a build host, and
# the man pages are not installed: drop those complaints only.
systemd-analyze verify --man=no "$unit" "$work/units/danegated.socket" \
    >"$work/verify" 2>&1
grep -v -e 'unbound-anchor' "$work/verify" >"$work/verify.rest"
if [ -s "$work/verify.rest" ]; then
	echo "FAIL: systemd-analyze verify:"
	sed 's/^/    /' "$work/verify.rest"
	failures=$((failures + 1))
else
	echo "ok: systemd-analyze verify danegated.service danegated.socket"
fi

# score NAME UNITFILE: the exposure of one service, at most MAX_EXPOSURE.
score() {
	systemd-analyze security --offline=true --no-pager "$2" \
	    >"$work/security" 2>&1
	s=$(sed -n "s/.*Overall exposure level for $1\\.service: \\([0-9][0-9]*\\.[0-9]\\).*/\\1/p" \
	    "$work/security")
	if [ -z "$s" ]; then
		echo "FAIL: no exposure score for $1 in the output of" \
		    "systemd-analyze security:"
		sed 's/^/    /' "$work/security"
		failures=$((failures + 1))
		return
	fi
	echo "what still counts against $1:"
	grep '✗' "$work/security" | sed 's/^/    /'
	echo "command: systemd-analyze security --offline=true $1.service"
	echo "exposure: $s (must be <= $MAX_EXPOSURE)"
	if awk -v s="$s" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
		echo "ok: $1 exposure $s"
	else
		echo "FAIL: $1 exposure $s is above $MAX_EXPOSURE"
		failures=$((failures + 1))
	fi
}

score danegated "$unit"

# danegate-relay.service: the same checks (it has no socket unit).
printf '#!/bin/sh\nexit 0\n' >"$work/sbin/danegate-relay"
chmod 755 "$work/sbin/danegate-relay"
relay=$work/units/danegate-relay.service
sed -e "s|@SBINDIR@|$work/sbin|g" -e 's|@SYSCONFDIR@|/etc|g' \
    "$top/images/danegate-relay.service.in" >"$relay" || exit 1
if grep -n '@[A-Z_]*@' "$relay"; then
	echo "FAIL: unsubstituted @VARIABLE@ left in danegate-relay.service"
	failures=$((failures + 1))
fi
if systemd-analyze verify --man=no "$relay" >"$work/verify" 2>&1 &&
    [ ! -s "$work/verify" ]; then
	echo "ok: systemd-analyze verify danegate-relay.service"
else
	echo "FAIL: systemd-analyze verify danegate-relay.service:"
	sed 's/^/    /' "$work/verify"
	failures=$((failures + 1))
fi
score danegate-relay "$relay"

[ "$failures" -eq 0 ] || exit 1
echo "PASS: unit security"
exit 0
