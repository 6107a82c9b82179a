/*
 * test_cache.c - the front answer cache (daemon/cache.c): keys, expiry,
 * SIEVE eviction under the byte budget, and its TTL rules as property tests
 * (cache_oracle.h) over random answers and a simulated clock.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cache.h"
#include "cache_oracle.h"
#include "msg.h"
#include "wire.h"

static struct dns_query
query(const char *wire_name, size_t len, uint16_t type, bool do_bit)
{
	struct dns_query q;

	memset(&q, 0, sizeof(q));
	memcpy(q.qname, wire_name, len);
	q.qname_len = (uint8_t)len;
	q.qtype = type;
	q.qclass = DNS_CLASS_IN;
	q.edns = true;
	q.edns_do = do_bit;
	q.has_question = true;
	return q;
}

static struct msg_answer *
answer(uint32_t ttl, size_t size)
{
	struct msg_answer *a = msg_answer_new(size, 0);

	ck_assert_ptr_nonnull(a);
	a->min_ttl = ttl;
	return a;
}


/*
 * A secure wildcard answer as libunbound hands it over: "a. A" with its
 * RRSIG (TTL ans_ttl), and in authority the NSEC that proves no closer
 * match exists, with its RRSIG (TTL nsec_ttl).
 */
static struct msg_answer *
wildcard_answer(const struct dns_query *q, uint32_t ans_ttl,
    uint32_t nsec_ttl)
{
	uint8_t pkt[512];
	struct wbuf b;

	wbuf_init(&b, pkt, sizeof(pkt));
	wbuf_u16(&b, 0);
	wbuf_u16(&b, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA);
	wbuf_u16(&b, 1);
	wbuf_u16(&b, 2);
	wbuf_u16(&b, 2);
	wbuf_u16(&b, 0);
	wbuf_bytes(&b, q->qname, q->qname_len);
	wbuf_u16(&b, q->qtype);
	wbuf_u16(&b, DNS_CLASS_IN);
	for (int rr = 0; rr < 4; rr++) {
		uint32_t ttl = rr < 2 ? ans_ttl : nsec_ttl;
		uint16_t type = rr == 0 ? DNS_TYPE_A : rr == 2 ?
		    DNS_TYPE_NSEC : DNS_TYPE_RRSIG;

		wbuf_u16(&b, 0xc00c);
		wbuf_u16(&b, type);
		wbuf_u16(&b, DNS_CLASS_IN);
		wbuf_u32(&b, ttl);
		if (type == DNS_TYPE_A) {
			wbuf_u16(&b, 4);
			wbuf_u32(&b, 0xc0000201);
		} else if (type == DNS_TYPE_NSEC) {
			wbuf_u16(&b, 4);
			wbuf_u8(&b, 0);
			wbuf_u8(&b, 0);
			wbuf_u8(&b, 1);
			wbuf_u8(&b, 0x40);
		} else {
			wbuf_u16(&b, 18 + 1 + 2);
			wbuf_u16(&b, rr == 1 ? DNS_TYPE_A : DNS_TYPE_NSEC);
			wbuf_u8(&b, 13);
			wbuf_u8(&b, 0);		/* labels: a wildcard */
			wbuf_u32(&b, ttl);
			wbuf_u32(&b, 0x7fffffff);
			wbuf_u32(&b, 0);
			wbuf_u16(&b, 1);
			wbuf_u8(&b, 0);
			wbuf_u16(&b, 0);
		}
	}
	ck_assert(!b.err);
	return msg_answer_build(q, pkt, b.len, true, false);
}

START_TEST(cache_refuses_ttl_zero_and_oversize)
{
	struct cache *c = cache_new(4096, 1);
	struct dns_query q = query("\1a\0", 3, 1, false);
	uint32_t age;

	cache_insert(c, &q, answer(0, 100), 10);
	ck_assert_ptr_null(cache_lookup(c, &q, 10, &age));
	cache_insert(c, &q, answer(60, 5000), 10);
	ck_assert_ptr_null(cache_lookup(c, &q, 10, &age));
	ck_assert_uint_eq(cache_entries(c), 0);
	cache_free(c);
}
END_TEST

START_TEST(cache_key_folds_case_and_keeps_do_type)
{
	struct cache *c = cache_new(1 << 20, 2);
	struct dns_query q = query("\3WWW\7example\0", 13, 1, false);
	struct dns_query lower = query("\3www\7EXAMPLE\0", 13, 1, false);
	struct dns_query with_do = query("\3www\7example\0", 13, 1, true);
	struct dns_query aaaa = query("\3www\7example\0", 13, 28, false);
	const struct msg_answer *got;
	uint32_t age = 99;

	cache_insert(c, &q, answer(60, 64), 100);
	got = cache_lookup(c, &lower, 130, &age);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->len, 64);
	ck_assert_uint_eq(age, 30);
	ck_assert_ptr_null(cache_lookup(c, &with_do, 130, &age));
	ck_assert_ptr_null(cache_lookup(c, &aaaa, 130, &age));
	cache_free(c);
}
END_TEST

START_TEST(cache_entries_expire_with_their_ttl)
{
	struct cache *c = cache_new(1 << 20, 3);
	struct dns_query q = query("\1x\0", 3, 1, false);
	uint32_t age;

	cache_insert(c, &q, answer(10, 64), 100);
	ck_assert_ptr_nonnull(cache_lookup(c, &q, 109, &age));
	ck_assert_ptr_null(cache_lookup(c, &q, 110, &age));
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_uint_eq(cache_bytes(c), 0);
	cache_free(c);
}
END_TEST

START_TEST(cache_evicts_an_unvisited_entry_first)
{
	/* room for about three 1000-byte answers */
	struct cache *c = cache_new(3500, 4);
	struct dns_query q1 = query("\1a\0", 3, 1, false);
	struct dns_query q2 = query("\1b\0", 3, 1, false);
	struct dns_query q3 = query("\1c\0", 3, 1, false);
	struct dns_query q4 = query("\1d\0", 3, 1, false);
	uint32_t age;

	cache_insert(c, &q1, answer(60, 1000), 0);
	cache_insert(c, &q2, answer(60, 1000), 0);
	cache_insert(c, &q3, answer(60, 1000), 0);
	ck_assert_uint_eq(cache_entries(c), 3);
	/* touch q1: q2 is now the oldest */
	ck_assert_ptr_nonnull(cache_lookup(c, &q1, 1, &age));
	cache_insert(c, &q4, answer(60, 1000), 1);
	ck_assert_uint_le(cache_bytes(c), 3500);
	ck_assert_ptr_null(cache_lookup(c, &q2, 1, &age));
	ck_assert_ptr_nonnull(cache_lookup(c, &q1, 1, &age));
	ck_assert_ptr_nonnull(cache_lookup(c, &q4, 1, &age));
	cache_free(c);
}
END_TEST

START_TEST(cache_replaces_and_clears)
{
	struct cache *c = cache_new(1 << 20, 5);
	struct dns_query q = query("\1a\0", 3, 1, false);
	const struct msg_answer *got;
	uint32_t age;

	cache_insert(c, &q, answer(60, 64), 0);
	cache_insert(c, &q, answer(60, 80), 5);
	ck_assert_uint_eq(cache_entries(c), 1);
	got = cache_lookup(c, &q, 6, &age);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->len, 80);
	ck_assert_uint_eq(age, 1);
	cache_clear(c);
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_ptr_null(cache_lookup(c, &q, 6, &age));
	cache_free(c);
	cache_free(NULL);
}
END_TEST


/* Issue 6: the NSEC proof of a wildcard answer had TTL 0; a DO=0 client
 * does not see it, but the answer must not outlive it. */
START_TEST(cache_answer_never_outlives_a_hidden_proof)
{
	struct cache *c = cache_new(1 << 20, 6);
	struct dns_query q = query("\1a\0", 3, DNS_TYPE_A, false);
	struct dns_query dq = query("\1a\0", 3, DNS_TYPE_A, true);
	uint32_t age;

	cache_insert(c, &q, wildcard_answer(&q, 3600, 0), 100);
	ck_assert_ptr_null(cache_lookup(c, &q, 100, &age));
	cache_insert(c, &dq, wildcard_answer(&dq, 3600, 0), 100);
	ck_assert_ptr_null(cache_lookup(c, &dq, 100, &age));

	cache_insert(c, &q, wildcard_answer(&q, 3600, 5), 100);
	ck_assert_ptr_nonnull(cache_lookup(c, &q, 104, &age));
	ck_assert_uint_eq(age, 4);
	ck_assert_ptr_null(cache_lookup(c, &q, 105, &age));
	ck_assert_ptr_null(cache_lookup(c, &q, 110, &age));
	cache_free(c);
}
END_TEST

/* A TTL-0 answer replaces, and so removes, what was stored for the key. */
START_TEST(cache_ttl_zero_answer_removes_the_older_entry)
{
	struct cache *c = cache_new(1 << 20, 8);
	struct dns_query q = query("\1a\0", 3, DNS_TYPE_A, true);
	uint32_t age;

	cache_insert(c, &q, wildcard_answer(&q, 3600, 60), 100);
	ck_assert_ptr_nonnull(cache_lookup(c, &q, 101, &age));
	cache_insert(c, &q, wildcard_answer(&q, 0, 60), 102);
	ck_assert_ptr_null(cache_lookup(c, &q, 102, &age));
	ck_assert_uint_eq(cache_entries(c), 0);
	cache_free(c);
}
END_TEST

/* Ages never run backwards: a clock that went back empties the cache
 * instead of serving TTLs above what was served (or wrapped ages). */
START_TEST(cache_clock_jump_back_never_raises_a_ttl)
{
	struct cache *c = cache_new(1 << 20, 9);
	struct dns_query q = query("\1a\0", 3, DNS_TYPE_A, true);
	struct dns_query other = query("\1b\0", 3, DNS_TYPE_A, true);
	uint32_t age;

	cache_insert(c, &q, wildcard_answer(&q, 3600, 60), 1000);
	ck_assert_ptr_nonnull(cache_lookup(c, &q, 1010, &age));
	ck_assert_uint_eq(age, 10);
	/* back before the entry was stored, then back within its age */
	ck_assert_ptr_null(cache_lookup(c, &q, 990, &age));
	cache_insert(c, &q, wildcard_answer(&q, 3600, 60), 2000);
	ck_assert_ptr_nonnull(cache_lookup(c, &q, 2030, &age));
	ck_assert_ptr_null(cache_lookup(c, &other, 2020, &age));
	ck_assert_ptr_null(cache_lookup(c, &q, 2031, &age));
	/* forwards past the TTL: gone */
	cache_insert(c, &q, wildcard_answer(&q, 3600, 60), 3000);
	ck_assert_ptr_null(cache_lookup(c, &q, 3000 + 86400, &age));
	cache_free(c);
}
END_TEST

/* The clock is libunbound's: the wall clock that gettimeofday() reads
 * (time() may trail it by a tick, so by a second at a boundary). */
START_TEST(cache_clock_is_libunbounds)
{
	struct timeval before, after;
	time_t now;

	gettimeofday(&before, NULL);
	now = cache_now();
	gettimeofday(&after, NULL);
	ck_assert_int_ge(now, before.tv_sec - 1);
	ck_assert_int_le(now, after.tv_sec);
}
END_TEST


/* Serve-stale off (the default): an expired entry is gone. */
START_TEST(cache_stale_off_keeps_nothing)
{
	struct cache *c = cache_new(1 << 20, 10);
	struct dns_query q = query("\1a\0", 3, DNS_TYPE_A, true);
	uint32_t age;

	cache_insert(c, &q, wildcard_answer(&q, 3600, 60), 100);
	ck_assert_ptr_null(cache_lookup_stale(c, &q, 120));
	ck_assert_ptr_null(cache_lookup(c, &q, 160, &age));
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_ptr_null(cache_lookup_stale(c, &q, 160));
	cache_free(c);
}
END_TEST

/* Serve-stale on: an expired entry stays for serve-expired-ttl seconds,
 * only cache_lookup_stale() hands it out, a new answer replaces it. */
START_TEST(cache_stale_window)
{
	struct cache *c = cache_new(1 << 20, 11);
	struct dns_query q = query("\1a\0", 3, DNS_TYPE_A, true);
	struct msg_answer *a = wildcard_answer(&q, 3600, 60), *fresh;
	const struct msg_answer *got;
	uint8_t wire[512];
	size_t len = a->len;
	uint32_t age;

	ck_assert_uint_le(len, sizeof(wire));
	memcpy(wire, a->wire, len);
	cache_set_stale(c, true, 20);
	cache_insert(c, &q, a, 100);		/* the cache keeps a copy */
	ck_assert_ptr_null(cache_lookup_stale(c, &q, 159));	/* fresh */
	ck_assert_ptr_null(cache_lookup(c, &q, 160, &age));	/* expired */
	ck_assert_uint_eq(cache_entries(c), 1);
	for (time_t now = 160; now < 180; now += 19) {
		got = cache_lookup_stale(c, &q, now);
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(got->len, len);
		ck_assert_mem_eq(got->wire, wire, len);
	}
	ck_assert_ptr_null(cache_lookup_stale(c, &q, 180));
	ck_assert_uint_eq(cache_entries(c), 0);

	/* no limit: until evicted; a fresh answer replaces the stale one */
	cache_set_stale(c, true, 0);
	cache_insert(c, &q, wildcard_answer(&q, 3600, 60), 200);
	ck_assert_ptr_nonnull(cache_lookup_stale(c, &q, 200 + 30 * 86400));
	fresh = wildcard_answer(&q, 3600, 60);
	cache_insert(c, &q, fresh, 200 + 30 * 86400);
	ck_assert_ptr_null(cache_lookup_stale(c, &q, 200 + 30 * 86400 + 1));
	ck_assert_ptr_nonnull(cache_lookup(c, &q, 200 + 30 * 86400 + 1,
	    &age));
	ck_assert_uint_eq(age, 1);
	/* an answer with TTL 0 removes the stale one too */
	cache_insert(c, &q, wildcard_answer(&q, 3600, 0), 200 + 40 * 86400);
	ck_assert_ptr_null(cache_lookup_stale(c, &q, 200 + 40 * 86400));
	cache_free(c);
}
END_TEST

/* Finds the EDE INFO-CODE in the OPT record that ends pkt, or -1. */
static int
ede_of(const uint8_t *pkt, size_t len)
{
	/* OPT (11 bytes) with one EDE option (6) and no text */
	if (len < DNS_HEADER_LEN + 17 || pkt[len - 17] != 0 ||
	    be16_load(pkt + len - 16) != DNS_TYPE_OPT ||
	    be16_load(pkt + len - 8) != 6 || be16_load(pkt + len - 6) != 15 ||
	    be16_load(pkt + len - 4) != 2)
		return -1;
	return be16_load(pkt + len - 2);
}

/* RFC 8767: TTLs set to serve-expired-reply-ttl, EDE 3 with EDNS, AD kept
 * for secure data; the query's ID and case as for any answer. */
START_TEST(cache_stale_render_ttl_and_ede)
{
	static uint8_t out[DNS_MAX_TCP];
	struct dns_query q = query("\1A\0", 3, DNS_TYPE_A, true);
	struct dns_query plain = query("\1a\0", 3, DNS_TYPE_A, false);
	struct msg_answer *a = wildcard_answer(&q, 3600, 60);
	struct msg_answer *b = wildcard_answer(&plain, 3600, 60);
	size_t len;

	q.id = 0x1234;
	len = cache_stale_render(a, &q, 30, 1232, 1232, out, sizeof(out));
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(be16_load(out), 0x1234);
	ck_assert(be16_load(out + 2) & DNS_FLAG_AD);
	ck_assert_uint_eq(out[DNS_HEADER_LEN + 1], 'A');
	ck_assert_uint_eq(a->n_ttls, 4);
	for (unsigned i = 0; i < a->n_ttls; i++)
		ck_assert_uint_eq(be32_load(out + a->ttl_offs[i]), 30);
	ck_assert_int_eq(ede_of(out, len), DNS_EDE_STALE_ANSWER);
	ck_assert_uint_eq(be16_load(out + 10), 1);		/* ARCOUNT */

	/* no EDNS: no OPT, so no EDE; TTLs still the reply TTL */
	plain.edns = false;
	len = cache_stale_render(b, &plain, 7, 512, 1232, out, sizeof(out));
	ck_assert_uint_eq(len, b->len);
	ck_assert_uint_eq(be16_load(out + 10), 0);
	for (unsigned i = 0; i < b->n_ttls; i++)
		ck_assert_uint_eq(be32_load(out + b->ttl_offs[i]), 7);

	/* too large for the client's limit: TC, still marked stale */
	len = cache_stale_render(a, &q, 30, a->len + 11 + 5, 1232, out,
	    sizeof(out));
	ck_assert(be16_load(out + 2) & DNS_FLAG_TC);
	ck_assert_int_eq(ede_of(out, len), DNS_EDE_STALE_ANSWER);
	msg_answer_free(a);
	msg_answer_free(b);
}
END_TEST

/* xorshift64*: the property runs are reproducible from their seed. */
static uint64_t
prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Many random runs of inserts (random answers, random TTLs in every
 * section), clock steps and jumps, and lookups: the rules of
 * cache_oracle.h hold after every step. */
START_TEST(cache_ttl_rules_hold_over_random_runs)
{
	static uint8_t buf[600];
	uint64_t seed = 0x6a09e667f3bcc908ULL;

	for (int run = 0; run < 3000; run++) {
		size_t len = 20 + prng(&seed) % (sizeof(buf) - 20);
		const char *err;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(prng(&seed) >> 56);
		if ((err = cache_oracle_run(buf, len)) != NULL)
			ck_abort_msg("run %d: %s", run, err);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");
	SRunner *sr;
	int failed;

	/* the property runs take seconds under the sanitizers on a busy
	 * machine: more than Check's default of 4 */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cache_refuses_ttl_zero_and_oversize);
	tcase_add_test(tc, cache_key_folds_case_and_keeps_do_type);
	tcase_add_test(tc, cache_entries_expire_with_their_ttl);
	tcase_add_test(tc, cache_evicts_an_unvisited_entry_first);
	tcase_add_test(tc, cache_replaces_and_clears);
	tcase_add_test(tc, cache_answer_never_outlives_a_hidden_proof);
	tcase_add_test(tc, cache_ttl_zero_answer_removes_the_older_entry);
	tcase_add_test(tc, cache_clock_jump_back_never_raises_a_ttl);
	tcase_add_test(tc, cache_clock_is_libunbounds);
	tcase_add_test(tc, cache_ttl_rules_hold_over_random_runs);
	tcase_add_test(tc, cache_stale_off_keeps_nothing);
	tcase_add_test(tc, cache_stale_window);
	tcase_add_test(tc, cache_stale_render_ttl_and_ede);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
