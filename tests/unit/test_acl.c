/*
 * test_acl.c - unit tests for lib/acl.c: prefixes, actions, longest-prefix
 * match, IPv4-mapped addresses.
 *
 * Invalid input first (exact messages), then lookup vectors.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"

/* Looks up a textual IPv4 or IPv6 client address. */
static enum acl_action
lookup(const struct acl *acl, const char *addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
	}
	return acl_lookup(acl, (const struct sockaddr *)&ss);
}

static void
add(struct acl *acl, const char *spec, enum acl_action action)
{
	char err[256] = "";

	ck_assert_msg(acl_add(acl, spec, action, err, sizeof(err)) == 0,
	    "%s: %s", spec, err);
}

/* --- invalid input ------------------------------------------------------- */

static const struct {
	const char *spec;
	const char *msg;
} bad_specs[] = {
	{ "10.0.0.0/33", "bad prefix length 33 in 10.0.0.0/33" },
	{ "::/129", "bad prefix length 129 in ::/129" },
	{ "10.0.0.0/1000", "bad prefix length 1000 in 10.0.0.0/1000" },
	{ "10.0.0.0/", "bad prefix length '' in 10.0.0.0/" },
	{ "10.0.0.0/-1", "bad prefix length '-1' in 10.0.0.0/-1" },
	{ "10.0.0.0/+8", "bad prefix length '+8' in 10.0.0.0/+8" },
	{ "10.0.0.0/8 ", "bad prefix length '8 ' in 10.0.0.0/8 " },
	{ "10.0.0.0/8/9", "bad prefix length '8/9' in 10.0.0.0/8/9" },
	{ "10.0.0.0/0x8", "bad prefix length '0x8' in 10.0.0.0/0x8" },
	{ "", "'' is not an IPv4 or IPv6 address" },
	{ "/8", "'' is not an IPv4 or IPv6 address" },
	{ "localhost", "'localhost' is not an IPv4 or IPv6 address" },
	{ "10.0.0.256", "'10.0.0.256' is not an IPv4 or IPv6 address" },
	{ "10.0.0/8", "'10.0.0' is not an IPv4 or IPv6 address" },
	{ " 10.0.0.1", "' 10.0.0.1' is not an IPv4 or IPv6 address" },
	{ "fe80::1%eth0", "'fe80::1%eth0' is not an IPv4 or IPv6 address" },
	{ "1:2:3:4:5:6:7:8:9", "'1:2:3:4:5:6:7:8:9' is not an IPv4 or IPv6 "
	  "address" },
	/* too long to be an address: cut in the message */
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8",
	  "'0000:0000:0000:0000:0000:0000:0000:0000:0000:0...' is not an "
	  "IPv4 or IPv6 address" },
};

START_TEST(test_bad_spec)
{
	struct acl *acl = acl_new(ACL_REFUSE);
	char err[256];

	ck_assert_ptr_nonnull(acl);
	ck_assert_int_eq(acl_add(acl, bad_specs[_i].spec, ACL_ALLOW, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, bad_specs[_i].msg);
	/* nothing was added */
	ck_assert_int_eq(lookup(acl, "10.0.0.1"), ACL_REFUSE);
	ck_assert_int_eq(lookup(acl, "::"), ACL_REFUSE);
	acl_free(acl);
}
END_TEST

START_TEST(test_bad_action)
{
	static const char *bad[] = {
		"", "Allow", "ALLOW", "allow ", "allowx", "allow_setrd",
		"allow_cookie", "deny_", "refuse_", "drop", "tag", "transparent",
	};
	enum acl_action a = ACL_ALLOW;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(acl_action_parse(bad[i], &a) == -1, "'%s'",
		    bad[i]);
		ck_assert_int_eq(a, ACL_ALLOW);
	}
}
END_TEST

START_TEST(test_free_null)
{
	acl_free(NULL);
}
END_TEST

/* --- good vectors -------------------------------------------------------- */

START_TEST(test_actions)
{
	static const struct {
		const char *word;
		enum acl_action action;
	} good[] = {
		{ "allow", ACL_ALLOW },
		{ "allow_snoop", ACL_ALLOW },
		{ "refuse", ACL_REFUSE },
		{ "refuse_non_local", ACL_REFUSE },
		{ "deny", ACL_DENY },
		{ "deny_non_local", ACL_DENY },
	};
	enum acl_action a;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(acl_action_parse(good[i].word, &a), 0);
		ck_assert_int_eq(a, good[i].action);
	}
}
END_TEST

START_TEST(test_default)
{
	struct acl *acl = acl_new(ACL_DENY);
	struct sockaddr_un sun;

	ck_assert_int_eq(lookup(acl, "192.0.2.1"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "2001:db8::1"), ACL_DENY);
	add(acl, "0.0.0.0/0", ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "192.0.2.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "255.255.255.255"), ACL_ALLOW);
	/* IPv4 entries say nothing about IPv6 clients */
	ck_assert_int_eq(lookup(acl, "2001:db8::1"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "::c000:201"), ACL_DENY);
	/* other families get the default */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(acl_lookup(acl, (const struct sockaddr *)&sun),
	    ACL_DENY);
	acl_free(acl);
}
END_TEST

START_TEST(test_longest_prefix_v4)
{
	struct acl *acl = acl_new(ACL_REFUSE);

	/* added shortest last and in mixed order: order must not matter */
	add(acl, "10.1.2.0/24", ACL_DENY);
	add(acl, "10.0.0.0/8", ACL_ALLOW);
	add(acl, "10.1.2.3", ACL_ALLOW);
	add(acl, "10.1.0.0/16", ACL_REFUSE);
	add(acl, "10.1.2.128/25", ACL_REFUSE);
	add(acl, "0.0.0.0/0", ACL_DENY);

	ck_assert_int_eq(lookup(acl, "10.200.0.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "10.1.200.1"), ACL_REFUSE);
	ck_assert_int_eq(lookup(acl, "10.1.2.4"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "10.1.2.3"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "10.1.2.127"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "10.1.2.128"), ACL_REFUSE);
	ck_assert_int_eq(lookup(acl, "10.1.2.255"), ACL_REFUSE);
	ck_assert_int_eq(lookup(acl, "11.0.0.0"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "9.255.255.255"), ACL_DENY);
	acl_free(acl);
}
END_TEST

START_TEST(test_longest_prefix_v6)
{
	struct acl *acl = acl_new(ACL_REFUSE);

	add(acl, "::1", ACL_ALLOW);
	add(acl, "2001:db8::/32", ACL_ALLOW);
	add(acl, "2001:db8:bad::/48", ACL_DENY);
	add(acl, "2001:db8:bad:1::/127", ACL_ALLOW);
	add(acl, "::/0", ACL_DENY);

	ck_assert_int_eq(lookup(acl, "::1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "::2"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "2001:db8:1::1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "2001:db8:bad:2::1"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "2001:db8:bad:1::"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "2001:db8:bad:1::1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "2001:db8:bad:1::2"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "2001:db9::"), ACL_DENY);
	/* an IPv4 client is not matched by ::/0 */
	ck_assert_int_eq(lookup(acl, "192.0.2.1"), ACL_REFUSE);
	acl_free(acl);
}
END_TEST

START_TEST(test_replace_and_mask)
{
	struct acl *acl = acl_new(ACL_REFUSE);

	add(acl, "192.0.2.0/24", ACL_ALLOW);
	/* the same prefix, host bits set: replaces, like a later line */
	add(acl, "192.0.2.77/24", ACL_DENY);
	ck_assert_int_eq(lookup(acl, "192.0.2.1"), ACL_DENY);
	add(acl, "2001:db8::ffff/32", ACL_ALLOW);
	add(acl, "2001:db8::/32", ACL_DENY);
	ck_assert_int_eq(lookup(acl, "2001:db8:1::"), ACL_DENY);
	/* /0 with an address: everything */
	add(acl, "203.0.113.9/0", ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "198.51.100.1"), ACL_ALLOW);
	/* leading zeros in the length are tolerated */
	add(acl, "198.51.100.0/024", ACL_DENY);
	ck_assert_int_eq(lookup(acl, "198.51.100.1"), ACL_DENY);
	acl_free(acl);
}
END_TEST

START_TEST(test_v4_mapped)
{
	struct acl *acl = acl_new(ACL_REFUSE);

	add(acl, "127.0.0.0/8", ACL_ALLOW);
	add(acl, "::ffff:10.0.0.0/104", ACL_DENY);	/* = 10.0.0.0/8 */
	add(acl, "::ffff:192.0.2.1", ACL_ALLOW);	/* = 192.0.2.1/32 */

	/* mapped clients are looked up as IPv4 */
	ck_assert_int_eq(lookup(acl, "::ffff:127.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "::ffff:10.9.8.7"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "::ffff:192.0.2.2"), ACL_REFUSE);
	/* mapped entries match plain IPv4 clients */
	ck_assert_int_eq(lookup(acl, "10.9.8.7"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "192.0.2.1"), ACL_ALLOW);
	/* IPv4-compatible (::a.b.c.d) is not mapped */
	ck_assert_int_eq(lookup(acl, "::127.0.0.1"), ACL_REFUSE);

	/* ::ffff:0:0/96 is all of IPv4 */
	add(acl, "::ffff:0:0/96", ACL_DENY);
	ck_assert_int_eq(lookup(acl, "198.51.100.1"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "::ffff:198.51.100.1"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "127.0.0.1"), ACL_ALLOW);
	/* a shorter IPv6 prefix stays IPv6 */
	add(acl, "::/64", ACL_ALLOW);
	ck_assert_int_eq(lookup(acl, "::ffff:198.51.100.1"), ACL_DENY);
	ck_assert_int_eq(lookup(acl, "::5"), ACL_ALLOW);
	acl_free(acl);
}
END_TEST

/* acl_overlaps(): prefixes as acl_lookup() sees them. */
START_TEST(test_overlaps)
{
	static const struct {
		const char *a, *b;
		bool overlap;
	} cases[] = {
		{ "10.0.0.0/8", "10.1.0.0/16", true },
		{ "10.1.2.3/32", "10.0.0.0/8", true },
		{ "10.1.2.3/16", "10.1.200.0/24", true },	/* host bits */
		{ "10.0.0.0/8", "11.0.0.0/8", false },
		{ "2001:db8::/32", "2001:db8:1::/48", true },
		{ "2001:db8::/32", "2001:db9::/32", false },
		/* a mapped entry is the IPv4 prefix it covers */
		{ "::ffff:10.1.2.0/120", "10.1.2.3", true },
		{ "::ffff:10.1.2.0/120", "10.1.3.0/24", false },
		/* a shorter IPv6 prefix holds no IPv4 client */
		{ "::/0", "10.0.0.0/8", false },
		{ "::ffff:10.1.2.0/2", "10.1.2.0/24", false },
		/* ... but the IPv6 addresses its bits cover */
		{ "::/64", "::ffff:10.0.0.0/90", true },
		{ "0.0.0.0/0", "::/0", false },
	};
	char err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct acl *a = acl_new(ACL_DENY), *b = acl_new(ACL_DENY);

		ck_assert_ptr_nonnull(a);
		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(acl_overlaps(a, b), false);
		ck_assert_int_eq(acl_add(a, cases[i].a, ACL_ALLOW, err,
		    sizeof(err)), 0);
		ck_assert_int_eq(acl_add(b, cases[i].b, ACL_DENY, err,
		    sizeof(err)), 0);
		ck_assert_msg(acl_overlaps(a, b) == cases[i].overlap &&
		    acl_overlaps(b, a) == cases[i].overlap, "%s and %s",
		    cases[i].a, cases[i].b);
		acl_free(a);
		acl_free(b);
	}
}
END_TEST

START_TEST(test_many_entries)
{
	struct acl *acl = acl_new(ACL_REFUSE);
	char spec[64];
	int i;

	/* beyond the first allocations; every /24 of 10.0.0.0/16 */
	for (i = 0; i < 256; i++) {
		snprintf(spec, sizeof(spec), "10.0.%d.0/24", i);
		add(acl, spec, i % 2 ? ACL_ALLOW : ACL_DENY);
	}
	add(acl, "10.0.0.0/16", ACL_REFUSE);
	for (i = 0; i < 256; i++) {
		snprintf(spec, sizeof(spec), "10.0.%d.99", i);
		ck_assert_int_eq(lookup(acl, spec), i % 2 ? ACL_ALLOW :
		    ACL_DENY);
	}
	acl_free(acl);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *bad = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_loop_test(bad, test_bad_spec, 0,
	    sizeof(bad_specs) / sizeof(bad_specs[0]));
	tcase_add_test(bad, test_bad_action);
	tcase_add_test(bad, test_free_null);
	suite_add_tcase(s, bad);

	tcase_add_test(good, test_actions);
	tcase_add_test(good, test_default);
	tcase_add_test(good, test_longest_prefix_v4);
	tcase_add_test(good, test_longest_prefix_v6);
	tcase_add_test(good, test_replace_and_mask);
	tcase_add_test(good, test_v4_mapped);
	tcase_add_test(good, test_many_entries);
	tcase_add_test(good, test_overlaps);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(acl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
