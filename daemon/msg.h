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

#include "dns.h"

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
	uint8_t *wire;		/* header..last record, no OPT; it and
				 * ttl_offs live in the struct's own block
				 * (msg_answer_new()): one allocation per
				 * cached answer */
	uint16_t len;
	uint16_t qname_off;	/* where the question name starts (12) */
	uint16_t n_ttls;
	uint16_t *ttl_offs;	/* offset of every record's TTL field */
	uint32_t min_ttl;	/* smallest TTL of every record in the
				 * packet, hidden ones too, OPT not: how
				 * long it may be cached (0: not at all) */
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

/* An answer of len wire bytes and n_ttls TTL offsets, zeroed, in one
 * block; NULL if out of memory or too large. Freed by msg_answer_free(). */
struct msg_answer *msg_answer_new(size_t len, size_t n_ttls);
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

#endif
