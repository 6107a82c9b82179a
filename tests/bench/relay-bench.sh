#!/usr/bin/env bash
# relay-bench.sh — danegate-relay against Postfix's own DANE delivery, same
# world, same receiver, same round.
#
#   tests/bench/relay-bench.sh [--smoke] [--keep]
#
#   --smoke   few messages, 1 and 10 sessions, 100 idle sessions (well under
#             60 s once the world is up); exits non-zero only when something
#             is broken (the world, danegated, the relay or Postfix did not
#             start, a message was lost or duplicated)
#   --keep    keep the temporary directory (configs, logs) and print its name
#
# Two paths to the world's receiving Postfix for dane-ee.example (DANE-EE
# 3 1 1, Verified TLS), every message to test@dane-ee.example:
#   relay:   smtp-source -> danegate-relay ($BENCH_NET.5.9@2525, validating
#            with libunbound from the world's root hints and trust anchor)
#            -> receiver
#   postfix: smtp-source -> a Postfix (tests/world/sender.sh plus an smtpd
#            listener on $BENCH_NET.5.10:2525) sending with
#            smtp_tls_security_level = dane through danegated
#            ($BENCH_NET.2.2) -> receiver
# Measured per path:
#   1. messages/s at 1, 10 and 100 sessions (smtp-source -s N): the time
#      until every message of the round is in the receiver's Maildir
#      (Postfix queues; the relay answers only after the receiver did);
#      and the connections the receiver accepted during the round;
#   2. CPU per message: the relay's own utime+stime; for Postfix the sum over
#      the instance (the master's own and its reaped children's times, plus
#      the children still alive);
#   3. latency p50/p99, one message at a time, submission until the
#      message is in the receiver's Maildir, on each path with a kept
#      session: straight to the receiver over one STARTTLS session kept
#      open (the floor), through the relay (which keeps its verified
#      session to the MX), through Postfix with its connection cache on
#      and TLS connection reuse (tlsproxy) for the destination
#      (smtp_connection_cache_destinations, smtp_tls_connection_reuse); the
#      added latency of each is its figure minus the floor;
#   4. first of all, on the fresh relay: its RSS with 1,000 idle sessions
#      open (smoke: 100), per
#      session.
# Goals (a missed goal never changes the exit status): throughput >= 1.0x
# Postfix's at each session count, CPU/message <= 1.0x Postfix's, RSS <= 200
# KiB per session; each printed with MET or MISSED at the end.
#
# Needs root (port 25 of the world, postfix -c, unshare), the world's tools,
# postfix (smtp-source), python3.
#
# Environment (all optional):
#   DANEGATE_RELAY  the relay (default <top>/plugin/relay/danegate-relay)
#   DANEGATED       danegated (default <top>/daemon/danegated)
#   BENCH_NET       first two octets of every address (default 127.69)
#   BENCH_MESSAGES  messages per round (default 400, smoke 20)
#   BENCH_IDLE      idle sessions for the RSS figure (default 1000, smoke 100)
#   BENCH_SESSIONS  the session counts (default "1 10 100", smoke "1 10")
#   BENCH_DEST_LIMIT  the relay's destination-concurrency-limit (default:
#                   the relay's own, 20)
# An optimized build is needed for meaningful figures: a sanitizer build is
# flagged in the output.
set -uo pipefail
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
    *) echo "relay-bench: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

NET=${BENCH_NET:-127.69}
RELAY=${DANEGATE_RELAY:-$TOP/plugin/relay/danegate-relay}
DANEGATED=${DANEGATED:-$TOP/daemon/danegated}
if [ "$SMOKE" = 1 ]; then
    MSGS=${BENCH_MESSAGES:-20}
    IDLE=${BENCH_IDLE:-100}
    SESSIONS=${BENCH_SESSIONS:-1 10}
    LAT_RUNS=5
else
    MSGS=${BENCH_MESSAGES:-400}
    IDLE=${BENCH_IDLE:-1000}
    SESSIONS=${BENCH_SESSIONS:-1 10 100}
    LAT_RUNS=50
fi
DG_ADDR=$NET.2.2
RELAY_ADDR=$NET.5.9
PF_ADDR=$NET.5.10
PORT=2525
FROM=sender@client.example
RCPT=test@dane-ee.example
DOMAIN=dane-ee.example

STATUS=ok
DG_PID=
RELAY_PID=
log() { echo "relay-bench: $*" >&2; }
die() { log "$*"; STATUS=broken; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (the world's port 25, postfix -c)"
for n in MSGS IDLE; do
    case ${!n} in ''|*[!0-9]*) die "$n must be a number" ;; esac
done
case $NET in 127.*.*) die "BENCH_NET must be two octets, e.g. 127.69" ;; 127.*) ;;
    *) die "BENCH_NET must be under 127/8" ;; esac
for tool in smtp-source postfix postconf sendmail unshare python3 awk; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
        die "'$tool' not found"
done
[ -x "$RELAY" ] || die "danegate-relay not found at $RELAY (build it or set DANEGATE_RELAY=)"
[ -x "$DANEGATED" ] || die "danegated not found at $DANEGATED (build it or set DANEGATED=)"
if nm -D "$RELAY" 2>/dev/null | grep -q ' __asan_init' ||
    ldd "$RELAY" 2>/dev/null | grep -q 'libasan'; then
    log "WARNING: $RELAY is a sanitizer build: its figures are NOT representative"
fi

TMP=$(mktemp -d /tmp/danegate-relaybench.XXXXXX) || die "mktemp failed"
WORLD=$TMP/world
SEND=$TMP/postfix
cd "$TMP" || die "cannot cd to $TMP"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$RELAY_PID"
    bash "$TOP/tests/world/sender.sh" down "$SEND" >/dev/null 2>&1
    stop_pid "$DG_PID"
    if [ -d "$WORLD" ]; then
        WORLD_NET=$NET bash "$TOP/tests/world/world.sh" down "$WORLD" >/dev/null 2>&1
    fi
    if [ "$KEEP" = 1 ] || [ "$STATUS" != ok ]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    [ "$STATUS" != ok ] && [ "$rc" = 0 ] && rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; STATUS=broken; exit 130' INT TERM

# ------------------------------------------------------------- the world --

log "world on $NET.0.x"
WORLD_NET=$NET bash "$TOP/tests/world/world.sh" up "$WORLD" >"$TMP/world.log" 2>&1 ||
    die "world.sh up failed (see $TMP/world.log)"
# world.env: WORLD_* variables (KEY=VALUE, shell-quoted)
# shellcheck disable=SC1091
. "$WORLD/world.env" || die "no $WORLD/world.env"
[ "${WORLD_MAIL:-0}" = 1 ] || die "the world runs without its mail part"
SINK=$WORLD_MAIL_SINK/$DOMAIN

{
    printf 'server:\n    interface: %s@53\n' "$DG_ADDR"
    printf '    access-control: 127.0.0.0/8 allow\n'
    printf '    username: ""\n    chroot: ""\n    pidfile: ""\n'
    sed 's/^/    /' "$WORLD_UNBOUND_FRAGMENT"
    printf 'remote-control:\n    control-enable: no\n'
} >"$TMP/danegated.conf"
"$DANEGATED" -d -c "$TMP/danegated.conf" >"$TMP/danegated.log" 2>&1 &
DG_PID=$!

printf 'relay:\n    hostname: relay.bench.invalid\n    max-sessions: %d\n' \
    $((IDLE + 200)) >"$TMP/relay.conf"
if [ -n "${BENCH_DEST_LIMIT:-}" ]; then
    printf '    destination-concurrency-limit: %s\n' "$BENCH_DEST_LIMIT" >>"$TMP/relay.conf"
fi
ulimit -n 8192 2>/dev/null || true
DANEGATE_SECCOMP=log "$RELAY" -d -c "$TMP/relay.conf" \
    --listen "$RELAY_ADDR@$PORT" \
    --trust-anchor "$WORLD_TRUST_ANCHOR" \
    --unbound-conf "$WORLD_LIBUNBOUND_CONF" >"$TMP/relay.log" 2>&1 &
RELAY_PID=$!

for _ in $(seq 100); do
    grep -q "started" "$TMP/relay.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "started" "$TMP/relay.log" || die "the relay did not start (see $TMP/relay.log)"
proc_alive "$DG_PID" || die "danegated did not start (see $TMP/danegated.log)"

bash "$TOP/tests/world/sender.sh" up "$SEND" "$DG_ADDR" >"$TMP/sender.log" 2>&1 ||
    die "sender.sh up failed (see $TMP/sender.log)"
PFC=$SEND/etc
postconf -c "$PFC" -e \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "default_process_limit = 200" "smtp_destination_concurrency_limit = 100" \
    "smtp_connection_cache_destinations = $DOMAIN" \
    "smtp_tls_connection_reuse = yes" ||
    die "postconf failed"
postconf -c "$PFC" -M -e "$PF_ADDR:$PORT/inet=$PF_ADDR:$PORT inet n - n - - smtpd" \
    "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy" ||
    die "postconf -M failed"
postfix -c "$PFC" reload >>"$TMP/sender.log" 2>&1 || die "postfix reload failed (see $TMP/sender.log)"
sleep 1
PF_MASTER=$(tr -dc 0-9 <"$SEND/queue/pid/master.pid")

# --------------------------------------------------------------- helpers --

sink_count() { find "$SINK/new" "$SINK/cur" -type f 2>/dev/null | wc -l; }
RX_LOG=$WORLD_POSTFIX_LOG
log_size() { stat -c %s "$RX_LOG" 2>/dev/null || echo 0; }
# rx_connects OFFSET: connections the receiver's dane-ee smtpd accepted, and
# its "too many connections" refusals, logged after OFFSET
rx_connects() {
    tail -c +"$(($1 + 1))" "$RX_LOG" 2>/dev/null | awk '
        /\/mx\.dane-ee\.example\/smtpd\[/ && / connect from / { c++ }
        /[Cc]oncurrency limit exceeded|too many connections/ { r++ }
        END { printf "%d %d\n", c, r }'
}
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
# cpu_ticks PID: utime+stime (+ cutime+cstime with "all")
cpu_ticks() {
    awk -v all="${2:-}" '{ sub(/^.*\) /, ""); t = $12 + $13;
        if (all != "") t += $14 + $15; print t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# postfix_ticks: the master (with its reaped children) + live children
postfix_ticks() {
    local t p
    t=$(cpu_ticks "$PF_MASTER" all)
    for p in $(pgrep -P "$PF_MASTER"); do
        t=$((t + $(cpu_ticks "$p")))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

# round PATH HOST SESSIONS: smtp-source, then wait for every message in the
# sink; prints "msgs/s cpu_ms_per_msg"
round() {
    local path=$1 host=$2 s=$3 before after t0 t1 c0 c1 want off conns refused
    off=$(log_size)
    before=$(sink_count)
    want=$((before + MSGS))
    if [ "$path" = relay ]; then c0=$(cpu_ticks "$RELAY_PID"); else c0=$(postfix_ticks); fi
    t0=$(now_us)
    smtp-source -s "$s" -m "$MSGS" -l 1024 -M client.example -f "$FROM" \
        -t "$RCPT" "$host:$PORT" >>"$TMP/smtp-source.log" 2>&1 ||
        { log "BROKEN: smtp-source to $path failed"; STATUS=broken; }
    for _ in $(seq 1200); do
        [ "$(sink_count)" -ge "$want" ] && break
        sleep 0.05
    done
    t1=$(now_us)
    sleep 0.5
    if [ "$path" = relay ]; then c1=$(cpu_ticks "$RELAY_PID"); else c1=$(postfix_ticks); fi
    after=$(sink_count)
    if [ "$after" -ne "$want" ]; then
        log "BROKEN: $path, $s sessions: $((after - before)) of $MSGS messages arrived"
        STATUS=broken
    fi
    read -r conns refused < <(rx_connects "$off")
    [ "$refused" -gt 0 ] && log "$path, $s sessions: the receiver refused $refused connections"
    awk -v n="$MSGS" -v us=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$HZ" -v k="$conns" \
        'BEGIN { printf "%.1f %.2f %d\n", n / (us / 1e6), c * 1000 / hz / n, k }'
}

# ------------------------------------------------------ idle sessions --
# First, on the fresh relay: after the rounds its heap keeps what 100
# sessions freed, and 1,000 idle sessions would fit in it unseen.

python3 - "$RELAY_ADDR" "$PORT" "$RELAY_PID" "$IDLE" >"$TMP/rss" <<'PY' ||
import socket, sys, time
relay, port, pid, idle = sys.argv[1:]
port, idle = int(port), int(idle)

def rss_kib():
    # smaps_rollup walks the page tables: exact. VmRSS in status is read
    # from per-CPU counters that may lag by hundreds of pages.
    for ln in open("/proc/%s/smaps_rollup" % pid):
        if ln.startswith("Rss:"):
            return int(ln.split()[1])
    return 0

before = rss_kib()
socks = []
for _ in range(idle):
    s = socket.create_connection((relay, port), timeout=30)
    s.recv(512)
    # an idle session that said EHLO: the relay holds its state
    s.sendall(b"EHLO idle.bench.invalid\r\n")
    socks.append(s)
for s in socks:
    if not s.recv(4096).startswith(b"250"):
        raise SystemExit("an idle session's EHLO was refused")
time.sleep(1)
after = rss_kib()
for s in socks:
    s.close()
per = (after - before) / max(idle, 1)
print()
print("RSS with %d idle sessions: %d KiB (before %d KiB): %.1f KiB per session"
      % (idle, after, before, per))
print("rss_per_session %d %.1f" % (idle, per))
PY
{ log "BROKEN: the idle-session part failed"; STATUS=broken; }

# ------------------------------------------------------------ throughput --

printf '%-10s %-9s %12s %12s %16s %16s %12s\n' sessions path "msgs/s" "ratio" \
    "CPU ms/msg" "ratio" "rx conns" >"$TMP/table"
: >"$TMP/goals"
for s in $SESSIONS; do
    read -r r_rate r_cpu r_conns < <(round relay "$RELAY_ADDR" "$s")
    read -r p_rate p_cpu p_conns < <(round postfix "$PF_ADDR" "$s")
    awk -v s="$s" -v rr="$r_rate" -v rc="$r_cpu" -v pr="$p_rate" -v pc="$p_cpu" \
        -v rk="$r_conns" -v pk="$p_conns" 'BEGIN {
        printf "%-10s %-9s %12.1f %12s %16.2f %16s %12d\n", s, "postfix", pr, "", pc, "", pk
        printf "%-10s %-9s %12.1f %11.2fx %16.2f %15.2fx %12d\n", s, "relay", rr,
            (pr > 0 ? rr / pr : 0), rc, (pc > 0 ? rc / pc : 0), rk }' >>"$TMP/table"
    awk -v s="$s" -v rr="$r_rate" -v rc="$r_cpu" -v pr="$p_rate" -v pc="$p_cpu" 'BEGIN {
        t = pr > 0 ? rr / pr : 0; c = pc > 0 ? rc / pc : 99
        printf "%-44s %8.2fx %8s  %s\n", "throughput, sessions=" s " (relay/Postfix)", t,
            ">= 1.0", (t >= 1.0 ? "MET" : "MISSED")
        printf "%-44s %8.2fx %8s  %s\n", "CPU/message, sessions=" s " (relay/Postfix)", c,
            "<= 1.0", (c <= 1.0 ? "MET" : "MISSED") }' >>"$TMP/goals"
done

# --------------------------------------------------------------- latency --

python3 - "$RELAY_ADDR" "$PF_ADDR" "$PORT" "$WORLD_SMTP_DANE_EE" "$SINK" \
    "$LAT_RUNS" "$FROM" "$RCPT" "$TMP/goals" >>"$TMP/table" <<'PY' ||
import os, smtplib, ssl, sys, time, uuid
relay, pf, port, mx, sink, runs, frm, rcpt, goals = sys.argv[1:]
port, runs = int(port), int(runs)
seen = set()

def msg():
    mid = uuid.uuid4().hex
    return mid, ("From: <%s>\r\nTo: <%s>\r\nMessage-ID: <%s@bench>\r\n\r\n%s\r\n"
                 % (frm, rcpt, mid, "x" * 1000))

def scan_new():
    """Files that appeared in the Maildir since the last scan (each file
    is read once: the sink holds thousands by now)."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(sink, sub)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f not in seen:
                seen.add(f)
                out.append(os.path.join(d, f))
    return out

def wait_arrival(mid, t0):
    while time.monotonic() - t0 < 60:
        for path in scan_new():
            try:
                if mid in open(path, errors="replace").read():
                    return time.monotonic() - t0
            except OSError:
                pass
        time.sleep(0.002)
    raise SystemExit("message %s never arrived" % mid)

def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx

def new_session(host, p, tls, to_maildir):
    """A new client session for one message: its reply time, or the time
    until the message is in the Maildir."""
    mid, m = msg()
    scan_new()
    t0 = time.monotonic()
    with smtplib.SMTP(host, p, timeout=60) as s:
        if tls:
            s.starttls(context=tls_ctx())
        s.sendmail(frm, [rcpt], m)
    if not to_maildir:
        return time.monotonic() - t0
    return wait_arrival(mid, t0)

def kept_session(host, p, n):
    """n messages over one STARTTLS session to the receiver, each timed
    from MAIL FROM until it is in the Maildir: the floor any path with a
    kept session to the MX can reach."""
    out = []
    with smtplib.SMTP(host, p, timeout=60) as s:
        s.starttls(context=tls_ctx())
        s.ehlo()
        for _ in range(n):
            mid, m = msg()
            scan_new()
            t0 = time.monotonic()
            s.sendmail(frm, [rcpt], m)
            out.append(wait_arrival(mid, t0))
    return out

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] * 1000

scan_new()
direct = [new_session(mx, 25, True, False) for _ in range(runs)]
floor = kept_session(mx, 25, runs)
# one message first: the relay's verified session to the MX is then kept,
# Postfix's connection cache holds its session (2 s: the messages follow
# each other closer than that)
new_session(relay, port, False, True)
relayed = [new_session(relay, port, False, True) for _ in range(runs)]
new_session(pf, port, False, True)
postfix = [new_session(pf, port, False, True) for _ in range(runs)]
print()
print("%-62s %8s %8s" % ("latency (ms), %d messages each, one at a time" % runs, "p50", "p99"))
print("%-62s %8.1f %8.1f" % ("direct, a new STARTTLS session each, until the 250",
                             pct(direct, .5), pct(direct, .99)))
print("%-62s %8.1f %8.1f" % ("floor: direct, one STARTTLS session kept, to Maildir",
                             pct(floor, .5), pct(floor, .99)))
print("%-62s %8.1f %8.1f" % ("relay (its session to the MX kept), to Maildir",
                             pct(relayed, .5), pct(relayed, .99)))
print("%-62s %8.1f %8.1f" % ("Postfix dane (connection cache on), to Maildir",
                             pct(postfix, .5), pct(postfix, .99)))
ra = (pct(relayed, .5) - pct(floor, .5), pct(relayed, .99) - pct(floor, .99))
pa = (pct(postfix, .5) - pct(floor, .5), pct(postfix, .99) - pct(floor, .99))
print("%-62s %8.1f %8.1f" % ("added by the relay (relay - floor)", *ra))
print("%-62s %8.1f %8.1f" % ("added by Postfix (Postfix - floor)", *pa))

with open(goals, "a") as g:
    for q, i in (("p50", 0), ("p99", 1)):
        r, p = ra[i], pa[i]
        g.write("%-44s %8.2fx %8s  %s\n" % (
            "added latency %s (relay/Postfix, info)" % q,
            r / p if p > 0 else 0, "-", "(relay %+.1f ms, Postfix %+.1f ms)" % (r, p)))
PY
{ log "BROKEN: the latency/RSS part failed"; STATUS=broken; }

echo "relay-bench: $MSGS messages per round, test@$DOMAIN (Verified TLS, DANE-EE 3 1 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$TMP/table"
head -n -1 "$TMP/rss"
echo
printf '%-44s %9s %8s  %s\n' goal value target verdict
cat "$TMP/goals"
awk '$1 == "rss_per_session" { printf "%-44s %8.1f  %8s  %s\n",
    "RSS KiB per idle session (" $2 ", fresh relay)", $3, "<= 200",
    ($3 <= 200 ? "MET" : "MISSED") }' "$TMP/rss"
[ "$STATUS" = ok ] || exit 1
