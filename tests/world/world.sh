#!/usr/bin/env bash
# world.sh — a small, signed DNS "Internet" on loopback for danegate's tests.
#
#   world.sh up DIR      build keys/zones/signatures/configs into DIR, start NSD
#   world.sh down DIR    stop the NSD instances of DIR (idempotent)
#   world.sh check DIR   self-test DIR's world through a real Unbound daemon
#
# Three NSD instances serve the world (addresses below); DIR/root.key,
# DIR/root.hints, DIR/world.env and DIR/unbound.conf.fragment tell a resolver
# how to use it. See README.md next to this script for every test case.
#
# Only loopback addresses are used. WORLD_NET (default 127.53) selects the
# first two octets of every address, should two worlds ever need to coexist.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/zones

NET=${WORLD_NET:-127.53}
ROOT_ADDR=$NET.0.1
TLD_ADDR=$NET.0.2
LEAF_ADDR=$NET.0.3
CHECK_ADDR=$NET.9.9     # the Unbound of `world.sh check`

# Name servers: name -> address, and the NS host name that serves it.
# SERVERS is the start order.
SERVERS=(root tld leaf)
declare -A SERVER_ADDR=([root]=$ROOT_ADDR [tld]=$TLD_ADDR [leaf]=$LEAF_ADDR)
declare -A SERVER_NS=(
    [root]=a.root-servers.example.
    [tld]=ns.tld-servers.example.
    [leaf]=ns.leaf-servers.example.
)

# The zone table. One line per zone:
#   ZONE  SERVER  DENIAL  TWIST
# DENIAL: nsec | nsec3 | none (unsigned: no keys, no DS in the parent).
# TWIST:  -       a correct zone
#         bogus   the RRSIG of `www A` is corrupted after signing
#         expired signed with inception 2020-01-01, expiration 2020-02-01
#         badds   the parent's DS is that of an unrelated, unpublished key
#         nokey   the DNSKEY RRset is removed from the served file
# The template is zones/<ZONE without trailing dot>.zone (root.zone for ".").
# The parent (the closest enclosing zone of the table) gets the NS
# delegation and, if the zone is signed, its DS record appended
# automatically: to add a zone, add a template and a line here.
ZONES=(
    ".                 root  nsec   -"
    "example.          tld   nsec   -"
    "internal.         tld   nsec3  -"
    "secure.example.   leaf  nsec   -"
    "nsec3.internal.   leaf  nsec3  -"
    "insecure.example. leaf  none   -"
    "bogus.example.    leaf  nsec   bogus"
    "expired.example.  leaf  nsec   expired"
    "badds.example.    leaf  nsec   badds"
    "nokey.example.    leaf  nsec   nokey"
)

# Template placeholders: @KEY@ in a zone template becomes the value. Add the
# addresses of new hosts (e.g. mail servers) here.
declare -A PLACEHOLDERS=(
    [ROOT_ADDR]=$ROOT_ADDR
    [TLD_ADDR]=$TLD_ADDR
    [LEAF_ADDR]=$LEAF_ADDR
)

ALG=ECDSAP256SHA256     # algorithm 13, for every key
TTL=3600

die() { echo "world.sh: $*" >&2; exit 1; }
log() { echo "world.sh: $*" >&2; }

usage() {
    echo "usage: $0 up|down|check DIR" >&2
    exit 2
}

# ---------------------------------------------------------------- helpers --

# zone_base ZONE: the file-name stem of ZONE ("root" for ".", else no dot).
zone_base() {
    if [[ $1 == . ]]; then echo root; else echo "${1%.}"; fi
}

# in_table ZONE: true if ZONE has a line in the zone table.
in_table() {
    local line z
    for line in "${ZONES[@]}"; do
        read -r z _ <<<"$line"
        [[ $z == "$1" ]] && return 0
    done
    return 1
}

# parent_of ZONE: the closest enclosing zone of the table; empty for the root.
parent_of() {
    local name=$1
    [[ $name == . ]] && return 0
    while :; do
        case $name in
            *.*.) name=${name#*.} ;;
            *) name=. ;;
        esac
        if in_table "$name"; then
            echo "$name"
            return 0
        fi
        [[ $name != . ]] || die "no parent zone for $1 in the zone table"
    done
}

# label_count ZONE: number of labels (0 for the root).
label_count() {
    if [[ $1 == . ]]; then echo 0; return; fi
    local dots=${1//[^.]/}
    echo "${#dots}"
}

# zone_info ZONE: sets Z_SERVER, Z_DENIAL, Z_TWIST from the zone table.
zone_info() {
    local line z s d t
    for line in "${ZONES[@]}"; do
        read -r z s d t <<<"$line"
        if [[ $z == "$1" ]]; then
            Z_SERVER=$s Z_DENIAL=$d Z_TWIST=$t
            return 0
        fi
    done
    die "zone $1 is not in the zone table"
}

# zones_bottom_up: every zone of the table, deepest first (so children are
# signed, and their DS added to the parent, before the parent is signed).
zones_bottom_up() {
    local line z
    for line in "${ZONES[@]}"; do
        read -r z _ <<<"$line"
        printf '%s %s\n' "$(label_count "$z")" "$z"
    done | sort -k1,1nr -k2,2 | cut -d' ' -f2
}

# unsigned_file ZONE / signed_file ZONE: paths inside the world.
unsigned_file() { echo "$W/zones/$(zone_base "$1").zone"; }
signed_file() { echo "$W/zones/$(zone_base "$1").signed"; }
keydir() { echo "$W/keys/$(zone_base "$1")"; }

# render_zone ZONE: instantiate the template of ZONE into the world,
# substituting @SERIAL@ (the SOA serial), @NS@ (the NS host name of the
# zone's server) and every @KEY@ of PLACEHOLDERS.
render_zone() {
    local zone=$1 tpl out
    tpl=$TEMPLATES/$(zone_base "$zone").zone
    out=$(unsigned_file "$zone")
    [[ -f $tpl ]] || die "no template $tpl for zone $zone"
    zone_info "$zone"
    local -a sed_args=(-e "s/@SERIAL@/$SERIAL/g" -e "s/@NS@/${SERVER_NS[$Z_SERVER]}/g")
    local key
    for key in "${!PLACEHOLDERS[@]}"; do
        sed_args+=(-e "s/@$key@/${PLACEHOLDERS[$key]}/g")
    done
    sed "${sed_args[@]}" "$tpl" >"$out"
    if grep -q '@[A-Z_]*@' "$out"; then
        die "unsubstituted placeholder in $tpl: $(grep -o '@[A-Z_]*@' "$out" | head -n1)"
    fi
}

# make_keys ZONE: a fresh KSK (flags 257) and ZSK (256) for ZONE; their base
# names are stored in KEYDIR/ksk and KEYDIR/zsk.
make_keys() {
    local zone=$1 dir
    dir=$(keydir "$zone")
    mkdir -p "$dir"
    (cd "$dir" && ldns-keygen -a "$ALG" -k -r /dev/urandom "$zone") >"$dir/ksk"
    (cd "$dir" && ldns-keygen -a "$ALG" -r /dev/urandom "$zone") >"$dir/zsk"
}

# make_decoy_key ZONE: an extra KSK for ZONE that is never published nor used
# to sign; its base name goes to KEYDIR/decoy. Used for the badds case.
make_decoy_key() {
    local zone=$1 dir
    dir=$(keydir "$zone")
    mkdir -p "$dir"
    (cd "$dir" && ldns-keygen -a "$ALG" -k -r /dev/urandom "$zone") >"$dir/decoy"
}

# key_ds ZONE [ROLE]: the SHA-256 DS record of ZONE's key ROLE (default ksk).
key_ds() {
    local dir
    dir=$(keydir "$1")
    ldns-key2ds -n -2 "$dir/$(cat "$dir/${2:-ksk}").key"
}

# add_delegation PARENT CHILD: append CHILD's NS record to PARENT's zone.
add_delegation() {
    local parent=$1 child=$2
    zone_info "$child"
    printf '%s\t%s\tIN\tNS\t%s\n' "$child" "$TTL" "${SERVER_NS[$Z_SERVER]}" \
        >>"$(unsigned_file "$parent")"
}

# add_ds PARENT CHILD [ROLE]: append the DS of CHILD's key ROLE (default the
# KSK) to PARENT's unsigned zone.
add_ds() {
    local parent=$1 child=$2 role=${3:-ksk}
    key_ds "$child" "$role" >>"$(unsigned_file "$parent")"
}

# sign_zone ZONE [nsec|nsec3] [INCEPTION EXPIRATION]: sign ZONE with its KSK
# and ZSK into its .signed file. Dates default to 1 hour ago .. 30 days ahead
# (YYYYMMDD[hhmmss] or epoch seconds). NSEC3 per RFC 9276: SHA-1, 0 extra
# iterations, no salt, no opt-out.
sign_zone() {
    local zone=$1 denial=${2:-nsec} inception=${3:-$((NOW - 3600))}
    local expiration=${4:-$((NOW + 30 * 86400))} dir
    local -a opts=(-i "$inception" -e "$expiration" -o "$zone")
    if [[ $denial == nsec3 ]]; then
        opts+=(-n -a 1 -t 0)
    fi
    dir=$(keydir "$zone")
    ldns-signzone "${opts[@]}" -f "$(signed_file "$zone")" \
        "$(unsigned_file "$zone")" \
        "$dir/$(cat "$dir/ksk")" "$dir/$(cat "$dir/zsk")"
}

# corrupt_rrsig ZONE OWNER TYPE: flip one base64 character in the middle of
# the signature of OWNER's RRSIG covering TYPE in ZONE's signed file, so the
# RRset no longer verifies. Everything else stays valid.
corrupt_rrsig() {
    local file tmp
    file=$(signed_file "$1")
    tmp=$file.tmp
    awk -v owner="$2" -v type="$3" '
        $1 == owner && $4 == "RRSIG" && $5 == type {
            sig = $NF
            c = substr(sig, 20, 1)
            $NF = substr(sig, 1, 19) (c == "A" ? "B" : "A") substr(sig, 21)
            n++
        }
        { print }
        END { if (n == 0) exit 1 }
    ' "$file" >"$tmp" || die "corrupt_rrsig: no RRSIG $3 at $2 in $file"
    mv "$tmp" "$file"
}

# strip_dnskey ZONE: remove the DNSKEY RRset and its RRSIGs from ZONE's
# signed file (the DS in the parent stays).
strip_dnskey() {
    local file tmp
    file=$(signed_file "$1")
    tmp=$file.tmp
    awk '!($4 == "DNSKEY" || ($4 == "RRSIG" && $5 == "DNSKEY"))' "$file" >"$tmp"
    mv "$tmp" "$file"
}

# served_file ZONE: the file NSD loads for ZONE.
served_file() {
    zone_info "$1"
    if [[ $Z_DENIAL == none ]]; then unsigned_file "$1"; else signed_file "$1"; fi
}

# build_zone ZONE: delegate it from its parent, key it, DS it, sign it and
# apply its twist. Called bottom-up.
build_zone() {
    local zone=$1 parent
    parent=$(parent_of "$zone")
    zone_info "$zone"
    local denial=$Z_DENIAL twist=$Z_TWIST
    if [[ -n $parent ]]; then
        add_delegation "$parent" "$zone"
    fi
    if [[ $denial == none ]]; then
        return 0
    fi
    make_keys "$zone"
    if [[ -n $parent ]]; then
        if [[ $twist == badds ]]; then
            make_decoy_key "$zone"
            add_ds "$parent" "$zone" decoy
        else
            add_ds "$parent" "$zone"
        fi
    fi
    if [[ $twist == expired ]]; then
        sign_zone "$zone" "$denial" 20200101000000 20200201000000
    else
        sign_zone "$zone" "$denial"
    fi
    case $twist in
        bogus) corrupt_rrsig "$zone" "www.$zone" A ;;
        nokey) strip_dnskey "$zone" ;;
        -|expired|badds) ;;
        *) die "unknown twist $twist for $zone" ;;
    esac
}

# --------------------------------------------------------------- servers --

# write_nsd_conf SERVER: DIR/nsd/SERVER/nsd.conf serving SERVER's zones.
write_nsd_conf() {
    local srv=$1 sdir line z s
    sdir=$W/nsd/$srv
    mkdir -p "$sdir"
    {
        cat <<EOF
# Generated by world.sh: NSD for the "$srv" server of the test world.
server:
    ip-address: ${SERVER_ADDR[$srv]}
    port: 53
    username: ""
    chroot: ""
    database: ""
    server-count: 1
    reuseport: no
    verbosity: 1
    hide-version: yes
    zonesdir: "$W/zones"
    pidfile: "$sdir/nsd.pid"
    logfile: "$sdir/nsd.log"
    xfrdfile: "$sdir/xfrd.state"
    xfrdir: "$sdir"
    zonelistfile: "$sdir/zone.list"

remote-control:
    control-enable: no
EOF
        for line in "${ZONES[@]}"; do
            read -r z s _ <<<"$line"
            [[ $s == "$srv" ]] || continue
            printf '\nzone:\n    name: "%s"\n    zonefile: "%s"\n' \
                "$z" "$(basename "$(served_file "$z")")"
        done
    } >"$sdir/nsd.conf"
    nsd-checkconf "$sdir/nsd.conf" || die "bad NSD config $sdir/nsd.conf"
}

# answers ADDR NAME TYPE: true if ADDR answers NAME/TYPE authoritatively
# with NOERROR.
answers() {
    local out
    out=$(dig -r +norec +time=1 +tries=1 +noall +comments "@$1" "$2" "$3" 2>/dev/null) \
        || return 1
    grep -q 'status: NOERROR' <<<"$out" && grep -q '^;; flags:[^;]* aa' <<<"$out"
}

# start_nsd SERVER: start SERVER's NSD and wait until it answers the SOA of
# each of its zones (bounded: about 5 s).
start_nsd() {
    local srv=$1 addr sdir line z s i
    addr=${SERVER_ADDR[$srv]}
    sdir=$W/nsd/$srv
    nsd -c "$sdir/nsd.conf" || die "NSD $srv failed to start; see $sdir/nsd.log"
    for line in "${ZONES[@]}"; do
        read -r z s _ <<<"$line"
        [[ $s == "$srv" ]] || continue
        for ((i = 0; i < 50; i++)); do
            answers "$addr" "$z" SOA && continue 2
            sleep 0.1
        done
        die "NSD $srv ($addr) does not serve $z; see $sdir/nsd.log"
    done
}

# is_pid_of PID NAME: true if PID is a live process whose command is NAME.
# NSD renames its processes "nsd: main", "nsd: xfrd", "nsd: server 1", so
# "NAME: ..." matches too.
is_pid_of() {
    local comm
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
    [[ $comm == "$2" || $comm == "$2: "* ]]
}

# pids_of_conf NAME CONF: pids of the NAME processes started with "-c CONF"
# (NSD forks a main, an xfrd and a server process).
pids_of_conf() {
    local name=$1 conf=$2 p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        is_pid_of "$pid" "$name" || continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-c $conf"; then
            echo "$pid"
        fi
    done
}

# stop_processes NAME CONF PIDFILE [CONF PIDFILE...]: stop, all at once, the
# NAME processes named in the PIDFILEs and those started with "-c CONF":
# TERM the pidfile's process, wait up to about 5 s for all of them to exit,
# KILL what is left; then remove the pidfiles. Quiet if nothing runs.
stop_processes() {
    local name=$1 conf pidfile pid i
    shift
    local -a pids=() alive=()
    while (($# >= 2)); do
        conf=$1 pidfile=$2
        shift 2
        if [[ -f $pidfile ]]; then
            pid=$(tr -dc 0-9 <"$pidfile")
            if is_pid_of "$pid" "$name"; then
                kill -TERM "$pid" 2>/dev/null || true
                pids+=("$pid")
            fi
            rm -f "$pidfile"
        fi
        [[ -e $conf ]] || continue
        while read -r pid; do pids+=("$pid"); done < <(pids_of_conf "$name" "$conf")
    done
    for ((i = 0; i < 50; i++)); do
        alive=()
        for pid in "${pids[@]}"; do
            if is_pid_of "$pid" "$name"; then alive+=("$pid"); fi
        done
        ((${#alive[@]} > 0)) || return 0
        sleep 0.1
    done
    for pid in "${alive[@]}"; do
        log "killing stuck $name process $pid"
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# ------------------------------------------------------------ subcommands --

cmd_down() {
    local srv
    local -a args=()
    for srv in "${SERVERS[@]}"; do
        args+=("$W/nsd/$srv/nsd.conf" "$W/nsd/$srv/nsd.pid")
    done
    stop_processes nsd "${args[@]}"
    # A `check` that was interrupted hard may have left its Unbound.
    stop_processes unbound "$W/unbound/unbound.conf" "$W/unbound/unbound.pid"
}

cmd_up() {
    local zone srv root_ds started
    started=$(date +%s.%N)
    cmd_down
    # Start from scratch, but only remove what this script creates.
    rm -rf "$W/keys" "$W/zones" "$W/nsd" "$W/unbound"
    rm -f "$W/root.key" "$W/root.hints" "$W/root.delv" "$W/world.env" \
        "$W/unbound.conf.fragment" "$W/libunbound.conf"
    for srv in "${SERVERS[@]}"; do
        if dig -r +norec +time=1 +tries=1 "@${SERVER_ADDR[$srv]}" . SOA >/dev/null 2>&1; then
            die "something already answers on ${SERVER_ADDR[$srv]}:53 (another world up? try: world.sh down THAT_DIR)"
        fi
    done
    # Whatever fails below: stop what was started, leave no world.env behind.
    trap 'cmd_down; rm -f "$W/world.env"' EXIT
    mkdir -p "$W/keys" "$W/zones" "$W/nsd"

    NOW=$(date +%s)
    SERIAL=$NOW

    while read -r zone; do render_zone "$zone"; done < <(zones_bottom_up)
    while read -r zone; do build_zone "$zone"; done < <(zones_bottom_up)

    # Trust anchor: the root KSK's DS, as `. IN DS ...`.
    root_ds=$(key_ds . | awk '{ print $5, $6, $7, $8 }')
    printf '. IN DS %s\n' "$root_ds" >"$W/root.key"
    # The same anchor for delv (-a FILE).
    read -r ds_tag ds_alg ds_type ds_digest <<<"$root_ds"
    printf 'trust-anchors {\n    . static-ds %s %s %s "%s";\n};\n' \
        "$ds_tag" "$ds_alg" "$ds_type" "$ds_digest" >"$W/root.delv"

    cat >"$W/root.hints" <<EOF
; Root hints of the danegate test world (generated by world.sh).
.                        3600000  IN  NS  ${SERVER_NS[root]}
${SERVER_NS[root]}  3600000  IN  A   $ROOT_ADDR
EOF

    # Lines for an Unbound/libunbound server: clause (no clause header, no
    # interface/port). Values are unquoted so that each line also works as
    # ub_ctx_set_option("name:", "value"). val-log-level makes validation
    # failures explain themselves in the log.
    cat >"$W/unbound.conf.fragment" <<EOF
root-hints: $W/root.hints
trust-anchor-file: $W/root.key
do-not-query-localhost: no
val-log-level: 2
EOF
    # The same as a complete config file, for ub_ctx_config().
    { echo "server:"; sed 's/^/    /' "$W/unbound.conf.fragment"; } >"$W/libunbound.conf"

    {
        echo "# Test world description (generated by world.sh). Plain KEY=VALUE:"
        echo "# use 'set -a; . world.env; set +a' to export."
        printf 'WORLD_DIR=%q\n' "$W"
        printf 'WORLD_NET=%q\n' "$NET"
        printf 'WORLD_ROOT_ADDR=%q\n' "$ROOT_ADDR"
        printf 'WORLD_TLD_ADDR=%q\n' "$TLD_ADDR"
        printf 'WORLD_LEAF_ADDR=%q\n' "$LEAF_ADDR"
        printf 'WORLD_CHECK_ADDR=%q\n' "$CHECK_ADDR"
        printf 'WORLD_TRUST_ANCHOR=%q\n' "$W/root.key"
        printf 'WORLD_ROOT_DS=%q\n' ". IN DS $root_ds"
        printf 'WORLD_DELV_ANCHOR=%q\n' "$W/root.delv"
        printf 'WORLD_ROOT_HINTS=%q\n' "$W/root.hints"
        printf 'WORLD_UNBOUND_FRAGMENT=%q\n' "$W/unbound.conf.fragment"
        printf 'WORLD_LIBUNBOUND_CONF=%q\n' "$W/libunbound.conf"
        printf 'WORLD_ZONES=%q\n' "$(zones_bottom_up | tac | tr '\n' ' ' | sed 's/ $//')"
    } >"$W/world.env"

    for srv in "${SERVERS[@]}"; do write_nsd_conf "$srv"; done
    for srv in "${SERVERS[@]}"; do start_nsd "$srv"; done
    trap - EXIT

    log "world up in $W ($(awk -v s="$started" -v e="$(date +%s.%N)" \
        'BEGIN { printf "%.1f", e - s }') s): root $ROOT_ADDR, tld $TLD_ADDR, leaf $LEAF_ADDR"
}

# check_case NAME TYPE RCODE AD WANT [DIG_OPTION...]
#   AD:   ad (must be set) | noad (must not be set) | any
#   WANT: rdata that must be among the TYPE answers; "nodata" for an empty
#         answer section; "tc" for a truncated answer; "-" for no check.
# Prints one ok/FAIL line and counts failures in FAILS.
check_case() {
    local name=$1 type=$2 rcode=$3 ad=$4 want=$5
    shift 5
    local out status flags ancount rdata why=""
    out=$(dig -r +dnssec +time=5 +tries=1 +noall +comments +answer "$@" \
        "@$CHECK_ADDR" "$name" "$type" 2>&1) || true
    status=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -n1)
    flags=$(sed -n 's/^;; flags: \([^;]*\);.*/\1/p' <<<"$out" | head -n1)
    ancount=$(sed -n 's/.* ANSWER: \([0-9]*\),.*/\1/p' <<<"$out" | head -n1)
    rdata=$(awk -v t="$type" \
        '!/^;/ && $4 == t { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' <<<"$out")

    [[ $status == "$rcode" ]] || why+=" rcode=${status:-none}(want $rcode)"
    case $ad in
        ad) [[ " $flags " == *" ad "* ]] || why+=" no-ad" ;;
        noad) [[ " $flags " != *" ad "* ]] || why+=" unexpected-ad" ;;
    esac
    case $want in
        -) ;;
        nodata) [[ $ancount == 0 ]] || why+=" answers=$ancount(want 0)" ;;
        tc) [[ " $flags " == *" tc "* ]] || why+=" no-tc" ;;
        # Compare without blanks and case-insensitively: dig splits long hex.
        *) tr -d ' \t' <<<"$rdata" | grep -qixF -- "${want//[[:blank:]]/}" \
            || why+=" missing-rdata($want)" ;;
    esac

    local label="$name $type${*:+ $*}"
    case $want in
        -|nodata|tc) ;;
        *) if ((${#want} > 26)); then label+=" = ${want:0:24}.."; else label+=" = $want"; fi ;;
    esac
    if [[ -z $why ]]; then
        printf 'ok   %-66s %s %s\n' "$label" "$status" "${flags// /,}"
    else
        printf 'FAIL %-66s%s [flags: %s]\n' "$label" "$why" "$flags"
        FAILS=$((FAILS + 1))
    fi
}

cmd_check() {
    local udir=$W/unbound conf i
    local line z s
    [[ -f $W/world.env ]] || die "$W has no world (run: world.sh up $W)"
    # Fail fast if a server is down rather than time out on every case.
    for line in "${ZONES[@]}"; do
        read -r z s _ <<<"$line"
        answers "${SERVER_ADDR[$s]}" "$z" SOA \
            || die "${SERVER_ADDR[$s]} does not serve $z (is the world up? world.sh up $W)"
    done
    mkdir -p "$udir"
    conf=$udir/unbound.conf
    {
        cat <<EOF
# Generated by world.sh check: a validating Unbound for the test world.
server:
    interface: $CHECK_ADDR
    port: 53
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$udir"
    pidfile: "$udir/unbound.pid"
    use-syslog: no
    logfile: "$udir/unbound.log"
    verbosity: 1
    access-control: 127.0.0.0/8 allow
EOF
        sed 's/^/    /' "$W/unbound.conf.fragment"
        printf '\nremote-control:\n    control-enable: no\n'
    } >"$conf"
    unbound-checkconf "$conf" >/dev/null || die "bad Unbound config $conf"

    if dig -r +time=1 +tries=1 "@$CHECK_ADDR" version.server CH TXT >/dev/null 2>&1; then
        die "something already answers on $CHECK_ADDR:53"
    fi
    stop_processes unbound "$conf" "$udir/unbound.pid"
    unbound -d -c "$conf" >>"$udir/unbound.log" 2>&1 &
    UNBOUND_PID=$!
    trap 'kill "$UNBOUND_PID" 2>/dev/null || true; wait "$UNBOUND_PID" 2>/dev/null || true' EXIT
    for ((i = 0; i < 50; i++)); do
        dig -r +time=1 +tries=1 "@$CHECK_ADDR" version.server CH TXT >/dev/null 2>&1 && break
        kill -0 "$UNBOUND_PID" 2>/dev/null || die "unbound exited; see $udir/unbound.log"
        sleep 0.1
    done

    FAILS=0
    # The world's own structure.
    check_case . SOA NOERROR ad -
    check_case example. SOA NOERROR ad -
    check_case internal. SOA NOERROR ad -
    check_case a.root-servers.example. A NOERROR ad "$ROOT_ADDR"
    # secure.example.: secure data.
    check_case www.secure.example. A NOERROR ad 192.0.2.10
    check_case www.secure.example. AAAA NOERROR ad 2001:db8::10
    check_case secure.example. MX NOERROR ad "10 mx.secure.example."
    check_case mx.secure.example. A NOERROR ad 192.0.2.25
    check_case mx.secure.example. AAAA NOERROR ad 2001:db8::25
    check_case secure.example. TXT NOERROR ad '"v=spf1 -all"'
    check_case _dmarc.secure.example. TXT NOERROR ad '"v=DMARC1; p=reject"'
    check_case _25._tcp.mx.secure.example. TLSA NOERROR ad \
        "3 1 1 4f1f0159fcd841df78dffc676cebb8df861a971fd2c7c855cf8870dcbaee0d7d"
    check_case _25._tcp.mx.secure.example. TLSA NOERROR ad \
        "2 1 1 bce0daca18c6f03b008cd0908048e249407aee9eb45e42813b5a021f51c3d8e5"
    check_case _submission._tcp.secure.example. SRV NOERROR ad "0 1 587 mx.secure.example."
    check_case ptr.secure.example. PTR NOERROR ad www.secure.example.
    check_case big.secure.example. TXT NOERROR ad - +tcp
    check_case big.secure.example. TXT NOERROR any tc +bufsize=1232 +notcp +ignore
    check_case chain.secure.example. A NOERROR ad 192.0.2.10
    check_case nx.secure.example. A NXDOMAIN ad nodata
    check_case www.secure.example. MX NOERROR ad nodata
    # nsec3.internal.: secure, NSEC3 denial.
    check_case www.nsec3.internal. A NOERROR ad 192.0.2.20
    check_case www.nsec3.internal. TXT NOERROR ad '"nsec3"'
    check_case hop.nsec3.internal. A NOERROR ad 192.0.2.10
    check_case nx.nsec3.internal. A NXDOMAIN ad nodata
    check_case www.nsec3.internal. AAAA NOERROR ad nodata
    # insecure.example.: provably insecure.
    check_case www.insecure.example. A NOERROR noad 192.0.2.30
    check_case insecure.example. MX NOERROR noad "10 mx.insecure.example."
    check_case mx.insecure.example. A NOERROR noad 192.0.2.31
    # Bogus zones.
    check_case www.bogus.example. A SERVFAIL noad -
    check_case bogus.example. SOA NOERROR ad -
    check_case www.expired.example. A SERVFAIL noad -
    check_case www.badds.example. A SERVFAIL noad -
    check_case www.nokey.example. A SERVFAIL noad -

    kill "$UNBOUND_PID" 2>/dev/null || true
    wait "$UNBOUND_PID" 2>/dev/null || true
    trap - EXIT
    if ((FAILS > 0)); then
        echo "world.sh check: $FAILS case(s) FAILED; see $udir/unbound.log" >&2
        return 1
    fi
    echo "world.sh check: all cases ok"
}

# ------------------------------------------------------------------ main --

[[ $# -eq 2 ]] || usage
[[ -n $2 ]] || usage
if [[ $1 == down && ! -d $2 ]]; then
    exit 0      # nothing was ever built there, so nothing runs
fi
mkdir -p "$2"
W=$(cd "$2" && pwd)
[[ $W != / ]] || die "refusing to use / as the world directory"
# Paths go unquoted into configs (see unbound.conf.fragment).
[[ $W != *[[:space:]\"]* ]] || die "the world directory must not contain blanks or quotes"

case $1 in
    up) cmd_up ;;
    down) cmd_down ;;
    check) cmd_check ;;
    *) usage ;;
esac
