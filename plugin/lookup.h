/*
 * lookup.h - the result of one validated DNS lookup in libdanegate
 * (struct lookup_answer), and how libunbound's answer packet becomes one;
 * internal to the library.
 *
 * Its own module so that the decision (dest.c) and the lookups
 * (resolver.c) both depend on it, and not on each other.
 *
 * SECURITY: the packet comes from libunbound, which got its data from any
 * authoritative server: lookup_answer_from_packet() reads it with the
 * bounded cursor of wire.h; names are decompressed with backward-only
 * pointers and a hop limit (RFC 9267), CNAME chains are followed at most
 * LOOKUP_CNAME_HOPS_MAX times. It is fuzzed (tests/fuzz/fuzz_lookup.c).
 * The records it keeps are validated by libunbound but otherwise
 * untrusted: dest.c and txt.c read them through bounded cursors.
 */
#ifndef DANEGATE_LOOKUP_H
#define DANEGATE_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "danegate.h"
#include "dns.h"

#define LOOKUP_CNAME_HOPS_MAX	16	/* libunbound stops at 8 or so */

/* One record's rdata, names inside it uncompressed (MX: preference and
 * exchange in wire format). */
struct lookup_rr {
	uint8_t *data;
	uint16_t len;
};

/*
 * The result of one lookup. Owned by whoever holds it; lookup_answer_clear()
 * frees rrs. Tests may build one over static storage and never clear it.
 */
struct lookup_answer {
	char name[DANEGATE_NAME_MAX];	/* as asked */
	uint16_t type;
	enum danegate_dnssec state;
	int rcode;			/* DNS rcode; -1: no answer at all */
	bool nxdomain;			/* rcode NXDOMAIN */
	bool nodata;			/* NOERROR without records */
	char canonname[DANEGATE_NAME_MAX]; /* CNAME target ("" if none) */
	char why[256];			/* why bogus/indeterminate ("" if
					 * neither) */
	struct lookup_rr *rrs;		/* of the queried type, owner =
					 * the end of the CNAME chain */
	size_t n_rrs;
	uint32_t ttl;			/* seconds the answer may be reused:
					 * the smallest TTL of the CNAME
					 * chain and the records; for NXDOMAIN
					 * or NODATA the SOA's (RFC 2308 §5:
					 * min of its TTL and MINIMUM, 0
					 * without SOA); 0 for bogus and
					 * indeterminate answers */
};

void lookup_answer_clear(struct lookup_answer *a);

/*
 * Turns libunbound's answer into *out (which the caller clears): err is
 * the resolve callback's err (0: none; see lib/ubctx.h), sec 0 insecure /
 * 1 bogus / 2 secure, why_bogus may be NULL. Never fails: what cannot be
 * read becomes an indeterminate answer that says why.
 */
void lookup_answer_from_packet(struct lookup_answer *out, const char *name,
    uint16_t type, int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus);

#endif
