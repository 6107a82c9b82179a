# Appended to hot.example.zone by world.sh's render_zone: n hosts (awk -v
# n=...), each with the record types of the benchmark's hot mix. The
# addresses are documentation ones: nothing ever connects to them.
BEGIN {
    for (i = 0; i < n; i++) {
        printf "h%d\tIN A\t192.0.2.%d\n", i, i % 250 + 1
        printf "\tIN AAAA\t2001:db8::%x\n", i + 1
        printf "\tIN MX\t10 h%d.hot.example.\n", i
        printf "\tIN TXT\t\"v=spf1 ip4:192.0.2.%d -all\"\n", i % 250 + 1
        # a SHA-256-sized digest, distinct per host
        printf "_25._tcp.h%d\tIN TLSA\t3 1 1 %064x\n", i, i + 1
    }
}
