/*
 * test_relay_data.c - unit tests for plugin/relay/smtp_data.c, the end of
 * DATA scanner: the smuggling forms first (none of "<LF>.<LF>",
 * "<CR>.<CR>", "<LF>.<CRLF>", "<CRLF>.<LF>" ends the data, each is reported
 * bare), then real ends, fed whole and one byte at a time.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

/* Feeds s one byte at a time as a session would (held-back bytes passed
 * again); returns the offset just after the end, or 0 if none, and the
 * forwarded bytes in fwd_out. */
static size_t
scan_bytewise(const char *s, size_t len, struct smtp_data *d, char *fwd_out)
{
	size_t start = 0, avail = 0, out = 0;

	smtp_data_init(d);
	while (avail < len) {
		size_t fwd, used;
		int rc;

		avail++;
		rc = smtp_data_scan(d, (const uint8_t *)s + start,
		    avail - start, &fwd, &used);
		memcpy(fwd_out + out, s + start, fwd);
		out += fwd;
		fwd_out[out] = '\0';
		start += used;
		if (rc == SMTP_DATA_END)
			return start;
	}
	return 0;
}

static size_t
scan_whole(const char *s, struct smtp_data *d, size_t *fwd)
{
	size_t used;

	smtp_data_init(d);
	if (smtp_data_scan(d, (const uint8_t *)s, strlen(s), fwd, &used) ==
	    SMTP_DATA_END)
		return used;
	return 0;
}

START_TEST(smuggling)
{
	static const char *forms[] = {
		"a\n.\nMAIL FROM:<x@y>\r\n",
		"a\r.\rMAIL FROM:<x@y>\r\n",
		"a\n.\r\nMAIL FROM:<x@y>\r\n",
		"a\r\n.\nMAIL FROM:<x@y>\r\n",
		"a\r\n.\r MAIL FROM:<x@y>\r\n",
	};
	struct smtp_data d;
	char out[256];
	size_t fwd;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ck_assert_uint_eq(scan_whole(forms[i], &d, &fwd), 0);
		ck_assert_msg(d.bare, "form %zu not reported", i);
		ck_assert_uint_eq(scan_bytewise(forms[i], strlen(forms[i]), &d,
		    out), 0);
		ck_assert(d.bare);
	}
	/* after a bare LF, only a real CRLF.CRLF ends it */
	ck_assert_uint_eq(scan_whole("x\n.\ny\r\n.\r\nNEXT", &d, &fwd), 10);
	ck_assert(d.bare);
	ck_assert_uint_eq(fwd, 7);
}
END_TEST

START_TEST(ends)
{
	struct smtp_data d;
	char out[256];
	size_t fwd;

	/* an empty message: DATA's own CRLF counts */
	ck_assert_uint_eq(scan_whole(".\r\nQUIT\r\n", &d, &fwd), 3);
	ck_assert_uint_eq(fwd, 0);
	ck_assert_uint_eq(scan_whole("a\r\n..b\r\n.x\r\n.\r\nQUIT", &d, &fwd),
	    15);
	ck_assert(!d.bare);
	ck_assert_uint_eq(fwd, 12);
	ck_assert_uint_eq(d.bytes, 12);
	ck_assert_uint_eq(scan_bytewise("a\r\n..b\r\n.\r\nQUIT", 15, &d, out),
	    11);
	ck_assert_str_eq(out, "a\r\n..b\r\n");
	/* a lone "." held back at the end of what arrived */
	{
		size_t used;

		smtp_data_init(&d);
		ck_assert_int_eq(smtp_data_scan(&d, (const uint8_t *)"ab\r\n.",
		    5, &fwd, &used), SMTP_DATA_MORE);
		ck_assert_uint_eq(fwd, 4);
		ck_assert_uint_eq(used, 4);
		ck_assert_int_eq(smtp_data_scan(&d, (const uint8_t *)".x\r\n",
		    4, &fwd, &used), SMTP_DATA_MORE);
		ck_assert_uint_eq(fwd, 4);
		ck_assert(!d.bare);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_data");
	TCase *invalid = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_test(invalid, smuggling);
	tcase_add_test(good, ends);
	suite_add_tcase(s, invalid);
	suite_add_tcase(s, good);
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
