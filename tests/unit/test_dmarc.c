/*
 * test_dmarc.c - unit tests for plugin/dmarc.c (DMARC policy records,
 * RFC 7489 §6.3/§6.4/§6.6.3): refusals first, then good records.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"

static struct dmarc_record rec;

static int
parse(const char *s)
{
	return dmarc_record_parse(s, strlen(s), &rec);
}

START_TEST(refuse)
{
	ck_assert_int_eq(parse(""), DMARC_E_VERSION);
	ck_assert_int_eq(parse("p=reject; v=DMARC1"), DMARC_E_VERSION);
	ck_assert_int_eq(parse("v=DMARC2; p=reject"), DMARC_E_VERSION);
	ck_assert_int_eq(parse("v=dmarc1; p=reject"), DMARC_E_VERSION);
	ck_assert_int_eq(parse("v=spf1 -all"), DMARC_E_VERSION);
	/* nothing before "v" (found by fuzz_dmarc) */
	ck_assert_int_eq(parse(" v=DMARC1; p=reject"), DMARC_E_VERSION);
	ck_assert_int_eq(parse("v=DMARC1"), DMARC_E_POLICY);
	ck_assert_int_eq(parse("v=DMARC1; p=block"), DMARC_E_POLICY);
	ck_assert_int_eq(parse("v=DMARC1; sp=reject"), DMARC_E_POLICY);
	ck_assert_int_eq(parse("v=DMARC1; p=reject; p=none"), DMARC_E_DUP);
	ck_assert_int_eq(parse("v=DMARC1; p=reject; pct=101"), DMARC_E_SYNTAX);
	ck_assert_int_eq(parse("v=DMARC1; p=reject; pct=-1"), DMARC_E_SYNTAX);
	ck_assert_int_eq(parse("v=DMARC1; p=reject; pct=1000"),
	    DMARC_E_SYNTAX);
	ck_assert_int_eq(parse("v=DMARC1; reject"), DMARC_E_SYNTAX);
	ck_assert_int_eq(parse("v=DMARC1; =x; p=reject"), DMARC_E_SYNTAX);
}
END_TEST

START_TEST(good)
{
	ck_assert_int_eq(parse("v=DMARC1; p=reject"), DMARC_OK);
	ck_assert_int_eq(rec.p, DMARC_P_REJECT);
	ck_assert_int_eq(rec.sp, DMARC_P_REJECT);
	ck_assert_uint_eq(rec.pct, 100);
	ck_assert_int_eq(parse("v=DMARC1;p=Quarantine;sp=none;pct=25;"),
	    DMARC_OK);
	ck_assert_int_eq(rec.p, DMARC_P_QUARANTINE);
	ck_assert_int_eq(rec.sp, DMARC_P_NONE);
	ck_assert_uint_eq(rec.pct, 25);
	/* blanks around '=' and ';', unknown tags ignored */
	ck_assert_int_eq(parse("v = DMARC1 ;  p = none ; fo=1; adkim=s ;"),
	    DMARC_OK);
	ck_assert_int_eq(rec.p, DMARC_P_NONE);
	/* §6.6.3: no valid p= but a valid rua=: p=none */
	ck_assert_int_eq(parse("v=DMARC1; p=bogus; "
	    "rua=mailto:d@rua.example"), DMARC_OK);
	ck_assert_int_eq(rec.p, DMARC_P_NONE);
	/* an invalid sp= is ignored: subdomains inherit p */
	ck_assert_int_eq(parse("v=DMARC1; p=reject; sp=maybe"), DMARC_OK);
	ck_assert_int_eq(rec.sp, DMARC_P_REJECT);
	ck_assert_str_eq(dmarc_policy_name(DMARC_P_QUARANTINE), "quarantine");
	ck_assert_int_eq(dmarc_record_parse("v=DMARC1; p=reject; x", 18,
	    &rec), DMARC_OK);	/* len bounds the text */
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dmarc");
	TCase *tc = tcase_create("all");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, refuse);
	tcase_add_test(tc, good);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
