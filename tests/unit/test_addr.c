/*
 * test_addr.c - unit tests for lib/addr.c, the one ADDR[@PORT] parser of
 * danegated, danegate-relay and danegate-policy: refusals first (what any
 * of the three former parsers refused, and what one of them let through),
 * then every form a configuration used to accept, with its port.
 *
 * SECURITY: test program; no files, no network.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

START_TEST(test_refused)
{
	static const char *const bad[] = {
		"", "@53", "@", "127.0.0.1@", "127.0.0.1@0", "127.0.0.1@00",
		"127.0.0.1@65536", "127.0.0.1@99999999999999999999",
		/* strtoul() would have taken these (the relay's old parser) */
		"127.0.0.1@ 53", "127.0.0.1@+53", "127.0.0.1@-1",
		"127.0.0.1@-0", "127.0.0.1@53x", "127.0.0.1@0x35",
		/* ':' is not the port separator */
		"127.0.0.1:80", "[::1]:53",
		"::1@53@54", "::1@@80", "localhost", "localhost@80",
		"127.0.0.1 ", " 127.0.0.1", "1.2.3.4.5@80", "fe80::1%lo",
		/* brackets must pair and hold something */
		"[", "[]", "[]@80", "[::1", "::1]", "[[::1]]", "[::1]x@53",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000@53",
		/* longer than any address, in brackets */
		"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]",
		"/run/danegate/relay.sock",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(addr_parse(bad[i], 53, &ss, &len) == -1,
		    "accepted '%s'", bad[i]);
	/* without a default, the port is required */
	ck_assert_int_eq(addr_parse("127.0.0.1", 0, &ss, &len), -1);
	ck_assert_int_eq(addr_parse("[::1]", 0, &ss, &len), -1);
	/* a default out of range is not a port either */
	ck_assert_int_eq(addr_parse("127.0.0.1", 65536, &ss, &len), -1);
}
END_TEST

START_TEST(test_accepted)
{
	static const struct {
		const char *text;
		unsigned dflt;
		int family;
		unsigned port;
		const char *addr;
	} v[] = {
		{ "127.0.0.1", 5300, AF_INET, 5300, "127.0.0.1" },
		{ "127.0.0.1@53", 5300, AF_INET, 53, "127.0.0.1" },
		{ "127.0.0.1@10028", 0, AF_INET, 10028, "127.0.0.1" },
		{ "0.0.0.0@65535", 5300, AF_INET, 65535, "0.0.0.0" },
		{ "10.1.2.3@0025", 0, AF_INET, 25, "10.1.2.3" },
		{ "[127.0.0.1]@25", 0, AF_INET, 25, "127.0.0.1" },
		{ "::1", 5300, AF_INET6, 5300, "::1" },
		{ "::@1", 5300, AF_INET6, 1, "::" },
		{ "2001:db8::1@853", 5300, AF_INET6, 853, "2001:db8::1" },
		{ "::ffff:192.0.2.1@53", 5300, AF_INET6, 53,
		  "::ffff:192.0.2.1" },
		{ "[::1]", 9167, AF_INET6, 9167, "::1" },
		{ "[2001:db8::25]@2525", 0, AF_INET6, 2525, "2001:db8::25" },
		/* the longest IPv6 text, with and without brackets */
		{ "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]@1", 0,
		  AF_INET6, 1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 7,
		  AF_INET6, 7, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const void *)&ss;
	const struct sockaddr_in6 *sin6 = (const void *)&ss;
	char host[INET6_ADDRSTRLEN];
	socklen_t len;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_msg(addr_parse(v[i].text, v[i].dflt, &ss, &len) == 0,
		    "refused '%s'", v[i].text);
		ck_assert_int_eq(ss.ss_family, v[i].family);
		if (v[i].family == AF_INET) {
			ck_assert_uint_eq(len, sizeof(*sin));
			ck_assert_uint_eq(ntohs(sin->sin_port), v[i].port);
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		} else {
			ck_assert_uint_eq(len, sizeof(*sin6));
			ck_assert_uint_eq(ntohs(sin6->sin6_port), v[i].port);
			inet_ntop(AF_INET6, &sin6->sin6_addr, host,
			    sizeof(host));
		}
		ck_assert_str_eq(host, v[i].addr);
	}
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_accepted);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
