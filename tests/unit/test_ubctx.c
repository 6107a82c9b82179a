/*
 * test_ubctx.c - the libunbound layer (lib/ubctx.c): trust-anchor files,
 * the readiness rule, libunbound's results in words, and context set-up.
 * No lookups: nothing here reaches the network.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <unbound.h>

#include "dns.h"
#include "ubctx.h"

static char tmpl[] = "/tmp/test_ubctx.XXXXXX";

/* A file with text in it; the caller unlinks it. */
static const char *
write_file(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s", tmpl);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* A NOERROR/SERVFAIL header-only packet. */
static void
packet(uint8_t pkt[DNS_HEADER_LEN], int rcode)
{
	memset(pkt, 0, DNS_HEADER_LEN);
	pkt[2] = 0x81;
	pkt[3] = (uint8_t)(0x80 | rcode);
}

START_TEST(anchor_file_refused_when_unusable)
{
	char zone[256], why[256];
	const char *p;

	ck_assert_int_eq(ubctx_anchor_file_zone("/nonexistent/root.key", zone,
	    sizeof(zone), why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "/nonexistent/root.key"));
	ck_assert_ptr_nonnull(strstr(why, "No such file"));
	p = write_file("; only comments\n# and more\n$TTL 3600\n\n   \n");
	ck_assert_int_eq(ubctx_anchor_file_zone(p, zone, sizeof(zone), why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "no DS or DNSKEY record"));
	unlink(p);
	/* an owner that does not fit is no zone */
	p = write_file("example. IN DS 1 13 2 00\n");
	ck_assert_int_eq(ubctx_anchor_file_zone(p, zone, 8, why, sizeof(why)),
	    -1);
	unlink(p);
}
END_TEST

START_TEST(anchor_file_zone_is_the_first_owner)
{
	char zone[256], why[256];
	const char *p;

	p = write_file("; root key\n$ORIGIN .\n"
	    ".\t172800\tIN\tDS\t20326 8 2 E06D44B8\n"
	    "example. IN DS 1 13 2 00\n");
	ck_assert_int_eq(ubctx_anchor_file_zone(p, zone, sizeof(zone), why,
	    sizeof(why)), 0);
	ck_assert_str_eq(zone, ".");
	unlink(p);
	p = write_file("internal. 3600 IN DNSKEY 257 3 13 AAAA\r\n");
	ck_assert_int_eq(ubctx_anchor_file_zone(p, zone, sizeof(zone), why,
	    sizeof(why)), 0);
	ck_assert_str_eq(zone, "internal.");
	unlink(p);
	ck_assert_int_eq(ubctx_anchor_zone("  example. DS 1 13 2 00", zone,
	    sizeof(zone)), 0);
	ck_assert_str_eq(zone, "example.");
	ck_assert_int_eq(ubctx_anchor_zone("   ", zone, sizeof(zone)), -1);
}
END_TEST

/* libunbound's event callbacks report a failed resolution with the rcode
 * as err, which ub_strerror() calls "unknown error". */
START_TEST(strerror_names_rcodes)
{
	ck_assert_str_eq(ubctx_strerror(DNS_RCODE_SERVFAIL), "SERVFAIL");
	ck_assert_str_eq(ubctx_strerror(DNS_RCODE_REFUSED), "REFUSED");
	ck_assert_str_eq(ubctx_strerror(UB_NOMEM), ub_strerror(UB_NOMEM));
	ck_assert_str_eq(ubctx_strerror(11), "DNS error");
}
END_TEST

START_TEST(ede_codes_from_libunbound_reasons)
{
	ck_assert_int_eq(ubctx_ede_from_why(NULL), 6);
	ck_assert_int_eq(ubctx_ede_from_why(
	    "validation failure <www.expired.example. A IN>: signature "
	    "expired from 127.53.0.3"), 7);
	ck_assert_int_eq(ubctx_ede_from_why(
	    "validation failure <x. A IN>: signature before inception date"),
	    8);
	ck_assert_int_eq(ubctx_ede_from_why(
	    "validation failure <x. A IN>: No DNSKEY record from 1.2.3.4"), 9);
	ck_assert_int_eq(ubctx_ede_from_why(
	    "validation failure <x. A IN>: no signatures from 1.2.3.4"), 10);
	ck_assert_int_eq(ubctx_ede_from_why(
	    "validation failure <x. A IN>: signature crypto failed"), 6);
}
END_TEST

START_TEST(describe_says_what_happened)
{
	uint8_t pkt[DNS_HEADER_LEN] = { 0 };
	char out[512];

	ubctx_describe(DNS_RCODE_SERVFAIL, pkt, 0, 0, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "SERVFAIL (EDE 22 No Reachable Authority)");
	ubctx_describe(UB_NOMEM, NULL, 0, 0, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "lookup failed: out of memory");
	ck_assert_int_eq(ubctx_ede(UB_NOMEM, NULL, 0, 0, NULL), DNS_EDE_OTHER);
	ck_assert_int_eq(ubctx_ede(DNS_RCODE_SERVFAIL, NULL, 0, 0, NULL),
	    DNS_EDE_NO_REACHABLE_AUTHORITY);
	packet(pkt, DNS_RCODE_SERVFAIL);
	ubctx_describe(0, pkt, sizeof(pkt), 0, "exceeded the maximum "
	    "nameserver nxdomains", out, sizeof(out));
	ck_assert_str_eq(out, "SERVFAIL (EDE 6 DNSSEC Bogus): exceeded the "
	    "maximum nameserver nxdomains");
	packet(pkt, DNS_RCODE_NOERROR);
	ubctx_describe(0, pkt, sizeof(pkt), 1, "validation failure <x. A "
	    "IN>: signature expired", out, sizeof(out));
	ck_assert_str_eq(out, "bogus (EDE 7 Signature Expired): validation "
	    "failure <x. A IN>: signature expired");
	ubctx_describe(0, pkt, sizeof(pkt), 2, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "secure");
	packet(pkt, DNS_RCODE_NXDOMAIN);
	ubctx_describe(0, pkt, sizeof(pkt), 0, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "insecure NXDOMAIN");
	packet(pkt, DNS_RCODE_REFUSED);
	ubctx_describe(0, pkt, sizeof(pkt), 0, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "REFUSED");
	ubctx_describe(0, pkt, 3, 0, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "no answer (3 bytes) (EDE 22 No Reachable "
	    "Authority)");
	ck_assert_int_eq(ubctx_ede(0, pkt, sizeof(pkt), 2, NULL),
	    DNS_EDE_NONE);
}
END_TEST

START_TEST(probe_ready_only_when_secure)
{
	uint8_t pkt[DNS_HEADER_LEN];
	char why[512];

	packet(pkt, DNS_RCODE_NOERROR);
	ck_assert_int_eq(ubctx_probe_verdict(".", 0, pkt, sizeof(pkt), 2,
	    NULL, NULL, why, sizeof(why)), 0);
	ck_assert_int_eq(ubctx_probe_verdict(".", 0, pkt, sizeof(pkt), 0,
	    NULL, NULL, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "the trust anchor for . does not validate: "
	    "DNSKEY insecure");
	ck_assert_int_eq(ubctx_probe_verdict("example.", 0, pkt, sizeof(pkt),
	    1, "no keys have a DS", NULL, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "the trust anchor for example. does not "
	    "validate: DNSKEY bogus (EDE 9 DNSKEY Missing): no keys have a DS");
	ck_assert_int_eq(ubctx_probe_verdict(".", DNS_RCODE_SERVFAIL, NULL, 0,
	    0, NULL, NULL, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "the trust anchor for . does not validate: "
	    "DNSKEY SERVFAIL (EDE 22 No Reachable Authority)");
	/* a secure SERVFAIL cannot happen, but is not ready either */
	packet(pkt, DNS_RCODE_SERVFAIL);
	ck_assert_int_eq(ubctx_probe_verdict(".", 0, pkt, sizeof(pkt), 2,
	    NULL, NULL, why, sizeof(why)), -1);
	/* the caller's own reason (its timeout) wins */
	ck_assert_int_eq(ubctx_probe_verdict(".", 0, NULL, 0, 0, NULL,
	    "no answer within 5000 ms", why, sizeof(why)), -1);
	ck_assert_str_eq(why, "the trust anchor for . does not validate: "
	    "DNSKEY no answer within 5000 ms");
}
END_TEST

START_TEST(context_setup)
{
	struct event_base *base = event_base_new();
	struct ub_ctx *ctx;
	char why[512], value[64], *got = NULL;
	const char *p;

	ck_assert_ptr_nonnull(base);
	ctx = ubctx_new(base, why, sizeof(why));
	ck_assert_ptr_nonnull(ctx);
	/* the daemon's defaults, not libunbound's */
	ck_assert_int_eq(ub_ctx_get_option(ctx, "outgoing-range", &got), 0);
	snprintf(value, sizeof(value), "%s", got);
	free(got);
	ck_assert_str_eq(value, "4096");
	ck_assert_int_eq(ubctx_set_option(ctx, "no-such-option", "1", why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "no-such-option: '1' is not "
	    "accepted"));
	ck_assert_int_eq(ubctx_set_option(ctx, "msg-cache-size", "1m", why,
	    sizeof(why)), 0);
	ck_assert_int_eq(ubctx_add_anchor_file(ctx, "/nonexistent/root.key",
	    NULL, 0, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "/nonexistent/root.key"));
	p = write_file("server:\n\tno-such-option: 1\n");
	ck_assert_int_eq(ubctx_read_config(ctx, p, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, p));
	unlink(p);
	p = write_file("server:\n\tdo-not-query-localhost: no\n");
	ck_assert_int_eq(ubctx_read_config(ctx, p, why, sizeof(why)), 0);
	unlink(p);
	ub_ctx_delete(ctx);
	event_base_free(base);
	/* a plain context for checking options */
	ctx = ubctx_new(NULL, why, sizeof(why));
	ck_assert_ptr_nonnull(ctx);
	ub_ctx_delete(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ubctx");
	TCase *tc = tcase_create("ubctx");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, anchor_file_refused_when_unusable);
	tcase_add_test(tc, anchor_file_zone_is_the_first_owner);
	tcase_add_test(tc, strerror_names_rcodes);
	tcase_add_test(tc, ede_codes_from_libunbound_reasons);
	tcase_add_test(tc, describe_says_what_happened);
	tcase_add_test(tc, probe_ready_only_when_secure);
	tcase_add_test(tc, context_setup);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
