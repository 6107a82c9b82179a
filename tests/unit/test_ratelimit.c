/*
 * test_ratelimit.c - the per-client rate limit (daemon/ratelimit.c): "off"
 * and "out of memory" are told apart, counting per second and per client
 * block (IPv4 address, IPv6 /64).
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "ratelimit.h"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

START_TEST(ratelimit_out_of_memory_is_not_off)
{
	/* Before: NULL meant both "off" and "no memory", and a NULL table
	 * let everything through. Now NULL is only "no memory"... */
	for (unsigned n = 1; n <= 2; n++) {
		failalloc_arm(n);
		ck_assert_ptr_null(ratelimit_new(5, 1));
		ck_assert(failalloc_fired());
	}
	/* ...also for a limit of 0: "off" is an object that allows
	 * everything (below), and NULL says only that memory ran out */
	failalloc_arm(1);
	ck_assert_ptr_null(ratelimit_new(0, 1));
	failalloc_arm(0);
}
END_TEST

START_TEST(ratelimit_off_allows_everything)
{
	struct ratelimit *rl = ratelimit_new(0, 1);
	struct sockaddr_storage a = addr("192.0.2.1");

	ck_assert_ptr_nonnull(rl);
	ck_assert_uint_eq(ratelimit_limit(rl), 0);
	for (int i = 0; i < 1000; i++)
		ck_assert(!ratelimit_exceeded(rl, SA(a), 7));
	ratelimit_free(rl);
	ratelimit_free(NULL);
}
END_TEST

START_TEST(ratelimit_counts_per_second_and_client)
{
	struct ratelimit *rl = ratelimit_new(3, 42);
	struct sockaddr_storage a = addr("192.0.2.1"), b = addr("192.0.2.2");
	struct sockaddr_storage v6a = addr("2001:db8:1:2::1");
	struct sockaddr_storage v6b = addr("2001:db8:1:2:ffff::9");
	struct sockaddr_storage v6c = addr("2001:db8:1:3::1");

	ck_assert_ptr_nonnull(rl);
	ck_assert_uint_eq(ratelimit_limit(rl), 3);
	for (int i = 0; i < 3; i++)
		ck_assert(!ratelimit_exceeded(rl, SA(a), 10));
	ck_assert(ratelimit_exceeded(rl, SA(a), 10));
	ck_assert(ratelimit_exceeded(rl, SA(a), 10));
	/* another client, and the next second, start afresh */
	ck_assert(!ratelimit_exceeded(rl, SA(b), 10));
	ck_assert(!ratelimit_exceeded(rl, SA(a), 11));
	/* one IPv6 /64 is one client */
	for (int i = 0; i < 3; i++)
		ck_assert(!ratelimit_exceeded(rl, i % 2 ? SA(v6a) : SA(v6b), 20));
	ck_assert(ratelimit_exceeded(rl, SA(v6a), 20));
	ck_assert(!ratelimit_exceeded(rl, SA(v6c), 20));
	ratelimit_free(rl);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, ratelimit_out_of_memory_is_not_off);
	tcase_add_test(tc, ratelimit_off_allows_everything);
	tcase_add_test(tc, ratelimit_counts_per_second_and_client);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
