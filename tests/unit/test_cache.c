/*
 * test_cache.c - the front answer cache (daemon/cache.c): keys, expiry,
 * LRU eviction under the byte budget.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "msg.h"

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
	struct msg_answer *a = calloc(1, sizeof(*a));

	a->wire = calloc(1, size);
	a->len = (uint16_t)size;
	a->min_ttl = ttl;
	return a;
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
	struct msg_answer *a = answer(60, 64);
	uint32_t age = 99;

	cache_insert(c, &q, a, 100);
	ck_assert_ptr_eq(cache_lookup(c, &lower, 130, &age), a);
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

START_TEST(cache_evicts_least_recently_used)
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
	struct msg_answer *second = answer(60, 80);
	uint32_t age;

	cache_insert(c, &q, answer(60, 64), 0);
	cache_insert(c, &q, second, 5);
	ck_assert_uint_eq(cache_entries(c), 1);
	ck_assert_ptr_eq(cache_lookup(c, &q, 6, &age), second);
	ck_assert_uint_eq(age, 1);
	cache_clear(c);
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_ptr_null(cache_lookup(c, &q, 6, &age));
	cache_free(c);
	cache_free(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, cache_refuses_ttl_zero_and_oversize);
	tcase_add_test(tc, cache_key_folds_case_and_keeps_do_type);
	tcase_add_test(tc, cache_entries_expire_with_their_ttl);
	tcase_add_test(tc, cache_evicts_least_recently_used);
	tcase_add_test(tc, cache_replaces_and_clears);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
