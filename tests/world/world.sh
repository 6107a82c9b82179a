#!/usr/bin/env bash
# world.sh — a small, signed DNS "Internet" on loopback for danegate's tests.
#
#   world.sh up DIR      build keys/zones/signatures/certificates/configs
#                        into DIR, start NSD, Postfix and nginx
#   world.sh down DIR    stop the NSD, Postfix and nginx of DIR (idempotent)
#   world.sh check DIR   self-test DIR's world through a real Unbound daemon,
#                        an SMTP/STARTTLS probe of every mail host and an
#                        HTTPS fetch of every MTA-STS policy
#
# Three NSD instances serve the world (addresses below); DIR/root.key,
# DIR/root.hints, DIR/world.env and DIR/unbound.conf.fragment tell a resolver
# how to use it. One Postfix instance receives mail on one address per mail
# host, nginx serves the MTA-STS policies; DIR/mail-cases.tsv lists the mail
# domains with the verdict each should get. See README.md next to this
# script for every test case.
#
# Only loopback addresses are used. WORLD_NET (default 127.53) selects the
# first two octets of every address, should two worlds ever need to coexist.
# WORLD_MAIL=0 leaves Postfix and nginx out (zones and certificates are
# still built).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/world/procs.sh
. "$HERE/procs.sh"
TEMPLATES=$HERE/zones

NET=${WORLD_NET:-127.53}
ROOT_ADDR=$NET.0.1
TLD_ADDR=$NET.0.2
LEAF_ADDR=$NET.0.3
CHECK_ADDR=$NET.9.9     # the Unbound of `world.sh check`
SMTP_NET=$NET.3         # mail hosts: $SMTP_NET.N port 25 (Postfix smtpd)
HTTPS_NET=$NET.4        # MTA-STS policy hosts: $HTTPS_NET.N port 443 (nginx)
# The TLS-RPT report collector (tests/world/tlsrpt_collector.py, started by
# the tests that need it): reports.dane-ee.example, port 443, a leaf of the
# world's CA in ca/reports.dane-ee.example.{pem,key,chain.pem}.
TLSRPT_COLLECTOR_N=100
# The OAuth2 submission service of office.example (issue 9; started by
# tests/system/oauthsys.py, not by `up`): smtp.office.example on
# $SMTP_NET.$SUBMISSION_N port 587 (Postfix + Dovecot SASL, XOAUTH2) and its
# token endpoint login.office.example on $HTTPS_NET.$OAUTH2_N port 443
# (tests/world/oauth2_endpoint.py); leaves of the world's CA in
# ca/{smtp,login}.office.example.{pem,key,chain.pem}.
SUBMISSION_N=27
OAUTH2_N=101
MAIL=${WORLD_MAIL:-1}   # 0: no Postfix, no nginx
[[ $MAIL == [01] ]] || { echo "world.sh: WORLD_MAIL must be 0 or 1" >&2; exit 2; }

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
#         bogus-tlsa    the RRSIGs of every TLSA RRset are corrupted
#         expired-tlsa  every TLSA RRset is signed with inception 2020-01-01,
#                       expiration 2020-02-01 (the rest of the zone is valid)
#         bogus-dmarc   the RRSIG of `_dmarc TXT` is corrupted
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
    # The mail domains (see MAIL_CASES below).
    "dane-ee.example.             leaf  nsec   -"
    "dane-ta.example.             leaf  nsec   -"
    "dane-ta1.example.            leaf  nsec   -"
    "tlsa-mismatch.example.       leaf  nsec   -"
    "tlsa-bogus.example.          leaf  nsec   bogus-tlsa"
    "tlsa-unsigned.example.       leaf  none   -"
    "no-tlsa.example.             leaf  nsec   -"
    "no-starttls.example.         leaf  nsec   -"
    "pkix-only.example.           leaf  nsec   -"
    "cname-mx.example.            leaf  nsec   -"
    "cname-target.example.        leaf  nsec   -"
    # CNAME'd MX hosts and the TLSA base (RFC 7672 §2.2.2; issue 6)
    "cname-unsigned.example.          leaf  nsec   -"
    "cname-alias.example.             leaf  nsec   -"
    "cname-both.example.              leaf  nsec   -"
    "cname-chain.example.             leaf  nsec   -"
    "cname-chain-unsigned.example.    leaf  nsec   -"
    "cname-secure-target.example.     leaf  nsec   -"
    "cname-insecure-target.example.   leaf  none   -"
    "tlsa-expired.example.        leaf  nsec   expired-tlsa"
    "bad-length.example.          leaf  nsec   -"
    "two-mx.example.              leaf  nsec   -"
    "nsec3-mail.internal.         leaf  nsec3  -"
    "ta-name-mismatch.example.    leaf  nsec   -"
    "ee-mismatch-expired.example. leaf  nsec   -"
    "insecure-mx.example.         leaf  none   -"
    "null-mx.example.             leaf  nsec   -"
    "implicit-mx.example.         leaf  nsec   -"
    "sts-enforce.example.         leaf  nsec   -"
    "sts-testing.example.         leaf  nsec   -"
    "sts-mismatch.example.        leaf  nsec   -"
    "bulk.example.                leaf  nsec   -"
    # The OAuth2 submission service (issue 9): smtp. and login.office.example.
    "office.example.              leaf  nsec   -"
    # The relay's DMARC guard (issue 9; tests/system/test_relay_dmarc.py)
    "dmarc-reject.example.        leaf  nsec   -"
    "dmarc-none.example.          leaf  nsec   -"
    "dmarc-quarantine.example.    leaf  nsec   -"
    "dmarc-spf.example.           leaf  nsec   -"
    "dmarc-bogus.example.         leaf  nsec   bogus-dmarc"
    # Short TTLs for the answer cache (tests/system/test_cache.py).
    "ttl.example.                 leaf  nsec   -"
    # Many names for the resolver benchmark (WORLD_HOT_NAMES of them).
    "hot.example.                 leaf  nsec   -"
)

# The algorithm zones (RFC 8624): one signed zone per DNSKEY algorithm and
# per DS digest type, each a child of example. (itself algorithm 13), with
# `www A 192.0.2.80`. A validator that cannot validate a zone's algorithm
# or its DS digest must treat the zone as insecure (RFC 4035 §5.2): for
# DANE, a downgrade. tests/system/test_algorithms.py measures them.
#   ZONE  ALGORITHM  NUMBER  DIGEST  DENIAL  RFC8624
# ALGORITHM  ldns-keygen's name; NUMBER its DNSKEY algorithm number
# DIGEST     the DS digest type in example.: 1 SHA-1, 2 SHA-256, 4 SHA-384
# RFC8624    what RFC 8624 §3.1/§3.3 asks of a validator for the algorithm
#            (DS digest 2) or the digest (the -dsN zones): MUST or
#            RECOMMENDED
# Written to DIR/algorithms.tsv (without ALGORITHM).
ALG_ZONES=(
    "alg5.example.       RSASHA1             5  2  nsec   MUST"
    "alg5-ds1.example.   RSASHA1             5  1  nsec   MUST"
    "alg7.example.       RSASHA1-NSEC3-SHA1  7  2  nsec3  MUST"
    "alg7-ds1.example.   RSASHA1-NSEC3-SHA1  7  1  nsec3  MUST"
    "alg8.example.       RSASHA256           8  2  nsec   MUST"
    "alg8-ds1.example.   RSASHA256           8  1  nsec   MUST"
    "alg10.example.      RSASHA512          10  2  nsec   MUST"
    "alg13.example.      ECDSAP256SHA256    13  2  nsec   MUST"
    "alg13-ds1.example.  ECDSAP256SHA256    13  1  nsec   MUST"
    "alg13-ds4.example.  ECDSAP256SHA256    13  4  nsec   RECOMMENDED"
    "alg14.example.      ECDSAP384SHA384    14  2  nsec   RECOMMENDED"
    "alg15.example.      ED25519            15  2  nsec   RECOMMENDED"
    "alg16.example.      ED448              16  2  nsec   RECOMMENDED"
)
ALG_WWW=192.0.2.80      # www.ZONE A of every algorithm zone
declare -A ZONE_ALG=() ZONE_DS_DIGEST=()
for line in "${ALG_ZONES[@]}"; do
    read -r z a _ d den _ <<<"$line"
    ZONES+=("$z leaf $den -")
    ZONE_ALG[$z]=$a
    ZONE_DS_DIGEST[$z]=$d
done
unset line z a d den

# The mail hosts: one Postfix smtpd listener each, on $SMTP_NET.N port 25.
#   KEY  N  HOST  LEAF  CHAIN  STARTTLS  TLSA  MATCH
# KEY       names the host's placeholders: @SMTP_KEY@ (its address),
#           @SPKI_KEY@ / @CERT_KEY@ (SHA-256 of the SPKI / of the whole
#           certificate of its leaf), @SPKI31_KEY@ (@SPKI_KEY@ minus its last
#           byte: a digest of the wrong length).
# LEAF      host           a leaf for HOST, issued by the intermediate CA
#           host+NAME,..   the same, with more DNS names
#           wrong-name     the world's leaf for wrong-name.example
#           expired        the world's expired leaf (2020-01-01..2020-02-01)
#                          for expired.wrong-name.example
# CHAIN     int (leaf + intermediate) | full (leaf + intermediate + root)
# STARTTLS  yes | no (smtpd_tls_security_level = may | none)
# TLSA      what `check` expects of _25._tcp.HOST TLSA through Unbound:
#           secure | insecure | bogus | nxdomain (secure NXDOMAIN)
# MATCH     how the published TLSA records compare with the host's chain,
#           one token per record, sorted: usage selector matching-type and
#           + (matches) or - (matches nothing); "-" when there are none.
MAIL_HOSTS=(
    "DANE_EE              1  mx.dane-ee.example.              host      int   yes  secure    311+"
    "DANE_TA              2  mx.dane-ta.example.              host      full  yes  secure    201+"
    "DANE_TA1             3  mx.dane-ta1.example.             host      int   yes  secure    211+"
    "TLSA_MISMATCH        4  mx.tlsa-mismatch.example.        host      int   yes  secure    311-"
    "TLSA_BOGUS           5  mx.tlsa-bogus.example.           host      int   yes  bogus     311+"
    "TLSA_UNSIGNED        6  mx.tlsa-unsigned.example.        host      int   yes  insecure  311-"
    "NO_TLSA              7  mx.no-tlsa.example.              host      int   yes  nxdomain  -"
    "NO_STARTTLS          8  mx.no-starttls.example.          host      int   no   secure    311+"
    "PKIX_ONLY            9  mx.pkix-only.example.            host      full  yes  secure    001+,111+"
    "CNAME_TARGET        10  host.cname-target.example.       host+mx.cname-mx.example  int  yes  secure  311+"
    # CNAME'd MX hosts (issue 6): the TLSA column is the target's own
    "CNAME_UNSIGNED       22  host.cname-insecure-target.example.  host+mx.cname-unsigned.example        int  yes  insecure  311-"
    "CNAME_ALIAS          23  alias.cname-secure-target.example.   host+mx.cname-alias.example           int  yes  nxdomain  -"
    "CNAME_BOTH           24  both.cname-secure-target.example.    host+mx.cname-both.example            int  yes  secure    311+"
    "CNAME_CHAIN          25  chain.cname-secure-target.example.   host+mx.cname-chain.example           int  yes  secure    311+"
    "CNAME_CHAIN_UNSIGNED 26  leave.cname-secure-target.example.   host+mx.cname-chain-unsigned.example  int  yes  secure    311-"
    "TLSA_EXPIRED        11  mx.tlsa-expired.example.         host      int   yes  bogus     311+"
    "BAD_LENGTH          12  mx.bad-length.example.           host      int   yes  secure    311+,311-"
    "TWO_MX1             13  mx1.two-mx.example.              host      int   yes  secure    311+"
    "TWO_MX2             14  mx2.two-mx.example.              host      int   yes  secure    311-"
    "NSEC3_MAIL          15  mx.nsec3-mail.internal.          host      int   yes  nxdomain  -"
    "TA_NAME_MISMATCH    16  mx.ta-name-mismatch.example.     wrong-name full yes  secure    201+"
    "EE_MISMATCH_EXPIRED 17  mx.ee-mismatch-expired.example.  expired   int   yes  secure    311+"
    "IMPLICIT_MX         18  implicit-mx.example.             host      int   yes  secure    311+"
    "STS_ENFORCE         19  mx.sts-enforce.example.          host      int   yes  nxdomain  -"
    "STS_TESTING         20  mx.sts-testing.example.          host      int   yes  nxdomain  -"
    "STS_MISMATCH        21  mx.sts-mismatch.example.         host      int   yes  nxdomain  -"
)

# The MTA-STS policy hosts (nginx), on $HTTPS_NET.N port 443:
#   KEY  N  DOMAIN  MODE  MX...
# https://mta-sts.DOMAIN/.well-known/mta-sts.txt answers "version: STSv1",
# "mode: MODE", one "mx:" line per MX, "max_age: 86400" (LF line ends,
# text/plain), with a certificate for mta-sts.DOMAIN from the world's CA
# (leaf + intermediate). @HTTPS_KEY@ is the address.
STS_HOSTS=(
    "STS_ENFORCE   1  sts-enforce.example.   enforce  mx.sts-enforce.example"
    "STS_TESTING   2  sts-testing.example.   testing  mx.sts-testing.example"
    "STS_MISMATCH  3  sts-mismatch.example.  enforce  mail.sts-mismatch.example"
)
STS_ID=20260101000000   # the id= of every _mta-sts TXT record
STS_MAX_AGE=86400

# The mail cases, written to DIR/mail-cases.tsv for tlsa-check's tests:
#   DOMAIN  VERDICT  REASON  STS  POSTURE  NOTES...
# VERDICT   what tlsa-check must say (tools/audit.h's vocabulary)
# REASON    the reason code of that verdict (danegate_reason_name()), or
#           "-" where the world does not pin one
# STS       MTA-STS: - (none) | enforce | testing | enforce+mx-mismatch
# POSTURE   yes: SPF "v=spf1 mx -all", _smtp._tls TLS-RPT and _dmarc
#           DMARC records published; tlsrpt: only the _smtp._tls record
#           (its rua at the report collector); -: none of them
MAIL_CASES=(
    "dane-ee.example              dane-valid    dane-verified             -        yes  3 1 1 of the leaf SPKI"
    "dane-ta.example              dane-valid    dane-verified             -        tlsrpt  2 0 1 of the root CA certificate; chain leaf+intermediate+root (trust anchor at depth 2)"
    "dane-ta1.example             dane-valid    dane-verified             -        -    2 1 1 of the intermediate CA SPKI; chain leaf+intermediate (trust anchor at depth 1)"
    "tlsa-mismatch.example        dane-failing  -                         -        -    secure 3 1 1 matching nothing"
    "tlsa-bogus.example           dane-failing  dnssec-invalid            -        -    TLSA RRSIG corrupted: SERVFAIL (the record itself would match)"
    "tlsa-unsigned.example        no-dane       insecure-address          -        -    unsigned zone: insecure MX/A, TLSA (matching nothing) must be ignored"
    "no-tlsa.example              no-dane       no-tlsa                   -        -    secure MX and A; no TLSA (NSEC)"
    "no-starttls.example          dane-failing  starttls-not-supported    -        tlsrpt  valid 3 1 1 but the server offers no STARTTLS"
    "pkix-only.example            encrypt-only  tlsa-unusable             -        -    only 0 0 1 (root CA) and 1 1 1 (leaf): both match, both unusable"
    "cname-mx.example             dane-valid    dane-verified             -        -    MX host is a CNAME to host.cname-target.example; TLSA at _25._tcp.host.cname-target.example"
    # CNAME'd MX hosts (issue 6): where the TLSA base is
    "cname-unsigned.example       dane-valid    dane-verified             -        -    secure CNAME into an unsigned zone: TLSA at the alias _25._tcp.mx.cname-unsigned.example (matches); the target's insecure TLSA (matching nothing) ignored"
    "cname-alias.example          dane-valid    dane-verified             -        -    secure CNAME to a secure target without TLSA (NXDOMAIN): TLSA at the alias (matches)"
    "cname-both.example           dane-valid    dane-verified             -        -    secure CNAME to a secure target, TLSA at both: the target's (matches) wins over the alias's (matches nothing)"
    "cname-chain.example          dane-valid    dane-verified             -        -    secure chain of two CNAMEs: TLSA at the end (matches); the hop's (matching nothing) unused"
    "cname-chain-unsigned.example dane-valid    dane-verified             -        -    chain mx (signed) -> hop (unsigned) -> leave (signed): TLSA at the alias (matches), not at the end (secure, matching nothing)"
    "tlsa-expired.example         dane-failing  dnssec-invalid            -        -    TLSA RRSIG expired: SERVFAIL (the record itself would match)"
    "bad-length.example           dane-valid    dane-verified             -        -    a 3 1 1 with a 31-byte digest beside a good 3 1 1"
    "two-mx.example               dane-partial  -                         -        -    MX 10 mx1 (3 1 1 matches), MX 20 mx2 (3 1 1 matches nothing)"
    "nsec3-mail.internal          no-dane       no-tlsa                   -        -    NSEC3 zone; secure MX and A; no TLSA (NSEC3)"
    "ta-name-mismatch.example     dane-failing  certificate-host-mismatch -        -    2 0 1 of the root CA matches; the leaf is for wrong-name.example"
    "ee-mismatch-expired.example  dane-valid    dane-verified             -        -    3 1 1 of a leaf that is expired and for expired.wrong-name.example"
    "insecure-mx.example          dane-valid    dane-trusted              -        -    unsigned zone; MX mx.dane-ee.example (secure, TLSA matches)"
    "null-mx.example              no-mail       null-mx                   -        -    MX 0 ."
    "implicit-mx.example          dane-valid    dane-verified             -        -    no MX; A at the apex; TLSA at _25._tcp.implicit-mx.example"
    "sts-enforce.example          no-dane       no-tlsa                   enforce              yes  MTA-STS enforce, mx matches"
    "sts-testing.example          no-dane       no-tlsa                   testing              yes  MTA-STS testing, mx matches"
    "sts-mismatch.example         no-dane       no-tlsa                   enforce+mx-mismatch  yes  MTA-STS enforce, policy mx mail.sts-mismatch.example does not match MX mx.sts-mismatch.example"
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
    # The algorithm zones share one template.
    [[ -z ${ZONE_ALG[$zone]:-} ]] || tpl=$TEMPLATES/algorithm.zone
    out=$(unsigned_file "$zone")
    [[ -f $tpl ]] || die "no template $tpl for zone $zone"
    zone_info "$zone"
    local -a sed_args=(-e "s/@SERIAL@/$SERIAL/g" -e "s/@NS@/${SERVER_NS[$Z_SERVER]}/g"
        -e "s/@ZONE@/$zone/g" -e "s/@ALG_WWW@/$ALG_WWW/g")
    local key
    for key in "${!PLACEHOLDERS[@]}"; do
        sed_args+=(-e "s/@$key@/${PLACEHOLDERS[$key]}/g")
    done
    sed "${sed_args[@]}" "$tpl" >"$out"
    # A zone too big to write out (the benchmark's hot.example.) has a
    # generator beside its template that appends records.
    local gen=${tpl%.zone}.gen.awk
    [[ ! -f $gen ]] || awk -v n="${WORLD_HOT_NAMES:-50}" -f "$gen" >>"$out" ||
        die "generator $gen failed"
    if grep -q '@[A-Z0-9_]*@' "$out"; then
        die "unsubstituted placeholder in $tpl: $(grep -o '@[A-Z0-9_]*@' "$out" | head -n1)"
    fi
}

# make_keys ZONE: a fresh KSK (flags 257) and ZSK (256) for ZONE; their base
# names are stored in KEYDIR/ksk and KEYDIR/zsk.
make_keys() {
    local zone=$1 dir alg=${ZONE_ALG[$1]:-$ALG}
    local -a bits=()
    [[ $alg != RSA* ]] || bits=(-b 2048)
    dir=$(keydir "$zone")
    mkdir -p "$dir"
    (cd "$dir" && ldns-keygen -a "$alg" "${bits[@]}" -k -r /dev/urandom "$zone") >"$dir/ksk"
    (cd "$dir" && ldns-keygen -a "$alg" "${bits[@]}" -r /dev/urandom "$zone") >"$dir/zsk"
}

# make_decoy_key ZONE: an extra KSK for ZONE that is never published nor used
# to sign; its base name goes to KEYDIR/decoy. Used for the badds case.
make_decoy_key() {
    local zone=$1 dir
    dir=$(keydir "$zone")
    mkdir -p "$dir"
    (cd "$dir" && ldns-keygen -a "$ALG" -k -r /dev/urandom "$zone") >"$dir/decoy"
}

# key_ds ZONE [ROLE]: the DS record of ZONE's key ROLE (default ksk):
# SHA-256, or the digest of ZONE_DS_DIGEST.
key_ds() {
    local dir
    dir=$(keydir "$1")
    ldns-key2ds -n "-${ZONE_DS_DIGEST[$1]:-2}" "$dir/$(cat "$dir/${2:-ksk}").key"
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

# corrupt_rrsigs_of_type ZONE TYPE: corrupt_rrsig every RRset of TYPE in
# ZONE's signed file.
corrupt_rrsigs_of_type() {
    local owner n=0
    while read -r owner; do
        corrupt_rrsig "$1" "$owner" "$2"
        n=$((n + 1))
    done < <(awk -v type="$2" '$4 == "RRSIG" && $5 == type { print $1 }' \
        "$(signed_file "$1")" | sort -u)
    ((n > 0)) || die "corrupt_rrsigs_of_type: no RRSIG $2 in $1"
}

# expire_rrsigs_of_type ZONE TYPE: replace the RRSIGs of every TYPE RRset of
# ZONE's signed file by signatures of the same key made for 2020-01-01 ..
# 2020-02-01 (a second signing run with past dates), so only those RRsets
# are bogus ("signature expired").
expire_rrsigs_of_type() {
    local zone=$1 type=$2 file
    file=$(signed_file "$zone")
    zone_info "$zone"
    mv "$file" "$file.keep"
    sign_zone "$zone" "$Z_DENIAL" 20200101000000 20200201000000
    mv "$file" "$file.past"
    mv "$file.keep" "$file"
    awk -v type="$type" -v past="$file.past" '
        $4 == "RRSIG" && $5 == type { next }
        { print }
        END {
            while ((getline line < past) > 0) {
                split(line, f)
                if (f[4] == "RRSIG" && f[5] == type) { print line; n++ }
            }
            if (n == 0) exit 1
        }
    ' "$file" >"$file.tmp" || die "expire_rrsigs_of_type: no RRSIG $type in $zone"
    mv "$file.tmp" "$file"
    rm -f "$file.past"
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
# apply its twist. Called bottom-up. (build_zones does the same for every
# zone, with the independent steps in parallel.)
build_zone() {
    key_zone "$1"
    link_zone "$1"
    seal_zone "$1"
}

# key_zone ZONE: the keys of a signed ZONE (and the decoy key of badds).
key_zone() {
    zone_info "$1"
    [[ $Z_DENIAL != none ]] || return 0
    make_keys "$1"
    if [[ $Z_TWIST == badds ]]; then make_decoy_key "$1"; fi
}

# link_zone ZONE: append ZONE's delegation and (if signed) DS to its parent.
link_zone() {
    local zone=$1 parent
    parent=$(parent_of "$zone")
    [[ -n $parent ]] || return 0
    zone_info "$zone"
    add_delegation "$parent" "$zone"
    [[ $Z_DENIAL != none ]] || return 0
    if [[ $Z_TWIST == badds ]]; then
        add_ds "$parent" "$zone" decoy
    else
        add_ds "$parent" "$zone"
    fi
}

# seal_zone ZONE: sign a signed ZONE (once every child is linked into it)
# and apply its twist.
seal_zone() {
    local zone=$1
    zone_info "$zone"
    local denial=$Z_DENIAL twist=$Z_TWIST
    [[ $denial != none ]] || return 0
    if [[ $twist == expired ]]; then
        sign_zone "$zone" "$denial" 20200101000000 20200201000000
    else
        sign_zone "$zone" "$denial"
    fi
    case $twist in
        bogus) corrupt_rrsig "$zone" "www.$zone" A ;;
        nokey) strip_dnskey "$zone" ;;
        bogus-tlsa) corrupt_rrsigs_of_type "$zone" TLSA ;;
        bogus-dmarc) corrupt_rrsig "$zone" "_dmarc.$zone" TXT ;;
        expired-tlsa) expire_rrsigs_of_type "$zone" TLSA ;;
        -|expired|badds) ;;
        *) die "unknown twist $twist for $zone" ;;
    esac
}

# build_zones: build_zone for every zone of the table: keys in parallel,
# then the delegations and DS records (bottom-up), then every signature in
# parallel (a DS needs only the child's key, not its signatures).
build_zones() {
    local zone job
    local -a jobs=()
    while read -r zone; do
        key_zone "$zone" &
        jobs+=($!)
    done < <(zones_bottom_up)
    for job in "${jobs[@]}"; do wait "$job" || die "making the zone keys failed"; done
    while read -r zone; do link_zone "$zone"; done < <(zones_bottom_up)
    jobs=()
    while read -r zone; do
        seal_zone "$zone" &
        jobs+=($!)
    done < <(zones_bottom_up)
    for job in "${jobs[@]}"; do wait "$job" || die "signing the zones failed"; done
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
    launch_nsd "$1"
    wait_nsd "$1"
}

# launch_nsd SERVER: start SERVER's NSD (it daemonizes).
launch_nsd() {
    local sdir=$W/nsd/$1
    nsd -c "$sdir/nsd.conf" || die "NSD $1 failed to start; see $sdir/nsd.log"
}

# wait_nsd SERVER: wait until SERVER answers the SOA of each of its zones
# (bounded: about 5 s per zone).
wait_nsd() {
    local srv=$1 addr sdir line z s i
    addr=${SERVER_ADDR[$srv]}
    sdir=$W/nsd/$srv
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

# ------------------------------------------------------------------ mail --

# The world's certificates live in DIR/ca: root.{key,pem} (RSA 2048, the
# trust anchor: WORLD_CA_FILE), int.{key,pem} (ECDSA P-256, issued by the
# root), one ECDSA P-256 leaf per host (HOST.key, HOST.pem; HOST without the
# final dot) issued by the intermediate, and the two special leaves
# wrong-name.{key,pem} and expired.{key,pem}.
ca_dir() { echo "$W/ca"; }

# cert_date EPOCH: a certtool template date.
cert_date() {
    local TZ=UTC0
    printf '%(%Y-%m-%d %H:%M:%S UTC)T' "$1"
}

# make_cert NAME ISSUER KEYTYPE FROM UNTIL TEMPLATE-LINE...: a key
# DIR/ca/NAME.key (ecdsa: P-256; rsa: 2048 bits) and a certificate
# DIR/ca/NAME.pem valid from FROM until UNTIL (epoch seconds), signed by the
# key of ISSUER (another name in DIR/ca; "self": self-signed). The other
# arguments are certtool template lines.
make_cert() {
    local name=$1 issuer=$2 keytype=$3 from=$4 until=$5 dir
    shift 5
    dir=$(ca_dir)
    local -a keyopts=(--key-type=ecdsa --curve=secp256r1)
    [[ $keytype == rsa ]] && keyopts=(--key-type=rsa --bits=2048)
    certtool --generate-privkey "${keyopts[@]}" --no-text \
        --outfile "$dir/$name.key" 2>/dev/null || die "certtool: no key for $name"
    {
        printf '%s\n' "$@"
        printf 'activation_date = "%s"\n' "$(cert_date "$from")"
        printf 'expiration_date = "%s"\n' "$(cert_date "$until")"
    } >"$dir/$name.tmpl"
    local -a signer=(--generate-self-signed)
    if [[ $issuer != self ]]; then
        signer=(--generate-certificate --load-ca-certificate "$dir/$issuer.pem"
            --load-ca-privkey "$dir/$issuer.key")
    fi
    certtool "${signer[@]}" --load-privkey "$dir/$name.key" \
        --template "$dir/$name.tmpl" --no-text --outfile "$dir/$name.pem" \
        >"$dir/$name.log" 2>&1 || die "certtool: $name: $(cat "$dir/$name.log")"
    # The TLSA digests of the certificate: DIR/ca/NAME.sha256 holds
    # "CERT-SHA256 SPKI-SHA256" (x 0 1, x 1 1).
    cert_digests "$dir/$name.pem" >"$dir/$name.sha256"
    [[ -s $dir/$name.sha256 ]] || die "certtool: no digests for $name"
}

# make_leaf NAME FROM UNTIL DNSNAME...: a TLS server leaf issued by the
# intermediate for the DNS names given (the first is also the CN).
make_leaf() {
    local name=$1 from=$2 until=$3 dns
    shift 3
    local -a lines=("cn = \"$1\"" 'organization = "danegate test world"')
    for dns in "$@"; do lines+=("dns_name = \"$dns\""); done
    lines+=(tls_www_server signing_key)
    make_cert "$name" int ecdsa "$from" "$until" "${lines[@]}"
}

# cert_digests PEM: "CERT-SHA256 SPKI-SHA256", the TLSA "x 0 1" and "x 1 1"
# data of a certificate: certtool's SHA-256 fingerprint and public key ID
# (the SHA-256 of the SubjectPublicKeyInfo). `check` recomputes both with
# openssl.
cert_digests() {
    certtool --certificate-info --infile "$1" 2>/dev/null | awk '
        /^\tFingerprint:/ { s = "cert" }
        /^\tPublic Key ID:/ { s = "spki" }
        /^\t[^\t]/ && !/^\t(Fingerprint|Public Key ID):/ { s = "" }
        s != "" && $1 ~ /^sha256:/ { d[s] = substr($1, 8) }
        END { if (length(d["cert"]) == 64 && length(d["spki"]) == 64) print d["cert"], d["spki"] }
    '
}

# mail_host_leaf LEAF HOST: the DIR/ca name of the leaf that the LEAF column
# of HOST's MAIL_HOSTS line designates.
mail_host_leaf() {
    case $1 in
        wrong-name|expired) echo "$1" ;;
        host|host+*) echo "${2%.}" ;;
        *) die "bad LEAF column $1 for $2" ;;
    esac
}

# mail_host_files LEAF HOST CHAIN: sets FILES to the files HOST's smtpd
# loads (smtpd_tls_chain_files: key, leaf, intermediate[, root]).
mail_host_files() {
    local leaf dir=$W/ca
    case $1 in
        wrong-name|expired) leaf=$1 ;;
        host|host+*) leaf=${2%.} ;;
        *) die "bad LEAF column $1 for $2" ;;
    esac
    FILES=("$dir/$leaf.key" "$dir/$leaf.pem" "$dir/int.pem")
    case $3 in
        int) ;;
        full) FILES+=("$dir/root.pem") ;;
        *) die "bad CHAIN column $3 for $2" ;;
    esac
}

# mail_host_chain LEAF HOST CHAIN: the same, comma-separated.
mail_host_chain() {
    mail_host_files "$@"
    (IFS=,; echo "${FILES[*]}")
}

# make_certificates: the CA, every leaf of MAIL_HOSTS and STS_HOSTS, and the
# placeholders of their digests and addresses (see MAIL_HOSTS, STS_HOSTS).
# The leaves are made in parallel.
make_certificates() {
    local dir line key n host leaf extra name domain job cert spki
    local from=$((NOW - 86400)) until=$((NOW + 365 * 86400))
    local past_from=1577836800 past_until=1580515200 # 2020-01-01, 2020-02-01
    local -a jobs=()
    dir=$(ca_dir)
    mkdir -p "$dir"
    make_cert root self rsa "$from" $((NOW + 2 * 365 * 86400)) \
        'cn = "danegate world root CA"' 'organization = "danegate test world"' \
        ca cert_signing_key crl_signing_key
    make_cert int root ecdsa "$from" $((NOW + 2 * 365 * 86400)) \
        'cn = "danegate world intermediate CA"' \
        'organization = "danegate test world"' \
        ca 'path_len = 0' cert_signing_key crl_signing_key
    make_leaf wrong-name "$from" "$until" wrong-name.example &
    jobs+=($!)
    make_leaf expired "$past_from" "$past_until" expired.wrong-name.example &
    jobs+=($!)
    for line in "${MAIL_HOSTS[@]}"; do
        read -r key n host leaf _ <<<"$line"
        [[ $leaf == host* ]] || continue
        extra=${leaf#host}
        extra=${extra#+}
        # shellcheck disable=SC2086 # split the extra names
        make_leaf "${host%.}" "$from" "$until" "${host%.}" ${extra//,/ } &
        jobs+=($!)
    done
    for line in "${STS_HOSTS[@]}"; do
        read -r key n domain _ <<<"$line"
        make_leaf "mta-sts.${domain%.}" "$from" "$until" "mta-sts.${domain%.}" &
        jobs+=($!)
    done
    make_leaf reports.dane-ee.example "$from" "$until" reports.dane-ee.example &
    jobs+=($!)
    make_leaf smtp.office.example "$from" "$until" smtp.office.example &
    jobs+=($!)
    # The token endpoint is reached by address (Dovecot's introspection_url
    # names no host it would have to resolve): an IP SAN too.
    make_cert login.office.example int ecdsa "$from" "$until" \
        'cn = "login.office.example"' 'organization = "danegate test world"' \
        'dns_name = "login.office.example"' \
        "ip_address = \"$HTTPS_NET.$OAUTH2_N\"" tls_www_server signing_key &
    jobs+=($!)
    for job in "${jobs[@]}"; do
        wait "$job" || die "a certificate could not be made (see above)"
    done
    cat "$dir/reports.dane-ee.example.pem" "$dir/int.pem" \
        >"$dir/reports.dane-ee.example.chain.pem"
    PLACEHOLDERS[TLSRPT_COLLECTOR]=$HTTPS_NET.$TLSRPT_COLLECTOR_N
    for name in smtp.office.example login.office.example; do
        cat "$dir/$name.pem" "$dir/int.pem" >"$dir/$name.chain.pem"
    done
    PLACEHOLDERS[SUBMISSION]=$SMTP_NET.$SUBMISSION_N
    PLACEHOLDERS[OAUTH2_ENDPOINT]=$HTTPS_NET.$OAUTH2_N
    read -r _ spki <"$dir/smtp.office.example.sha256"
    PLACEHOLDERS[SPKI_SUBMISSION]=$spki

    read -r cert spki <"$dir/root.sha256"
    PLACEHOLDERS[CERT_ROOT_CA]=$cert
    PLACEHOLDERS[SPKI_ROOT_CA]=$spki
    read -r cert spki <"$dir/int.sha256"
    PLACEHOLDERS[CERT_INT_CA]=$cert
    PLACEHOLDERS[SPKI_INT_CA]=$spki
    for line in "${MAIL_HOSTS[@]}"; do
        read -r key n host leaf _ <<<"$line"
        name=$(mail_host_leaf "$leaf" "$host")
        read -r cert spki <"$dir/$name.sha256"
        PLACEHOLDERS[SMTP_$key]=$SMTP_NET.$n
        PLACEHOLDERS[SPKI_$key]=$spki
        PLACEHOLDERS[SPKI31_$key]=${spki:0:62}
        PLACEHOLDERS[CERT_$key]=$cert
    done
    for line in "${STS_HOSTS[@]}"; do
        read -r key n domain _ <<<"$line"
        name=mta-sts.${domain%.}
        cat "$dir/$name.pem" "$dir/int.pem" >"$dir/$name.chain.pem"
        PLACEHOLDERS[HTTPS_$key]=$HTTPS_NET.$n
    done
}

# write_alg_table: DIR/algorithms.tsv, one line per algorithm zone:
# ZONE NUMBER DIGEST RFC8624 (tab-separated, with a header line).
write_alg_table() {
    local line z n d r
    {
        printf '# zone\talgorithm\tds-digest\trfc8624\n'
        for line in "${ALG_ZONES[@]}"; do
            read -r z _ n d _ r <<<"$line"
            printf '%s\t%s\t%s\t%s\n' "$z" "$n" "$d" "$r"
        done
    } >"$W/algorithms.tsv"
}

# write_mail_tables: DIR/mail-cases.tsv and DIR/mail-hosts.tsv.
write_mail_tables() {
    local line d v r sts p notes key n host leaf chain tls tlsa match
    {
        printf '# domain\tverdict\treason\tsts\tposture\tnotes\n'
        for line in "${MAIL_CASES[@]}"; do
            read -r d v r sts p notes <<<"$line"
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$v" "$r" "$sts" "$p" "$notes"
        done
    } >"$W/mail-cases.tsv"
    {
        printf '# host\taddress\tport\tstarttls\tkey\tleaf\tchain\ttlsa\tmatch\n'
        for line in "${MAIL_HOSTS[@]}"; do
            read -r key n host leaf chain tls tlsa match <<<"$line"
            mail_host_files "$leaf" "$host" "$chain"
            printf '%s\t%s\t25\t%s\t%s\t%s\t%s\t%s\t%s\n' "${host%.}" \
                "$SMTP_NET.$n" "$tls" "${FILES[0]}" "${FILES[1]}" \
                "$(IFS=,; echo "${FILES[*]:1}")" "$tlsa" "$match"
        done
    } >"$W/mail-hosts.tsv"
}

# Postfix: config_directory DIR/postfix (main.cf, master.cf, maillog,
# start.log), queue_directory DIR/postfix-queue. Every Postfix daemon
# chdir()s to the queue directory as root before it drops privileges; but
# the data directory (master.lock, opened as mail_owner) and the virtual(8)
# mailboxes (written as nobody) are opened by absolute path, which fails
# when a parent of DIR is private (pytest's /tmp/pytest-of-root is 0700).
# Both are therefore reached through the daemon's working directory:
# data_directory = /proc/self/cwd/data and virtual_mailbox_base =
# /proc/self/cwd/sink, i.e. DIR/postfix-queue/data and DIR/postfix-queue/sink.
pf_conf() { echo "$W/postfix"; }
pf_queue() { echo "$W/postfix-queue"; }

# write_postfix_conf: main.cf and master.cf of the world's Postfix.
write_postfix_conf() {
    local conf queue line key n host leaf chain tls d maps="" uid gid
    conf=$(pf_conf)
    queue=$(pf_queue)
    mkdir -p "$conf" "$queue"
    uid=$(id -u nobody 2>/dev/null || echo 65534)
    gid=$(id -g nobody 2>/dev/null || echo 65534)
    install -d -o "$uid" -g "$gid" -m 0755 "$queue/sink"
    # One Maildir per mail-case domain: a regexp table (first match wins),
    # as "$" must be doubled in main.cf.
    for line in "${MAIL_CASES[@]}"; do
        read -r d _ <<<"$line"
        maps+="{/@${d//./\\.}\$\$/ $d/}, "
    done
    cat >"$conf/main.cf" <<EOF
# Generated by world.sh: the receiving Postfix of the danegate test world.
# Every message is accepted (any recipient domain) and delivered by
# virtual(8) into the Maildir $queue/sink/<recipient domain>/
# (sink/other/ for domains that are not mail cases). Postfix itself makes
# no DNS lookup.
compatibility_level = 3.6
config_directory = $conf
queue_directory = $queue
data_directory = /proc/self/cwd/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $conf/maillog
maillog_file_prefixes = $conf
inet_interfaces = all
inet_protocols = ipv4
myhostname = postfix.world.invalid
mydomain = world.invalid
myorigin = \$myhostname
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
smtpd_peername_lookup = no
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
virtual_mailbox_domains = static:all
virtual_mailbox_base = /proc/self/cwd/sink
virtual_mailbox_maps = regexp:{ $maps{/./ other/} }
virtual_mailbox_limit = 0
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
EOF
    {
        echo "# Generated by world.sh: one smtpd per mail host of the test world."
        for line in "${MAIL_HOSTS[@]}"; do
            read -r key n host leaf chain tls _ <<<"$line"
            printf '%s:25 inet n - n - - smtpd\n' "$SMTP_NET.$n"
            printf '  -o myhostname=%s\n  -o syslog_name=postfix/%s\n' \
                "${host%.}" "${host%.}"
            printf '  -o smtpd_tls_chain_files=%s\n' \
                "$(mail_host_chain "$leaf" "$host" "$chain")"
            if [[ $tls == yes ]]; then
                printf '  -o smtpd_tls_security_level=may\n'
            else
                printf '  -o smtpd_tls_security_level=none\n'
            fi
        done
        grep -v '^#' "$HERE/postfix-services.cf"
    } >"$conf/master.cf"
}

# start_postfix: `postfix start` (about 1 s: it checks the installation
# first); its output goes to DIR/postfix/start.log.
start_postfix() {
    postfix -c "$(pf_conf)" start >"$(pf_conf)/start.log" 2>&1 || {
        cat "$(pf_conf)/start.log" >&2
        return 1
    }
}

# stop_postfix: TERM the master of DIR's Postfix (from its pidfile, and any
# Postfix master whose environment has MAIL_CONFIG=DIR/postfix, which every
# process of the instance inherits), wait up to about 5 s for all of the
# instance's processes to exit, then KILL what is left.
stop_postfix() {
    local conf pidfile pid p var
    local -a pids=()
    conf=$(pf_conf)
    pidfile=$(pf_queue)/pid/master.pid
    [[ -d $conf ]] || return 0
    for p in /proc/[0-9]*; do
        # No fork per process: read the environment with the builtin.
        while IFS= read -r -d '' var; do
            if [[ $var == "MAIL_CONFIG=$conf" ]]; then
                pids+=("${p#/proc/}")
                break
            fi
        done 2>/dev/null <"$p/environ" || true
    done
    if [[ -f $pidfile ]]; then
        pid=$(tr -dc 0-9 <"$pidfile")
        if is_pid_of "$pid" master; then pids+=("$pid"); fi
    fi
    stop_postfix_pids "${pids[@]}"
}

# sts_policy MODE MX...: the text of an MTA-STS policy.
sts_policy() {
    local mode=$1 mx
    shift
    printf 'version: STSv1\nmode: %s\n' "$mode"
    for mx in "$@"; do printf 'mx: %s\n' "$mx"; done
    printf 'max_age: %s\n' "$STS_MAX_AGE"
}

# write_nginx_conf: DIR/nginx/nginx.conf, one HTTPS server per STS_HOSTS
# line. The policy text is in the configuration (`return 200`), so the
# workers (user nobody) never read a file under DIR (see Postfix above);
# DIR/nginx/mta-sts/DOMAIN.txt is a copy of what is served.
write_nginx_conf() {
    local ndir cadir line key n domain mode body name mx_list
    local -a mx
    ndir=$W/nginx
    cadir=$(ca_dir)
    mkdir -p "$ndir/tmp" "$ndir/mta-sts"
    {
        cat <<EOF
# Generated by world.sh: the MTA-STS policy servers of the test world.
daemon on;
user nobody nogroup;
worker_processes 1;
pid $ndir/nginx.pid;
error_log $ndir/error.log;
events { worker_connections 64; }
http {
    access_log $ndir/access.log;
    client_body_temp_path $ndir/tmp/body;
    proxy_temp_path $ndir/tmp/proxy;
    fastcgi_temp_path $ndir/tmp/fastcgi;
    uwsgi_temp_path $ndir/tmp/uwsgi;
    scgi_temp_path $ndir/tmp/scgi;
    server_tokens off;
EOF
        for line in "${STS_HOSTS[@]}"; do
            read -r key n domain mode mx_list <<<"$line"
            read -r -a mx <<<"$mx_list"
            name=mta-sts.${domain%.}
            sts_policy "$mode" "${mx[@]}" >"$ndir/mta-sts/${domain%.}.txt"
            # nginx turns \n in a quoted string into a line feed.
            body=$(sed 's/$/\\n/' "$ndir/mta-sts/${domain%.}.txt" | tr -d '\n')
            cat <<EOF
    server {
        listen $HTTPS_NET.$n:443 ssl;
        server_name $name;
        ssl_certificate $cadir/$name.chain.pem;
        ssl_certificate_key $cadir/$name.key;
        location = /.well-known/mta-sts.txt {
            default_type text/plain;
            return 200 "$body";
        }
        location / { return 404; }
    }
EOF
        done
        echo "}"
    } >"$ndir/nginx.conf"
}

# start_nginx: nginx (daemon) with DIR's configuration; the listening
# sockets are bound when it returns.
start_nginx() {
    local ndir=$W/nginx
    nginx -t -q -p "$ndir/" -c "$ndir/nginx.conf" -e "$ndir/error.log" \
        || die "bad nginx config $ndir/nginx.conf"
    nginx -p "$ndir/" -c "$ndir/nginx.conf" -e "$ndir/error.log" \
        || die "nginx failed to start; see $ndir/error.log"
}

stop_nginx() {
    stop_processes nginx "$W/nginx/nginx.conf" "$W/nginx/nginx.pid"
}

# listening ADDR:PORT...: true if every ADDR:PORT has a listening TCP socket
# (one `ss` run, no connection: the servers log nothing).
listening() {
    local socks a
    socks=" $(ss -Hltn | awk '{ print $4 }' | tr '\n' ' ')"
    for a in "$@"; do
        [[ $socks == *" $a "* ]] || return 1
    done
}

# mail_addresses: ADDR:PORT of every SMTP and HTTPS host, one a line.
mail_addresses() {
    local line key n
    for line in "${MAIL_HOSTS[@]}"; do
        read -r key n _ <<<"$line"
        echo "$SMTP_NET.$n:25"
    done
    for line in "${STS_HOSTS[@]}"; do
        read -r key n _ <<<"$line"
        echo "$HTTPS_NET.$n:443"
    done
}

# wait_mail_listeners: wait (about 5 s) until every SMTP and HTTPS address
# listens.
wait_mail_listeners() {
    local i a
    local -a addrs
    mapfile -t addrs < <(mail_addresses)
    for ((i = 0; i < 50; i++)); do
        listening "${addrs[@]}" && return 0
        sleep 0.1
    done
    for a in "${addrs[@]}"; do
        listening "$a" || die "nothing listens on $a; see $(pf_conf)/maillog, $W/nginx/error.log"
    done
}

# ------------------------------------------------------------ mail check --

# report LABEL WHY [DETAIL]: one ok/FAIL line of `check` (WHY empty: ok);
# counts failures in FAILS.
report() {
    if [[ -z $2 ]]; then
        printf 'ok   %-66s %s\n' "$1" "${3:-}"
    else
        printf 'FAIL %-66s%s\n' "$1" "$2"
        FAILS=$((FAILS + 1))
    fi
}

# tlsa_digest SELECTOR MTYPE PEM: the association data (lower-case hex)
# that a TLSA record with SELECTOR and MTYPE has for the certificate PEM,
# computed with openssl (independently of `up`, which uses certtool).
# Results are cached in TLSA_CACHE.
declare -A TLSA_CACHE=()
tlsa_digest() {
    local key="$1 $2 $3" out
    if [[ -z ${TLSA_CACHE[$key]:-} ]]; then
        out=$(
            if [[ $1 == 0 ]]; then
                openssl x509 -in "$3" -outform DER
            else
                openssl x509 -in "$3" -noout -pubkey | openssl pkey -pubin -outform DER
            fi | case $2 in
                0) od -An -v -tx1 | tr -d ' \n' ;;
                1) sha256sum ;;
                2) sha512sum ;;
                *) cat >/dev/null ;;
            esac
        )
        out=${out%% *}
        TLSA_CACHE[$key]=${out:-none}
    fi
    echo "${TLSA_CACHE[$key]}"
}

# tlsa_records NAME: the TLSA records at NAME as "U S M hex" lines, fetched
# through the check Unbound with checking disabled (+cd), so that the
# records of a bogus RRset are seen too.
tlsa_records() {
    dig -r +cd +time=5 +tries=1 +noall +answer "@$CHECK_ADDR" "$1" TLSA 2>/dev/null |
        awk '$4 == "TLSA" {
            d = ""; for (i = 8; i <= NF; i++) d = d $i
            print $5, $6, $7, tolower(d)
        }'
}

# tlsa_summary PEM... <RECORDS: how the records (tlsa_records lines) match
# the chain PEM... (leaf first): one token per record, sorted and joined
# with ",": U S M digits and "+" (matches) or "-" (matches nothing); "-" if
# there is no record. Usages 1 and 3 are compared with the leaf, 0 and 2
# with the other certificates of the chain.
tlsa_summary() {
    local u s m data tok c
    local -a certs toks=()
    while read -r u s m data; do
        tok="$u$s$m-"
        case $u in
            1|3) certs=("$1") ;;
            0|2) certs=("${@:2}") ;;
            *) certs=() ;;
        esac
        for c in "${certs[@]}"; do
            if [[ $(tlsa_digest "$s" "$m" "$c") == "$data" ]]; then
                tok="$u$s$m+"
                break
            fi
        done
        toks+=("$tok")
    done
    if ((${#toks[@]} == 0)); then echo -; return; fi
    printf '%s\n' "${toks[@]}" | sort | paste -sd, -
}

# smtp_reply FD: read one SMTP reply from FD (5 s timeout) and print its
# lines; false on timeout, EOF or garbage.
smtp_reply() {
    local line
    while IFS= read -r -t 5 line <&"$1"; do
        line=${line%$'\r'}
        printf '%s\n' "$line"
        case $line in
            [0-9][0-9][0-9]" "*|[0-9][0-9][0-9]) return 0 ;;
            [0-9][0-9][0-9]-*) ;;
            *) return 1 ;;
        esac
    done
    return 1
}

# smtp_talk ADDR CMD...: an SMTP session with ADDR:25 that prints every
# reply line: the greeting, then the reply to each CMD. A CMD starting with
# "|" is a message line sent without waiting for a reply (after DATA).
smtp_talk() {
    local addr=$1 fd cmd
    shift
    exec {fd}<>"/dev/tcp/$addr/25" || return 1
    if smtp_reply "$fd"; then
        for cmd in "$@"; do
            if [[ $cmd == "|"* ]]; then
                printf '%s\r\n' "${cmd#|}" >&"$fd"
                continue
            fi
            printf '%s\r\n' "$cmd" >&"$fd"
            smtp_reply "$fd" || break
        done
    fi
    exec {fd}>&-
}

# check_smtp_host KEY N HOST LEAF CHAIN STARTTLS TLSA MATCH (a MAIL_HOSTS
# line): greeting and EHLO (STARTTLS offered or not), the chain served after
# STARTTLS (length, PKIX result against the world's CA for HOST), and the
# published TLSA records compared with the served chain.
check_smtp_host() {
    local key=$1 n=$2 host=${3%.} leaf=$4 chain=$5 tls=$6 match=$8
    local addr=$SMTP_NET.$n out why="" dir errs want_errs want_len got f
    local -a pems
    dir=$W/check-mail/$host
    rm -rf "$dir"
    mkdir -p "$dir"
    out=$(smtp_talk "$addr" "EHLO check.world.invalid" QUIT 2>&1) || true
    printf '%s\n' "$out" >"$dir/ehlo.txt"
    [[ $out == "220 $host "* ]] || why+=" greeting($(head -n1 <<<"$out"))"
    if [[ $tls == yes ]]; then
        grep -qx '250[- ]STARTTLS' <<<"$out" || why+=" no-STARTTLS"
    else
        ! grep -qx '250[- ]STARTTLS' <<<"$out" || why+=" STARTTLS-offered"
        report "smtp $host ($addr) no STARTTLS" "$why" "EHLO without STARTTLS"
        return
    fi
    timeout 10 openssl s_client -connect "$addr:25" -starttls smtp \
        -name check.world.invalid -servername "$host" -showcerts \
        -CAfile "$(ca_dir)/root.pem" -verify_hostname "$host" \
        </dev/null >"$dir/s_client.txt" 2>&1 || true
    # The served chain, one PEM file per certificate (0: the leaf).
    awk -v dir="$dir" '
        /-----BEGIN CERTIFICATE-----/ { f = sprintf("%s/served.%d.pem", dir, n++) }
        f { print > f }
        /-----END CERTIFICATE-----/ { close(f); f = "" }
    ' "$dir/s_client.txt"
    pems=()
    for f in "$dir"/served.{0..9}.pem; do
        if [[ -f $f ]]; then pems+=("$f"); fi
    done
    case $chain in int) want_len=2 ;; full) want_len=3 ;; esac
    [[ ${#pems[@]} == "$want_len" ]] || why+=" chain-length=${#pems[@]}(want $want_len)"
    # PKIX verification errors (openssl verify codes) for HOST.
    errs=$(sed -n 's/^verify error:num=\([0-9]*\):.*/\1/p' "$dir/s_client.txt" |
        sort -n -u | paste -sd, -)
    case $leaf in
        wrong-name) want_errs=62 ;;     # hostname mismatch
        expired) want_errs=10,62 ;;     # expired + hostname mismatch
        *) want_errs= ;;
    esac
    [[ $errs == "$want_errs" ]] || why+=" verify-errors=${errs:-none}(want ${want_errs:-none})"
    got=-
    if ((${#pems[@]} > 0)); then
        got=$(tlsa_records "_25._tcp.$host." | tlsa_summary "${pems[@]}")
        [[ $got == "$match" ]] || why+=" tlsa-vs-served=$got(want $match)"
    fi
    report "smtp $host ($addr) STARTTLS" "$why" \
        "chain $want_len, pkix ${errs:-ok}, tlsa $got"
}

# check_cname_cases: the CNAME'd MX hosts of issue 6: MX, the first link of
# each chain, the addresses through the chain (AD only if it stays signed)
# and the TLSA RRset at each alias, compared with the target's files.
check_cname_cases() {
    local line alias key link ad rcode match got why n host leaf chain
    for line in \
        "cname-unsigned.example      CNAME_UNSIGNED       host.cname-insecure-target.example.  noad NOERROR  311+" \
        "cname-alias.example         CNAME_ALIAS          alias.cname-secure-target.example.   ad   NOERROR  311+" \
        "cname-both.example          CNAME_BOTH           both.cname-secure-target.example.    ad   NOERROR  311-" \
        "cname-chain.example         CNAME_CHAIN          hop.cname-secure-target.example.     ad   NXDOMAIN -" \
        "cname-chain-unsigned.example CNAME_CHAIN_UNSIGNED hop.cname-insecure-target.example.  noad NOERROR  311+"
    do
        read -r alias key link ad rcode match <<<"$line"
        check_case "$alias." MX NOERROR ad "10 mx.$alias."
        check_case "mx.$alias." CNAME NOERROR ad "$link"
        n=$(mail_host_field "$key" 2)
        check_case "mx.$alias." A NOERROR "$ad" "$SMTP_NET.$n"
        if [[ $rcode == NXDOMAIN ]]; then
            check_case "_25._tcp.mx.$alias." TLSA NXDOMAIN ad nodata
        else
            check_case "_25._tcp.mx.$alias." TLSA NOERROR ad -
        fi
        host=$(mail_host_field "$key" 3)
        leaf=$(mail_host_field "$key" 4)
        chain=$(mail_host_field "$key" 5)
        mail_host_files "$leaf" "$host" "$chain"
        got=$(tlsa_records "_25._tcp.mx.$alias" | tlsa_summary "${FILES[@]:1}")
        why=
        [[ $got == "$match" ]] || why=" got $got, want $match"
        report "tlsa _25._tcp.mx.$alias vs the files of $host" "$why" "$got"
    done
    check_case hop.cname-secure-target.example. CNAME NOERROR ad \
        chain.cname-secure-target.example.
    check_case hop.cname-insecure-target.example. CNAME NOERROR noad \
        leave.cname-secure-target.example.
}

# mail_host_field KEY I: field I (1-based) of KEY's MAIL_HOSTS line.
mail_host_field() {
    local line
    local -a f
    for line in "${MAIL_HOSTS[@]}"; do
        read -r -a f <<<"$line"
        if [[ ${f[0]} == "$1" ]]; then
            echo "${f[$2 - 1]}"
            return 0
        fi
    done
    die "no mail host $1"
}

# check_mail: the mail part of `check` (Unbound must be running).
check_mail() {
    local line key n host leaf chain tls tlsa match ad why got
    local domain mode mx_list token file i sink url hdr body

    # Mail domains: MX, CNAME, posture and MTA-STS records.
    check_case dane-ee.example. MX NOERROR ad "10 mx.dane-ee.example."
    check_case dane-ee.example. TXT NOERROR ad '"v=spf1 mx -all"'
    check_case _smtp._tls.dane-ee.example. TXT NOERROR ad \
        '"v=TLSRPTv1; rua=mailto:tlsrpt@dane-ee.example"'
    check_case _dmarc.dane-ee.example. TXT NOERROR ad \
        '"v=DMARC1; p=reject; rua=mailto:dmarc@dane-ee.example"'
    check_case sts-enforce.example._report._dmarc.dane-ee.example. TXT NOERROR ad '"v=DMARC1"'
    check_case dane-ta.example. MX NOERROR ad "10 mx.dane-ta.example."
    check_case dane-ta1.example. MX NOERROR ad "10 mx.dane-ta1.example."
    check_case tlsa-mismatch.example. MX NOERROR ad "10 mx.tlsa-mismatch.example."
    check_case tlsa-bogus.example. MX NOERROR ad "10 mx.tlsa-bogus.example."
    check_case tlsa-unsigned.example. MX NOERROR noad "10 mx.tlsa-unsigned.example."
    check_case no-tlsa.example. MX NOERROR ad "10 mx.no-tlsa.example."
    check_case _dmarc.no-tlsa.example. TXT NXDOMAIN ad nodata
    check_case no-starttls.example. MX NOERROR ad "10 mx.no-starttls.example."
    check_case _smtp._tls.no-starttls.example. TXT NOERROR ad \
        '"v=TLSRPTv1; rua=https://reports.dane-ee.example/tlsrpt/no-starttls"'
    check_case _smtp._tls.dane-ta.example. TXT NOERROR ad \
        '"v=TLSRPTv1; rua=https://reports.dane-ee.example/tlsrpt/dane-ta,mailto:tlsrpt@dane-ta.example"'
    check_case reports.dane-ee.example. A NOERROR ad "$HTTPS_NET.$TLSRPT_COLLECTOR_N"
    check_case _submission._tcp.office.example. SRV NOERROR ad "0 1 587 smtp.office.example."
    check_case smtp.office.example. A NOERROR ad "$SMTP_NET.$SUBMISSION_N"
    check_case login.office.example. A NOERROR ad "$HTTPS_NET.$OAUTH2_N"
    check_case pkix-only.example. MX NOERROR ad "10 mx.pkix-only.example."
    check_case cname-mx.example. MX NOERROR ad "10 mx.cname-mx.example."
    check_case mx.cname-mx.example. A NOERROR ad "$SMTP_NET.10"
    check_case mx.cname-mx.example. CNAME NOERROR ad host.cname-target.example.
    check_case _25._tcp.mx.cname-mx.example. TLSA NXDOMAIN ad nodata
    check_cname_cases
    check_case tlsa-expired.example. MX NOERROR ad "10 mx.tlsa-expired.example."
    check_case bad-length.example. MX NOERROR ad "10 mx.bad-length.example."
    check_case two-mx.example. MX NOERROR ad "10 mx1.two-mx.example."
    check_case two-mx.example. MX NOERROR ad "20 mx2.two-mx.example."
    check_case nsec3-mail.internal. MX NOERROR ad "10 mx.nsec3-mail.internal."
    check_case ta-name-mismatch.example. MX NOERROR ad "10 mx.ta-name-mismatch.example."
    check_case ee-mismatch-expired.example. MX NOERROR ad "10 mx.ee-mismatch-expired.example."
    check_case insecure-mx.example. MX NOERROR noad "10 mx.dane-ee.example."
    check_case null-mx.example. MX NOERROR ad "0 ."
    check_case implicit-mx.example. MX NOERROR ad nodata
    for line in "${STS_HOSTS[@]}"; do
        read -r key n domain _ <<<"$line"
        check_case "$domain" MX NOERROR ad "10 mx.$domain"
        check_case "$domain" TXT NOERROR ad '"v=spf1 mx -all"'
        check_case "_smtp._tls.$domain" TXT NOERROR ad \
            '"v=TLSRPTv1; rua=mailto:tlsrpt@dane-ee.example"'
        check_case "_dmarc.$domain" TXT NOERROR ad \
            '"v=DMARC1; p=reject; rua=mailto:dmarc@dane-ee.example"'
        check_case "_mta-sts.$domain" TXT NOERROR ad "\"v=STSv1; id=$STS_ID\""
        check_case "mta-sts.$domain" A NOERROR ad "$HTTPS_NET.$n"
    done

    # Mail hosts: address, TLSA DNSSEC state, and the published TLSA records
    # compared with the certificate files the host is configured with.
    for line in "${MAIL_HOSTS[@]}"; do
        read -r key n host leaf chain tls tlsa match <<<"$line"
        ad=ad
        [[ $tlsa == insecure ]] && ad=noad
        check_case "$host" A NOERROR "$ad" "$SMTP_NET.$n"
        case $tlsa in
            secure) check_case "_25._tcp.$host" TLSA NOERROR ad - ;;
            insecure) check_case "_25._tcp.$host" TLSA NOERROR noad - ;;
            bogus) check_case "_25._tcp.$host" TLSA SERVFAIL noad - ;;
            nxdomain) check_case "_25._tcp.$host" TLSA NXDOMAIN ad nodata ;;
            *) die "bad TLSA column $tlsa for $host" ;;
        esac
        mail_host_files "$leaf" "$host" "$chain"
        got=$(tlsa_records "_25._tcp.$host" | tlsa_summary "${FILES[@]:1}")
        why=
        [[ $got == "$match" ]] || why=" got $got, want $match"
        report "tlsa _25._tcp.$host vs its certificate files" "$why" "$got"
    done

    if [[ $(sed -n 's/^WORLD_MAIL=//p' "$W/world.env") != 1 ]]; then
        echo "skip mail servers: the world was brought up with WORLD_MAIL=0"
        return 0
    fi

    # The SMTP servers.
    for line in "${MAIL_HOSTS[@]}"; do
        # shellcheck disable=SC2086 # a table line: split into its fields
        check_smtp_host $line
    done

    # The MTA-STS policy servers: PKIX-valid (world CA) HTTPS, text/plain,
    # the policy of STS_HOSTS.
    for line in "${STS_HOSTS[@]}"; do
        read -r key n domain mode mx_list <<<"$line"
        domain=${domain%.}
        why=
        url=https://mta-sts.$domain/.well-known/mta-sts.txt
        hdr=$W/check-mail/mta-sts.$domain.headers
        body=$W/check-mail/mta-sts.$domain.txt
        mkdir -p "$W/check-mail"
        # shellcheck disable=SC2086 # split the MX list
        if ! curl -sS --noproxy '*' --max-time 5 --cacert "$(ca_dir)/root.pem" \
            --resolve "mta-sts.$domain:443:$HTTPS_NET.$n" -D "$hdr" -o "$body" \
            "$url" 2>"$hdr.err"; then
            why+=" curl: $(head -n1 "$hdr.err")"
        else
            head -n1 "$hdr" | grep -q ' 200' || why+=" status=$(head -n1 "$hdr" | tr -d '\r')"
            grep -qi '^content-type: text/plain' "$hdr" || why+=" not-text/plain"
            cmp -s "$body" <(sts_policy "$mode" $mx_list) || why+=" unexpected-policy"
        fi
        report "https $url" "$why" "mode $mode, mx $mx_list"
    done

    # A message through mx.dane-ee.example arrives in the sink.
    token="world-check-$$-$EPOCHSECONDS"
    sink=$(pf_queue)/sink/dane-ee.example/new
    got=$(smtp_talk "$SMTP_NET.1" "EHLO check.world.invalid" \
        "MAIL FROM:<check@world.invalid>" "RCPT TO:<world-check@dane-ee.example>" \
        DATA "|Subject: world.sh check" "|Message-ID: <$token@world.invalid>" "|" \
        "|$token" "|." QUIT 2>&1) || true
    why=
    file=
    if grep -q '^250 2.0.0 Ok: queued' <<<"$got"; then
        for ((i = 0; i < 50; i++)); do
            file=$(grep -l -F -- "$token" "$sink"/* 2>/dev/null | head -n1) || true
            [[ -z $file ]] || break
            sleep 0.1
        done
        if [[ -z $file ]]; then
            why=" not delivered to $sink (see $(pf_conf)/maillog)"
        elif ! grep -q 'by mx.dane-ee.example (Postfix)' "$file"; then
            why=" no Received: ... by mx.dane-ee.example in $file"
        fi
    else
        why=" not accepted: $(tail -n3 <<<"$got" | tr '\n' ' ')"
    fi
    report "delivery world-check@dane-ee.example via $SMTP_NET.1" "$why" \
        "${file:+sink/dane-ee.example/new/${file##*/}}"
}

# ------------------------------------------------------------ subcommands --

cmd_down() {
    local srv
    local -a args=()
    for srv in "${SERVERS[@]}"; do
        args+=("$W/nsd/$srv/nsd.conf" "$W/nsd/$srv/nsd.pid")
    done
    # The mail servers (whatever WORLD_MAIL says: an earlier `up` may have
    # started them) stop in the background, while NSD stops.
    local pf ng
    stop_postfix &
    pf=$!
    stop_nginx &
    ng=$!
    stop_processes nsd "${args[@]}"
    # A `check` that was interrupted hard may have left its Unbound.
    stop_processes unbound "$W/unbound/unbound.conf" "$W/unbound/unbound.pid"
    wait "$pf" || true
    wait "$ng" || true
}

# abort_up: the EXIT trap of a failing `up`: let a Postfix that is being
# started finish starting, then stop everything; no world.env is left.
abort_up() {
    if [[ -n ${POSTFIX_JOB:-} ]]; then wait "$POSTFIX_JOB" 2>/dev/null || true; fi
    cmd_down
    rm -f "$W/world.env"
}

cmd_up() {
    local zone srv root_ds started
    started=$(date +%s.%N)
    cmd_down
    # Start from scratch, but only remove what this script creates.
    rm -rf "$W/keys" "$W/zones" "$W/nsd" "$W/unbound" "$W/ca" "$W/postfix" \
        "$W/postfix-queue" "$W/nginx" "$W/check-mail"
    rm -f "$W/root.key" "$W/root.hints" "$W/root.delv" "$W/world.env" \
        "$W/unbound.conf.fragment" "$W/libunbound.conf" "$W/mail-cases.tsv" \
        "$W/mail-hosts.tsv" "$W/algorithms.tsv"
    for srv in "${SERVERS[@]}"; do
        if dig -r +norec +time=1 +tries=1 "@${SERVER_ADDR[$srv]}" . SOA >/dev/null 2>&1; then
            die "something already answers on ${SERVER_ADDR[$srv]}:53 (another world up? try: world.sh down THAT_DIR)"
        fi
    done
    local busy
    if [[ $MAIL == 1 ]]; then
        busy=$(ss -Hltn | awk '{ print $4 }' | grep -xF -f <(mail_addresses) | head -n1) || true
        if [[ -n $busy ]]; then
            die "something already listens on $busy (another world up? try: world.sh down THAT_DIR)"
        fi
    fi
    # Whatever fails below: stop what was started, leave no world.env behind.
    POSTFIX_JOB=
    trap abort_up EXIT
    mkdir -p "$W/keys" "$W/zones" "$W/nsd"

    NOW=$(date +%s)
    SERIAL=$NOW

    # Certificates first: the zones publish their digests. Postfix starts
    # in the background while the zones are signed.
    make_certificates
    write_mail_tables
    write_alg_table
    if [[ $MAIL == 1 ]]; then
        write_postfix_conf
        start_postfix &
        POSTFIX_JOB=$!
        write_nginx_conf
        start_nginx
    fi

    while read -r zone; do render_zone "$zone"; done < <(zones_bottom_up)
    build_zones

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
        printf 'WORLD_ALGORITHMS=%q\n' "$W/algorithms.tsv"
        printf 'WORLD_ZONES=%q\n' "$(zones_bottom_up | tac | tr '\n' ' ' | sed 's/ $//')"
        # The mail part (see README.md "Mail").
        printf 'WORLD_MAIL=%q\n' "$MAIL"
        printf 'WORLD_SMTP_NET=%q\n' "$SMTP_NET"
        printf 'WORLD_HTTPS_NET=%q\n' "$HTTPS_NET"
        printf 'WORLD_CA_FILE=%q\n' "$(ca_dir)/root.pem"
        printf 'WORLD_CA_INTERMEDIATE=%q\n' "$(ca_dir)/int.pem"
        printf 'WORLD_CA_DIR=%q\n' "$(ca_dir)"
        printf 'WORLD_MAIL_CASES=%q\n' "$W/mail-cases.tsv"
        printf 'WORLD_MAIL_HOSTS=%q\n' "$W/mail-hosts.tsv"
        printf 'WORLD_POSTFIX_CONFIG=%q\n' "$(pf_conf)"
        printf 'WORLD_POSTFIX_QUEUE=%q\n' "$(pf_queue)"
        printf 'WORLD_POSTFIX_LOG=%q\n' "$(pf_conf)/maillog"
        printf 'WORLD_MAIL_SINK=%q\n' "$(pf_queue)/sink"
        printf 'WORLD_NGINX_CONF=%q\n' "$W/nginx/nginx.conf"
        printf 'WORLD_NGINX_PID=%q\n' "$W/nginx/nginx.pid"
        printf 'WORLD_TLSRPT_COLLECTOR=%q\n' "$HTTPS_NET.$TLSRPT_COLLECTOR_N"
        printf 'WORLD_TLSRPT_COLLECTOR_CHAIN=%q\n' "$(ca_dir)/reports.dane-ee.example.chain.pem"
        printf 'WORLD_TLSRPT_COLLECTOR_KEY=%q\n' "$(ca_dir)/reports.dane-ee.example.key"
        printf 'WORLD_SUBMISSION=%q\n' "$SMTP_NET.$SUBMISSION_N"
        printf 'WORLD_SUBMISSION_CHAIN=%q\n' "$(ca_dir)/smtp.office.example.chain.pem"
        printf 'WORLD_SUBMISSION_KEY=%q\n' "$(ca_dir)/smtp.office.example.key"
        printf 'WORLD_OAUTH2_ENDPOINT=%q\n' "$HTTPS_NET.$OAUTH2_N"
        printf 'WORLD_OAUTH2_CHAIN=%q\n' "$(ca_dir)/login.office.example.chain.pem"
        printf 'WORLD_OAUTH2_KEY=%q\n' "$(ca_dir)/login.office.example.key"
        local line key n
        for line in "${MAIL_HOSTS[@]}"; do
            read -r key n _ <<<"$line"
            printf 'WORLD_SMTP_%s=%q\n' "$key" "$SMTP_NET.$n"
        done
        for line in "${STS_HOSTS[@]}"; do
            read -r key n _ <<<"$line"
            printf 'WORLD_HTTPS_%s=%q\n' "$key" "$HTTPS_NET.$n"
        done
    } >"$W/world.env"

    for srv in "${SERVERS[@]}"; do write_nsd_conf "$srv"; done
    for srv in "${SERVERS[@]}"; do launch_nsd "$srv"; done
    for srv in "${SERVERS[@]}"; do wait_nsd "$srv"; done
    if [[ $MAIL == 1 ]]; then
        wait "$POSTFIX_JOB" || die "Postfix failed to start; see $(pf_conf)/start.log and $(pf_conf)/maillog"
        POSTFIX_JOB=
        wait_mail_listeners
    fi
    trap - EXIT

    local what="root $ROOT_ADDR, tld $TLD_ADDR, leaf $LEAF_ADDR"
    if [[ $MAIL == 1 ]]; then
        what+=", ${#MAIL_HOSTS[@]} mail hosts $SMTP_NET.x:25, ${#STS_HOSTS[@]} MTA-STS hosts $HTTPS_NET.x:443"
    fi
    log "world up in $W ($(awk -v s="$started" -v e="$(date +%s.%N)" \
        'BEGIN { printf "%.1f", e - s }') s): $what"
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
    # The algorithm zones: the Unbound daemon (OpenSSL) validates them all.
    for line in "${ALG_ZONES[@]}"; do
        read -r z _ <<<"$line"
        check_case "www.$z" A NOERROR ad "$ALG_WWW"
    done
    # The mail part.
    check_mail

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
