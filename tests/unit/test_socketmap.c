/*
 * test_socketmap.c - unit tests for plugin/policy/socketmap.c, Postfix's
 * socketmap protocol: every refusal of the netstring reader first (bad
 * lengths, leading zeros, oversized requests, missing ':' or ',', use
 * after the end), then requests that are not "name key", then good input
 * in one piece, byte by byte and pipelined, and the reply writer.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketmap.h"

static int
feed(struct socketmap_reader *r, const char *s, size_t *used)
{
	socketmap_reader_init(r);
	return socketmap_reader_feed(r, (const uint8_t *)s, strlen(s), used);
}

static int
feed_bytewise(struct socketmap_reader *r, const char *s, size_t *used)
{
	int rc = SOCKETMAP_MORE;
	size_t n = strlen(s);

	socketmap_reader_init(r);
	*used = 0;
	for (size_t i = 0; i < n && rc == SOCKETMAP_MORE; i++) {
		size_t u = 0;

		rc = socketmap_reader_feed(r, (const uint8_t *)s + i, 1, &u);
		*used += u;
	}
	return rc;
}

/* ---- the reader refuses ------------------------------------------------ */

START_TEST(test_length_empty)
{
	struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, ":abc,", &used), SOCKETMAP_E_LENGTH);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(feed(&r, "x:abc,", &used), SOCKETMAP_E_LENGTH);
	ck_assert_int_eq(feed(&r, "-1:a,", &used), SOCKETMAP_E_LENGTH);
	ck_assert_int_eq(feed(&r, " 3:abc,", &used), SOCKETMAP_E_LENGTH);
}
END_TEST

START_TEST(test_length_no_colon)
{
	struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, "3;abc,", &used), SOCKETMAP_E_COLON);
	ck_assert_uint_eq(used, 2);
	ck_assert_int_eq(feed(&r, "3 :abc,", &used), SOCKETMAP_E_COLON);
}
END_TEST

START_TEST(test_length_leading_zero)
{
	struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, "03:abc,", &used), SOCKETMAP_E_ZERO);
	ck_assert_int_eq(feed(&r, "00:,", &used), SOCKETMAP_E_ZERO);
}
END_TEST

START_TEST(test_too_long)
{
	struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, "1025:", &used), SOCKETMAP_E_TOO_LONG);
	ck_assert_uint_eq(used, 4);
	ck_assert_int_eq(feed(&r, "99999999999999999999999:", &used),
	    SOCKETMAP_E_TOO_LONG);
	/* refused at the digit that passes the limit, before any data */
	ck_assert_int_eq(feed(&r, "2000", &used), SOCKETMAP_E_TOO_LONG);
	ck_assert_uint_eq(used, 4);
}
END_TEST

START_TEST(test_no_comma)
{
	struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, "3:abcd", &used), SOCKETMAP_E_COMMA);
	ck_assert_uint_eq(used, 6);
	ck_assert_int_eq(feed(&r, "0:;", &used), SOCKETMAP_E_COMMA);
	ck_assert_int_eq(feed(&r, "3:abc\n", &used), SOCKETMAP_E_COMMA);
}
END_TEST

START_TEST(test_sticky)
{
	struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, "x", &used), SOCKETMAP_E_LENGTH);
	ck_assert_int_eq(socketmap_reader_feed(&r, (const uint8_t *)"3:abc,",
	    6, &used), SOCKETMAP_E_STATE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(feed(&r, "1:a,", &used), SOCKETMAP_DONE);
	ck_assert_int_eq(socketmap_reader_feed(&r, (const uint8_t *)"1:a,",
	    4, &used), SOCKETMAP_E_STATE);
}
END_TEST

/* ---- requests that are not "name key" ---------------------------------- */

static int
parse(const char *netstring, struct socketmap_request *req)
{
	static struct socketmap_reader r;
	size_t used;

	ck_assert_int_eq(feed(&r, netstring, &used), SOCKETMAP_DONE);
	return socketmap_request_parse(&r, req);
}

START_TEST(test_request_bad)
{
	struct socketmap_request req;
	struct socketmap_reader r;

	socketmap_reader_init(&r);
	ck_assert_int_eq(socketmap_request_parse(&r, &req), SOCKETMAP_E_STATE);
	ck_assert_int_eq(parse("0:,", &req), SOCKETMAP_E_REQUEST);
	ck_assert_int_eq(parse("6:policy,", &req), SOCKETMAP_E_REQUEST);
	ck_assert_int_eq(parse("4: a.b,", &req), SOCKETMAP_E_NAME);
	ck_assert_int_eq(parse("7:pol/y a,", &req), SOCKETMAP_E_NAME);
	ck_assert_int_eq(parse("7:policy ,", &req), SOCKETMAP_E_KEY);
	ck_assert_int_eq(parse("10:policy a b,", &req), SOCKETMAP_E_KEY);
	ck_assert_int_eq(parse("10:policy a\tb,", &req), SOCKETMAP_E_KEY);
	ck_assert_int_eq(parse("10:policy a\nb,", &req), SOCKETMAP_E_KEY);
	ck_assert_int_eq(parse("10:policy a\xc3\xa9,", &req),
	    SOCKETMAP_E_KEY);
}
END_TEST

START_TEST(test_request_nul)
{
	static const uint8_t in[] = "10:policy a\0b,";
	struct socketmap_request req;
	struct socketmap_reader r;
	size_t used;

	socketmap_reader_init(&r);
	ck_assert_int_eq(socketmap_reader_feed(&r, in, sizeof(in) - 1, &used),
	    SOCKETMAP_DONE);
	ck_assert_int_eq(socketmap_request_parse(&r, &req), SOCKETMAP_E_KEY);
}
END_TEST

START_TEST(test_name_too_long)
{
	char buf[200], name[SOCKETMAP_NAME_MAX + 2];
	struct socketmap_request req;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(buf, sizeof(buf), "%zu:%s x,", strlen(name) + 2, name);
	ck_assert_int_eq(parse(buf, &req), SOCKETMAP_E_NAME);
}
END_TEST

/* ---- good input -------------------------------------------------------- */

START_TEST(test_request_good)
{
	struct socketmap_request req;

	ck_assert_int_eq(parse("18:policy example.org,", &req), 0);
	ck_assert_str_eq(req.name, "policy");
	ck_assert_str_eq(req.key, "example.org");
	ck_assert_int_eq(parse("20:tlsrpt .example.org.,", &req), 0);
	ck_assert_str_eq(req.name, "tlsrpt");
	ck_assert_str_eq(req.key, ".example.org.");
	ck_assert_int_eq(parse("17:p_2-x [mx.a.b]:25,", &req), 0);
	ck_assert_str_eq(req.key, "[mx.a.b]:25");
}
END_TEST

START_TEST(test_bytewise_and_pipelined)
{
	const char *two = "18:policy example.org,12:policy a.b.c,";
	struct socketmap_request req;
	struct socketmap_reader r;
	size_t used, total;

	ck_assert_int_eq(feed_bytewise(&r, two, &used), SOCKETMAP_DONE);
	ck_assert_uint_eq(used, 22);
	ck_assert_int_eq(socketmap_request_parse(&r, &req), 0);
	ck_assert_str_eq(req.key, "example.org");
	total = used;
	ck_assert_int_eq(feed(&r, two + total, &used), SOCKETMAP_DONE);
	ck_assert_int_eq(socketmap_request_parse(&r, &req), 0);
	ck_assert_str_eq(req.key, "a.b.c");
	ck_assert_uint_eq(total + used, strlen(two));
}
END_TEST

START_TEST(test_max_length)
{
	char *buf = malloc(SOCKETMAP_REQUEST_MAX + 16);
	struct socketmap_request req;
	struct socketmap_reader r;
	size_t used;
	int n;

	ck_assert_ptr_nonnull(buf);
	n = snprintf(buf, 16, "%d:policy ", SOCKETMAP_REQUEST_MAX);
	memset(buf + n, 'k', SOCKETMAP_REQUEST_MAX - 7);
	buf[n + SOCKETMAP_REQUEST_MAX - 7] = ',';
	buf[n + SOCKETMAP_REQUEST_MAX - 6] = '\0';
	ck_assert_int_eq(feed(&r, buf, &used), SOCKETMAP_DONE);
	ck_assert_uint_eq(r.len, SOCKETMAP_REQUEST_MAX);
	ck_assert_int_eq(socketmap_request_parse(&r, &req), 0);
	ck_assert_uint_eq(strlen(req.key), SOCKETMAP_REQUEST_MAX - 7);
	free(buf);
}
END_TEST

START_TEST(test_reply_format)
{
	uint8_t out[64];
	int n;

	n = socketmap_reply_format(out, sizeof(out), "OK", "dane-only");
	ck_assert_int_eq(n, 16);
	ck_assert_int_eq(memcmp(out, "12:OK dane-only,", 16), 0);
	n = socketmap_reply_format(out, sizeof(out), "NOTFOUND", "");
	ck_assert_int_eq(n, 12);
	ck_assert_int_eq(memcmp(out, "9:NOTFOUND ,", 12), 0);
	ck_assert_int_eq(socketmap_reply_format(out, 11, "NOTFOUND", ""),
	    SOCKETMAP_E_SPACE);
	ck_assert_int_eq(socketmap_reply_format(out, sizeof(out), "TEMP",
	    "this text is far too long for a buffer of sixty-four bytes"),
	    SOCKETMAP_E_SPACE);
}
END_TEST

START_TEST(test_strerror)
{
	for (int s = SOCKETMAP_E_SPACE - 1; s <= SOCKETMAP_DONE + 1; s++)
		ck_assert_ptr_nonnull(socketmap_strerror(s));
	ck_assert_str_eq(socketmap_strerror(SOCKETMAP_E_ZERO),
	    "netstring length with a leading zero");
}
END_TEST

static Suite *
socketmap_suite(void)
{
	Suite *s = suite_create("socketmap");
	TCase *bad = tcase_create("refused"), *good = tcase_create("good");

	tcase_add_test(bad, test_length_empty);
	tcase_add_test(bad, test_length_no_colon);
	tcase_add_test(bad, test_length_leading_zero);
	tcase_add_test(bad, test_too_long);
	tcase_add_test(bad, test_no_comma);
	tcase_add_test(bad, test_sticky);
	tcase_add_test(bad, test_request_bad);
	tcase_add_test(bad, test_request_nul);
	tcase_add_test(bad, test_name_too_long);
	tcase_add_test(good, test_request_good);
	tcase_add_test(good, test_bytewise_and_pipelined);
	tcase_add_test(good, test_max_length);
	tcase_add_test(good, test_reply_format);
	tcase_add_test(good, test_strerror);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(socketmap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
