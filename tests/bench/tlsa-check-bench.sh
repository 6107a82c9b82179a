#!/usr/bin/env bash
# tlsa-check-bench.sh — `tlsa-check -j 16` over many world mail domains
# against Postfix's posttls-finger run once per domain in turn.
#
#   tests/bench/tlsa-check-bench.sh [--smoke] [--keep]
#
#   --smoke   20 domains, 3 single-domain runs (a few seconds after the
#             world is up); exits non-zero only when something is broken
#             (the world or danegated did not start, a verdict is wrong,
#             a tool failed)
#   --keep    keep the temporary directory (configs, logs, every JSON and
#             posttls-finger output) and print its name
#
# The domains are d001.bulk.example ... dNNN.bulk.example of the local world
# (tests/world): a signed zone whose wildcard MX points at the world's
# DANE-EE host mx.dane-ee.example, so each is a distinct mail domain with a
# DNSSEC-validated MX (wildcard expansion, NSEC proof) that audits as
# dane-valid. Measured:
#   1. posttls-finger -c -l dane DOMAIN for every domain, one after the
#      other, resolving through a danegated on the bench's address (glibc
#      stub + "options trust-ad", in a private mount namespace whose
#      /etc/resolv.conf names danegated; the system's file is untouched);
#   2. tlsa-check --json -j JOBS -f LIST over the same domains (validating
#      itself with libunbound from the world's root hints and trust anchor);
#   3. tlsa-check on one domain, RUNS times, each a new process with a cold
#      cache: the median wall time and the tool's own elapsed_ms (and the
#      same with --no-connect: the DNS part alone).
# Goals (a missed goal never changes the exit status): (1)/(2) >= 10, and
# the median of (3) < 100 ms.
#
# Needs root (port 53, unshare/mount), the world's tools (nsd, ldnsutils,
# unbound, dig, certtool, postfix, nginx, openssl, curl), posttls-finger
# (postfix), unshare and mount (util-linux), python3.
#
# Environment (all optional):
#   TLSA_CHECK           tlsa-check binary (default <top>/tools/tlsa-check; a
#                        libtool wrapper is resolved to the real binary)
#   DANEGATED            danegated binary (default <top>/daemon/danegated)
#   BENCH_NET            first two octets of every address (default 127.68):
#                        the world on $BENCH_NET.0.x/.3.x/.4.x, danegated on
#                        $BENCH_NET.2.2
#   BENCH_DOMAINS        how many bulk domains (default 200, smoke 20; 1-999)
#   BENCH_JOBS           tlsa-check -j (default 16)
#   BENCH_BULK_RUNS      timed tlsa-check -j runs over the domains; the
#                        median is reported (default 3, smoke 1)
#   BENCH_SINGLE_RUNS    single-domain runs (default 20, smoke 3)
#   BENCH_SINGLE_DOMAIN  the single domain (default dane-ee.example: every
#                        posture record published)
# An optimized build is needed for meaningful figures: a sanitizer build of
# tlsa-check (or danegated, which the posttls-finger loop waits on) is
# flagged in the output.
set -uo pipefail
# A sanitizer build's exit-time leak check cannot run inside danegated's
# seccomp filter (it would die by SIGSYS after a clean stop).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/world/procs.sh
. "$TOP/tests/world/procs.sh"

SMOKE=0
KEEP=0
for arg in "$@"; do
    case $arg in
    --smoke) SMOKE=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tlsa-check-bench: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

NET=${BENCH_NET:-127.68}
TLSA_CHECK=${TLSA_CHECK:-$TOP/tools/tlsa-check}
DANEGATED=${DANEGATED:-$TOP/daemon/danegated}
if [ "$SMOKE" = 1 ]; then
    NDOM=${BENCH_DOMAINS:-20}
    RUNS=${BENCH_SINGLE_RUNS:-3}
    BULK_RUNS=${BENCH_BULK_RUNS:-1}
else
    NDOM=${BENCH_DOMAINS:-200}
    RUNS=${BENCH_SINGLE_RUNS:-20}
    BULK_RUNS=${BENCH_BULK_RUNS:-3}
fi
JOBS=${BENCH_JOBS:-16}
SINGLE=${BENCH_SINGLE_DOMAIN:-dane-ee.example}
GOAL_RATIO=10
GOAL_SINGLE_MS=100
DG_ADDR=$NET.2.2

STATUS=ok
DG_PID=
log() { echo "tlsa-check-bench: $*" >&2; }
die() { log "$*"; STATUS=broken; exit 1; }
broken() { log "BROKEN: $*"; STATUS=broken; }

# ------------------------------------------------------------ preflight --

[ "$(id -u)" = 0 ] || die "needs root (port 53, a mount namespace)"
for n in NDOM RUNS JOBS BULK_RUNS; do
    case ${!n} in ''|*[!0-9]*) die "$n must be a number" ;; esac
done
{ [ "$NDOM" -ge 1 ] && [ "$NDOM" -le 999 ]; } || die "BENCH_DOMAINS must be 1..999"
[ "$RUNS" -ge 1 ] || die "BENCH_SINGLE_RUNS must be >= 1"
[ "$BULK_RUNS" -ge 1 ] || die "BENCH_BULK_RUNS must be >= 1"
{ [ "$JOBS" -ge 1 ] && [ "$JOBS" -le 256 ]; } || die "BENCH_JOBS must be 1..256"
case $NET in 127.*.*) die "BENCH_NET must be two octets, e.g. 127.68" ;; 127.*) ;;
    *) die "BENCH_NET must be under 127/8" ;; esac
for tool in posttls-finger unshare mount dig nsd python3 awk sort; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
[ -x "$DANEGATED" ] || die "danegated not found at $DANEGATED (build it or set DANEGATED=)"
if [ ! -x "$TLSA_CHECK" ]; then
    TLSA_CHECK=$(command -v "$TLSA_CHECK" 2>/dev/null) ||
        die "tlsa-check not found (build it or set TLSA_CHECK=)"
fi

# A libtool wrapper script (an uninstalled build with shared libraries) is
# a bash script that sets LD_LIBRARY_PATH and execs .libs/NAME: run that
# binary directly, so that the single-domain wall time is tlsa-check's and
# not also a bash start-up.
TC_BIN=$TLSA_CHECK
TC_LDPATH=
if head -c 2 "$TLSA_CHECK" 2>/dev/null | grep -q '#!' &&
    grep -q 'temporary wrapper script for' "$TLSA_CHECK" 2>/dev/null; then
    d=$(cd "$(dirname "$TLSA_CHECK")" && pwd)
    b=$(basename "$TLSA_CHECK")
    # shellcheck disable=SC2016 # a literal $LD_LIBRARY_PATH in the wrapper
    TC_LDPATH=$(sed -n 's/^ *LD_LIBRARY_PATH="\(.*\):\$LD_LIBRARY_PATH"$/\1/p' "$TLSA_CHECK" | head -n1)
    if [ -x "$d/.libs/$b" ] && [ -n "$TC_LDPATH" ]; then
        TC_BIN=$d/.libs/$b
    else
        TC_LDPATH=
        log "note: $TLSA_CHECK is a libtool wrapper that could not be resolved: wall times include its bash start-up"
    fi
fi
tc() {
    if [ -n "$TC_LDPATH" ]; then
        LD_LIBRARY_PATH=$TC_LDPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$TC_BIN" "$@"
    else
        "$TC_BIN" "$@"
    fi
}
tc --version >/dev/null 2>&1 || die "$TC_BIN does not run (tlsa-check --version failed)"

# sanitized FILE [LD_LIBRARY_PATH]: true if FILE (or a library it loads) is
# an ASan/UBSan/TSan/MSan build.
sanitized() {
    nm -D "$1" 2>/dev/null | grep -Eq ' (__asan_init|__ubsan_handle_|__tsan_init|__msan_init)' && return 0
    LD_LIBRARY_PATH=${2:-} ldd "$1" 2>/dev/null | grep -Eq 'lib(asan|ubsan|tsan|msan|lsan)\.so'
}
TC_SANITIZED=0
sanitized "$TC_BIN" "$TC_LDPATH" && TC_SANITIZED=1
DG_SANITIZED=0
sanitized "$DANEGATED" && DG_SANITIZED=1
[ "$TC_SANITIZED" = 1 ] &&
    log "WARNING: $TC_BIN is a sanitizer build: its figures are NOT representative (build an optimized copy, set TLSA_CHECK=)"
[ "$DG_SANITIZED" = 1 ] &&
    log "WARNING: $DANEGATED is a sanitizer build: the posttls-finger loop waits on it, so the ratio is NOT representative (set DANEGATED=)"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/danegate-tcbench.XXXXXX) || die "mktemp failed"
WORLD=$TMP/world
cd "$TMP" || die "cannot cd to $TMP"


cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$DG_PID"
    if [ -d "$WORLD" ]; then
        WORLD_NET=$NET bash "$TOP/tests/world/world.sh" down "$WORLD" >/dev/null 2>&1
    fi
    if [ "$KEEP" = 1 ] || [ "$STATUS" != ok ]; then
        log "kept $TMP (configs, logs, JSON, posttls-finger output)"
    else
        rm -rf "$TMP"
    fi
    [ "$STATUS" != ok ] && [ "$rc" = 0 ] && rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; STATUS=broken; exit 130' INT TERM

# now_us: microseconds since the epoch (bash's EPOCHREALTIME, no fork)
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

# stats: numbers on stdin -> "n min p50 p90 max mean" (p50: the median)
stats() {
    sort -g | awk '{ v[NR] = $1; s += $1 }
        END {
            if (NR == 0) { print "0 - - - - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            i = int(0.9 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
            printf "%d %.1f %.1f %.1f %.1f %.1f\n", NR, v[1], m, v[i], v[NR], s / NR
        }'
}

# ------------------------------------------------------------- the world --

T_START=$(now_us)
log "world: up in $WORLD (WORLD_NET=$NET)"
WORLD_NET=$NET bash "$TOP/tests/world/world.sh" up "$WORLD" >"$TMP/world-up.log" 2>&1 ||
    { cat "$TMP/world-up.log" >&2; die "the world did not come up"; }
LEAF_ADDR=$NET.0.3
dig -r +norec +time=1 +tries=1 @"$LEAF_ADDR" d001.bulk.example. MX 2>/dev/null |
    grep -q 'mx\.dane-ee\.example' ||
    die "the world has no bulk.example wildcard MX (tests/world/zones/bulk.example.zone)"

# NSD's response rate limiting (on by default in Debian's NSD: 200 answers/s
# per client /24 and type, then every second answer dropped and the other
# truncated) counts every answer from the *.bulk.example wildcard in one
# bucket: tlsa-check -j 16 asks faster than that, and would measure the
# dropped answers and TCP retries. Restart the leaf NSD of this bench's own
# world without it.
LEAF_CONF=$WORLD/nsd/leaf/nsd.conf
if ! grep -q '^[[:space:]]*rrl-ratelimit:' "$LEAF_CONF"; then
    leaf_pid=$(tr -dc 0-9 <"$WORLD/nsd/leaf/nsd.pid" 2>/dev/null)
    [ -n "$leaf_pid" ] && kill -TERM "$leaf_pid" 2>/dev/null
    for _ in $(seq 1 60); do
        [ -z "$(pgrep -f "nsd -c $LEAF_CONF")" ] && break
        sleep 0.1
    done
    [ -n "$(pgrep -f "nsd -c $LEAF_CONF")" ] && die "the world's leaf NSD does not stop"
    sed -i 's/^server:[[:space:]]*$/&\n    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0/' "$LEAF_CONF"
    nsd -c "$LEAF_CONF" || die "the leaf NSD does not restart (see $WORLD/nsd/leaf/nsd.log)"
    for z in bulk.example. dane-ee.example.; do
        for _ in $(seq 1 50); do
            dig -r +norec +time=1 +tries=1 @"$LEAF_ADDR" "$z" SOA 2>/dev/null |
                grep -q 'status: NOERROR' && continue 2
            sleep 0.1
        done
        die "the restarted leaf NSD does not serve $z"
    done
fi
T_WORLD=$(now_us)

# ------------------------------------------------------------- danegated --

cat >"$TMP/danegated.conf" <<EOF
server:
	interface: $DG_ADDR@53
	access-control: 127.0.0.0/8 allow
	username: ""
$(sed 's/^/	/' "$WORLD/unbound.conf.fragment")
EOF
dig -r +time=1 +tries=1 @"$DG_ADDR" . SOA >/dev/null 2>&1 &&
    die "something already answers on $DG_ADDR:53 (another bench? set BENCH_NET)"
"$DANEGATED" -d -c "$TMP/danegated.conf" >"$TMP/danegated.log" 2>&1 &
DG_PID=$!
ok=0
for _ in $(seq 1 50); do
    if ! kill -0 "$DG_PID" 2>/dev/null; then
        tail -20 "$TMP/danegated.log" >&2
        die "danegated did not start (log above)"
    fi
    if dig -r +time=1 +tries=1 @"$DG_ADDR" dane-ee.example. MX 2>/dev/null |
        grep -Eq '^;; flags:[^;]* ad[ ;]'; then
        ok=1
        break
    fi
    sleep 0.2
done
[ "$ok" = 1 ] || { tail -20 "$TMP/danegated.log" >&2; die "danegated does not answer dane-ee.example. MX with AD=1 on $DG_ADDR"; }

# ---------------------------------------------------------------- domains --

LIST=$TMP/domains.txt
for ((i = 1; i <= NDOM; i++)); do printf 'd%03d.bulk.example\n' "$i"; done >"$LIST"
FIRST=$(head -n1 "$LIST")
LAST=$(tail -n1 "$LIST")

# ------------------------------------------------- 1. posttls-finger loop --

# posttls-finger uses the system's stub resolver: in a private mount
# namespace, /etc/resolv.conf is replaced (bind mount) by one naming
# danegated, with trust-ad so that glibc passes danegated's AD bit on (no
# AD, no DANE). MAIL_CONFIG is an empty main.cf: Postfix's defaults, not
# the system's. -l dane is the DANE security level; posttls-finger then
# asks for DNSSEC itself. A warm-up run (dane-ee.example, not timed) fills
# danegated's cache with the keys, the MX host's address and its TLSA
# record, as tlsa-check's own cache is after its first domains: each timed
# run then costs one MX lookup through danegated (a cache miss, new name)
# plus the SMTP/TLS session and posttls-finger's own start-up.
mkdir -p "$TMP/posttls-finger" "$TMP/pf-config"
printf 'nameserver %s\noptions trust-ad\n' "$DG_ADDR" >"$TMP/resolv.conf"
printf '# empty: Postfix defaults for posttls-finger (tlsa-check-bench.sh)\n' >"$TMP/pf-config/main.cf"
cat >"$TMP/pf-loop.sh" <<'EOF'
# run inside the private mount namespace: $1 resolv.conf, $2 domain list,
# $3 output directory; prints the loop's wall time in microseconds
set -u
mount --bind "$1" /etc/resolv.conf || exit 97
us() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
posttls-finger -c -l dane -t 10 -T 10 dane-ee.example >"$3/warm-up.out" 2>&1
start=$(us)
while read -r d; do
    posttls-finger -c -l dane -t 10 -T 10 "$d" >"$3/$d.out" 2>&1
    echo "$?" >"$3/$d.rc"
done <"$2"
end=$(us)
echo "$((end - start))"
EOF
log "posttls-finger: $NDOM domains, one after the other, through danegated $DG_ADDR"
PF_US=$(MAIL_CONFIG=$TMP/pf-config unshare --mount bash "$TMP/pf-loop.sh" \
    "$TMP/resolv.conf" "$LIST" "$TMP/posttls-finger" 2>"$TMP/pf-loop.err")
PF_RC=$?
[ "$PF_RC" = 97 ] && die "cannot bind-mount $TMP/resolv.conf on /etc/resolv.conf in a private mount namespace"
if [ "$PF_RC" != 0 ] || [ -z "$PF_US" ]; then
    cat "$TMP/pf-loop.err" >&2
    die "the posttls-finger loop failed (rc $PF_RC)"
fi
PF_OK=0
PF_BAD=()
while read -r d; do
    f=$TMP/posttls-finger/$d.out
    if grep -q 'Matched DANE EE certificate' "$f" 2>/dev/null &&
        grep -q 'Verified TLS connection established to mx\.dane-ee\.example' "$f" 2>/dev/null; then
        PF_OK=$((PF_OK + 1))
    else
        PF_BAD+=("$d")
    fi
done <"$LIST"
if [ "$PF_OK" != "$NDOM" ]; then
    broken "posttls-finger verified DANE for $PF_OK of $NDOM domains; first failure ${PF_BAD[0]}:"
    sed 's/^/    /' "$TMP/posttls-finger/${PF_BAD[0]}.out" | head -n 10 >&2
fi

# ----------------------------------------------------- 2. tlsa-check -j N --

TC_ARGS=(--json --trust-anchor "$WORLD/root.key" --unbound-conf "$WORLD/libunbound.conf")

# check_json FILE EXPECTED-COUNT: counts dane-valid verdicts in a
# tlsa-check JSON report; prints "VALID ELAPSED..." (elapsed_ms of every
# domain, space-separated) or "ERROR text".
check_json() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    doms = doc["domains"]
except Exception as e:  # noqa: BLE001 - any failure is a broken run
    print("ERROR", "unreadable JSON:", e)
    sys.exit(0)
valid = sum(1 for d in doms if d.get("verdict") == "dane-valid")
bad = [f'{d.get("domain")}={d.get("verdict")}/{d.get("reason")}' for d in doms
       if d.get("verdict") != "dane-valid"]
if len(doms) != int(sys.argv[2]) or bad:
    print("ERROR", f"{valid} of {len(doms)} dane-valid (want {sys.argv[2]});",
          " ".join(bad[:5]))
    sys.exit(0)
print(valid, " ".join(str(d.get("elapsed_ms", 0)) for d in doms))
EOF
}

# Warm-up (not timed): one tlsa-check -j JOBS over JOBS other names, so
# that the world's Postfix has JOBS smtpd processes running, as it has the
# one the posttls-finger loop used: the timed run then measures tlsa-check,
# not Postfix forking and initializing its TLS servers. tlsa-check's own
# DNS cache is per process (per worker), so the timed run starts cold.
for ((i = 1; i <= JOBS; i++)); do printf 'w%03d.bulk.example\n' "$i"; done >"$TMP/warm-up.txt"
tc "${TC_ARGS[@]}" -j "$JOBS" -f "$TMP/warm-up.txt" >"$TMP/warm-up.json" 2>"$TMP/warm-up.err"
read -r v e <<<"$(check_json "$TMP/warm-up.json" "$JOBS")"
[ "$v" = ERROR ] && broken "tlsa-check warm-up (-j $JOBS): $e"

# BULK_RUNS timed runs (each a new process, cold cache); the median counts.
log "tlsa-check: -j $JOBS over the same $NDOM domains, $BULK_RUNS run(s)"
TC_RUN_US=()
TC_VALID=$NDOM
TC_RC=0
for ((r = 1; r <= BULK_RUNS; r++)); do
    f=$TMP/bulk-$r.json
    t0=$(now_us)
    tc "${TC_ARGS[@]}" -j "$JOBS" -f "$LIST" >"$f" 2>"$f.err"
    rc=$?
    t1=$(now_us)
    TC_RUN_US+=("$((t1 - t0))")
    # 0: all good, 1: warnings only (the world's DANE-EE host has no
    # rollover record prepared: a warning, not a failure)
    case $rc in 0|1) ;; *) broken "tlsa-check -j $JOBS (run $r) exited $rc: $(head -n3 "$f.err")" ;; esac
    [ "$rc" -gt "$TC_RC" ] && TC_RC=$rc
    read -r v e <<<"$(check_json "$f" "$NDOM")"
    if [ "$v" = ERROR ]; then
        broken "tlsa-check -j $JOBS (run $r): $e"
        TC_VALID=0
    elif [ "$v" -lt "$TC_VALID" ]; then
        TC_VALID=$v
    fi
done
# the median run (the lower middle one for an even count)
MED_RUN=$(for ((r = 0; r < BULK_RUNS; r++)); do echo "${TC_RUN_US[$r]} $((r + 1))"; done |
    sort -n | awk -v n="$BULK_RUNS" 'NR == int((n + 1) / 2) { print $2 }')
TC_US=${TC_RUN_US[$((MED_RUN - 1))]}
TC_RUNS_S=$(for u in "${TC_RUN_US[@]}"; do awk -v u="$u" 'BEGIN { printf "%.3f ", u / 1e6 }'; done)
read -r v TC_ELAPSED <<<"$(check_json "$TMP/bulk-$MED_RUN.json" "$NDOM")"
[ "$v" = ERROR ] && TC_ELAPSED=
read -r _ TCE_MIN TCE_P50 TCE_P90 TCE_MAX TCE_MEAN <<<"$(tr ' ' '\n' <<<"$TC_ELAPSED" | grep . | stats)"

# ------------------------------------------------- 3. one domain, N times --

# one_run OUT-JSON [ARGS...]: one cold tlsa-check of $SINGLE; prints the
# wall time in microseconds
one_run() {
    local out=$1 a b
    shift
    a=$(now_us)
    tc "${TC_ARGS[@]}" "$@" "$SINGLE" >"$out" 2>"$out.err"
    echo "$?" >"$out.rc"
    b=$(now_us)
    echo "$((b - a))"
}
log "tlsa-check: $SINGLE, $RUNS cold runs (and $RUNS with --no-connect)"
SINGLE_WALL=()
SINGLE_EL=()
DNS_WALL=()
DNS_EL=()
SINGLE_BAD=0
for ((r = 1; r <= RUNS; r++)); do
    f=$TMP/single-$r.json
    SINGLE_WALL+=("$(one_run "$f")")
    read -r v e <<<"$(check_json "$f" 1)"
    if [ "$v" = ERROR ]; then
        SINGLE_BAD=$((SINGLE_BAD + 1))
        [ "$SINGLE_BAD" = 1 ] && broken "tlsa-check $SINGLE (run $r, exit $(cat "$f.rc")): $e"
    else
        SINGLE_EL+=("$e")
    fi
    f=$TMP/dns-$r.json
    DNS_WALL+=("$(one_run "$f" --no-connect)")
    read -r v e <<<"$(check_json "$f" 1)"
    [ "$v" = ERROR ] || DNS_EL+=("$e")
done
read -r _ SW_MIN SW_P50 SW_P90 SW_MAX _ <<<"$(printf '%s\n' "${SINGLE_WALL[@]}" | awk '{ print $1 / 1000 }' | stats)"
read -r _ SE_MIN SE_P50 SE_P90 SE_MAX _ <<<"$(printf '%s\n' "${SINGLE_EL[@]}" | stats)"
read -r _ DW_MIN DW_P50 _ DW_MAX _ <<<"$(printf '%s\n' "${DNS_WALL[@]}" | awk '{ print $1 / 1000 }' | stats)"
read -r _ DE_MIN DE_P50 _ DE_MAX _ <<<"$(printf '%s\n' "${DNS_EL[@]}" | stats)"

# --------------------------------------------------------------- report --

kill -0 "$DG_PID" 2>/dev/null || broken "danegated died during the run (see $TMP/danegated.log)"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
RATIO=$(awk -v p="$PF_US" -v t="$TC_US" 'BEGIN { if (t > 0) printf "%.2f", p / t; else print "-" }')
verdict() {     # VALUE OP GOAL -> PASS / FAIL / -
    awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
        if (v == "-" || v == "") { print "-"; exit }
        ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 < g + 0)
        print ok ? "PASS" : "FAIL" }'
}
V_RATIO=$(verdict "$RATIO" ">=" "$GOAL_RATIO")
V_SINGLE=$(verdict "$SW_P50" "<" "$GOAL_SINGLE_MS")
per() { awk -v u="$1" -v n="$2" 'BEGIN { printf "%.1f", u / n / 1000 }'; }
rate() { awk -v u="$1" -v n="$2" 'BEGIN { if (u > 0) printf "%.0f", n / (u / 1e6); else print "-" }'; }

echo
echo "tlsa-check-bench: $NDOM mail domains ($FIRST .. $LAST, wildcard MX -> mx.dane-ee.example, 3 1 1)"
echo "  world: WORLD_NET=$NET (up in $(ms $((T_WORLD - T_START))) ms), danegated $DG_ADDR, $(nproc) CPUs, load $LOAD_START -> $LOAD_END"
echo "  tlsa-check: $TC_BIN$([ "$TC_SANITIZED" = 1 ] && echo '  (SANITIZER BUILD)')"
echo "  danegated:  $DANEGATED$([ "$DG_SANITIZED" = 1 ] && echo '  (SANITIZER BUILD)')"
echo "  posttls-finger: $(command -v posttls-finger) (Postfix $(postconf -d -h mail_version 2>/dev/null || echo '?'))"
[ "$TC_SANITIZED" = 1 ] && echo "  WARNING: tlsa-check is a sanitizer build: the figures are NOT representative"
[ "$DG_SANITIZED" = 1 ] && echo "  WARNING: danegated is a sanitizer build: the posttls-finger figure (and the ratio) is NOT representative"
[ "$SMOKE" = 1 ] && echo "  (--smoke: too few domains and runs for figures worth quoting)"
echo
printf '%-44s %9s %11s %9s  %s\n' "" "wall s" "ms/domain" "domains/s" "verdicts"
printf '%-44s %9.3f %11s %9s  %s\n' "posttls-finger -c -l dane, sequential" \
    "$(awk -v u="$PF_US" 'BEGIN { print u / 1e6 }')" "$(per "$PF_US" "$NDOM")" \
    "$(rate "$PF_US" "$NDOM")" "$PF_OK/$NDOM DANE-verified"
printf '%-44s %9.3f %11s %9s  %s\n' "tlsa-check --json -j $JOBS" \
    "$(awk -v u="$TC_US" 'BEGIN { print u / 1e6 }')" "$(per "$TC_US" "$NDOM")" \
    "$(rate "$TC_US" "$NDOM")" "$TC_VALID/$NDOM dane-valid"
echo "  tlsa-check runs (s): $TC_RUNS_S (the median run is shown)"
echo "  tlsa-check elapsed_ms per domain (in its -j $JOBS run): min $TCE_MIN  p50 $TCE_P50  p90 $TCE_P90  max $TCE_MAX  mean $TCE_MEAN"
echo
echo "single-domain audit, $SINGLE, $RUNS cold runs (new process, empty cache, full recursion from the root):"
echo "  full audit   wall ms:       min $SW_MIN  p50 $SW_P50  p90 $SW_P90  max $SW_MAX"
echo "               elapsed_ms:    min $SE_MIN  p50 $SE_P50  p90 $SE_P90  max $SE_MAX"
echo "  --no-connect wall ms:       min $DW_MIN  p50 $DW_P50  max $DW_MAX   (DNS only: MX, A/AAAA, TLSA, MTA-STS, TLS-RPT, SPF, DMARC)"
echo "               elapsed_ms:    min $DE_MIN  p50 $DE_P50  max $DE_MAX"
echo
printf '%-52s %8s %8s  %s\n' "goal" value goal verdict
printf '%-52s %8s %8s  %s\n' "posttls-finger loop / tlsa-check -j $JOBS (x faster)" "$RATIO" ">= $GOAL_RATIO" "$V_RATIO"
printf '%-52s %8s %8s  %s\n' "single-domain full audit, median wall ms" "$SW_P50" "< $GOAL_SINGLE_MS" "$V_SINGLE"
echo
echo "# BEGIN tlsa-check-bench"
echo "domains=$NDOM"
echo "jobs=$JOBS"
echo "smoke=$SMOKE"
echo "net=$NET"
echo "tlsa_check=$TC_BIN"
echo "tlsa_check_sanitized=$TC_SANITIZED"
echo "danegated=$DANEGATED"
echo "danegated_sanitized=$DG_SANITIZED"
echo "posttls_finger_us=$PF_US"
echo "posttls_finger_verified=$PF_OK"
echo "tlsa_check_us=$TC_US"
echo "tlsa_check_runs_us=$(tr ' ' ',' <<<"${TC_RUN_US[*]}")"
echo "tlsa_check_exit=$TC_RC"
echo "tlsa_check_dane_valid=$TC_VALID"
echo "tlsa_check_elapsed_ms_p50=$TCE_P50"
echo "tlsa_check_elapsed_ms_p90=$TCE_P90"
echo "tlsa_check_elapsed_ms_max=$TCE_MAX"
echo "ratio=$RATIO"
echo "goal_ratio=>=$GOAL_RATIO"
echo "verdict_ratio=$(tr '[:upper:]' '[:lower:]' <<<"$V_RATIO")"
echo "single_domain=$SINGLE"
echo "single_runs=$RUNS"
echo "single_wall_ms_p50=$SW_P50"
echo "single_wall_ms_min=$SW_MIN"
echo "single_wall_ms_max=$SW_MAX"
echo "single_elapsed_ms_p50=$SE_P50"
echo "single_dns_only_wall_ms_p50=$DW_P50"
echo "single_dns_only_elapsed_ms_p50=$DE_P50"
echo "goal_single_wall_ms=<$GOAL_SINGLE_MS"
echo "verdict_single=$(tr '[:upper:]' '[:lower:]' <<<"$V_SINGLE")"
echo "status=$STATUS"
echo "# END tlsa-check-bench"
[ "$STATUS" = ok ]
