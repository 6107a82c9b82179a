/*
 * test_dname.c - wire-format names (lib/dname.c) and the DNS numbers'
 * names (lib/dns.c): the one name printer every program uses, with RFC
 * 1035 §5.1 escaping.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "dns.h"

static const uint8_t root[] = { 0 };
static const uint8_t plain[] = { 2, 'm', 'x', 6, 'S', 'e', 'c', 'u', 'r',
	'e', 0 };

/* invalid input first */
START_TEST(to_text_refuses_malformed_names)
{
	static const uint8_t pointer[] = { 2, 'm', 'x', 0xc0, 0x0c };
	static const uint8_t label64[] = { 64 };
	static const uint8_t type01[] = { 0x40, 0 };
	static const uint8_t trailing[] = { 1, 'a', 0, 0 };
	static const uint8_t unterminated[] = { 1, 'a' };
	static const uint8_t past_end[] = { 3, 'w', 'w', 0 };
	uint8_t long_name[256];
	char out[DNS_NAME_TEXT_MAX];

	ck_assert_int_eq(dname_to_text(pointer, sizeof(pointer), false, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(label64, sizeof(label64), false, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(type01, sizeof(type01), false, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(trailing, sizeof(trailing), false, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(unterminated, sizeof(unterminated),
	    true, out, sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(past_end, sizeof(past_end), false, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(root, 0, false, out, sizeof(out)), -1);
	ck_assert_int_eq(dname_to_text(root, 1, false, out, 0), -1);
	/* 256 bytes: 4 labels of 63 + 3 bytes, one over the limit */
	memset(long_name, 0, sizeof(long_name));
	for (size_t i = 0; i < 4; i++) {
		long_name[i * 64] = 63;
		memset(long_name + i * 64 + 1, 'a', 63);
	}
	ck_assert_int_eq(dname_to_text(long_name, sizeof(long_name), false,
	    out, sizeof(out)), -1);
}
END_TEST

START_TEST(to_text_absolute_and_relative)
{
	char out[DNS_NAME_TEXT_MAX];

	ck_assert_int_eq(dname_to_text(root, sizeof(root), false, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, ".");
	ck_assert_int_eq(dname_to_text(root, sizeof(root), true, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, ".");
	/* case kept */
	ck_assert_int_eq(dname_to_text(plain, sizeof(plain), false, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "mx.Secure.");
	ck_assert_int_eq(dname_to_text(plain, sizeof(plain), true, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "mx.Secure");
}
END_TEST

/* RFC 1035 §5.1: "\X" for a character that would mean something else,
 * "\DDD" for an octet; what BIND's dig and Unbound print. */
START_TEST(to_text_escapes_as_rfc1035)
{
	static const uint8_t dotted[] = { 3, 'a', '.', 'b', 2, 'c', '\\', 1,
		0x07, 0 };
	static const uint8_t special[] = { 8, '"', '(', ')', ';', '@', '$',
		'*', '_', 0 };
	static const uint8_t bytes[] = { 4, ' ', 0x7f, 0xff, 0x00, 1, '-',
		0 };
	char out[DNS_NAME_TEXT_MAX];

	ck_assert_int_eq(dname_to_text(dotted, sizeof(dotted), false, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "a\\.b.c\\\\.\\007.");
	ck_assert_int_eq(dname_to_text(special, sizeof(special), true, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "\\\"\\(\\)\\;\\@\\$*_");
	ck_assert_int_eq(dname_to_text(bytes, sizeof(bytes), false, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "\\032\\127\\255\\000.-.");
}
END_TEST

START_TEST(to_text_fits_exactly_or_fails)
{
	static const uint8_t esc[] = { 1, 0xff, 0 };
	char out[16];

	/* "mx.Secure" is 9 characters and the NUL */
	ck_assert_int_eq(dname_to_text(plain, sizeof(plain), true, out, 9), -1);
	ck_assert_int_eq(dname_to_text(plain, sizeof(plain), true, out, 10), 0);
	ck_assert_str_eq(out, "mx.Secure");
	ck_assert_int_eq(dname_to_text(plain, sizeof(plain), false, out, 10),
	    -1);
	ck_assert_int_eq(dname_to_text(plain, sizeof(plain), false, out, 11),
	    0);
	ck_assert_int_eq(dname_to_text(root, sizeof(root), false, out, 1), -1);
	ck_assert_int_eq(dname_to_text(root, sizeof(root), false, out, 2), 0);
	/* "\255." */
	ck_assert_int_eq(dname_to_text(esc, sizeof(esc), false, out, 5), -1);
	ck_assert_int_eq(dname_to_text(esc, sizeof(esc), false, out, 6), 0);
	ck_assert_str_eq(out, "\\255.");
}
END_TEST

START_TEST(to_text_longest_name_fits_the_bound)
{
	uint8_t name[DNS_MAX_NAME];
	char out[DNS_NAME_TEXT_MAX];
	size_t n = 0;

	/* 255 bytes, every label byte escaped as \DDD */
	while (n + 64 < sizeof(name)) {
		name[n] = 63;
		memset(name + n + 1, 0x01, 63);
		n += 64;
	}
	name[n] = (uint8_t)(sizeof(name) - n - 2);
	memset(name + n + 1, 0x01, name[n]);
	n += (size_t)name[n] + 1;
	name[n++] = 0;
	ck_assert_uint_eq(n, DNS_MAX_NAME);
	ck_assert_int_eq(dname_to_text(name, n, false, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 4 * (255 - 5) + 4);
}
END_TEST

START_TEST(equal_ignores_ascii_case_only)
{
	static const uint8_t upper[] = { 2, 'M', 'X', 6, 's', 'E', 'C', 'U',
		'R', 'E', 0 };
	static const uint8_t latin[] = { 2, 'm', 'x', 6, 's', 'e', 'c', 'u',
		'r', 0xc9, 0 };

	ck_assert(dname_equal(plain, sizeof(plain), upper, sizeof(upper)));
	ck_assert(!dname_equal(plain, sizeof(plain), latin, sizeof(latin)));
	ck_assert(!dname_equal(plain, sizeof(plain), root, sizeof(root)));
}
END_TEST

START_TEST(dns_names_of_numbers)
{
	ck_assert_str_eq(dns_rcode_name(DNS_RCODE_SERVFAIL), "SERVFAIL");
	ck_assert_str_eq(dns_rcode_name(DNS_RCODE_NXDOMAIN), "NXDOMAIN");
	ck_assert_ptr_null(dns_rcode_name(11));
	ck_assert_str_eq(dns_ede_name(DNS_EDE_NO_REACHABLE_AUTHORITY),
	    "No Reachable Authority");
	ck_assert_str_eq(dns_ede_name(DNS_EDE_SIGNATURE_EXPIRED),
	    "Signature Expired");
	ck_assert_ptr_null(dns_ede_name(DNS_EDE_NONE));
	ck_assert_ptr_null(dns_ede_name(1000));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dname");
	TCase *tc = tcase_create("dname");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, to_text_refuses_malformed_names);
	tcase_add_test(tc, to_text_absolute_and_relative);
	tcase_add_test(tc, to_text_escapes_as_rfc1035);
	tcase_add_test(tc, to_text_fits_exactly_or_fails);
	tcase_add_test(tc, to_text_longest_name_fits_the_bound);
	tcase_add_test(tc, equal_ignores_ascii_case_only);
	tcase_add_test(tc, dns_names_of_numbers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
