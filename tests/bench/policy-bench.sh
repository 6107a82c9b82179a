#!/usr/bin/env bash
# policy-bench.sh — danegate-policy's lookups/s and latency over socketmap,
# answered from its cache ("cached") and with the answer cache off, every
# lookup going through the engine's destination lookup and MTA-STS
# decision on a warm libunbound cache ("uncached"). Not a timed test: it
# prints figures. The goal (issue 8): >= 20,000 cached lookups/s on one
# core, p99 < 1 ms.
#
#   tests/bench/policy-bench.sh [--smoke] [--world DIR]
#
# --smoke: 2 s per run (CI, < 30 s with --world); default 10 s.
# --world DIR: use a running world (tests/world/world.sh up DIR);
# otherwise one is started in a temporary directory with WORLD_MAIL=0
# (MTA-STS domains then answer without a policy).
# BENCH_NET (default 127.56): the world's and the service's addresses.
# DANEGATE_POLICY: the binary (default plugin/policy/danegate-policy; a
# build without --enable-sanitizers gives the real figures).
# Needs root for a world of its own, cc and taskset (server on CPU 0,
# load generator on CPU 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=10
WORLD=
while (($#)); do
    case $1 in
    --smoke) SECS=2 ;;
    --world) WORLD=$2; shift ;;
    *) echo "usage: $0 [--smoke] [--world DIR]" >&2; exit 2 ;;
    esac
    shift
done
NET=${BENCH_NET:-127.56}
POLICY=${DANEGATE_POLICY:-plugin/policy/danegate-policy}
TMP=$(mktemp -d)
OWN_WORLD=0
PID=
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    if ((OWN_WORLD)); then
        WORLD_NET=$NET bash tests/world/world.sh down "$WORLD" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

if [[ -z $WORLD ]]; then
    WORLD=$TMP/world
    OWN_WORLD=1
    WORLD_NET=$NET WORLD_MAIL=0 bash tests/world/world.sh up "$WORLD" >"$TMP/world.log" 2>&1 ||
        { cat "$TMP/world.log" >&2; exit 1; }
fi
cc -O2 -o "$TMP/load" tests/bench/socketmap_load.c

KEYS=(dane-ee.example dane-ta.example two-mx.example no-tlsa.example
    tlsa-unsigned.example insecure-mx.example implicit-mx.example
    pkix-only.example cname-mx.example nsec3-mail.internal)

run() { # NAME CACHE_TTL CONNECTIONS
    local name=$1 ttl=$2 conns=$3 port=10029
    printf 'policy:\n    cache-ttl: %s\n    verbosity: 0\n' "$ttl" >"$TMP/policy.conf"
    taskset -c 0 "$POLICY" -d -c "$TMP/policy.conf" --listen "$NET.1.60@$port" \
        --trust-anchor "$WORLD/root.key" --unbound-conf "$WORLD/libunbound.conf" \
        >"$TMP/policy-$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do grep -q started "$TMP/policy-$name.log" && break; sleep 0.05; done
    # warm: every key once (libunbound's cache, and the answer cache)
    taskset -c 1 "$TMP/load" "$NET.1.60" "$port" 1 1 policy "${KEYS[@]}" >/dev/null
    printf '%-9s %3s conn  ' "$name" "$conns"
    taskset -c 1 "$TMP/load" "$NET.1.60" "$port" "$conns" "$SECS" policy "${KEYS[@]}"
    kill "$PID"; wait "$PID" 2>/dev/null || true
    PID=
}

echo "danegate-policy bench: $POLICY, ${SECS}s per run, world $WORLD"
run cached 300 1
run cached 300 8
run uncached 0 8
