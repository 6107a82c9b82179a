/*
 * test_relay_dmarc_guard.c - unit tests for plugin/relay/dmarc_guard.c,
 * the DMARC guard's decision: the record texts as the DNS gives them,
 * the organizational domain by the Public Suffix List (plugin/dmarc.c),
 * then the decision table
 * (record + SPF result + route -> direct / route / refuse / defer).
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc_guard.h"

START_TEST(dmarc_txt)
{
	struct dmarc_record rec;
	const char *one[] = { "v=spf1 -all", "v=DMARC1; p=reject; pct=10" };
	const char *two[] = { "v=DMARC1; p=reject", "v=DMARC1; p=none" };
	const char *none[] = { "v=spf1 -all", "hello" };
	const char *bad[] = { "v=DMARC1; p=reject; p=none" };
	const char *lower[] = { "v=dmarc1; p=reject" };

	ck_assert_int_eq(dmarc_guard_dmarc_txt(one, 2, &rec),
	    DMARC_GUARD_DNS_FOUND);
	ck_assert_int_eq(rec.p, DMARC_P_REJECT);
	ck_assert_uint_eq(rec.pct, 10);
	/* RFC 7489 §6.6.3: several records are no record */
	ck_assert_int_eq(dmarc_guard_dmarc_txt(two, 2, &rec),
	    DMARC_GUARD_DNS_NONE);
	ck_assert_int_eq(dmarc_guard_dmarc_txt(none, 2, &rec),
	    DMARC_GUARD_DNS_NONE);
	ck_assert_int_eq(dmarc_guard_dmarc_txt(NULL, 0, &rec),
	    DMARC_GUARD_DNS_NONE);
	ck_assert_int_eq(dmarc_guard_dmarc_txt(bad, 1, &rec),
	    DMARC_GUARD_DNS_NONE);
	/* v=DMARC1 is case-sensitive (§6.4) */
	ck_assert_int_eq(dmarc_guard_dmarc_txt(lower, 1, &rec),
	    DMARC_GUARD_DNS_NONE);
}
END_TEST

START_TEST(org_domain)
{
	/* RFC 7489 §3.2 by the Public Suffix List */
	ck_assert_str_eq(dmarc_org_domain("news.school.example"),
	    "school.example");
	ck_assert_str_eq(dmarc_org_domain("a.b.c.example"), "c.example");
	ck_assert_str_eq(dmarc_org_domain("school.example"), "school.example");
	ck_assert_str_eq(dmarc_org_domain("A.B.School.Example"),
	    "School.Example");
	ck_assert_str_eq(dmarc_org_domain("mail.school.co.uk"),
	    "school.co.uk");
	ck_assert_str_eq(dmarc_org_domain("x.y.comune.roma.it"),
	    "comune.roma.it");
	/* a public suffix has none: never a TLD's record */
	ck_assert_ptr_null(dmarc_org_domain("co.uk"));
	ck_assert_ptr_null(dmarc_org_domain("example"));
	ck_assert_ptr_null(dmarc_org_domain(""));
}
END_TEST

static struct dmarc_guard_facts
facts(enum dmarc_guard_dns dmarc, enum dmarc_policy p, enum dmarc_policy sp,
    enum dmarc_guard_dns org, enum dmarc_policy org_sp,
    enum dmarc_guard_dns spf_dns, enum spf_result spf)
{
	struct dmarc_guard_facts f;

	memset(&f, 0, sizeof(f));
	f.dmarc = dmarc;
	f.rec.p = p;
	f.rec.sp = sp;
	f.rec.pct = 100;
	f.org_dmarc = org;
	f.org_rec.p = DMARC_P_NONE;
	f.org_rec.sp = org_sp;
	f.org_rec.pct = 100;
	f.spf_dns = spf_dns;
	f.spf = spf;
	return f;
}

#define FOUND	DMARC_GUARD_DNS_FOUND
#define NONE	DMARC_GUARD_DNS_NONE
#define FAIL	DMARC_GUARD_DNS_FAIL
#define SKIP	DMARC_GUARD_DNS_SKIPPED

START_TEST(decide)
{
	static const struct {
		const char *domain;
		enum dmarc_guard_dns dmarc;
		enum dmarc_policy p, sp;
		enum dmarc_guard_dns org;
		enum dmarc_policy org_sp;
		enum dmarc_guard_dns spf_dns;
		enum spf_result spf;
		const char *route;
		enum dmarc_guard_verdict want;
		int code;
		const char *text;	/* a part of the reply text */
	} rows[] = {
		/* no record, p=none: direct whatever SPF says */
		{ "a.example", NONE, 0, 0, SKIP, 0, FOUND, SPF_R_FAIL, NULL,
		  DMARC_GUARD_DIRECT, 0, NULL },
		{ "a.example", FOUND, DMARC_P_NONE, DMARC_P_REJECT, SKIP, 0,
		  NONE, SPF_R_NONE, "exo", DMARC_GUARD_DIRECT, 0, NULL },
		/* reject, SPF proves the relay: direct */
		{ "a.example", FOUND, DMARC_P_REJECT, DMARC_P_REJECT, SKIP, 0,
		  FOUND, SPF_R_PASS, "exo", DMARC_GUARD_DIRECT, 0, NULL },
		/* reject, not proven: the route, else 550 */
		{ "a.example", FOUND, DMARC_P_REJECT, DMARC_P_REJECT, SKIP, 0,
		  FOUND, SPF_R_PERMERROR, "exo", DMARC_GUARD_ROUTE, 0,
		  "through route exo" },
		{ "dmarc-reject.example", FOUND, DMARC_P_REJECT,
		  DMARC_P_REJECT, SKIP, 0, FOUND, SPF_R_FAIL, NULL,
		  DMARC_GUARD_REFUSE, 550, "5.7.1 DMARC p=reject for "
		  "dmarc-reject.example: send through its mailbox route" },
		{ "a.example", FOUND, DMARC_P_QUARANTINE, DMARC_P_QUARANTINE,
		  SKIP, 0, NONE, SPF_R_NONE, NULL, DMARC_GUARD_REFUSE, 550,
		  "DMARC p=quarantine for a.example" },
		{ "a.example", FOUND, DMARC_P_QUARANTINE, DMARC_P_QUARANTINE,
		  SKIP, 0, FOUND, SPF_R_SOFTFAIL, NULL, DMARC_GUARD_REFUSE,
		  550, NULL },
		/* the header check: no SPF, no route */
		{ "a.example", FOUND, DMARC_P_REJECT, DMARC_P_REJECT, SKIP, 0,
		  SKIP, SPF_R_NONE, NULL, DMARC_GUARD_REFUSE, 550, NULL },
		/* the subdomain: the parent's sp= (not its p=) */
		{ "news.a.example", NONE, 0, 0, FOUND, DMARC_P_REJECT, FOUND,
		  SPF_R_NEUTRAL, NULL, DMARC_GUARD_REFUSE, 550,
		  "DMARC p=reject for news.a.example" },
		{ "news.a.example", NONE, 0, 0, FOUND, DMARC_P_NONE, FOUND,
		  SPF_R_NEUTRAL, NULL, DMARC_GUARD_DIRECT, 0, NULL },
		/* its own record wins over the parent's */
		{ "news.a.example", FOUND, DMARC_P_NONE, DMARC_P_NONE, FOUND,
		  DMARC_P_REJECT, FOUND, SPF_R_FAIL, NULL, DMARC_GUARD_DIRECT,
		  0, NULL },
		/* the DNS could not tell: 451, never direct, never 550 */
		{ "a.example", FAIL, 0, 0, SKIP, 0, FOUND, SPF_R_PASS, "exo",
		  DMARC_GUARD_DEFER, 451, "4.4.3 DMARC policy of a.example" },
		{ "news.a.example", NONE, 0, 0, FAIL, 0, FOUND, SPF_R_PASS,
		  NULL, DMARC_GUARD_DEFER, 451, NULL },
		{ "a.example", FOUND, DMARC_P_REJECT, DMARC_P_REJECT, SKIP, 0,
		  FAIL, SPF_R_TEMPERROR, NULL, DMARC_GUARD_DEFER, 451,
		  "4.4.3 DMARC p=reject for a.example and its SPF gave a "
		  "temperror" },
		/* ... but the route needs no SPF */
		{ "a.example", FOUND, DMARC_P_REJECT, DMARC_P_REJECT, SKIP, 0,
		  FAIL, SPF_R_TEMPERROR, "exo", DMARC_GUARD_ROUTE, 0, NULL },
	};
	struct dmarc_guard_decision d;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dmarc_guard_facts f = facts(rows[i].dmarc, rows[i].p,
		    rows[i].sp, rows[i].org, rows[i].org_sp, rows[i].spf_dns,
		    rows[i].spf);

		dmarc_guard_decide(rows[i].domain, &f, rows[i].route, &d);
		ck_assert_msg(d.verdict == rows[i].want, "row %zu: verdict "
		    "%d, want %d (%s)", i, d.verdict, rows[i].want, d.text);
		ck_assert_int_eq(d.code, rows[i].code);
		if (rows[i].text != NULL)
			ck_assert_msg(strstr(d.text, rows[i].text) != NULL,
			    "row %zu: \"%s\" lacks \"%s\"", i, d.text,
			    rows[i].text);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_dmarc_guard");
	TCase *tc = tcase_create("guard");

	tcase_add_test(tc, dmarc_txt);
	tcase_add_test(tc, org_domain);
	tcase_add_test(tc, decide);
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
