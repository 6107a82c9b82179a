/*
 * lookup.c - see lookup.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "lookup.h"
#include "ubctx.h"
#include "wire.h"

void
lookup_answer_clear(struct lookup_answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n_rrs; i++)
		free(a->rrs[i].data);
	free(a->rrs);
	a->rrs = NULL;
	a->n_rrs = 0;
}

/* dname_read() with the length returned through out_len. */
static int
pkt_read_name(struct wire *w, uint8_t out[DNS_MAX_NAME], size_t *out_len)
{
	int n = dname_read(w, out);

	if (n < 0)
		return -1;
	*out_len = (size_t)n;
	return 0;
}

struct pkt_rr {
	uint8_t owner[DNS_MAX_NAME];
	size_t owner_len;
	uint16_t type, class;
	uint32_t ttl;			/* RFC 2181 §8: top bit set is 0 */
	size_t rdata_pos;		/* offset in the packet */
	uint16_t rdlen;
};

static int
pkt_read_rr(struct wire *w, struct pkt_rr *rr)
{
	if (pkt_read_name(w, rr->owner, &rr->owner_len) != 0)
		return -1;
	rr->type = wire_u16(w);
	rr->class = wire_u16(w);
	rr->ttl = wire_u32(w);
	if (rr->ttl > 0x7fffffffu)
		rr->ttl = 0;
	rr->rdlen = wire_u16(w);
	rr->rdata_pos = w->pos;
	wire_skip(w, rr->rdlen);
	return wire_ok(w) ? 0 : -1;
}

/* Copies one record's rdata, decompressing the MX exchange name. */
static int
pkt_copy_rdata(const uint8_t *pkt, const struct pkt_rr *rr,
    struct lookup_rr *out)
{
	uint8_t buf[2 + DNS_MAX_NAME];
	size_t n;

	if (rr->type == DNS_TYPE_MX) {
		struct wire w;
		size_t name_len;

		/* a cursor over exactly the rdata, but names may point back
		 * into the whole packet */
		wire_init(&w, pkt, rr->rdata_pos + rr->rdlen);
		wire_seek(&w, rr->rdata_pos);
		be16_store(buf, wire_u16(&w));
		if (!wire_ok(&w) || pkt_read_name(&w, buf + 2,
		    &name_len) != 0 || w.pos != rr->rdata_pos + rr->rdlen)
			return -1;
		n = 2 + name_len;
	} else {
		n = rr->rdlen;
	}
	if ((out->data = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	memcpy(out->data, rr->type == DNS_TYPE_MX ? buf : pkt + rr->rdata_pos,
	    n);
	out->len = (uint16_t)n;
	return 0;
}

static void
ttl_min(struct lookup_answer *a, uint32_t ttl)
{
	if (ttl < a->ttl)
		a->ttl = ttl;
}

/*
 * A denial's TTL (RFC 2308 §5): the SOA record of the authority section,
 * the smaller of its TTL and its MINIMUM field. w is just past the answer
 * section. No SOA: 0 (RFC 2308 §5: not cached).
 */
static int
pkt_negative_ttl(struct lookup_answer *a, const uint8_t *pkt,
    struct wire *w, uint16_t nscount)
{
	struct pkt_rr rr;

	for (unsigned i = 0; i < nscount; i++) {
		uint8_t name[DNS_MAX_NAME];
		size_t name_len;
		struct wire t;
		uint32_t minimum;

		if (pkt_read_rr(w, &rr) != 0)
			return -1;
		if (rr.type != DNS_TYPE_SOA || rr.class != 1)
			continue;
		wire_init(&t, pkt, rr.rdata_pos + rr.rdlen);
		wire_seek(&t, rr.rdata_pos);
		if (pkt_read_name(&t, name, &name_len) != 0 ||
		    pkt_read_name(&t, name, &name_len) != 0)
			return -1;
		wire_skip(&t, 16);	/* serial, refresh, retry, expire */
		minimum = wire_u32(&t);
		if (!wire_ok(&t))
			return -1;
		ttl_min(a, rr.ttl);
		ttl_min(a, minimum > 0x7fffffffu ? 0 : minimum);
		return 0;
	}
	a->ttl = 0;
	return 0;
}

/*
 * Fills a's records and canonname from the answer section: follows the
 * CNAME chain from the question name, then keeps the records of the
 * queried type owned by the end of the chain.
 */
static int
pkt_parse_answer(struct lookup_answer *a, const uint8_t *pkt, size_t len)
{
	uint8_t qname[DNS_MAX_NAME], cur[DNS_MAX_NAME];
	size_t qname_len, cur_len, ans_pos, n = 0, k = 0;
	uint16_t qdcount, ancount, nscount, qtype;
	struct pkt_rr rr;
	struct wire w;
	unsigned hops;

	wire_init(&w, pkt, len);
	wire_skip(&w, 4);		/* id, flags */
	qdcount = wire_u16(&w);
	ancount = wire_u16(&w);
	nscount = wire_u16(&w);
	wire_skip(&w, 2);		/* arcount */
	if (!wire_ok(&w) || qdcount != 1)
		return -1;
	if (pkt_read_name(&w, qname, &qname_len) != 0)
		return -1;
	qtype = wire_u16(&w);
	(void)wire_u16(&w);
	if (!wire_ok(&w) || qtype != a->type)
		return -1;
	ans_pos = w.pos;
	a->ttl = UINT32_MAX;
	memcpy(cur, qname, qname_len);
	cur_len = qname_len;

	for (hops = 0; hops <= LOOKUP_CNAME_HOPS_MAX; hops++) {
		bool found = false;

		wire_seek(&w, ans_pos);
		for (unsigned i = 0; i < ancount && !found; i++) {
			struct wire t;

			if (pkt_read_rr(&w, &rr) != 0)
				return -1;
			if (rr.type != DNS_TYPE_CNAME || rr.class != 1 ||
			    !dname_equal(rr.owner, rr.owner_len, cur, cur_len))
				continue;
			wire_init(&t, pkt, rr.rdata_pos + rr.rdlen);
			wire_seek(&t, rr.rdata_pos);
			if (pkt_read_name(&t, cur, &cur_len) != 0)
				return -1;
			ttl_min(a, rr.ttl);	/* the chain is data used */
			found = true;
		}
		if (!found)
			break;
	}
	if (hops > LOOKUP_CNAME_HOPS_MAX)
		return -1;
	if (!dname_equal(cur, cur_len, qname, qname_len) &&
	    dname_to_text(cur, cur_len, true, a->canonname,
	    sizeof(a->canonname)) != 0)
		return -1;

	/* count, then copy */
	for (int pass = 0; pass < 2; pass++) {
		wire_seek(&w, ans_pos);
		for (unsigned i = 0; i < ancount; i++) {
			if (pkt_read_rr(&w, &rr) != 0)
				return -1;
			if (rr.type != a->type || rr.class != 1 ||
			    !dname_equal(rr.owner, rr.owner_len, cur, cur_len))
				continue;
			ttl_min(a, rr.ttl);
			if (pass == 0)
				n++;
			else if (pkt_copy_rdata(pkt, &rr,
			    &a->rrs[k]) == 0)
				a->n_rrs = ++k;
			else
				return -1;
		}
		if (pass == 0) {
			if (n == 0)	/* w is past the answer section */
				return pkt_negative_ttl(a, pkt, &w, nscount);
			if ((a->rrs = calloc(n, sizeof(*a->rrs))) == NULL)
				return -1;
		}
	}
	return 0;
}

void
lookup_answer_from_packet(struct lookup_answer *a, const char *name,
    uint16_t type, int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->type = type;
	a->rcode = -1;
	a->state = DANEGATE_INDETERMINATE;
	/* What happened, in words that say more than "failed": the rcode
	 * (event contexts report a failed resolution as err = rcode), the
	 * RFC 8914 code and libunbound's reason (lib/ubctx.c). */
	if (err != 0 || pkt == NULL || len < DNS_HEADER_LEN) {
		if (err > 0)
			a->rcode = err;
		ubctx_describe(err, pkt, len, sec, why_bogus, a->why,
		    sizeof(a->why));
		return;
	}
	a->rcode = pkt[3] & 0x0f;
	if (sec == 1) {
		/* libunbound hands bogus data over as a NOERROR answer: it
		 * is never used. */
		a->state = DANEGATE_BOGUS;
		snprintf(a->why, sizeof(a->why), "%s", why_bogus != NULL ?
		    why_bogus : "DNSSEC validation failed");
		return;
	}
	if (a->rcode != DNS_RCODE_NOERROR && a->rcode != DNS_RCODE_NXDOMAIN) {
		ubctx_describe(err, pkt, len, sec, why_bogus, a->why,
		    sizeof(a->why));
		return;
	}
	if (pkt_parse_answer(a, pkt, len) != 0) {
		lookup_answer_clear(a);
		a->ttl = 0;
		a->canonname[0] = '\0';
		snprintf(a->why, sizeof(a->why), "malformed answer (%zu bytes)",
		    len);
		return;
	}
	a->state = sec == 2 ? DANEGATE_SECURE : DANEGATE_INSECURE;
	a->nxdomain = a->rcode == DNS_RCODE_NXDOMAIN;
	a->nodata = a->rcode == DNS_RCODE_NOERROR && a->n_rrs == 0;
}
