/*
 * test_mta_sts.c - the MTA-STS policy parser and MX pattern matching
 * (tools/mta_sts.c), RFC 8461 §3.2 and §4.1.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mta_sts.h"

static int
parse(const char *body, struct mta_sts_policy *p, char *err)
{
	return mta_sts_parse(body, strlen(body), p, err, 200);
}

START_TEST(bad_policies_are_refused)
{
	static const struct {
		const char *body, *error;
	} cases[] = {
		{ "", "missing version" },
		{ "version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n",
		  "line 1: version 'STSv2' is not STSv1" },
		{ "version: STSv1\nmode: strict\n",
		  "line 2: mode 'strict' is not enforce, testing or none" },
		{ "version: STSv1\nmode: enforce\nmax_age: 86400\n",
		  "mode enforce without any mx" },
		{ "version: STSv1\nmode: enforce\nmx: a\nmax_age: -1\n",
		  "line 4: max_age '-1' is not 0..31557600" },
		{ "version: STSv1\nmode: enforce\nmx: a\nmax_age: 31557601\n",
		  "line 4: max_age '31557601' is not 0..31557600" },
		{ "version: STSv1\nmode: testing\nmx: a\n", "missing max_age" },
		{ "version: STSv1\ngarbage line\n",
		  "line 2: no 'key: value'" },
		{ "version: STSv1\nmode: enforce\nmx:\nmax_age: 5\n",
		  "line 3: empty mx" },
	};
	struct mta_sts_policy p;
	char err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(parse(cases[i].body, &p, err), -1);
		ck_assert_str_eq(err, cases[i].error);
	}
	/* a NUL byte inside */
	ck_assert_int_eq(mta_sts_parse("version: STSv1\0x\n", 17, &p, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "line 1: NUL byte");
}
END_TEST

START_TEST(good_policies_parse)
{
	struct mta_sts_policy p;
	char err[200];

	ck_assert_int_eq(parse("version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx1.example.com\r\nmx: *.example.net\r\n"
	    "max_age: 604800\r\nextension: ignored\r\n", &p, err), 0);
	ck_assert_int_eq(p.mode, MTA_STS_ENFORCE);
	ck_assert_int_eq(p.max_age, 604800);
	ck_assert_uint_eq(p.n_mx, 2);
	ck_assert_str_eq(p.mx[1], "*.example.net");
	/* mode none needs no mx; no final newline; blanks around values */
	ck_assert_int_eq(parse("version:STSv1\nmode :  none \nmax_age: 0",
	    &p, err), 0);
	ck_assert_int_eq(p.mode, MTA_STS_NONE);
	ck_assert_str_eq(mta_sts_mode_name(p.mode), "none");
}
END_TEST

START_TEST(mx_patterns_match_like_rfc_8461)
{
	struct mta_sts_policy p;
	char err[200];

	ck_assert_int_eq(parse("version: STSv1\nmode: enforce\n"
	    "mx: mail.example.com\nmx: *.example.net\nmax_age: 1\n", &p,
	    err), 0);
	ck_assert(mta_sts_mx_matches(&p, "mail.example.com"));
	ck_assert(mta_sts_mx_matches(&p, "MAIL.Example.COM."));
	ck_assert(mta_sts_mx_matches(&p, "mx1.example.net"));
	/* the wildcard stands for exactly one label */
	ck_assert(!mta_sts_mx_matches(&p, "a.b.example.net"));
	ck_assert(!mta_sts_mx_matches(&p, "example.net"));
	ck_assert(!mta_sts_mx_matches(&p, "mail.example.org"));
	ck_assert(!mta_sts_mx_matches(&p, "xmail.example.com"));
}
END_TEST

START_TEST(txt_record_rules)
{
	char spf[] = "v=spf1 -all", sts[] = "v=STSv1; id=20260101000000;";
	char a1[] = "v=STSv1; id=a1;", b2[] = "v=STSv1; id=b2;";
	char v10[] = "v=STSv10; id=x;", late[] = "x v=STSv1; id=y";
	char *one[] = { spf, sts }, *two[] = { a1, b2 }, *other[] = { v10,
	    late };
	char id[64];

	ck_assert(mta_sts_txt_id(one, 2, id, sizeof(id)));
	ck_assert_str_eq(id, "20260101000000");
	/* RFC 8461 §3.1: more than one STSv1 record means no policy */
	ck_assert(!mta_sts_txt_id(two, 2, id, sizeof(id)));
	ck_assert_str_eq(id, "");
	ck_assert(!mta_sts_txt_id(other, 2, id, sizeof(id)));
	ck_assert(!mta_sts_txt_id(NULL, 0, id, sizeof(id)));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mta_sts");
	TCase *tc = tcase_create("policy");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, bad_policies_are_refused);
	tcase_add_test(tc, good_policies_parse);
	tcase_add_test(tc, mx_patterns_match_like_rfc_8461);
	tcase_add_test(tc, txt_record_rules);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
