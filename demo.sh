#!/bin/bash
# danegate's embedded demo: installs what the machine lacks (Debian, as
# root), builds, starts the local signed DNS world (tests/world) and
# danegated against it, and shows what danegated does with a secure, an
# insecure and a bogus name and a TLSA lookup. Everything stays on loopback
# (127.58.x.y) and is stopped at the end.
#
#     ./demo.sh          # run the demo (as root)
#     ./demo.sh --keep   # leave world and danegated running to explore
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
keep=false
[ "${1:-}" = --keep ] && keep=true

export WORLD_NET=127.58
addr=$WORLD_NET.1.1
dir=/tmp/danegate-demo

./tests/install-deps
if [ ! -x daemon/danegated ] || [ ! -x tools/danegate-control ]; then
	echo "== building (./autogen.sh && ./configure && make)"
	{ [ -f Makefile ] || { ./autogen.sh && ./configure; }; } > /tmp/danegate-demo-build.log 2>&1
	make -j"$(nproc)" daemon/danegated tools/danegate-control >> /tmp/danegate-demo-build.log 2>&1 ||
		{ tail -30 /tmp/danegate-demo-build.log; exit 1; }
fi

stop() {
	[ -f "$dir/danegated.pid" ] && kill "$(cat "$dir/danegated.pid")" 2>/dev/null
	./tests/world/world.sh down "$dir/world" > /dev/null 2>&1 || true
}
$keep || trap stop EXIT
[ -f "$dir/danegated.pid" ] && kill "$(cat "$dir/danegated.pid")" 2>/dev/null || true
mkdir -p "$dir"

echo "== starting the local world: a signed root, TLDs example. and internal., mail domains"
./tests/world/world.sh up "$dir/world" | tail -1

cat > "$dir/danegated.conf" <<CONF
server:
    interface: $addr@53
    access-control: 127.0.0.0/8 allow
    username: ""
    pidfile: "$dir/danegated.pid"
    verbosity: 1
$(sed 's/^/    /' "$dir/world/unbound.conf.fragment")
remote-control:
    control-enable: yes
    control-interface: "$dir/danegated.ctl"
CONF
echo "== starting danegated on $addr (config: $dir/danegated.conf)"
./daemon/danegated -d -c "$dir/danegated.conf" > "$dir/danegated.log" 2>&1 &
for _ in $(seq 50); do
	grep -q "ready" "$dir/danegated.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "ready" "$dir/danegated.log" || { cat "$dir/danegated.log"; exit 1; }
sed 's/^/    /' "$dir/danegated.log"

show() {	# show TITLE DIG-ARGS...
	local title=$1
	shift
	echo
	echo "== $title"
	echo "   \$ dig @$addr $*"
	dig @"$addr" +dnssec +nocmd +nostats +noquestion +multiline "$@" |
		grep -vE '^;; (global|Got answer|OPT PSEUDO|QUESTION)|^$|^; EDNS' | sed 's/^/   /'
}
show "a secure name: the 'ad' flag says DNSSEC validated it" www.secure.example A
show "an insecure delegation: an answer, but no 'ad'" www.insecure.example A
show "a bogus signature: SERVFAIL, and the Extended DNS Error says why" www.bogus.example A
show "expired signatures: EDE 7" www.expired.example A
show "the TLSA records a DANE-enforcing MTA looks up for mx.secure.example" _25._tcp.mx.secure.example TLSA
echo
echo "== counters (danegate-control -s $dir/danegated.ctl stats)"
./tools/danegate-control -s "$dir/danegated.ctl" stats |
	grep -E '^num\.(queries|answer\.(secure|insecure|bogus)|cachehits)=' | sed 's/^/   /'
if $keep; then
	echo
	echo "danegated runs on $addr; try: dig @$addr +dnssec www.secure.example"
	echo "stop with: kill \$(cat $dir/danegated.pid); $top/tests/world/world.sh down $dir/world"
fi
