/*
 * test_policy_conf.c - unit tests for plugin/policy/conf.c: the
 * access-control: list of /metrics (loopback allowed unless a line says
 * otherwise, others refused, the longest prefix wins). The ADDR@PORT
 * parser of listen: and prometheus-interface: is lib/addr.c's, tested by
 * test_addr.
 *
 * SECURITY: test program; writes only its own temporary file.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "conf.h"

static struct policy_conf *
load(const char *text)
{
	char path[] = "/tmp/test_policy_conf.XXXXXX";
	int fd = mkstemp(path);
	struct policy_conf *c = NULL;
	int rc;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = policy_conf_load(path, NULL, &c);
	unlink(path);
	return rc == 0 ? c : NULL;
}

static enum acl_action
lookup4(const struct policy_conf *c, const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return acl_lookup(c->acl, (const struct sockaddr *)&sin);
}

START_TEST(test_access_control)
{
	struct policy_conf *c = load("");

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->prometheus_interface, "");
	ck_assert_int_eq(lookup4(c, "127.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup4(c, "127.9.9.9"), ACL_ALLOW);
	ck_assert_int_eq(lookup4(c, "192.0.2.1"), ACL_REFUSE);
	policy_conf_free(c);

	c = load("policy:\n    prometheus-interface: 127.0.0.1@9168\n"
	    "    access-control: 192.0.2.0/24 allow\n"
	    "    access-control: 127.0.0.5 deny\n"
	    "    access-control: 192.0.2.9/32 refuse\n");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->prometheus_interface, "127.0.0.1@9168");
	ck_assert_int_eq(lookup4(c, "192.0.2.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup4(c, "192.0.2.9"), ACL_REFUSE);
	ck_assert_int_eq(lookup4(c, "127.0.0.5"), ACL_DENY);
	ck_assert_int_eq(lookup4(c, "127.0.0.6"), ACL_ALLOW);
	ck_assert_int_eq(lookup4(c, "198.51.100.1"), ACL_REFUSE);
	policy_conf_free(c);

	ck_assert_ptr_null(load("policy:\n    access-control: 10.0.0.0/8\n"));
	ck_assert_ptr_null(load("policy:\n    access-control: 10/8 allow\n"));
	ck_assert_ptr_null(load("policy:\n    prometheus-interface: a@1\n"));
}
END_TEST

/* Numbers are digits only, as danegated and the relay read them:
 * strtoul() took a blank and a sign (" 5", "+5", octal " 644"). */
START_TEST(test_numbers_digits_only)
{
	static const char *bad[] = {
		"policy:\n    cache-ttl: \" 5\"\n",
		"policy:\n    cache-ttl: \"+5\"\n",
		"policy:\n    cache-size: 0x10\n",
		"policy:\n    timeout: \" 1000\"\n",
		"policy:\n    timeout: 99\n",
		"policy:\n    verbosity: \"+1\"\n",
		"policy:\n    socket-mode: \" 644\"\n",
		"policy:\n    socket-mode: \"+644\"\n",
		"policy:\n    socket-mode: 0778\n",
		"policy:\n    socket-mode: 01000\n",
		NULL
	};
	struct policy_conf *c;

	for (size_t i = 0; bad[i] != NULL; i++)
		ck_assert_msg(load(bad[i]) == NULL, "took %s", bad[i]);
	c = load("policy:\n    cache-ttl: 5\n    socket-mode: 0640\n"
	    "    timeout: 100\n    verbosity: 3\n");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->cache_ttl, 5);
	ck_assert_uint_eq(c->socket_mode, 0640);
	policy_conf_free(c);
}
END_TEST

static Suite *
policy_conf_suite(void)
{
	Suite *s = suite_create("policy_conf");
	TCase *a = tcase_create("access");

	tcase_add_test(a, test_access_control);
	tcase_add_test(a, test_numbers_digits_only);
	suite_add_tcase(s, a);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(policy_conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
