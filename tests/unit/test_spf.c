/*
 * test_spf.c - unit tests for plugin/spf.c, the static subset of RFC 7208
 * (ip4/ip6/all, qualifiers; lookups reported, not made): a table of
 * records, addresses and the result each must give.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

static enum spf_result
check(const char *rec, const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return spf_check_static(rec, strlen(rec), (struct sockaddr *)&ss);
}

static const struct {
	const char *rec, *ip;
	enum spf_result want;
} table[] = {
	/* not SPF */
	{ "", "192.0.2.1", SPF_R_NONE },
	{ "v=spf10 -all", "192.0.2.1", SPF_R_NONE },
	{ "spf1 -all", "192.0.2.1", SPF_R_NONE },
	/* bad terms: permerror (§4.6) */
	{ "v=spf1 ip4:192.0.2.300 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.0/33 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.0/024 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.0/ -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip6:2001:db8::/129 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 frobnicate -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 - -all", "192.0.2.1", SPF_R_PERMERROR },
	/* matches, first wins, qualifiers */
	{ "v=spf1 ip4:192.0.2.1 -all", "192.0.2.1", SPF_R_PASS },
	{ "v=spf1 ip4:192.0.2.1 -all", "192.0.2.2", SPF_R_FAIL },
	{ "v=spf1 ip4:192.0.2.0/24 ~all", "192.0.2.77", SPF_R_PASS },
	{ "v=spf1 ip4:192.0.2.0/25 ~all", "192.0.2.200", SPF_R_SOFTFAIL },
	{ "v=spf1 ip4:0.0.0.0/0", "203.0.113.9", SPF_R_PASS },
	{ "v=spf1 -ip4:192.0.2.1 +all", "192.0.2.1", SPF_R_FAIL },
	{ "v=spf1 ?ip4:192.0.2.1 -all", "192.0.2.1", SPF_R_NEUTRAL },
	{ "V=SPF1 IP4:192.0.2.1 -ALL", "192.0.2.1", SPF_R_PASS },
	{ "v=spf1  ip4:192.0.2.1   -all ", "192.0.2.9", SPF_R_FAIL },
	{ "v=spf1 ip4:192.0.2.1", "192.0.2.9", SPF_R_NEUTRAL },
	{ "v=spf1", "192.0.2.9", SPF_R_NEUTRAL },
	/* IPv6, and v4-mapped counts as IPv4 (§5) */
	{ "v=spf1 ip6:2001:db8::/32 -all", "2001:db8:1::25", SPF_R_PASS },
	{ "v=spf1 ip6:2001:db8::/33 -all", "2001:db8:8000::1", SPF_R_FAIL },
	{ "v=spf1 ip6:2001:db8::1 -all", "192.0.2.1", SPF_R_FAIL },
	{ "v=spf1 ip4:192.0.2.1 -all", "::ffff:192.0.2.1", SPF_R_PASS },
	/* modifiers: exp= ignored, redirect= needs a lookup */
	{ "v=spf1 exp=explain.example ip4:192.0.2.1 -all", "192.0.2.1",
	  SPF_R_PASS },
	{ "v=spf1 redirect=_spf.example", "192.0.2.1", SPF_R_NEEDS_LOOKUP },
	/* lookups are not made: the check stops at the first */
	{ "v=spf1 mx -all", "192.0.2.1", SPF_R_NEEDS_LOOKUP },
	{ "v=spf1 a/24 -all", "192.0.2.1", SPF_R_NEEDS_LOOKUP },
	{ "v=spf1 include:spf.protection.outlook.com -all", "192.0.2.1",
	  SPF_R_NEEDS_LOOKUP },
	{ "v=spf1 ip4:192.0.2.1 include:x.example -all", "192.0.2.1",
	  SPF_R_PASS },
	{ "v=spf1 exists:%{i}.x.example -all", "192.0.2.1",
	  SPF_R_NEEDS_LOOKUP },
};

START_TEST(spf_table)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		ck_assert_msg(check(table[i].rec, table[i].ip) == table[i].want,
		    "\"%s\" for %s: got %s, want %s", table[i].rec,
		    table[i].ip, spf_result_name(check(table[i].rec,
		    table[i].ip)), spf_result_name(table[i].want));
	ck_assert_str_eq(spf_result_name(SPF_R_SOFTFAIL), "softfail");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tcase_create("table");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, spf_table);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
