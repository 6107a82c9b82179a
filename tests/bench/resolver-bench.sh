#!/usr/bin/env bash
# resolver-bench.sh — danegated vs the Unbound daemon vs a UDP echo floor,
# side by side on one local signed DNS world (tests/world).
#
#   tests/bench/resolver-bench.sh [--smoke] [--without-danegated] [--keep]
#
#   --smoke              tiny durations (< 30 s in all) for CI: checks that
#                        every server answers; exits non-zero only when
#                        something is broken (a server did not start, no
#                        answers, too many lost queries, SERVFAIL on the
#                        cache-hot mix)
#   --without-danegated  benchmark Unbound and the echo server only
#   --keep               keep the temporary directory (configs, logs, raw
#                        dnsperf output) and print its name
#
# Needs root (port 53), dnsperf, unbound, nsd, ldnsutils, dig, cc, taskset.
# Missing a goal never makes it fail: see README.md for what is measured.
#
# Environment (all optional):
#   DANEGATED            danegated binary (default: <top>/daemon/danegated)
#   BENCH_NET            first two octets of every address (default 127.54):
#                        the world runs on $BENCH_NET.0.{1,2,3}, Unbound on
#                        $BENCH_NET.2.1, danegated on .2.2, echo on .2.3
#   BENCH_DURATION       seconds of full-rate load per server and workload
#                        (default 16, smoke 1)
#   BENCH_LAT_DURATION   seconds of fixed-rate load per server and workload
#                        (default 10, smoke 1)
#   BENCH_ROUNDS         the servers take turns: each measurement is split
#                        into this many rounds, each round one phase per
#                        server and DO setting (default 4, smoke 1), so that
#                        background load hits every server alike
#   BENCH_DO0            1: every round also runs a DO=0 (no EDNS) phase;
#                        default 0: all queries DO=1, as a validating
#                        resolver's clients (MTAs doing DANE) ask
#   BENCH_HOT_NAMES      hosts of the hot mix (default 3000, smoke 300): the
#                        world's hot.example. gets that many, each with A,
#                        AAAA, MX, TXT and TLSA
#   BENCH_HOT_QUERIES    lines of the hot query file (default 10 per host),
#                        drawn with a fixed seed: A 35 %, AAAA 35 %, MX,
#                        TLSA and TXT 10 % each
#   BENCH_HOT_RATE       queries/s of the cache-hot latency run (default 5000)
#   BENCH_MISS_RATE      queries/s of the cache-miss latency run (default 500)
#   BENCH_CLIENTS        dnsperf -c at full rate (default 8)
#   BENCH_OUTSTANDING    dnsperf -q at full rate (default 200)
#   BENCH_PIN            1 (default when there are >= 2 CPUs): servers on
#                        BENCH_SERVER_CPU (0), dnsperf and the world's NSD on
#                        BENCH_CLIENT_CPU (1)
#   BENCH_ECHO_BATCH     recvmmsg batch of the echo server (default 32); full
#                        mode also runs "echo1", the same server with batch 1
#                        (one recvmmsg/sendmmsg per datagram), on .2.4
set -uo pipefail
# A sanitizer build's exit-time leak check cannot run inside danegated's
# seccomp filter (it would die by SIGSYS after a clean stop).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/world/procs.sh
. "$TOP/tests/world/procs.sh"

SMOKE=0
WITH_DANEGATED=1
KEEP=0
for arg in "$@"; do
    case $arg in
    --smoke) SMOKE=1 ;;
    --without-danegated) WITH_DANEGATED=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "resolver-bench: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

NET=${BENCH_NET:-127.54}
DANEGATED=${DANEGATED:-$TOP/daemon/danegated}
if [ "$SMOKE" = 1 ]; then
    DURATION=${BENCH_DURATION:-1}
    LAT_DURATION=${BENCH_LAT_DURATION:-1}
    ROUNDS=${BENCH_ROUNDS:-1}
    HOT_NAMES=${BENCH_HOT_NAMES:-300}
else
    DURATION=${BENCH_DURATION:-16}
    LAT_DURATION=${BENCH_LAT_DURATION:-10}
    ROUNDS=${BENCH_ROUNDS:-4}
    HOT_NAMES=${BENCH_HOT_NAMES:-3000}
fi
HOT_QUERIES=${BENCH_HOT_QUERIES:-$((HOT_NAMES * 10))}
if [ "${BENCH_DO0:-0}" = 1 ]; then DO_PHASES=(do1 do0); else DO_PHASES=(do1); fi
HOT_RATE=${BENCH_HOT_RATE:-5000}
MISS_RATE=${BENCH_MISS_RATE:-500}
CLIENTS=${BENCH_CLIENTS:-8}
OUTSTANDING=${BENCH_OUTSTANDING:-200}
ECHO_BATCH=${BENCH_ECHO_BATCH:-32}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
NCPU=$(nproc 2>/dev/null || echo 1)
if [ "$NCPU" -ge 2 ]; then PIN=${BENCH_PIN:-1}; else PIN=0; fi
# each round is one equal phase per DO setting per server
PHASE=$(awk -v d="$DURATION" -v r="$ROUNDS" -v p="${#DO_PHASES[@]}" 'BEGIN { printf "%g", d / r / p }')
LAT_PHASE=$(awk -v d="$LAT_DURATION" -v r="$ROUNDS" -v p="${#DO_PHASES[@]}" 'BEGIN { printf "%g", d / r / p }')
# unique names generated per miss phase: a ceiling on the miss QPS a
# resolver can show before dnsperf runs out of names (it then stops early,
# which is reported, and the QPS over the shorter run is still right)
MISS_NAMES_PER_SEC=${BENCH_MISS_NAMES_PER_SEC:-40000}
# a server below this CPU share at full rate was not the bottleneck
SATURATED_PCT=85

# read through ${!a} with a=ADDR_<server>
# shellcheck disable=SC2034
ADDR_unbound=$NET.2.1
ADDR_danegated=$NET.2.2
# shellcheck disable=SC2034
ADDR_echo=$NET.2.3
# shellcheck disable=SC2034
ADDR_echo1=$NET.2.4
SERVERS=(unbound)
[ "$WITH_DANEGATED" = 1 ] && SERVERS+=(danegated)
SERVERS+=(echo)
[ "$SMOKE" = 1 ] || SERVERS+=(echo1)
is_echo() { case $1 in echo*) return 0 ;; esac; return 1; }

CLK_TCK=$(getconf CLK_TCK)
STATUS=ok           # becomes "broken" on a failed check
declare -A R=()     # results: R[workload,server,key]
declare -A PID=()   # server pids

log() { echo "resolver-bench: $*" >&2; }
die() { log "$*"; STATUS=broken; exit 1; }
broken() { log "BROKEN: $*"; STATUS=broken; }

if [ "$PIN" = 1 ]; then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
else
    PIN_SERVER=()
    PIN_CLIENT=()
fi

# ------------------------------------------------------------ preflight --

[ "$(id -u)" = 0 ] || die "needs root (servers bind port 53)"
for tool in dnsperf unbound unbound-checkconf nsd ldns-signzone dig cc awk; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
[ "$PIN" = 1 ] && { command -v taskset >/dev/null 2>&1 || die "'taskset' not found (or BENCH_PIN=0)"; }
if [ "$WITH_DANEGATED" = 1 ] && [ ! -x "$DANEGATED" ]; then
    die "danegated not found at $DANEGATED (build it, set DANEGATED=, or pass --without-danegated)"
fi
# a sanitizer build runs several times slower: its figures say nothing
DANEGATED_SANITIZED=0
if [ "$WITH_DANEGATED" = 1 ] && ldd "$DANEGATED" 2>/dev/null | grep -Eq 'lib(asan|ubsan|tsan|msan|lsan)'; then
    DANEGATED_SANITIZED=1
    log "WARNING: $DANEGATED is a sanitizer build (ASan/UBSan): its figures are not comparable; configure without --enable-sanitizers for a benchmark"
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
case $NET in 127.*.*) die "BENCH_NET must be two octets, e.g. 127.54" ;; 127.*) ;;
    *) die "BENCH_NET must be under 127/8" ;; esac

TMP=$(mktemp -d /tmp/danegate-bench.XXXXXX) || die "mktemp failed"
WORLD=$TMP/world
cd "$TMP" || die "cannot cd to $TMP"   # stray output stays in TMP


cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    for s in "${!PID[@]}"; do
        stop_pid "${PID[$s]}"
    done
    if [ -d "$WORLD" ]; then
        WORLD_NET=$NET bash "$TOP/tests/world/world.sh" down "$WORLD" >/dev/null 2>&1
    fi
    if [ "$KEEP" = 1 ] || [ "$STATUS" != ok ]; then
        log "kept $TMP (configs, logs, raw dnsperf output)"
    else
        rm -rf "$TMP"
    fi
    [ "$STATUS" != ok ] && [ "$rc" = 0 ] && rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; STATUS=broken; exit 130' INT TERM

# ------------------------------------------------------------- the world --

T_START=$(date +%s.%N)
log "world: up in $WORLD (WORLD_NET=$NET)"
WORLD_NET=$NET WORLD_HOT_NAMES=$HOT_NAMES bash "$TOP/tests/world/world.sh" up "$WORLD" >"$TMP/world-up.log" 2>&1 ||
    { cat "$TMP/world-up.log" >&2; die "the world did not come up"; }
FRAGMENT=$(cat "$WORLD/unbound.conf.fragment")

# NSD's response rate limiting (on by default in Debian's NSD: 200 q/s per
# client /24 and type, then every second answer dropped and the other
# truncated) would turn the cache-miss mix, all NXDOMAINs from the leaf
# server to 127.0.0.1, into timeouts and TCP retries. Restart the leaf NSD
# of this bench's own world with rrl-ratelimit: 0, unless the world already
# sets it.
LEAF_CONF=$WORLD/nsd/leaf/nsd.conf
LEAF_ADDR=$NET.0.3
if [ -f "$LEAF_CONF" ] && ! grep -q '^[[:space:]]*rrl-ratelimit:' "$LEAF_CONF"; then
    leaf_pid=$(tr -dc 0-9 <"$WORLD/nsd/leaf/nsd.pid" 2>/dev/null)
    [ -n "$leaf_pid" ] && kill -TERM "$leaf_pid" 2>/dev/null
    for _ in $(seq 1 60); do
        [ -z "$(pgrep -f "nsd -c $LEAF_CONF")" ] && break
        sleep 0.1
    done
    [ -n "$(pgrep -f "nsd -c $LEAF_CONF")" ] && die "the world's leaf NSD does not stop"
    sed -i 's/^server:[[:space:]]*$/&\n    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0/' "$LEAF_CONF"
    nsd -c "$LEAF_CONF" || die "the leaf NSD does not restart (see $WORLD/nsd/leaf/nsd.log)"
    for z in secure.example. nsec3.internal. insecure.example. hot.example.; do
        for _ in $(seq 1 50); do
            dig +norec +time=1 +tries=1 @"$LEAF_ADDR" "$z" SOA 2>/dev/null |
                grep -q 'status: NOERROR' && continue 2
            sleep 0.1
        done
        die "the restarted leaf NSD does not serve $z"
    done
fi

if [ "$PIN" = 1 ]; then
    # NSD works only during the miss mix; keep it off the servers' core
    for d in root tld leaf; do
        for p in $(pgrep -f "nsd -c $WORLD/nsd/$d/nsd.conf"); do
            taskset -a -p -c "$CLIENT_CPU" "$p" >/dev/null 2>&1
        done
    done
fi

# ------------------------------------------------------------ the servers --

cc -O2 -Wall -Wextra -o "$TMP/udp_echo" "$HERE/udp_echo.c" 2>"$TMP/cc.log" ||
    { cat "$TMP/cc.log" >&2; die "cannot build udp_echo.c"; }

# the libunbound/Unbound settings both resolvers share
COMMON_UB="	msg-cache-size: 4m
	rrset-cache-size: 8m
	key-cache-size: 4m
	neg-cache-size: 1m
	aggressive-nsec: no
	prefetch: no
	prefetch-key: no
	num-queries-per-thread: 4096
	ip-ratelimit: 0
	verbosity: 0
$(sed 's/^/	/' <<<"$FRAGMENT")"

cat >"$TMP/unbound.conf" <<EOF
server:
	interface: $ADDR_unbound@53
	access-control: 127.0.0.0/8 allow
	num-threads: 1
	username: ""
	chroot: ""
	directory: "$TMP"
	pidfile: "$TMP/unbound.pid"
	use-syslog: no
	logfile: ""
$COMMON_UB
remote-control:
	control-enable: no
EOF

cat >"$TMP/danegated.conf" <<EOF
server:
	interface: $ADDR_danegated@53
	access-control: 127.0.0.0/8 allow
	username: ""
$COMMON_UB
EOF

unbound-checkconf "$TMP/unbound.conf" >"$TMP/unbound-checkconf.log" 2>&1 ||
    { cat "$TMP/unbound-checkconf.log" >&2; die "unbound-checkconf refused $TMP/unbound.conf"; }

# answers (any rcode) from ADDR within 1 s?
answers() {
    dig @"$1" +time=1 +tries=1 +norec www.secure.example. A >/dev/null 2>&1
}

declare -A PROBE=()
for s in "${SERVERS[@]}"; do
    a=ADDR_$s
    answers "${!a}" &
    PROBE[$s]=$!
done
for s in "${!PROBE[@]}"; do
    a=ADDR_$s
    wait "${PROBE[$s]}" && die "something already answers on ${!a}:53 (another bench? set BENCH_NET)"
done

start_server() {
    local s=$1 a=ADDR_$1
    case $s in
    unbound) "${PIN_SERVER[@]}" unbound -d -c "$TMP/unbound.conf" >"$TMP/unbound.log" 2>&1 & ;;
    danegated) "${PIN_SERVER[@]}" "$DANEGATED" -d -c "$TMP/danegated.conf" >"$TMP/danegated.log" 2>&1 & ;;
    echo) "${PIN_SERVER[@]}" "$TMP/udp_echo" "${!a}" 53 "$ECHO_BATCH" >"$TMP/echo.log" 2>&1 & ;;
    echo1) "${PIN_SERVER[@]}" "$TMP/udp_echo" "${!a}" 53 1 >"$TMP/echo1.log" 2>&1 & ;;
    esac
    PID[$s]=$!
    for _ in $(seq 1 40); do
        if ! kill -0 "${PID[$s]}" 2>/dev/null; then
            tail -20 "$TMP/$s.log" >&2
            die "$s did not start (log above)"
        fi
        answers "${!a}" && return 0
        sleep 0.25
    done
    tail -20 "$TMP/$s.log" >&2
    die "$s does not answer on ${!a}:53"
}

for s in "${SERVERS[@]}"; do
    start_server "$s"
done
log "servers: $(for s in "${SERVERS[@]}"; do a=ADDR_$s; printf '%s %s (pid %s)  ' "$s" "${!a}" "${PID[$s]}"; done)"

# --------------------------------------------------------------- queries --

# The cache-hot mix: HOT_QUERIES questions about HOT_NAMES mail hosts of
# hot.example., A 35 %, AAAA 35 %, MX, TLSA and TXT 10 % each, drawn with
# a fixed seed (the same file every run). Thousands of names, not a
# handful: an answer cache that holds 20 answers in a few cache lines says
# little about one that must hold 15,000 (issue 6 §6: an outside harness
# with this mix saw what the old 20-name mix hid).
awk -v n="$HOT_NAMES" -v q="$HOT_QUERIES" 'BEGIN {
    srand(20261204)
    for (i = 0; i < q; i++) {
        h = int(rand() * n); r = rand()
        if (r < 0.35) printf "h%d.hot.example. A\n", h
        else if (r < 0.70) printf "h%d.hot.example. AAAA\n", h
        else if (r < 0.80) printf "h%d.hot.example. MX\n", h
        else if (r < 0.90) printf "_25._tcp.h%d.hot.example. TLSA\n", h
        else printf "h%d.hot.example. TXT\n", h
    } }' >"$TMP/hot.txt"

MISS_SEQ=0
# a file of N names never asked before, 60 % under hot.example.'s signed
# wildcard (<run>-<n>.wild.hot.example. A: an answer proven by NSEC), 40 %
# under nsec3.internal. (NXDOMAIN proven by NSEC3)
miss_file() {
    local n=$1 f
    MISS_SEQ=$((MISS_SEQ + 1))
    f=$TMP/miss-$MISS_SEQ.txt
    awk -v n="$n" -v p="m$RANDOM$MISS_SEQ" 'BEGIN {
        for (i = 0; i < n; i++)
            if (i % 5 < 3) printf "%s-%x.wild.hot.example. A\n", p, i
            else printf "%s-%x.nsec3.internal. A\n", p, i }' >"$f"
    echo "$f"
}

# CPU time (user + system) a process used so far, in ns: the sum over its
# threads of /proc/PID/task/TID/schedstat's first field (sum_exec_runtime,
# what utime+stime of /proc/PID/stat are derived from, without the 1/CLK_TCK
# granularity); /proc/PID/stat's utime+stime where schedstat is missing.
cpu_ns() {
    local pid=$1 t a sum=0 n=0
    for t in /proc/"$pid"/task/*/schedstat; do
        read -r a _ <"$t" 2>/dev/null || continue
        sum=$((sum + a))
        n=$((n + 1))
    done
    if [ "$n" = 0 ]; then
        sum=$(sed 's/^.*) //' "/proc/$pid/stat" |
            awk -v hz="$CLK_TCK" '{ printf "%.0f", ($12 + $13) * 1e9 / hz }')
    fi
    echo "$sum"
}

# field of dnsperf's report
dp_field() {    # FILE LABEL -> first number after "LABEL:" (0 if absent)
    awk -v l="$2:" 'i = index($0, l) { split(substr($0, i + length(l)), f, " "); v = f[1]; exit }
        END { print v + 0 }' "$1"
}

dp_rcode() {    # FILE RCODE -> how many answers had it (0 if none)
    awk -v c="$2" '/Response codes:/ { for (i = 1; i < NF; i++) if ($i == c) n = $(i + 1) + 0 }
        END { print n + 0 }' "$1"
}

# One dnsperf run. Appends its figures to the running sums of the current
# measurement (M_*). Args: server kind(sat|lat) workload phase(do1|do0) secs
run_phase() {
    local s=$1 kind=$2 w=$3 ph=$4 secs=$5 a=ADDR_$1 out file n
    local -a args=(-s "${!a}" -l "$secs" -t 2)
    [ "$ph" = do1 ] && args+=(-D)
    if [ "$kind" = sat ]; then
        args+=(-c "$CLIENTS" -q "$OUTSTANDING")
    else
        if [ "$w" = hot ]; then args+=(-Q "$HOT_RATE"); else args+=(-Q "$MISS_RATE"); fi
        args+=(-c 4 -q 500 -v)
    fi
    if [ "$w" = hot ]; then
        file=$TMP/hot.txt
    else
        if [ "$kind" = sat ]; then
            n=$(awk -v s="$secs" -v r="$MISS_NAMES_PER_SEC" 'BEGIN { printf "%d", s * r + 1000 }')
        else
            n=$(awk -v s="$secs" -v r="$MISS_RATE" 'BEGIN { printf "%d", s * r * 1.2 + 100 }')
        fi
        file=$(miss_file "$n")
        # a resolver sees every name once; the echo server does not care
        is_echo "$s" || args+=(-n 1)
    fi
    out=$TMP/dnsperf-$w-$kind-$s-$ph-$ROUND.out
    "${PIN_CLIENT[@]}" dnsperf -d "$file" "${args[@]}" >"$out" 2>&1
    [ "$w" = miss ] && rm -f "$file"
    if ! grep -q 'Queries sent:' "$out"; then
        tail -5 "$out" >&2
        broken "dnsperf failed against $s ($out)"
        return 0
    fi
    grep -q 'end of file' "$out" && [ "$kind" = sat ] &&
        log "note: $w $s $ph ran out of unique names after $(dp_field "$out" 'Run time (s)') s (BENCH_MISS_NAMES_PER_SEC)"
    M_SENT=$((M_SENT + $(dp_field "$out" 'Queries sent')))
    M_DONE=$((M_DONE + $(dp_field "$out" 'Queries completed')))
    M_LOST=$((M_LOST + $(dp_field "$out" 'Queries lost')))
    M_TIME=$(awk -v a="$M_TIME" -v b="$(dp_field "$out" 'Run time (s)')" 'BEGIN { print a + b }')
    M_SERVFAIL=$((M_SERVFAIL + $(dp_rcode "$out" SERVFAIL)))
    # bytes answered: "Average packet size:  request 48, response 216"
    M_BYTES=$((M_BYTES + $(awk '/Average packet size:/ { sub(/.*response /, ""); print $1 + 0; exit }' "$out") * $(dp_field "$out" 'Queries completed')))
    if [ "$kind" = lat ]; then
        # "> RCODE name type latency" per answered query
        awk '$1 == ">" && $2 != "T" && $2 != "I" && NF >= 5 { print $NF * 1000000 }' "$out" >>"$M_LATFILE"
    fi
}

# measure SERVER KIND WORKLOAD: one round (a phase per DO setting); the
# figures add up in R[WORKLOAD,SERVER,KIND_*] over the rounds
measure() {
    local s=$1 kind=$2 w=$3 secs c0 c1 k="$2,$3,$1" ph
    M_SENT=0 M_DONE=0 M_LOST=0 M_TIME=0 M_SERVFAIL=0 M_BYTES=0
    M_LATFILE=$TMP/lat-$w-$s.txt
    if [ "$kind" = sat ]; then secs=$PHASE; else secs=$LAT_PHASE; fi
    if ! kill -0 "${PID[$s]}" 2>/dev/null; then
        broken "$s is no longer running"
        return 0
    fi
    c0=$(cpu_ns "${PID[$s]}")
    for ph in "${DO_PHASES[@]}"; do
        run_phase "$s" "$kind" "$w" "$ph" "$secs"
    done
    if ! kill -0 "${PID[$s]}" 2>/dev/null; then
        broken "$s died during the $w $kind measurement"
        return 0
    fi
    c1=$(cpu_ns "${PID[$s]}")
    R[$k,sent]=$(( ${R[$k,sent]:-0} + M_SENT ))
    R[$k,done]=$(( ${R[$k,done]:-0} + M_DONE ))
    R[$k,lost]=$(( ${R[$k,lost]:-0} + M_LOST ))
    R[$k,servfail]=$(( ${R[$k,servfail]:-0} + M_SERVFAIL ))
    R[$k,bytes]=$(( ${R[$k,bytes]:-0} + M_BYTES ))
    R[$k,cpu_ns]=$(( ${R[$k,cpu_ns]:-0} + c1 - c0 ))
    R[$k,time]=$(awk -v a="${R[$k,time]:-0}" -v b="$M_TIME" 'BEGIN { print a + b }')
}

# finish SERVER WORKLOAD: the figures of the table from the sums
finish() {
    local s=$1 w=$2 k="$2,$1" sk="sat,$2,$1" lk="lat,$2,$1"
    R[$k,answered]=${R[$sk,done]:-0}
    R[$k,lost]=${R[$sk,lost]:-0}
    R[$k,servfail]=${R[$sk,servfail]:-0}
    R[$k,qps]=$(awk -v n="${R[$sk,done]:-0}" -v t="${R[$sk,time]:-0}" \
        'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')
    R[$k,cpu_us]=$(awk -v c="${R[$sk,cpu_ns]:-0}" -v n="${R[$sk,done]:-0}" \
        'BEGIN { printf "%.2f", (n > 0 ? c / 1000 / n : 0) }')
    R[$k,cpu_pct]=$(awk -v c="${R[$sk,cpu_ns]:-0}" -v t="${R[$sk,time]:-0}" \
        'BEGIN { printf "%.0f", (t > 0 ? c / 1e7 / t : 0) }')
    R[$k,resp_bytes]=$(awk -v b="${R[$sk,bytes]:-0}" -v n="${R[$sk,done]:-0}" 'BEGIN { printf "%.0f", (n > 0 ? b / n : 0) }')
    # what one core would answer: 1 s of CPU / CPU per answer
    R[$k,qps_core]=$(awk -v u="${R[$k,cpu_us]}" 'BEGIN { printf "%.0f", (u > 0 ? 1e6 / u : 0) }')
    R[$k,lost_pct]=$(awk -v l="${R[$sk,lost]:-0}" -v n="${R[$sk,sent]:-0}" \
        'BEGIN { printf "%.2f", (n > 0 ? l * 100 / n : 100) }')
    R[$k,lat_lost_pct]=$(awk -v l="${R[$lk,lost]:-0}" -v n="${R[$lk,sent]:-0}" \
        'BEGIN { printf "%.2f", (n > 0 ? l * 100 / n : 100) }')
    # CPU per answer at the fixed rate: the same offered load for everyone
    R[$k,lat_cpu_us]=$(awk -v c="${R[$lk,cpu_ns]:-0}" -v n="${R[$lk,done]:-0}" \
        'BEGIN { printf "%.2f", (n > 0 ? c / 1000 / n : 0) }')
    R[$k,saturated]=$(awk -v p="${R[$k,cpu_pct]}" -v m="$SATURATED_PCT" 'BEGIN { print (p >= m ? 1 : 0) }')
    if [ -s "$TMP/lat-$w-$s.txt" ]; then
        sort -n "$TMP/lat-$w-$s.txt" -o "$TMP/lat-$w-$s.txt"
        read -r "R[$k,p50]" "R[$k,p99]" "R[$k,lat_n]" < <(awk '{ v[NR] = $1 } END {
            i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
            if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
            printf "%.0f %.0f %d\n", v[i50], v[i99], NR }' "$TMP/lat-$w-$s.txt")
    else
        R[$k,lat_n]=0
    fi
}

# ---------------------------------------------------------------- warm-up --

log "warm-up"
for s in "${SERVERS[@]}"; do
    is_echo "$s" && continue
    a=ADDR_$s
    for ph in "${DO_PHASES[@]}"; do
        flag=; [ "$ph" = do1 ] && flag=-D
        # one pass fills the caches, the second finds everything there
        # shellcheck disable=SC2086
        "${PIN_CLIENT[@]}" dnsperf -s "${!a}" -d "$TMP/hot.txt" -n 2 -c 1 -q 50 -t 5 $flag \
            >>"$TMP/warm-$s.out" 2>&1
    done
    # the miss path: nsec3.internal's keys are in the key cache already,
    # warm the code paths with a few unique names
    f=$(miss_file 200)
    "${PIN_CLIENT[@]}" dnsperf -s "${!a}" -d "$f" -n 1 -c 1 -q 20 -t 5 -D >>"$TMP/warm-$s.out" 2>&1
    rm -f "$f"
done
for s in "${SERVERS[@]}"; do
    is_echo "$s" && continue
    a=ADDR_$s
    # the mix must validate: a few spot checks
    for q in "h0.hot.example. A" "_25._tcp.h1.hot.example. TLSA" "spot.wild.hot.example. A"; do
        # shellcheck disable=SC2086
        dig @"${!a}" +dnssec +time=2 +tries=1 $q >"$TMP/spot-$s.txt" 2>&1
        grep -q 'flags:.* ad[ ;]' "$TMP/spot-$s.txt" ||
            broken "$s: $q is not answered with AD=1 (see $TMP/spot-$s.txt)"
    done
done

# ------------------------------------------------------------ measurements --

ROUND=0
for w in hot miss; do
    if [ "$w" = hot ]; then r=$HOT_RATE; else r=$MISS_RATE; fi
    for s in "${SERVERS[@]}"; do : >"$TMP/lat-$w-$s.txt"; done
    log "$w: full rate, ${DURATION}s per server in $ROUNDS round(s)"
    for ROUND in $(seq 1 "$ROUNDS"); do
        for s in "${SERVERS[@]}"; do measure "$s" sat "$w"; done
    done
    log "$w: latency at $r q/s, ${LAT_DURATION}s per server in $ROUNDS round(s)"
    for ROUND in $(seq 1 "$ROUNDS"); do
        for s in "${SERVERS[@]}"; do measure "$s" lat "$w"; done
    done
    for s in "${SERVERS[@]}"; do finish "$s" "$w"; done
done

for s in "${SERVERS[@]}"; do
    if kill -0 "${PID[$s]}" 2>/dev/null; then
        R[rss,$s]=$(awk '/^VmHWM:/ { print $2 }' "/proc/${PID[$s]}/status")
        # exact (a page-table walk); VmRSS/VmHWM come from per-CPU
        # counters that may lag by hundreds of pages
        R[rssnow,$s]=$(awk '/^Rss:/ { print $2 }' "/proc/${PID[$s]}/smaps_rollup")
    else
        broken "$s is no longer running at the end"
        R[rss,$s]=0
        R[rssnow,$s]=0
    fi
done
# Stop the servers now, to see how each takes SIGTERM: a clean exit (0), or
# death by that SIGTERM (143), is fine; any other signal (a seccomp SIGSYS,
# a crash) or a hang is broken.
for s in "${SERVERS[@]}"; do
    pid=${PID[$s]}
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        broken "$s did not exit within 5 s of SIGTERM"
    fi
    wait "$pid" 2>/dev/null
    R[exit,$s]=$?
    unset "PID[$s]"
    case ${R[exit,$s]} in
    0|143) ;;
    *) if [ "${R[exit,$s]}" -gt 128 ]; then
           broken "$s died of signal $((R[exit,$s] - 128)) ($(kill -l $((R[exit,$s] - 128)) 2>/dev/null)) on SIGTERM (see $TMP/$s.log)"
       else
           log "note: $s exited with status ${R[exit,$s]} on SIGTERM"
       fi ;;
    esac
done

T_END=$(date +%s.%N)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ----------------------------------------------------------------- checks --

# Broken = no answers, more than MAXLOST % lost at full rate, SERVFAIL on the
# hot mix, or (checked above) a server not running / not validating.
MAXLOST=5
for w in hot miss; do
    for s in "${SERVERS[@]}"; do
        k="$w,$s"
        [ "${R[$k,answered]:-0}" -gt 0 ] || broken "$s answered no $w query at full rate"
        [ "${R[$k,lat_n]:-0}" -gt 0 ] || broken "$s answered no $w query at the fixed rate"
        awk -v l="${R[$k,lost_pct]:-100}" -v m="$MAXLOST" 'BEGIN { exit !(l > m) }' &&
            broken "$s lost ${R[$k,lost_pct]:-100}% of the $w queries at full rate (> $MAXLOST%)"
        awk -v l="${R[$k,lat_lost_pct]:-100}" -v m="$MAXLOST" 'BEGIN { exit !(l > m) }' &&
            broken "$s lost ${R[$k,lat_lost_pct]:-100}% of the $w queries at the fixed rate (> $MAXLOST%)"
        if [ "$w" = hot ] && ! is_echo "$s" && [ "${R[$k,servfail]:-0}" -gt 0 ]; then
            sf=$(awk -v f="${R[$k,servfail]}" -v n="${R[$k,answered]:-1}" 'BEGIN { printf "%.2f", f * 100 / n }')
            awk -v f="$sf" 'BEGIN { exit !(f > 1) }' && broken "$s answered $sf% of the hot mix with SERVFAIL"
        fi
    done
done

# ----------------------------------------------------------------- report --

dash() { if [ -n "${1:-}" ]; then echo "$1"; else echo "-"; fi; }
MODE=$([ "$SMOKE" = 1 ] && echo smoke || echo full)

echo
echo "danegate resolver benchmark ($MODE) — $(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $NCPU CPUs"
echo "  unbound $(unbound -V 2>/dev/null | awk 'NR == 1 { print $2 }'), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }'), world WORLD_NET=$NET (leaf NSD without RRL)"
[ "$WITH_DANEGATED" = 1 ] && echo "  danegated: $DANEGATED"
[ "$DANEGATED_SANITIZED" = 1 ] &&
    echo "  WARNING: danegated is a sanitizer build: its figures are NOT comparable"
echo "  load average at start $LOAD_START, at end $LOAD_END (other work on the machine skews QPS and latency; CPU us/q the least)"
if [ "$PIN" = 1 ]; then
    echo "  pinning: servers on CPU $SERVER_CPU; dnsperf and the world's NSD on CPU $CLIENT_CPU"
else
    echo "  pinning: none"
fi
echo "  full rate: dnsperf -c $CLIENTS -q $OUTSTANDING; latency: dnsperf -Q (hot $HOT_RATE, miss $MISS_RATE q/s) -v"
echo "  hot mix: $HOT_QUERIES questions over $HOT_NAMES hosts of hot.example. (A, AAAA 35 %, MX, TLSA, TXT 10 % each); miss mix: unique names, 60 % *.wild.hot.example. (NSEC), 40 % NXDOMAIN under nsec3.internal. (NSEC3)"
echo "  each row: ${DURATION}s full rate + ${LAT_DURATION}s fixed rate, $([ "${#DO_PHASES[@]}" = 2 ] && echo "half DO=1 (-D), half DO=0 (no EDNS)" || echo "all DO=1 (-D)"), $ROUNDS round(s), servers taking turns"
echo "  both resolvers: msg-cache 4m, rrset-cache 8m, key-cache 4m, neg-cache 1m, aggressive-nsec no, prefetch no, 1 thread; danegated carves its answer cache out of msg-cache (3m answers + 1m libunbound)"
echo
printf '%-5s %-10s %9s %5s %9s %9s %6s %6s  %9s %8s %8s\n' \
    "" "" "QPS" "CPU%" "CPU us/q" "QPS/core" "lost%" "resp B" "us/q@rate" "p50 us" "p99 us"
CLIENT_BOUND=0
for w in hot miss; do
    for s in "${SERVERS[@]}"; do
        k="$w,$s"
        q=$(dash "${R[$k,qps]:-}")
        if [ "${R[$k,saturated]:-1}" = 0 ]; then q="$q*"; CLIENT_BOUND=1; else q="$q "; fi
        printf '%-5s %-10s %10s %5s %9s %9s %6s %6s  %9s %8s %8s\n' "$w" "$s" "$q" \
            "$(dash "${R[$k,cpu_pct]:-}")" "$(dash "${R[$k,cpu_us]:-}")" \
            "$(dash "${R[$k,qps_core]:-}")" "$(dash "${R[$k,lost_pct]:-}")" \
            "$(dash "${R[$k,resp_bytes]:-}")" \
            "$(dash "${R[$k,lat_cpu_us]:-}")" \
            "$(dash "${R[$k,p50]:-}")" "$(dash "${R[$k,p99]:-}")"
    done
done
[ "$CLIENT_BOUND" = 1 ] &&
    echo "  * server below ${SATURATED_PCT}% CPU at full rate: dnsperf (one core) was the limit, not the server"
echo "  QPS/core = 1e6 / CPU us/q: what the server would answer with one core to itself; resp B: mean answer size"
echo "  us/q@rate, p50, p99: at the fixed rate (hot $HOT_RATE q/s, miss $MISS_RATE q/s)"
printf '  peak RSS (VmHWM):'
for s in "${SERVERS[@]}"; do printf '  %s %s kB' "$s" "${R[rss,$s]:-?}"; done
echo
printf '  RSS at the end, caches full (smaps_rollup):'
for s in "${SERVERS[@]}"; do printf '  %s %s kB' "$s" "${R[rssnow,$s]:-?}"; done
echo
printf '  exit status on SIGTERM:'
for s in "${SERVERS[@]}"; do printf '  %s %s' "$s" "${R[exit,$s]:-?}"; done
echo
for w in hot miss; do
    # latency: is the floor's p99 of the same order? then p99 is the machine's
    awk -v e="${R[$w,echo,p99]:-0}" -v u="${R[$w,unbound,p99]:-0}" -v d="${R[$w,danegated,p99]:-${R[$w,unbound,p99]:-0}}" \
        'BEGIN { m = (u < d ? u : d); exit !(m > 0 && e >= m / 2) }' &&
        echo "  note: $w p99 of the echo floor (${R[$w,echo,p99]} us) is over half the resolvers': their p99 mostly measures this machine's scheduling, not the servers"
    for s in unbound danegated; do
        [ -n "${R[$w,$s,qps]:-}" ] || continue
        awk -v q="${R[$w,$s,qps_core]:-0}" -v r="$([ "$w" = hot ] && echo "$HOT_RATE" || echo "$MISS_RATE")" 'BEGIN { exit !(q > 0 && r > q / 4) }' &&
            echo "  note: the $w latency rate is more than 1/4 of $s's capacity: p50/p99 are not far below saturation"
    done
done

ratio() {   # a b -> a/b with 3 decimals, or empty
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) exit; printf "%.3f", a / b }'
}
# verdict VALUE OP GOAL -> pass|fail|n/a
verdict() {
    [ -n "$1" ] || { echo n/a; return; }
    awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN {
        ok = (op == "<=") ? (v <= g) : (v >= g); print ok ? "pass" : "fail" }'
}

declare -a RATIO_KEYS=()
declare -A RATIO_VAL=() RATIO_GOAL=() RATIO_OP=() RATIO_TXT=() RATIO_VERDICT=()
add_ratio() {   # key text value [op goal]
    RATIO_KEYS+=("$1")
    RATIO_TXT[$1]=$2
    RATIO_VAL[$1]=$3
    RATIO_OP[$1]=${4:-}
    RATIO_GOAL[$1]=${5:-}
}
# A QPS goal is judged on measured QPS when both resolvers were saturated,
# else on QPS/core (measured QPS then only says how fast dnsperf is).
add_qps_ratios() {  # workload text goal
    local w=$1 m c
    m=$(ratio "${R[$w,danegated,qps]:-}" "${R[$w,unbound,qps]:-}")
    c=$(ratio "${R[$w,danegated,qps_core]:-}" "${R[$w,unbound,qps_core]:-}")
    if [ "${R[$w,danegated,saturated]:-0}" = 1 ] && [ "${R[$w,unbound,saturated]:-0}" = 1 ]; then
        add_ratio "${w}_qps" "$2 QPS" "$m" ">=" "$3"
        add_ratio "${w}_qps_per_core" "$2 QPS/core" "$c"
    else
        add_ratio "${w}_qps" "$2 QPS (client-bound)" "$m"
        add_ratio "${w}_qps_per_core" "$2 QPS/core" "$c" ">=" "$3"
    fi
}
if [ "$WITH_DANEGATED" = 1 ]; then
    add_ratio hot_cpu_per_query "cache-hot CPU/query" "$(ratio "${R[hot,danegated,cpu_us]:-}" "${R[hot,unbound,cpu_us]:-}")" "<=" 0.8
    add_qps_ratios hot "cache-hot" 1.2
    add_ratio hot_p99 "cache-hot p99 latency" "$(ratio "${R[hot,danegated,p99]:-}" "${R[hot,unbound,p99]:-}")" "<=" 1.0
    add_ratio hot_p50 "cache-hot p50 latency" "$(ratio "${R[hot,danegated,p50]:-}" "${R[hot,unbound,p50]:-}")"
    add_ratio hot_cpu_per_query_at_rate "cache-hot CPU/query at $HOT_RATE q/s" "$(ratio "${R[hot,danegated,lat_cpu_us]:-}" "${R[hot,unbound,lat_cpu_us]:-}")"
    add_ratio miss_cpu_per_query "cache-miss CPU/query" "$(ratio "${R[miss,danegated,cpu_us]:-}" "${R[miss,unbound,cpu_us]:-}")"
    add_ratio miss_cpu_per_query_at_rate "cache-miss CPU/query at $MISS_RATE q/s" "$(ratio "${R[miss,danegated,lat_cpu_us]:-}" "${R[miss,unbound,lat_cpu_us]:-}")"
    add_qps_ratios miss "cache-miss" 0.9
    add_ratio miss_p99 "cache-miss p99 latency" "$(ratio "${R[miss,danegated,p99]:-}" "${R[miss,unbound,p99]:-}")" "<=" 1.0
    add_ratio miss_p50 "cache-miss p50 latency" "$(ratio "${R[miss,danegated,p50]:-}" "${R[miss,unbound,p50]:-}")"
    add_ratio rss "RSS, caches full" "$(ratio "${R[rssnow,danegated]:-}" "${R[rssnow,unbound]:-}")" "<=" 1.0
    add_ratio peak_rss "peak RSS (VmHWM)" "$(ratio "${R[rss,danegated]:-}" "${R[rss,unbound]:-}")"

    echo
    printf '%-34s %7s %8s  %s\n' "danegated / unbound (same run)" ratio goal verdict
    for k in "${RATIO_KEYS[@]}"; do
        if [ -n "${RATIO_OP[$k]}" ]; then
            RATIO_VERDICT[$k]=$(verdict "${RATIO_VAL[$k]}" "${RATIO_OP[$k]}" "${RATIO_GOAL[$k]}")
            printf '%-34s %7s %8s  %s\n' "${RATIO_TXT[$k]}" "$(dash "${RATIO_VAL[$k]}")" \
                "${RATIO_OP[$k]} ${RATIO_GOAL[$k]}" "${RATIO_VERDICT[$k]^^}"
        else
            printf '%-34s %7s %8s\n' "${RATIO_TXT[$k]}" "$(dash "${RATIO_VAL[$k]}")" ""
        fi
    done
fi

# the floor: what a server costs that only receives and sends
echo
for w in hot miss; do
    for f in echo echo1; do
        [ -n "${R[$w,$f,cpu_us]:-}" ] || continue
        line="  $w floor ($f): ${R[$w,$f,cpu_us]} us/q, ${R[$w,$f,qps_core]} QPS/core, p99 ${R[$w,$f,p99]:-?} us; above it:"
        for s in unbound danegated; do
            [ -n "${R[$w,$s,cpu_us]:-}" ] || continue
            line="$line $s $(awk -v a="${R[$w,$s,cpu_us]}" -v b="${R[$w,$f,cpu_us]}" 'BEGIN { printf "%.2f", a - b }') us/q"
        done
        echo "$line"
    done
done
echo "  elapsed: $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s; status: $STATUS"
echo
echo "# BEGIN resolver-bench"
echo "mode=$MODE"
echo "status=$STATUS"
echo "net=$NET"
echo "pinned=$PIN"
echo "duration_s=$DURATION"
echo "rounds=$ROUNDS"
echo "hot_names=$HOT_NAMES"
echo "hot_queries=$HOT_QUERIES"
echo "do_phases=${DO_PHASES[*]}"
echo "server_cpu=$([ "$PIN" = 1 ] && echo "$SERVER_CPU")"
echo "client_cpu=$([ "$PIN" = 1 ] && echo "$CLIENT_CPU")"
echo "lat_duration_s=$LAT_DURATION"
echo "hot_rate=$HOT_RATE"
echo "miss_rate=$MISS_RATE"
echo "aggressive_nsec=no"
echo "danegated=$( [ "$WITH_DANEGATED" = 1 ] && echo "$DANEGATED" )"
echo "danegated_sanitized=$DANEGATED_SANITIZED"
echo "loadavg_start=$LOAD_START"
echo "loadavg_end=$LOAD_END"
echo "servers=${SERVERS[*]}"
for w in hot miss; do
    for s in "${SERVERS[@]}"; do
        for f in qps saturated cpu_us cpu_pct qps_core lat_cpu_us resp_bytes answered lost lost_pct servfail p50 p99 lat_n lat_lost_pct; do
            echo "${w}_${s}_${f}=${R[$w,$s,$f]:-}"
        done
    done
done
for s in "${SERVERS[@]}"; do
    echo "exit_${s}=${R[exit,$s]:-}"
    echo "rss_${s}_kb=${R[rss,$s]}"
    echo "rss_now_${s}_kb=${R[rssnow,$s]}"
done
for k in "${RATIO_KEYS[@]}"; do
    echo "ratio_${k}=${RATIO_VAL[$k]}"
    if [ -n "${RATIO_OP[$k]}" ]; then
        echo "goal_${k}=${RATIO_OP[$k]}${RATIO_GOAL[$k]}"
        echo "verdict_${k}=${RATIO_VERDICT[$k]:-n/a}"
    fi
done
echo "# END resolver-bench"

[ "$STATUS" = ok ] || exit 1
exit 0
