/*
 * msg.h - DNS messages on the wire: the client's query, and the answer
 * danegated sends back.
 *
 * Queries are parsed with the bounded cursor of wire.h. Answers start from
 * the packet libunbound hands to the resolve callback (ID 0, RRSIGs always
 * present, names compressed against that packet). msg_answer_build() turns
 * it into an answer template: every record re-encoded with our own
 * compression, DNSSEC records removed for DO=0 clients, the TTL positions
 * remembered. msg_answer_render() patches a template for one client (ID,
 * flags, the question's exact case, TTLs aged, EDNS) and truncates it with
 * TC=1 when it does not fit. The front cache stores templates, so a cache hit
 * is one copy and a few patches.
 *
 * SECURITY: everything here parses bytes from the network (queries) or from
 * libunbound (answers, which carry data from any authoritative server). All
 * parsing is bounded; a malformed input is an error, never a crash.
 */
#ifndef DG_MSG_H
#define DG_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255
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

/* RFC 8914 Extended DNS Error codes danegated uses. */
enum dns_ede {
	DNS_EDE_NONE = -1,
	DNS_EDE_OTHER = 0,
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

/* What the client asked, as parsed from its query. */
struct dns_query {
	uint16_t id;
	uint16_t flags;			/* header flags word as received */
	bool has_question;		/* qname/qtype/qclass are valid */
	uint8_t qname[DNS_MAX_NAME];	/* wire format, case as received */
	uint8_t qname_len;		/* bytes, including the root label */
	uint16_t qtype;
	uint16_t qclass;
	bool edns;			/* the query had an OPT record */
	uint8_t edns_version;
	bool edns_do;			/* DNSSEC OK */
	uint16_t udp_size;		/* client's payload size, >= 512 */
};

enum msg_query_status {
	MSG_QUERY_OK,
	MSG_QUERY_DROP,		/* not even a header, or a response: silence */
	MSG_QUERY_FORMERR,
	MSG_QUERY_NOTIMP,	/* opcode other than QUERY */
	MSG_QUERY_REFUSED,	/* zone transfers, classes other than IN */
	MSG_QUERY_BADVERS,	/* EDNS version > 0 */
};

/*
 * Parses a query packet into q. For every status but MSG_QUERY_DROP, q has
 * at least the ID and flags, and the question when it could be read, so an
 * error answer can echo them.
 */
enum msg_query_status msg_parse_query(const uint8_t *pkt, size_t len,
    struct dns_query *q);

/*
 * Writes an answer with rcode and no records, echoing the question when q
 * has one; with an OPT record when the query had EDNS, carrying ede (if not
 * DNS_EDE_NONE) and ede_text (may be NULL) as an RFC 8914 option.
 * edns_size is the payload size danegated advertises. Returns the length,
 * or 0 if out is too small.
 */
size_t msg_error_render(const struct dns_query *q, int rcode, int ede,
    const char *ede_text, uint16_t edns_size, uint8_t *out, size_t cap);

/* An answer ready for the cache: see msg_answer_build(). */
struct msg_answer {
	uint8_t *wire;		/* header..last record, no OPT; caller frees
				 * the whole struct with msg_answer_free() */
	uint16_t len;
	uint16_t qname_off;	/* where the question name starts (12) */
	uint16_t n_ttls;
	uint16_t *ttl_offs;	/* offset of every record's TTL field */
	uint32_t min_ttl;	/* smallest TTL: how long it may be cached */
	uint8_t rcode;
	bool secure;		/* libunbound said secure: AD for DO/AD
				 * clients */
};

/*
 * Builds an answer template from libunbound's answer packet for query q:
 * records re-encoded with compression, DNSSEC records removed for a DO=0
 * query (unless asked for by type), OPT removed. With minimal (the
 * minimal-responses: option), the authority and additional sections are
 * left out where Unbound leaves them out. ANY and RRSIG queries get one
 * RRset (RFC 8482). Returns NULL if the packet is malformed or does not
 * answer q's question. Caller frees with msg_answer_free().
 */
struct msg_answer *msg_answer_build(const struct dns_query *q,
    const uint8_t *pkt, size_t len, bool secure, bool minimal);
void msg_answer_free(struct msg_answer *a);

/*
 * Renders template a for query q into out: ID and the question's case from
 * q, flags (QR RA, RD and CD copied, AD if secure and the query had DO or
 * AD), TTLs less age seconds, an OPT record if q had EDNS. If the result is
 * larger than limit bytes, writes a truncated answer (TC=1, no records)
 * instead. Returns the length, or 0 if out is too small.
 */
size_t msg_answer_render(const struct msg_answer *a,
    const struct dns_query *q, uint32_t age, size_t limit,
    uint16_t edns_size, uint8_t *out, size_t cap);

/* The UDP size limit for answers to q: 512 without EDNS, else the client's
 * size capped at ours. */
size_t msg_udp_limit(const struct dns_query *q, uint16_t edns_size);

/*
 * Writes the presentation form of a wire-format name ("www.example.") into
 * out, escaping as RFC 1035 §5.1 says. Returns 0, or -1 if it does not fit
 * or the name is malformed.
 */
int msg_name_to_text(const uint8_t *name, size_t name_len, char *out,
    size_t cap);

/* Maps libunbound's why_bogus text onto an RFC 8914 code. */
int msg_ede_from_why_bogus(const char *why_bogus);

#endif
