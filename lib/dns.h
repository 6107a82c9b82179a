/*
 * dns.h - the DNS protocol's numbers (RFC 1035 and its successors), for
 * every program: header layout and flags, rcodes, types, the class,
 * RFC 8914 Extended DNS Error codes, and their names.
 *
 * The one place these live: daemon/, plugin/ and tools/ include this
 * header rather than defining their own.
 */
#ifndef DG_DNS_H
#define DG_DNS_H

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255		/* wire format, root label included */
#define DNS_MAX_LABEL 63
/* a name in presentation form: every byte as \DDD, plus the dots and the
 * terminating NUL fit in this */
#define DNS_NAME_TEXT_MAX (4 * DNS_MAX_NAME + 2)
#define DNS_MAX_TCP 65535
#define DNS_MIN_UDP 512

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_BADVERS = 16,		/* extended: needs an OPT record */
};

enum dns_type {
	DNS_TYPE_A = 1, DNS_TYPE_NS = 2, DNS_TYPE_MD = 3, DNS_TYPE_MF = 4,
	DNS_TYPE_CNAME = 5, DNS_TYPE_SOA = 6, DNS_TYPE_MB = 7, DNS_TYPE_MG = 8,
	DNS_TYPE_MR = 9, DNS_TYPE_PTR = 12, DNS_TYPE_MINFO = 14,
	DNS_TYPE_MX = 15, DNS_TYPE_TXT = 16, DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33, DNS_TYPE_DNAME = 39, DNS_TYPE_OPT = 41,
	DNS_TYPE_DS = 43, DNS_TYPE_RRSIG = 46, DNS_TYPE_NSEC = 47,
	DNS_TYPE_DNSKEY = 48, DNS_TYPE_NSEC3 = 50, DNS_TYPE_NSEC3PARAM = 51,
	DNS_TYPE_TLSA = 52, DNS_TYPE_TSIG = 250, DNS_TYPE_IXFR = 251,
	DNS_TYPE_AXFR = 252, DNS_TYPE_ANY = 255,
};

#define DNS_CLASS_IN 1

/* Header flag bits, in the 16-bit flags word. */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)

/* EDNS option code of RFC 8914 Extended DNS Errors. */
#define DNS_EDNS_OPT_EDE 15

/* RFC 8914 Extended DNS Error codes danegate uses. */
enum dns_ede {
	DNS_EDE_NONE = -1,
	DNS_EDE_OTHER = 0,
	DNS_EDE_STALE_ANSWER = 3,
	DNS_EDE_DNSSEC_BOGUS = 6,
	DNS_EDE_SIGNATURE_EXPIRED = 7,
	DNS_EDE_SIGNATURE_NOT_YET_VALID = 8,
	DNS_EDE_DNSKEY_MISSING = 9,
	DNS_EDE_RRSIGS_MISSING = 10,
	DNS_EDE_NSEC_MISSING = 12,
	DNS_EDE_PROHIBITED = 18,
	DNS_EDE_NO_REACHABLE_AUTHORITY = 22,
	DNS_EDE_NETWORK_ERROR = 23,
};

/* The rcode's mnemonic ("SERVFAIL"), or NULL for one without a name
 * here. */
const char *dns_rcode_name(int rcode);

/* RFC 8914's name for an EDE code ("No Reachable Authority"), or NULL. */
const char *dns_ede_name(int ede);

#endif
