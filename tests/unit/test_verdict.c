/*
 * test_verdict.c - unit tests for plugin/policy/verdict.c, the reply
 * danegate-policy gives Postfix for a destination and its MTA-STS state.
 * Keys that are not mail domains and failed lookups first (never
 * NOTFOUND while DNS fails), then the DANE answers, then MTA-STS where
 * there is no DANE, and DANE winning over MTA-STS.
 *
 * The destinations are recorded by hand in the shape dest_evaluate()
 * gives them (the engine's own rules are test_dest.c's business).
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

static struct danegate_mx_host hosts[4];
static struct danegate_destination dest;
static struct mta_sts_result sts;

static void
dest_reset(enum danegate_dnssec mx_state)
{
	memset(hosts, 0, sizeof(hosts));
	memset(&dest, 0, sizeof(dest));
	snprintf(dest.domain, sizeof(dest.domain), "example.org");
	dest.port = 25;
	dest.mx_state = mx_state;
	dest.hosts = hosts;
	dest.policy = DANEGATE_POLICY_DEFER;
	dest.reason = DANEGATE_R_NO_ADDRESS;
	snprintf(dest.why, sizeof(dest.why), "no MX host");
	memset(&sts, 0, sizeof(sts));
}

/* Adds a host; the destination's policy follows dest_evaluate(): the
 * first host not deferred, or DNSSEC_INVALID if all are and one was. */
static void
host_add(const char *name, enum danegate_dnssec addr,
    enum danegate_tls_policy policy, enum danegate_reason reason)
{
	struct danegate_mx_host *h = &hosts[dest.n_hosts++];
	bool first_usable = true;

	snprintf(h->name, sizeof(h->name), "%s", name);
	h->address_state = addr;
	h->policy = policy;
	h->reason = reason;
	h->trusted_only = dest.mx_state != DANEGATE_SECURE;
	for (size_t i = 0; i + 1 < dest.n_hosts; i++)
		if (hosts[i].policy != DANEGATE_POLICY_DEFER)
			first_usable = false;
	if (policy != DANEGATE_POLICY_DEFER && first_usable) {
		dest.policy = policy;
		dest.reason = reason;
	} else if (first_usable && reason == DANEGATE_R_DNSSEC_INVALID &&
	    dest.reason != DANEGATE_R_DNSSEC_INVALID) {
		dest.policy = DANEGATE_POLICY_DEFER;
		dest.reason = reason;
		snprintf(dest.why, sizeof(dest.why), "TLSA of %s bogus", name);
	}
}

static void
sts_enforce(const char *const *patterns, size_t n,
    enum mta_sts_mode mode)
{
	sts.published = true;
	sts.txt_state = DANEGATE_INSECURE;
	sts.fetched = true;
	sts.policy.mode = mode;
	sts.policy.max_age = 86400;
	for (size_t i = 0; i < n; i++)
		snprintf(sts.policy.mx[i], DANEGATE_NAME_MAX, "%s",
		    patterns[i]);
	sts.policy.n_mx = n;
}

static struct verdict v;

static int
decide(const char *key, int err, const struct mta_sts_result *s,
    enum verdict_map map, bool fail_temp)
{
	struct verdict_options o = { .sts_fail_temp = fail_temp };

	return verdict_decide(key, err, err ? NULL : &dest, s, map, &o, &v);
}

#define ck_verdict(st, txt) do {					\
	ck_assert_int_eq(v.status, (st));				\
	ck_assert_str_eq(v.text, (txt));				\
} while (0)

/* ---- not a mail domain, and failed lookups ----------------------------- */

START_TEST(test_keys_not_domains)
{
	static const char *const keys[] = {
		".example.org", "[mx.example.org]:25", "[mx.example.org]",
		"example.org:25", "a..b", "", ".", "ex/ample.org",
	};

	dest_reset(DANEGATE_SECURE);
	host_add("mx.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_VERIFIED);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ck_assert_int_eq(decide(keys[i], 0, NULL, VERDICT_MAP_POLICY,
		    false), 0);
		ck_verdict(VERDICT_NOTFOUND, "");
	}
}
END_TEST

START_TEST(test_key_domain)
{
	char d[DANEGATE_NAME_MAX];

	ck_assert(verdict_key_domain("Example.ORG.", d, sizeof(d)));
	ck_assert_str_eq(d, "example.org");
	ck_assert(!verdict_key_domain("example.org", d, 5));
	/* 63 bytes is the longest label */
	ck_assert(verdict_key_domain("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".org", d, sizeof(d)));
	ck_assert(!verdict_key_domain("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".org", d, sizeof(d)));
}
END_TEST

START_TEST(test_lookup_failed_is_temp)
{
	dest_reset(DANEGATE_SECURE);
	ck_assert_int_eq(decide("example.org", DANEGATE_E_TIMEOUT, NULL,
	    VERDICT_MAP_POLICY, false), 0);
	ck_verdict(VERDICT_TEMP, "dnssec-invalid lookup of example.org "
	    "failed: timed out");
	ck_assert_int_eq(v.reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_int_eq(decide("example.org", DANEGATE_E_INVALID, NULL,
	    VERDICT_MAP_POLICY, false), 0);
	ck_verdict(VERDICT_NOTFOUND, "");
}
END_TEST

START_TEST(test_mx_bogus_or_indeterminate)
{
	dest_reset(DANEGATE_BOGUS);
	snprintf(dest.why, sizeof(dest.why), "MX of example.org bogus");
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_TEMP, "dnssec-invalid MX of example.org bogus");
	dest_reset(DANEGATE_INDETERMINATE);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_TLSRPT,
	    false), 0);
	ck_assert_int_eq(v.status, VERDICT_TEMP);
}
END_TEST

START_TEST(test_every_host_bogus_tlsa)
{
	dest_reset(DANEGATE_SECURE);
	host_add("mx1.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DEFER,
	    DANEGATE_R_DNSSEC_INVALID);
	host_add("mx2.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DEFER,
	    DANEGATE_R_DNSSEC_INVALID);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_TEMP, "dnssec-invalid TLSA of mx1.example.org "
	    "bogus");
}
END_TEST

START_TEST(test_null_mx_and_no_address)
{
	dest_reset(DANEGATE_SECURE);
	dest.null_mx = true;
	dest.policy = DANEGATE_POLICY_NO_MAIL;
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_NOTFOUND, "");
	dest_reset(DANEGATE_SECURE);
	host_add("mx.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DEFER,
	    DANEGATE_R_NO_ADDRESS);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_NOTFOUND, "");
}
END_TEST

/* ---- DANE --------------------------------------------------------------- */

START_TEST(test_dane_only)
{
	dest_reset(DANEGATE_SECURE);
	host_add("mx1.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_VERIFIED);
	host_add("mx2.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_VERIFIED);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane-only");
	/* the implicit MX: the domain itself, named by the sender */
	dest_reset(DANEGATE_INSECURE);
	dest.implicit_mx = true;
	host_add("example.org", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_VERIFIED);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane-only");
}
END_TEST

START_TEST(test_dane_some_hosts)
{
	dest_reset(DANEGATE_SECURE);
	host_add("mx1.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_VERIFIED);
	host_add("mx2.example.net", DANEGATE_INSECURE, DANEGATE_POLICY_MAY,
	    DANEGATE_R_INSECURE_ADDRESS);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane");
}
END_TEST

START_TEST(test_dane_insecure_mx)
{
	/* an unsigned domain with a DANE-signed MX host: Postfix applies
	 * DANE to the host (smtp_tls_dane_insecure_mx_policy = dane) */
	dest_reset(DANEGATE_INSECURE);
	host_add("mx.signed.example", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_TRUSTED);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane");
}
END_TEST

START_TEST(test_dane_unusable_or_failed_tlsa)
{
	dest_reset(DANEGATE_SECURE);
	host_add("mx.example.org", DANEGATE_SECURE, DANEGATE_POLICY_ENCRYPT,
	    DANEGATE_R_TLSA_UNUSABLE);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane");
	/* a bogus TLSA RRset on the first host must not let Postfix talk
	 * to it opportunistically: DANE defers that host */
	dest_reset(DANEGATE_SECURE);
	host_add("mx1.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DEFER,
	    DANEGATE_R_DNSSEC_INVALID);
	host_add("mx2.example.org", DANEGATE_SECURE, DANEGATE_POLICY_MAY,
	    DANEGATE_R_NO_TLSA);
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane");
}
END_TEST

/* ---- no DANE: MTA-STS ---------------------------------------------------- */

static void
dest_no_dane(void)
{
	dest_reset(DANEGATE_INSECURE);
	host_add("mx1.example.org", DANEGATE_INSECURE, DANEGATE_POLICY_MAY,
	    DANEGATE_R_INSECURE_ADDRESS);
	host_add("mx2.mail.example.org", DANEGATE_INSECURE,
	    DANEGATE_POLICY_MAY, DANEGATE_R_INSECURE_ADDRESS);
	host_add("backup.example.net.", DANEGATE_INSECURE,
	    DANEGATE_POLICY_MAY, DANEGATE_R_INSECURE_ADDRESS);
}

START_TEST(test_sts_needed)
{
	dest_no_dane();
	ck_assert_int_eq(decide("example.org", 0, NULL, VERDICT_MAP_POLICY,
	    false), VERDICT_NEED_STS);
	sts.txt_state = DANEGATE_INSECURE;
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_NOTFOUND, "");
}
END_TEST

START_TEST(test_sts_txt_bogus)
{
	dest_no_dane();
	sts.txt_state = DANEGATE_BOGUS;
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_TEMP, "dnssec-invalid _mta-sts.example.org TXT "
	    "lookup bogus");
}
END_TEST

START_TEST(test_sts_fetch_failed)
{
	dest_no_dane();
	sts.published = true;
	sts.txt_state = DANEGATE_INSECURE;
	sts.reason = DANEGATE_R_STS_POLICY_FETCH_ERROR;
	snprintf(sts.error, sizeof(sts.error), "HTTP status 404");
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_NOTFOUND, "");
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    true), 0);
	ck_verdict(VERDICT_TEMP, "sts-policy-fetch-error MTA-STS policy of "
	    "example.org: HTTP status 404");
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_TLSRPT,
	    false), 0);
	ck_verdict(VERDICT_OK, "may policy_type=sts policy_domain=example.org"
	    " policy_failure=sts-policy-fetch-error");
}
END_TEST

START_TEST(test_sts_testing)
{
	static const char *const pat[] = { "*.example.org" };

	dest_no_dane();
	sts_enforce(pat, 1, MTA_STS_TESTING);
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_NOTFOUND, "");
}
END_TEST

START_TEST(test_sts_enforce)
{
	static const char *const pat[] = { "*.example.org",
		"backup.example.net" };

	dest_no_dane();
	sts_enforce(pat, 2, MTA_STS_ENFORCE);
	ck_assert_int_eq(decide("Example.org.", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	/* "*." is one label: mx2.mail.example.org does not fit */
	ck_verdict(VERDICT_OK, "secure match=mx1.example.org:"
	    "backup.example.net servername=hostname");
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_TLSRPT,
	    false), 0);
	ck_verdict(VERDICT_OK, "secure match=mx1.example.org:"
	    "backup.example.net servername=hostname policy_type=sts "
	    "policy_domain=example.org mx_host_pattern=*.example.org "
	    "mx_host_pattern=backup.example.net "
	    "{policy_string = version: STSv1} "
	    "{policy_string = mode: enforce} "
	    "{policy_string = mx: *.example.org} "
	    "{policy_string = mx: backup.example.net} "
	    "{policy_string = max_age: 86400}");
}
END_TEST

START_TEST(test_sts_enforce_no_fit)
{
	static const char *const pat[] = { "mx.example.com" };

	dest_no_dane();
	sts_enforce(pat, 1, MTA_STS_ENFORCE);
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_TEMP, "validation-failure no MX host of "
	    "example.org fits its MTA-STS policy (mx: mx.example.com)");
}
END_TEST

START_TEST(test_dane_wins_over_sts)
{
	static const char *const pat[] = { "mx.example.com" };

	dest_reset(DANEGATE_SECURE);
	host_add("mx1.example.org", DANEGATE_SECURE, DANEGATE_POLICY_DANE,
	    DANEGATE_R_DANE_VERIFIED);
	sts_enforce(pat, 1, MTA_STS_ENFORCE);
	ck_assert_int_eq(decide("example.org", 0, &sts, VERDICT_MAP_POLICY,
	    false), 0);
	ck_verdict(VERDICT_OK, "dane-only");
}
END_TEST

static Suite *
verdict_suite(void)
{
	Suite *s = suite_create("verdict");
	TCase *bad = tcase_create("refused"), *dane = tcase_create("dane"),
	    *mta = tcase_create("mta-sts");

	tcase_add_test(bad, test_keys_not_domains);
	tcase_add_test(bad, test_key_domain);
	tcase_add_test(bad, test_lookup_failed_is_temp);
	tcase_add_test(bad, test_mx_bogus_or_indeterminate);
	tcase_add_test(bad, test_every_host_bogus_tlsa);
	tcase_add_test(bad, test_null_mx_and_no_address);
	tcase_add_test(dane, test_dane_only);
	tcase_add_test(dane, test_dane_some_hosts);
	tcase_add_test(dane, test_dane_insecure_mx);
	tcase_add_test(dane, test_dane_unusable_or_failed_tlsa);
	tcase_add_test(mta, test_sts_needed);
	tcase_add_test(mta, test_sts_txt_bogus);
	tcase_add_test(mta, test_sts_fetch_failed);
	tcase_add_test(mta, test_sts_testing);
	tcase_add_test(mta, test_sts_enforce);
	tcase_add_test(mta, test_sts_enforce_no_fit);
	tcase_add_test(mta, test_dane_wins_over_sts);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, dane);
	suite_add_tcase(s, mta);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(verdict_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
