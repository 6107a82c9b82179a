/*
 * test_algcheck.c - the start-up DNSSEC algorithm check (daemon/algcheck.c)
 * against the libunbound the project links: what it calls insecure and
 * bogus, and that every algorithm and DS digest type RFC 8624 says a
 * validator MUST validate comes out secure.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algcheck.h"

/* The built-in zone of KIND and NUMBER. */
static const struct algcheck_zone *
builtin(enum algcheck_kind kind, int number)
{
	size_t n;
	const struct algcheck_zone *z = algcheck_zones_builtin(&n);

	for (size_t i = 0; i < n; i++)
		if (z[i].kind == kind && z[i].number == number)
			return &z[i];
	ck_abort_msg("no built-in zone for %d", number);
	return NULL;
}

static enum algcheck_verdict
check_one(const struct algcheck_zone *z, char *why, size_t cap)
{
	struct algcheck_result res;
	char err[256];

	ck_assert_int_eq(algcheck_run(z, 1, &res, err, sizeof(err)), 0);
	ck_assert_ptr_eq(res.zone, z);
	snprintf(why, cap, "%s", res.why);
	return res.verdict;
}

START_TEST(algcheck_corrupt_signature_is_bogus)
{
	struct algcheck_zone z = *builtin(ALGCHECK_ALGORITHM, 13);
	char *data = strdup(z.data), *sig, why[160];

	/* one base64 character in the middle of www's RRSIG */
	ck_assert_ptr_nonnull(sig = strstr(data, "IN RRSIG A 13 "));
	sig = strchr(sig, '\n') - 20;
	*sig = *sig == 'A' ? 'B' : 'A';
	z.data = data;
	ck_assert_int_eq(check_one(&z, why, sizeof(why)), ALGCHECK_BOGUS);
	ck_assert_ptr_nonnull(strstr(why, "signature"));
	free(data);
}
END_TEST

START_TEST(algcheck_wrong_ds_digest_is_bogus)
{
	struct algcheck_zone z = *builtin(ALGCHECK_ALGORITHM, 13);
	char *ds = strdup(z.ds), why[160];
	size_t len = strlen(ds);

	ds[len - 1] = ds[len - 1] == '0' ? '1' : '0';
	z.ds = ds;
	ck_assert_int_eq(check_one(&z, why, sizeof(why)), ALGCHECK_BOGUS);
	free(ds);
}
END_TEST

/* A DS of an algorithm no validator knows (unassigned 100): the anchor is
 * ignored and the zone comes out insecure, as an unsupported algorithm
 * does. This is the downgrade the check exists to report. */
START_TEST(algcheck_unknown_algorithm_is_insecure)
{
	struct algcheck_zone z = *builtin(ALGCHECK_ALGORITHM, 13);
	char ds[256], why[160], *p;
	unsigned tag;
	int alg;

	snprintf(ds, sizeof(ds), "%s", z.ds);
	ck_assert_ptr_nonnull(p = strstr(ds, "IN DS "));
	ck_assert_int_eq(sscanf(p, "IN DS %u %d", &tag, &alg), 2);
	ck_assert_int_eq(alg, 13);
	p = strstr(p, " 13 ");
	ck_assert_ptr_nonnull(p);
	memcpy(p, " 99 ", 4);
	z.ds = ds;
	ck_assert_int_eq(check_one(&z, why, sizeof(why)), ALGCHECK_INSECURE);
}
END_TEST

START_TEST(algcheck_builtin_covers_rfc8624)
{
	static const int algs[] = { 5, 7, 8, 10, 13, 14, 15, 16 };
	static const int digests[] = { 1, 2, 4 };
	size_t n;
	const struct algcheck_zone *z = algcheck_zones_builtin(&n);

	ck_assert_uint_eq(n, 11);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		ck_assert_ptr_nonnull(builtin(ALGCHECK_ALGORITHM, algs[i]));
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		ck_assert_ptr_nonnull(builtin(ALGCHECK_DIGEST, digests[i]));
	for (size_t i = 0; i < n; i++)
		ck_assert(strcmp(z[i].rfc8624, "MUST") == 0 ||
		    strcmp(z[i].rfc8624, "RECOMMENDED") == 0);
}
END_TEST

/* The linked libunbound: every MUST algorithm and digest type secure; the
 * others secure or insecure (unsupported), never bogus (the data is good). */
START_TEST(algcheck_linked_libunbound_validates_must)
{
	struct algcheck_result res[32];
	char err[256];
	size_t n;
	const struct algcheck_zone *z = algcheck_zones_builtin(&n);

	ck_assert_int_eq(algcheck_run(z, n, res, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		const char *what = z[i].kind == ALGCHECK_ALGORITHM ?
		    "algorithm" : "DS digest type";

		fprintf(stderr, "%s %d (%s, RFC 8624 %s): %s\n", what,
		    z[i].number, z[i].name, z[i].rfc8624,
		    algcheck_verdict_name(res[i].verdict));
		if (strcmp(z[i].rfc8624, "MUST") == 0)
			ck_assert_msg(res[i].verdict == ALGCHECK_SECURE,
			    "%s %d (%s) is a MUST but came out %s %s", what,
			    z[i].number, z[i].name,
			    algcheck_verdict_name(res[i].verdict), res[i].why);
		else
			ck_assert_msg(res[i].verdict == ALGCHECK_SECURE ||
			    res[i].verdict == ALGCHECK_INSECURE,
			    "%s %d (%s) came out %s %s", what, z[i].number,
			    z[i].name, algcheck_verdict_name(res[i].verdict),
			    res[i].why);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("algcheck");
	TCase *bad = tcase_create("invalid");
	TCase *good = tcase_create("good");
	SRunner *sr;
	int failed;

	tcase_add_test(bad, algcheck_corrupt_signature_is_bogus);
	tcase_add_test(bad, algcheck_wrong_ds_digest_is_bogus);
	tcase_add_test(bad, algcheck_unknown_algorithm_is_insecure);
	tcase_add_test(good, algcheck_builtin_covers_rfc8624);
	tcase_add_test(good, algcheck_linked_libunbound_validates_must);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, good);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
