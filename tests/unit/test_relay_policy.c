/*
 * test_relay_policy.c - unit tests for plugin/relay/policy_table.c: the
 * relay's TLS policy table and DANE exemption list. Refusals first (each
 * names FILE:LINE), then good tables, the lookup order (exact before the
 * nearest parent, case and trailing dot ignored), the match= defaults,
 * and the expiry of exemptions.
 *
 * SECURITY: test program; reads only a temporary file it writes.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin/relay/policy_table.h"

static int
table(const char *text, struct policy_table **t, char *err)
{
	return policy_table_parse("policy", text, strlen(text), t, err,
	    POLICY_ERR_MAX);
}

static int
exempt(const char *text, struct exemptions **x, char *err)
{
	return exemptions_parse("exempt", text, strlen(text), x, err,
	    POLICY_ERR_MAX);
}

/* Each bad table is refused with the expected error text. */
START_TEST(test_table_refusals)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "example.com\n", "policy:1: no policy for example.com" },
		{ "# c\n\nexample.com  dane2\n", "policy:3: unknown policy "
		    "\"dane2\"" },
		{ "exa mple.com\n", "policy:1: unknown policy \"mple.com\"" },
		{ "ex!ample.com dane\n", "policy:1: \"ex!ample.com\" is not a "
		    "domain" },
		{ "a..b dane\n", "policy:1: \"a..b\" is not a domain" },
		{ ". dane\n", "policy:1: \".\" is not a domain" },
		{ "x.example may match=hostname\n", "policy:1: match= applies "
		    "only to verify and secure, not may" },
		{ "x.example verify match=\n", "policy:1: empty match=" },
		{ "x.example verify match=host:\n", "policy:1: match= pattern "
		    "\"\" is not" },
		{ "x.example verify match=a match=b\n", "policy:1: match= "
		    "given twice" },
		{ "x.example secure tafile=/x\n", "policy:1: unsupported "
		    "option \"tafile=/x\"" },
		{ "x.example dane\nX.Example. may\n", "policy:2: x.example "
		    "already has a policy (line 1)" },
		{ "x.example verify match=a:b:c:d:e:f:g:h:i\n", "policy:1: "
		    "more than 8 match= patterns" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_table *t = (void *)1;
		char err[POLICY_ERR_MAX];

		ck_assert_int_eq(table(bad[i].text, &t, err),
		    DANEGATE_E_INVALID);
		ck_assert_ptr_null(t);
		ck_assert_msg(strncmp(err, bad[i].err, strlen(bad[i].err)) ==
		    0, "%s: got \"%s\", want \"%s...\"", bad[i].text, err,
		    bad[i].err);
	}
}
END_TEST

START_TEST(test_table_nul_and_long_lines)
{
	struct policy_table *t;
	char err[POLICY_ERR_MAX];
	char *big;

	ck_assert_int_eq(policy_table_parse("p", "a.example dane\nb\0 may\n",
	    22, &t, err, sizeof(err)), DANEGATE_E_INVALID);
	ck_assert_str_eq(err, "p:2: NUL byte in the line");
	big = malloc(POLICY_LINE_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', POLICY_LINE_MAX + 1);
	big[POLICY_LINE_MAX + 1] = '\n';
	ck_assert_int_eq(policy_table_parse("p", big, POLICY_LINE_MAX + 2, &t,
	    err, sizeof(err)), DANEGATE_E_INVALID);
	ck_assert_str_eq(err, "p:1: line longer than 4096 bytes");
	free(big);
}
END_TEST

START_TEST(test_table_lookup)
{
	struct policy_table *t;
	const struct policy_entry *e;
	char err[POLICY_ERR_MAX];

	ck_assert_int_eq(table(
	    "# the bank and its subsidiaries\n"
	    "bank.example    verify   match=hostname:.bank.example\n"
	    ".bank.example   secure\n"
	    "\tLegacy.Example.  none   # old\n"
	    ".example        may\n"
	    "dane.example    dane-only\r\n"
	    "enc.example     encrypt\n", &t, err), 0);
	ck_assert_uint_eq(policy_table_count(t), 6);

	e = policy_table_find(t, "BANK.example.");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->level, POLICY_LEVEL_VERIFY);
	ck_assert_uint_eq(e->n_match, 2);
	ck_assert_str_eq(e->match[0], "hostname");
	ck_assert_str_eq(e->match[1], ".bank.example");
	ck_assert_uint_eq(e->line, 2);

	/* the nearest parent wins over a farther one */
	e = policy_table_find(t, "eu.bank.example");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->level, POLICY_LEVEL_SECURE);
	ck_assert_uint_eq(e->n_match, 2);
	ck_assert_str_eq(e->match[0], "nexthop");
	ck_assert_str_eq(e->match[1], "dot-nexthop");

	e = policy_table_find(t, "legacy.example");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->level, POLICY_LEVEL_NONE);
	ck_assert_str_eq(policy_level_name(e->level), "none");

	/* ".example" covers names below example, not example itself */
	e = policy_table_find(t, "other.example");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->level, POLICY_LEVEL_MAY);
	ck_assert_ptr_null(policy_table_find(t, "example"));
	ck_assert_ptr_null(policy_table_find(t, "example.org"));
	ck_assert_ptr_null(policy_table_find(t, "bad..name"));

	e = policy_table_find(t, "dane.example");
	ck_assert_int_eq(e->level, POLICY_LEVEL_DANE_ONLY);
	ck_assert_str_eq(policy_level_name(e->level), "dane-only");
	e = policy_table_find(t, "enc.example");
	ck_assert_int_eq(e->level, POLICY_LEVEL_ENCRYPT);
	policy_table_free(t);
	policy_table_free(NULL);

	/* an empty table (comments only) is fine */
	ck_assert_int_eq(table("# nothing\n\n   \n", &t, err), 0);
	ck_assert_uint_eq(policy_table_count(t), 0);
	ck_assert_ptr_null(policy_table_find(t, "x.example"));
	policy_table_free(t);
}
END_TEST

START_TEST(test_table_load)
{
	char path[] = "/tmp/test_relay_policyXXXXXX";
	struct policy_table *t;
	char err[POLICY_ERR_MAX];
	int fd = mkstemp(path);
	static const char text[] = "a.example encrypt\nb.example bogus\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(policy_table_load(path, &t, err, sizeof(err)),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":2: unknown policy \"bogus\""));
	ck_assert_int_eq(strncmp(err, path, strlen(path)), 0);
	unlink(path);
	ck_assert_int_eq(policy_table_load(path, &t, err, sizeof(err)),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(test_exemption_refusals)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "x.example\n", "exempt:1: no expiry date for x.example" },
		{ "x.example 2027-01-31\n", "exempt:1: no reason given for "
		    "exempting x.example" },
		{ "x.example 2027-02-29 r\n", "exempt:1: \"2027-02-29\" is not "
		    "a date" },
		{ "x.example 2027-13-01 r\n", "exempt:1: \"2027-13-01\" is not "
		    "a date" },
		{ "x.example 27-01-01 r\n", "exempt:1: \"27-01-01\" is not a "
		    "date" },
		{ "x.example 2027/01/01 r\n", "exempt:1: \"2027/01/01\" is not "
		    "a date" },
		{ ".x.example 2027-01-01 r\n", "exempt:1: \".x.example\" is "
		    "not a domain" },
		{ "x.example 2027-01-01 a\nX.EXAMPLE 2028-01-01 b\n",
		    "exempt:2: x.example is already exempted (line 1)" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct exemptions *x = (void *)1;
		char err[POLICY_ERR_MAX];

		ck_assert_int_eq(exempt(bad[i].text, &x, err),
		    DANEGATE_E_INVALID);
		ck_assert_ptr_null(x);
		ck_assert_msg(strncmp(err, bad[i].err, strlen(bad[i].err)) ==
		    0, "%s: got \"%s\", want \"%s...\"", bad[i].text, err,
		    bad[i].err);
	}
}
END_TEST

START_TEST(test_exemption_expiry)
{
	struct exemptions *x;
	struct exemption *e;
	char err[POLICY_ERR_MAX];

	ck_assert_int_eq(exempt(
	    "# domain  last day  reason\n"
	    "broken.example  2024-02-29  TLSA stale since the key roll "
	    "(ticket 42)\n", &x, err), 0);
	ck_assert_uint_eq(exemptions_count(x), 1);
	e = exemptions_find(x, "Broken.Example.");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->until, "2024-02-29");
	ck_assert_str_eq(e->reason, "TLSA stale since the key roll "
	    "(ticket 42)");
	/* the last day is included: it ends at 2024-03-01 00:00:00 UTC */
	ck_assert_int_eq((long long)e->expires, 1709251200LL);
	ck_assert(exemption_active(e, 1709251199));
	ck_assert(!exemption_active(e, 1709251200));
	ck_assert(!exemption_active(NULL, 0));
	ck_assert_ptr_null(exemptions_find(x, "sub.broken.example"));
	exemptions_free(x);
	exemptions_free(NULL);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_table_refusals);
	tcase_add_test(tc, test_table_nul_and_long_lines);
	tcase_add_test(tc, test_table_lookup);
	tcase_add_test(tc, test_table_load);
	tcase_add_test(tc, test_exemption_refusals);
	tcase_add_test(tc, test_exemption_expiry);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
