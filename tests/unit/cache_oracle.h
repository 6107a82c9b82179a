/*
 * cache_oracle.h - the front cache's rules as an executable check, shared
 * by the property tests (tests/unit/test_cache.c, random bytes) and the
 * fuzz target (tests/fuzz/fuzz_cache.c, the fuzzer's bytes).
 *
 * cache_oracle_run() reads its input as a run of operations: build an
 * answer packet as libunbound would hand it over (random records with
 * random TTLs in every section, OPT included), turn it into a template
 * with the real msg_answer_build() and insert it; step the clock (small
 * steps, jumps forwards, jumps backwards); look a key up and render what
 * comes back with the real msg_answer_render(). After each operation it
 * checks, against a model that knows every TTL the packet carried:
 *
 *   - an entry is served only while its age is below the smallest TTL of
 *     every record of its packet but OPT (hidden DO=0 records included;
 *     a TTL with the top bit set counts as 0), so never when it is 0;
 *   - every served TTL is at least 1, at most the stored one, and never
 *     above what the same entry served before (even after the clock went
 *     back);
 *   - while the clock only moves forwards, an entry younger than its TTL
 *     is found (the budget is large enough that nothing is evicted);
 *   - with serve-stale on (the first byte says, and how long past expiry),
 *     cache_lookup_stale() returns only an entry that was stored, has
 *     expired, and expired less than serve-expired-ttl ago; with it off,
 *     nothing.
 *
 * Returns NULL when every rule held, else what broke.
 */
#ifndef DG_TEST_CACHE_ORACLE_H
#define DG_TEST_CACHE_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cache.h"
#include "msg.h"
#include "wire.h"

#define ORACLE_KEYS 4		/* two names, DO=0 and DO=1 */
#define ORACLE_MAX_RRS 12
#define ORACLE_T0 1700000000

struct oracle_in {
	const uint8_t *p;
	size_t len, pos;
};

static uint8_t
oracle_byte(struct oracle_in *in)
{
	return in->pos < in->len ? in->p[in->pos++] : 0;
}

struct oracle_entry {
	bool present;		/* the model says it is stored */
	bool went_back;		/* the clock went back since: the cache
				 * may have dropped it */
	bool kept;		/* stored, not replaced: may be stale */
	time_t stored;
	uint32_t life;		/* smallest TTL of the packet */
	uint16_t n_ttls;
	/* the lowest TTL served so far, per record of the template */
	uint32_t served[3 * ORACLE_MAX_RRS];
};

struct oracle {
	struct cache *cache;
	time_t now;
	bool stale;		/* serve-stale on */
	uint32_t max_stale;	/* serve-expired-ttl */
	struct oracle_entry e[ORACLE_KEYS];
	uint8_t out[DNS_MAX_TCP];
};

static void
oracle_query(unsigned k, struct dns_query *q)
{
	memset(q, 0, sizeof(*q));
	q->qname[0] = 1;
	q->qname[1] = (uint8_t)('a' + (k >> 1));
	q->qname[2] = 0;
	q->qname_len = 3;
	q->qtype = DNS_TYPE_A;
	q->qclass = DNS_CLASS_IN;
	q->has_question = true;
	q->edns = true;
	q->edns_do = (k & 1) != 0;
	q->udp_size = 1232;
}

static uint32_t
oracle_ttl(struct oracle_in *in)
{
	uint8_t kind = oracle_byte(in);

	switch (kind & 3) {
	case 0:
		return 0;
	case 1:
		return 1 + kind % 5;
	case 2:
		return (uint32_t)oracle_byte(in) * 40;
	default:
		return (uint32_t)oracle_byte(in) << 24 |
		    (uint32_t)oracle_byte(in) << 16 |
		    (uint32_t)oracle_byte(in) << 8 | oracle_byte(in);
	}
}

/*
 * Writes a packet answering q with records described by the input; returns
 * its length and sets *life to the smallest TTL of its records but OPT
 * (0 when it has none).
 */
static size_t
oracle_packet(struct oracle_in *in, const struct dns_query *q, uint8_t *pkt,
    size_t cap, uint32_t *life)
{
	static const uint16_t types[] = { DNS_TYPE_A, DNS_TYPE_NSEC,
		DNS_TYPE_RRSIG, DNS_TYPE_SOA, DNS_TYPE_TXT, DNS_TYPE_OPT,
		DNS_TYPE_NS, DNS_TYPE_AAAA };
	uint16_t count[3] = { 0, 0, 0 };
	unsigned n = oracle_byte(in) % ORACLE_MAX_RRS, opt = 0;
	uint64_t min = UINT64_MAX;
	struct wbuf b;
	uint8_t flags = oracle_byte(in);

	wbuf_init(&b, pkt, cap);
	wbuf_u16(&b, 0);
	wbuf_u16(&b, (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA |
	    ((flags & 1) ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR)));
	wbuf_u16(&b, 1);
	wbuf_u16(&b, 0);
	wbuf_u16(&b, 0);
	wbuf_u16(&b, 0);
	wbuf_bytes(&b, q->qname, q->qname_len);
	wbuf_u16(&b, q->qtype);
	wbuf_u16(&b, q->qclass);
	/* sections in order, as a packet has them */
	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < n; i++) {
			uint8_t d = oracle_byte(in);
			uint16_t type = types[(d >> 2) % 8];
			uint32_t ttl;

			if (d % 3 != (unsigned)s)
				continue;
			/* one OPT, in the additional section, owner root */
			if (type == DNS_TYPE_OPT && (s != 2 || opt++ > 0))
				type = DNS_TYPE_A;
			ttl = oracle_ttl(in);
			if (type == DNS_TYPE_OPT) {
				wbuf_u8(&b, 0);
				wbuf_u16(&b, type);
				wbuf_u16(&b, 1232);
				wbuf_u32(&b, ttl & 0xffff);	/* DO, v0 */
				wbuf_u16(&b, 0);
				count[s]++;
				continue;
			}
			/* RFC 2181 §8: the top bit set means 0 */
			if ((ttl > 0x7fffffff ? 0 : ttl) < min)
				min = ttl > 0x7fffffff ? 0 : ttl;
			wbuf_u16(&b, 0xc000 | DNS_HEADER_LEN);	/* qname */
			wbuf_u16(&b, type);
			wbuf_u16(&b, DNS_CLASS_IN);
			wbuf_u32(&b, ttl);
			switch (type) {
			case DNS_TYPE_A:
				wbuf_u16(&b, 4);
				wbuf_u32(&b, 0xc0000200u | d);
				break;
			case DNS_TYPE_AAAA:
				wbuf_u16(&b, 16);
				for (int j = 0; j < 4; j++)
					wbuf_u32(&b, 0x20010db8u + d);
				break;
			case DNS_TYPE_TXT:
				wbuf_u16(&b, 2);
				wbuf_u8(&b, 1);
				wbuf_u8(&b, d);
				break;
			case DNS_TYPE_NS:
				wbuf_u16(&b, 2);
				wbuf_u16(&b, 0xc000 | DNS_HEADER_LEN);
				break;
			case DNS_TYPE_SOA:
				wbuf_u16(&b, 2 + 2 + 20);
				wbuf_u16(&b, 0xc000 | DNS_HEADER_LEN);
				wbuf_u16(&b, 0xc000 | DNS_HEADER_LEN);
				for (int j = 0; j < 5; j++)
					wbuf_u32(&b, 300);
				break;
			case DNS_TYPE_NSEC:
				wbuf_u16(&b, 1 + 3);
				wbuf_u8(&b, 0);		/* next: the root */
				wbuf_u8(&b, 0);
				wbuf_u8(&b, 1);
				wbuf_u8(&b, 0x40);	/* A */
				break;
			default:			/* RRSIG */
				wbuf_u16(&b, 18 + 1 + 4);
				wbuf_u16(&b, DNS_TYPE_A);
				wbuf_u8(&b, 13);
				wbuf_u8(&b, 1);
				wbuf_u32(&b, ttl);
				wbuf_u32(&b, 0x7fffffff);
				wbuf_u32(&b, 0);
				wbuf_u16(&b, 1);
				wbuf_u8(&b, 0);		/* signer: the root */
				wbuf_u32(&b, d);
				break;
			}
			count[s]++;
		}
	}
	for (int s = 0; s < 3; s++)
		wbuf_put_u16_at(&b, 6 + 2 * (size_t)s, count[s]);
	*life = min == UINT64_MAX ? 0 : (uint32_t)min;
	return b.err ? 0 : b.len;
}

static const char *
oracle_insert(struct oracle *o, struct oracle_in *in, unsigned k)
{
	static uint8_t pkt[8192];
	struct oracle_entry *e = &o->e[k];
	struct dns_query q;
	struct msg_answer *a;
	uint32_t life;
	size_t len;

	oracle_query(k, &q);
	if ((len = oracle_packet(in, &q, pkt, sizeof(pkt), &life)) == 0)
		return "oracle: packet does not fit";
	if ((a = msg_answer_build(&q, pkt, len, (oracle_byte(in) & 1) != 0,
	    false)) ==
	    NULL)
		return "msg_answer_build refused a well-formed packet";
	if (a->min_ttl != life)
		return "the template's lifetime is not the smallest TTL of "
		    "every record of the packet";
	if (a->n_ttls > 3 * ORACLE_MAX_RRS)
		return "oracle: more records than built";
	e->present = life > 0;
	e->kept = life > 0;
	e->stored = o->now;
	e->life = life;
	e->n_ttls = a->n_ttls;
	for (unsigned i = 0; i < a->n_ttls; i++)
		e->served[i] = be32_load(a->wire + a->ttl_offs[i]);
	e->went_back = false;
	cache_insert(o->cache, &q, a, o->now);
	return NULL;
}

static const char *
oracle_lookup(struct oracle *o, unsigned k)
{
	struct oracle_entry *e = &o->e[k];
	const struct msg_answer *a;
	struct dns_query q;
	uint32_t age = 0;
	size_t len;

	oracle_query(k, &q);
	a = cache_lookup(o->cache, &q, o->now, &age);
	if (a == NULL) {
		if (e->present && !e->went_back && o->now - e->stored <
		    (time_t)e->life)
			return "an entry younger than its TTL was not found";
		e->present = false;
		return NULL;
	}
	if (!e->present)
		return "served an entry that expired, was never stored, or "
		    "was replaced by an answer with TTL 0";
	if (o->now < e->stored || o->now - e->stored >= (time_t)e->life)
		return "served an entry older than its smallest TTL";
	if ((time_t)age != o->now - e->stored)
		return "the age is not the time since the entry was stored";
	if (a->n_ttls != e->n_ttls)
		return "served another entry than the one stored";
	len = msg_answer_render(a, &q, age, DNS_MAX_TCP, 1232, o->out,
	    sizeof(o->out));
	if (len == 0)
		return "the cached answer does not render";
	for (unsigned i = 0; i < a->n_ttls; i++) {
		uint32_t ttl = be32_load(o->out + a->ttl_offs[i]);

		if (ttl == 0)
			return "served a TTL of 0";
		if (ttl > e->served[i])
			return "a served TTL went up";
		e->served[i] = ttl;
	}
	return NULL;
}

static const char *
oracle_lookup_stale(struct oracle *o, unsigned k)
{
	struct oracle_entry *e = &o->e[k];
	const struct msg_answer *a;
	struct dns_query q;
	time_t expired;

	oracle_query(k, &q);
	if ((a = cache_lookup_stale(o->cache, &q, o->now)) == NULL)
		return NULL;
	expired = e->stored + (time_t)e->life;
	if (!o->stale)
		return "served stale with serve-stale off";
	if (!e->kept || a->n_ttls != e->n_ttls)
		return "served stale an entry that was never stored or was "
		    "replaced by an answer with TTL 0";
	if (o->now < expired)
		return "served stale an entry that has not expired";
	if (o->max_stale > 0 && o->now - expired >= (time_t)o->max_stale)
		return "served stale past serve-expired-ttl";
	e->present = false;
	return NULL;
}

/* Moves the simulated clock as one input byte says. */
static void
oracle_step(struct oracle *o, uint8_t d)
{
	if (d >= 0xf0) {
		o->now -= (time_t)(d & 0xf) * 7 + 1;	/* backwards */
		for (unsigned k = 0; k < ORACLE_KEYS; k++)
			o->e[k].went_back = true;
	} else if (d >= 0xe0) {
		o->now += (time_t)(d & 0xf) * 1000 + 1;	/* forwards */
	} else {
		o->now += d % 4;
	}
}

static const char *
cache_oracle_run(const uint8_t *data, size_t size)
{
	static struct oracle o;
	struct oracle_in in = { data, size, 0 };
	const char *err = NULL;

	memset(&o.e, 0, sizeof(o.e));
	o.now = ORACLE_T0;
	if ((o.cache = cache_new(1 << 20, 7)) == NULL)
		return "oracle: out of memory";
	{
		uint8_t mode = oracle_byte(&in);

		o.stale = (mode & 1) != 0;
		o.max_stale = (uint32_t)(mode >> 1) * 10;
		cache_set_stale(o.cache, o.stale, o.max_stale);
	}
	while (err == NULL && in.pos < in.len) {
		uint8_t op = oracle_byte(&in);
		unsigned k = (op >> 3) % ORACLE_KEYS;

		switch (op & 7) {
		case 0:
		case 1:
			err = oracle_insert(&o, &in, k);
			break;
		case 2:
			oracle_step(&o, oracle_byte(&in));
			break;
		case 7:
			oracle_step(&o, oracle_byte(&in));
			err = oracle_lookup_stale(&o, k);
			break;
		default:
			oracle_step(&o, oracle_byte(&in));
			err = oracle_lookup(&o, k);
			break;
		}
	}
	cache_free(o.cache);
	return err;
}

#endif
