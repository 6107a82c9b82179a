#!/bin/bash
# libunbound-bench.sh - Debian's libunbound8 (Nettle) against the
# OpenSSL build of tests/build-libunbound: DNSSEC validation cost of
# cold-cache misses, nothing else.
#
#     tests/bench/libunbound-bench.sh [N] [OTHER_LIBDIR]
#
# N unique names (default 20000) under a signed wildcard
# (`*.bench.example. MX`), each a cache miss whose wildcard-expanded MX
# RRset must be verified (the NSEC proof is verified once, then cached).
# The zone is a libunbound auth-zone (for-upstream) and its DS the trust
# anchor: no network, no name server, no rate limit; what is measured is
# libunbound's own CPU per miss. The same small program runs with each
# library (LD_LIBRARY_PATH; the two are the same unbound version, so the
# same ABI), for algorithm 13 (ECDSA P-256) and 8 (RSA-2048), in turns,
# 3 rounds (the best of each), and once more without a trust anchor (no
# validation: the baseline); it prints CPU microseconds per miss
# (getrusage) and the ratio.
# Needs ldnsutils, cc, libunbound-dev. Runs niced; one core.
set -euo pipefail

N=${1:-20000}
OTHER=${2:-/opt/danegate/libunbound/lib}
SYSTEM=/usr/lib/x86_64-linux-gnu
ROUNDS=${ROUNDS:-3}
[ -f "$OTHER/libunbound.so.8" ] || {
	echo "libunbound-bench: no $OTHER/libunbound.so.8 (tests/build-libunbound)" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -z "${KEEP:-}" ] || trap - EXIT

cat >"$tmp/bench.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>

static struct ub_ctx *ctx;
static struct event_base *base;
static const char *zone;
static int n, sent, done, secure, insecure, window = 32;

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void send_one(void);

static void
send_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	if (sent < n)
		send_one();
}

/* The next query from the loop, not from inside the callback: an answer
 * from the auth-zone may come back inside ub_resolve_event() itself. */
static void
on_answer(void *arg, int err, void *pkt, int len, int sec, char *why, int rl)
{
	struct timeval now = { 0, 0 };

	(void)arg; (void)pkt; (void)len; (void)why; (void)rl;
	done++;
	secure += err == 0 && (insecure ? sec == 0 : sec == 2);
	if (sent < n)
		event_base_once(base, -1, EV_TIMEOUT, send_later, NULL, &now);
}

static void
send_one(void)
{
	char q[256];
	int id;

	snprintf(q, sizeof(q), "q%d.%s", sent++, zone);
	if (ub_resolve_event(ctx, q, 15, 1, NULL, on_answer, &id) != 0)
		exit(3);
}

int
main(int argc, char **argv)
{
	/* argv: config, DS, zone, N */
	double c0;

	(void)argc;
	base = event_base_new();
	ctx = ub_ctx_create_event(base);
	zone = argv[3];
	/* DS "-": no trust anchor, nothing is validated (the baseline) */
	insecure = argv[2][0] == '-';
	if (ub_ctx_config(ctx, argv[1]) != 0 ||
	    (!insecure && ub_ctx_add_ta(ctx, argv[2]) != 0))
		return 1;
	/* warm up: the DNSKEY and the NSEC proof, validated once */
	n = 1;
	send_one();
	event_base_dispatch(base);
	if (secure != 1)
		return 2;
	n = atoi(argv[4]) + 1;
	done = secure = 0;
	c0 = cpu_seconds();
	while (sent < n && sent - 1 < window)
		send_one();
	event_base_dispatch(base);
	printf("%.1f %d\n", (cpu_seconds() - c0) * 1e6 / (n - 1), secure);
	ub_ctx_delete(ctx);
	return secure == n - 1 ? 0 : 4;
}
C
cc -O2 -o "$tmp/bench" "$tmp/bench.c" -lunbound -levent

# One zone per algorithm: one key (KSK flags) signs everything.
for alg in 13 8; do
	z=bench$alg.example.
	case $alg in 13) name=ECDSAP256SHA256 bits= ;; 8) name=RSASHA256 bits="-b 2048" ;; esac
	# shellcheck disable=SC2086
	key=$(cd "$tmp" && ldns-keygen -a $name $bits -k -r /dev/urandom "$z")
	cat >"$tmp/$z.zone" <<Z
$z 3600 IN SOA ns.$z hostmaster.$z 1 3600 900 604800 300
$z 3600 IN NS ns.$z
*.$z 3600 IN MX 10 mx.$z
Z
	ldns-signzone -o "$z" -f "$tmp/$z.signed" "$tmp/$z.zone" "$tmp/$key"
	ldns-key2ds -n -2 "$tmp/$key.key" >"$tmp/$alg.ds"
	cat >"$tmp/$alg.conf" <<CONF
server:
    aggressive-nsec: no
    msg-cache-size: 64m
    rrset-cache-size: 64m
auth-zone:
    name: "$z"
    zonefile: "$tmp/$z.signed"
    for-upstream: yes
    for-downstream: no
    fallback-enabled: no
CONF
done

printf '%-10s %-28s %12s %12s\n' algorithm library "µs CPU/miss" "ratio"
# "none": the algorithm-13 zone without a trust anchor, so nothing is
# validated: what a miss costs besides validation.
echo - >"$tmp/none.ds"
cp "$tmp/13.conf" "$tmp/none.conf"
for alg in 13 8 none; do
	z=bench$alg.example.
	[ "$alg" != none ] || z=bench13.example.
	declare -A best=()
	for ((round = 1; round <= ROUNDS; round++)); do
		for lib in "$SYSTEM" "$OTHER"; do
			out=$(LD_LIBRARY_PATH=$lib nice -n 15 "$tmp/bench" "$tmp/$alg.conf" \
				"$(cat "$tmp/$alg.ds")" "$z" "$N" 2>"$tmp/stderr") || {
				cat "$tmp/stderr" >&2
				echo "libunbound-bench: run failed with $lib (algorithm $alg)" >&2
				exit 1
			}
			us=${out% *}
			if [ -z "${best[$lib]:-}" ] || awk -v a="$us" -v b="${best[$lib]}" 'BEGIN { exit !(a < b) }'; then
				best[$lib]=$us
			fi
		done
	done
	printf '%-10s %-28s %12s %12s\n' "$alg" "Debian libunbound8 (Nettle)" "${best[$SYSTEM]}" 1.00
	printf '%-10s %-28s %12s %12s\n' "$alg" "$OTHER" "${best[$OTHER]}" \
		"$(awk -v a="${best[$SYSTEM]}" -v b="${best[$OTHER]}" 'BEGIN { printf "%.2f", a / b }')"
	unset best
done
