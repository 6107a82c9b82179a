/*
 * test_relay_conc.c - unit tests for the outbound side's per-destination
 * connection limit (outbound.c, destination-concurrency-limit:) and the
 * two relay.conf keys that set it.
 *
 * The env's resolver forwards to a UDP socket of the test that never
 * answers, so every destination lookup ends in a DNS failure after the
 * resolver's timeout_ms:
 * what matters here is who gets to start a lookup (a counted connection)
 * and when, not the delivery, which tests/system/test_relay_concurrency.py
 * covers against the world's receiver.
 *
 * SECURITY: test program; sends DNS queries only to its own socket on
 * 127.67.0.1, writes only a temporary file.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "plugin/danegate.h"
#include "plugin/relay/outbound.h"
#include "plugin/relay/relay_conf.h"

struct got {
	int n;				/* replies */
	int order;			/* this one's place among all replies */
	struct outbound_reply r;
	struct timeval at;
};

static int replies;

static void
on_reply(void *arg, const struct outbound_reply *r)
{
	struct got *g = arg;

	g->n++;
	g->order = ++replies;
	g->r = *r;
	gettimeofday(&g->at, NULL);
}

struct fixture {
	int silent;			/* the "DNS server": never answers */
	struct event_base *base;
	struct danegate_resolver *res;
	struct outbound_env *env;
};

static void
fx_new(struct fixture *fx, unsigned limit, unsigned wait_ms,
    unsigned dns_ms)
{
	struct danegate_resolver_options ro = { 0 };
	struct outbound_env_options eo = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char fwd[64];
	int err = 0;

	replies = 0;
	log_init("test_relay_conc", 0);
	sin.sin_addr.s_addr = inet_addr("127.67.0.1");
	ck_assert_int_ge(fx->silent = socket(AF_INET, SOCK_DGRAM, 0), 0);
	ck_assert_int_eq(bind(fx->silent, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fx->silent, (struct sockaddr *)&sin,
	    &len), 0);
	snprintf(fwd, sizeof(fwd), "127.67.0.1@%u",
	    (unsigned)ntohs(sin.sin_port));
	ck_assert_ptr_nonnull(fx->base = event_base_new());
	ro.forwarder = fwd;
	ro.timeout_ms = dns_ms;
	ck_assert_ptr_nonnull(fx->res = danegate_resolver_new(&ro, fx->base,
	    &err));
	eo.base = fx->base;
	eo.resolver = fx->res;
	eo.dest_limit = limit;
	eo.dest_wait_ms = wait_ms;
	ck_assert_int_eq(outbound_env_new(&eo, &fx->env), 0);
}

static void
fx_free(struct fixture *fx)
{
	outbound_env_free(fx->env);
	danegate_resolver_free(fx->res);
	event_base_free(fx->base);
	close(fx->silent);
}

static struct outbound *
open_to(struct fixture *fx, const char *domain, struct got *g)
{
	struct outbound_callbacks cb = { .on_reply = on_reply };
	struct outbound_envelope from = { .sender = "a@relay.test",
	    .size = -1 };
	struct outbound *o;
	int err = 0;

	o = outbound_open(fx->env, domain, &from, &cb, g, &err);
	ck_assert_ptr_nonnull(o);
	return o;
}

static void
run_until(struct fixture *fx, const int *counter, int want)
{
	for (int i = 0; i < 100000 && *counter < want; i++)
		ck_assert_int_ge(event_base_loop(fx->base, EVLOOP_ONCE), 0);
	ck_assert_int_ge(*counter, want);
}

static long
ms_between(const struct timeval *a, const struct timeval *b)
{
	return (b->tv_sec - a->tv_sec) * 1000L +
	    (b->tv_usec - a->tv_usec) / 1000L;
}

/* Limit 1: the second transaction to a domain starts only when the first
 * one's connection is gone; another domain does not wait. */
START_TEST(test_second_waits_for_the_first)
{
	struct fixture fx;
	struct got a = { 0 }, b = { 0 }, c = { 0 };
	struct outbound *oa, *ob, *oc;
	struct outbound_stats st;

	fx_new(&fx, 1, 30000, 300);
	oa = open_to(&fx, "example.net", &a);
	ob = open_to(&fx, "EXAMPLE.net", &b);	/* same destination */
	oc = open_to(&fx, "other.net", &c);
	outbound_env_stats(fx.env, &st);
	ck_assert_uint_eq(st.waited, 1);
	run_until(&fx, &b.n, 1);
	/* a and c looked up at once; b only after a failed */
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(b.order, 3);
	ck_assert_int_eq(a.r.code, 451);
	ck_assert_int_eq(b.r.code, 451);
	/* its own lookup, after a's: not a wait's 4.4.5 */
	ck_assert_ptr_nonnull(strstr(b.r.text, "no answer within"));
	ck_assert_int_ge(ms_between(&a.at, &b.at), 200);
	outbound_env_stats(fx.env, &st);
	ck_assert_uint_eq(st.wait_timeouts, 0);
	outbound_free(oa);
	outbound_free(ob);
	outbound_free(oc);
	fx_free(&fx);
}
END_TEST

/* The wait is bounded: 451 4.4.5 after dest_wait_ms, while the first
 * transaction still holds the connection. */
START_TEST(test_wait_times_out)
{
	struct fixture fx;
	struct got a = { 0 }, b = { 0 };
	struct outbound *oa, *ob;
	struct outbound_stats st;
	struct timeval t0;

	fx_new(&fx, 1, 200, 800);
	gettimeofday(&t0, NULL);
	oa = open_to(&fx, "example.net", &a);
	ob = open_to(&fx, "example.net", &b);
	run_until(&fx, &b.n, 1);
	ck_assert_int_eq(a.n, 0);
	ck_assert_int_eq(b.r.code, 451);
	ck_assert_int_eq(b.r.remote, 0);
	ck_assert_int_eq(strncmp(b.r.text, "4.4.5 ", 6), 0);
	ck_assert_ptr_nonnull(strstr(b.r.text,
	    "destination-concurrency-limit"));
	ck_assert_int_ge(ms_between(&t0, &b.at), 150);
	outbound_env_stats(fx.env, &st);
	ck_assert_uint_eq(st.waited, 1);
	ck_assert_uint_eq(st.wait_timeouts, 1);
	outbound_free(ob);
	run_until(&fx, &a.n, 1);	/* its own lookup's failure */
	ck_assert_int_eq(strncmp(a.r.text, "4.4.5", 5) != 0, 1);
	outbound_free(oa);
	fx_free(&fx);
}
END_TEST

/* A waiting transaction freed before its turn leaves the queue: the next
 * one gets the connection, and nothing calls the freed one back. */
START_TEST(test_free_while_waiting)
{
	struct fixture fx;
	struct got a = { 0 }, b = { 0 }, c = { 0 };
	struct outbound *oa, *ob, *oc;

	fx_new(&fx, 1, 30000, 300);
	oa = open_to(&fx, "example.net", &a);
	ob = open_to(&fx, "example.net", &b);
	oc = open_to(&fx, "example.net", &c);
	outbound_free(ob);
	run_until(&fx, &c.n, 1);
	ck_assert_int_eq(b.n, 0);
	ck_assert_int_eq(a.order, 1);
	ck_assert_int_eq(c.order, 2);
	outbound_free(oa);
	outbound_free(oc);
	fx_free(&fx);
}
END_TEST

/* Several at the limit: 2 look up at once, the other 3 in FIFO order. */
START_TEST(test_fifo_at_limit)
{
	struct fixture fx;
	struct got g[5];
	struct outbound *o[5];

	memset(g, 0, sizeof(g));
	fx_new(&fx, 2, 30000, 300);
	for (int i = 0; i < 5; i++)
		o[i] = open_to(&fx, "example.net", &g[i]);
	run_until(&fx, &g[4].n, 1);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(g[i].n, 1);
	ck_assert_int_lt(g[2].order, g[3].order);
	ck_assert_int_lt(g[3].order, g[4].order);
	ck_assert_int_gt(g[2].order, 2);
	for (int i = 0; i < 5; i++)
		outbound_free(o[i]);
	fx_free(&fx);
}
END_TEST

static char dir[] = "/tmp/test_relay_conc.XXXXXX";
static char conf_path[256];

static int
load(const char *lines, struct relay_conf **out)
{
	struct relay_conf_overrides ov = { .listen = "127.0.0.1@1" };
	FILE *f;

	strcpy(dir, "/tmp/test_relay_conc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/relay.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(conf_path, "w"));
	fprintf(f, "relay:\n    hostname: relay.test\n%s", lines);
	ck_assert_int_eq(fclose(f), 0);
	{
		int n = relay_conf_load(conf_path, &ov, out);

		unlink(conf_path);
		rmdir(dir);
		return n;
	}
}

START_TEST(test_conf_keys)
{
	struct relay_conf *c = NULL;

	log_init("test_relay_conc", 0);
	ck_assert_int_eq(load("", &c), 0);
	ck_assert_uint_eq(c->dest_limit, 20);
	ck_assert_uint_eq(c->dest_wait, 60);
	relay_conf_free(c);
	ck_assert_int_eq(load("    destination-concurrency-limit: 3\n"
	    "    destination-concurrency-wait: 5\n", &c), 0);
	ck_assert_uint_eq(c->dest_limit, 3);
	ck_assert_uint_eq(c->dest_wait, 5);
	relay_conf_free(c);
	ck_assert_int_gt(load("    destination-concurrency-limit: 0\n", &c),
	    0);
	ck_assert_ptr_null(c);
	/* past the client's 5-minute RCPT timeout */
	ck_assert_int_gt(load("    destination-concurrency-wait: 300\n", &c),
	    0);
	ck_assert_ptr_null(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("relay_conc");
	TCase *tc = tcase_create("dest_limit");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_second_waits_for_the_first);
	tcase_add_test(tc, test_wait_times_out);
	tcase_add_test(tc, test_free_while_waiting);
	tcase_add_test(tc, test_fifo_at_limit);
	tcase_add_test(tc, test_conf_keys);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
