/*
 * test_resolver.c - libdanegate's resolver without a network
 * (plugin/resolver.c on lib/ubctx.c): set-up errors, the trust-anchor
 * check, and what a failed lookup says.
 *
 * The resolver forwards to a server on 127.0.0.1 that this test runs in
 * a thread and that answers every query with SERVFAIL, as a broken
 * upstream does: nothing leaves the machine.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "danegate.h"
#include "dns.h"
#include "resolver.h"

static char anchor[64], conf[64], forwarder[64];
static int server_fd = -1;
static pthread_t server;

/* Answers every query with SERVFAIL until the socket is shut down. */
static void *
servfail_server(void *arg)
{
	uint8_t buf[4096];

	(void)arg;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(server_fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fromlen);

		if (n <= 0)
			return NULL;
		if (n < DNS_HEADER_LEN)
			continue;
		buf[2] = (uint8_t)(buf[2] | 0x80);	/* QR */
		buf[3] = (uint8_t)((buf[3] & 0xf0) | 0x80 | DNS_RCODE_SERVFAIL);
		(void)sendto(server_fd, buf, (size_t)n, 0,
		    (struct sockaddr *)&from, fromlen);
	}
}

static void
setup(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	FILE *f;
	int fd;

	server_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(server_fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(server_fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(server_fd, (struct sockaddr *)&sin, &len),
	    0);
	snprintf(forwarder, sizeof(forwarder), "127.0.0.1@%u",
	    ntohs(sin.sin_port));
	ck_assert_int_eq(pthread_create(&server, NULL, servfail_server, NULL),
	    0);
	snprintf(conf, sizeof(conf), "/tmp/test_resolver.XXXXXX");
	fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("server:\n\tdo-not-query-localhost: no\n", f);
	fclose(f);

	snprintf(anchor, sizeof(anchor), "/tmp/test_resolver.XXXXXX");
	fd = mkstemp(anchor);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("; a root anchor that no server will be asked about\n"
	    ". IN DS 12345 13 2 "
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\n", f);
	fclose(f);
}

static void
teardown(void)
{
	unlink(anchor);
	unlink(conf);
	shutdown(server_fd, SHUT_RDWR);
	pthread_join(server, NULL);
	close(server_fd);
}

static struct danegate_resolver *
dead_resolver(void)
{
	struct danegate_resolver_options o = { 0 };
	struct danegate_resolver *r;
	int err = -1;

	o.trust_anchor_file = anchor;
	o.forwarder = forwarder;
	o.unbound_conf = conf;
	o.timeout_ms = 20000;
	r = danegate_resolver_new(&o, NULL, &err);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(err, 0);
	return r;
}

START_TEST(setup_refuses_unusable_anchor_files)
{
	struct danegate_resolver_options o = { 0 };
	char path[] = "/tmp/test_resolver.XXXXXX";
	int err = 0, fd;

	o.trust_anchor_file = "/nonexistent/root.key";
	ck_assert_ptr_null(danegate_resolver_new(&o, NULL, &err));
	ck_assert_int_eq(err, DANEGATE_E_RESOLVER);
	/* readable, but no record in it */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "; nothing\n", 10), 10);
	close(fd);
	o.trust_anchor_file = path;
	err = 0;
	ck_assert_ptr_null(danegate_resolver_new(&o, NULL, &err));
	ck_assert_int_eq(err, DANEGATE_E_RESOLVER);
	unlink(path);
}
END_TEST

/* Before ubctx_strerror(), the rcode that event contexts report as err
 * read "lookup failed: unknown error". */
START_TEST(check_says_why_the_anchor_fails)
{
	struct danegate_resolver *r = dead_resolver();
	char why[512];

	ck_assert_int_eq(danegate_resolver_check(r, why, sizeof(why)),
	    DANEGATE_E_RESOLVER);
	ck_assert_msg(strcmp(why, "the trust anchor for . does not validate: "
	    "DNSKEY SERVFAIL (EDE 22 No Reachable Authority)") == 0 ||
	    strncmp(why, "the trust anchor for . does not validate: DNSKEY "
	    "SERVFAIL (EDE ", 64) == 0, "%s", why);
	ck_assert_ptr_null(strstr(why, "unknown error"));
	ck_assert_int_eq(danegate_resolver_check(r, why, 0),
	    DANEGATE_E_INVALID);
	danegate_resolver_free(r);
}
END_TEST

START_TEST(failed_lookup_says_what_happened)
{
	struct danegate_resolver *r = dead_resolver();
	struct lookup_answer a;

	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(resolver_lookup(r, "mx.example", DNS_TYPE_MX, &a), 0);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_msg(strncmp(a.why, "SERVFAIL (EDE ", 14) == 0, "%s", a.why);
	ck_assert_ptr_null(strstr(a.why, "unknown error"));
	lookup_answer_clear(&a);
	danegate_resolver_free(r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("resolver");
	TCase *tc = tcase_create("resolver");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, setup_refuses_unusable_anchor_files);
	tcase_add_test(tc, check_says_why_the_anchor_fails);
	tcase_add_test(tc, failed_lookup_says_what_happened);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
