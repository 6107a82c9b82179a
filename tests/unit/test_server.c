/*
 * test_server.c - daemon/server.c's reload under allocation failure: every
 * allocation server_reload() makes is failed in turn, and each time the
 * server must keep its old configuration (cache, rate limit, resolver)
 * and say so, never exit or run on without them.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf.h"
#include "failalloc.h"
#include "resolver.h"
#include "server.h"

static struct conf *
conf_text(const char *text)
{
	struct conf *conf = NULL;

	ck_assert_int_eq(conf_parse("test.conf", text, strlen(text), &conf),
	    0);
	ck_assert_ptr_nonnull(conf);
	return conf;
}

START_TEST(reload_keeps_old_config_when_allocation_fails)
{
	struct event_base *base = event_base_new();
	struct conf *old = conf_text("server:\n  ip-ratelimit: 5\n"
	    "  answer-cache-size: 64k\n");
	struct server *s;
	unsigned n, failures = 0;

	ck_assert_ptr_nonnull(base);
	s = server_new(base, old, resolver_new(base, old));
	for (n = 1; n < 100; n++) {
		struct conf *conf = conf_text("server:\n  ip-ratelimit: 9\n"
		    "  answer-cache-size: 128k\n");
		struct resolver *r = resolver_new(base, conf);
		int rc;

		ck_assert_ptr_nonnull(r);
		failalloc_arm(n);
		rc = server_reload(s, conf, r);
		if (!failalloc_fired()) {
			/* every allocation succeeded: the new config is in */
			failalloc_arm(0);
			ck_assert_int_eq(rc, 0);
			ck_assert_ptr_eq(server_conf(s), conf);
			break;
		}
		failures++;
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_eq(server_conf(s), old);
		ck_assert_uint_eq(server_conf(s)->ip_ratelimit, 5);
		resolver_shutdown(r);
		conf_free(conf);
	}
	/* the cache's two allocations and the rate limit's two */
	ck_assert_uint_ge(failures, 4);
	/* the retired resolver is freed on the next turn of the loop */
	event_base_loop(base, EVLOOP_NONBLOCK);
	server_free(s);
	event_base_free(base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("reload");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, reload_keeps_old_config_when_allocation_fails);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
