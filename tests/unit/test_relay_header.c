/*
 * test_relay_header.c - unit tests for plugin/relay/header_scan.c, the
 * DATA header-block scanner: refusals first (mailbox-lists that do not
 * parse, repeated or malformed TLS-Required, the bounds), then good
 * headers fed whole and one byte at a time (unfolding, dot-stuffing,
 * every way the block ends) and the mailbox-list forms of RFC 5322 §3.4
 * and its obsolete syntax.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "danegate.h"
#include "header_scan.h"

static struct header_scan hs;

/* Feeds s in pieces of the given size (0: whole), then finishes. */
static int
scan(const char *s, size_t piece)
{
	size_t len = strlen(s), off = 0;
	int rc = HEADER_SCAN_MORE;

	header_scan_init(&hs, 0);
	if (piece == 0)
		piece = len;
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;

		rc = header_scan_feed(&hs, (const uint8_t *)s + off, n);
		off += n;
	}
	if (rc != HEADER_SCAN_DONE)
		header_scan_finish(&hs);
	return rc;
}

static char addrs[HEADER_SCAN_ADDRS_MAX][HEADER_SCAN_ADDR_MAX + 1];
static unsigned naddrs;

static int
mailboxes(const char *s)
{
	return header_scan_mailboxes(s, strlen(s), addrs,
	    HEADER_SCAN_ADDRS_MAX, &naddrs);
}

START_TEST(refuse_mailboxes)
{
	static const char *bad[] = {
		"",
		"   ",
		"(only a comment)",
		"John Smith",
		"John Smith@example.org",
		"<a@example.org",
		"a@example.org>",
		"<>",
		"<@example.org>",
		"a@",
		"@example.org",
		".a@example.org",
		"a.@example.org",
		"a..b@example.org",
		"a@example..org",
		"a@.example.org",
		"a@example.org.",
		"a@example.org b@example.org",
		"\"unclosed@example.org",
		"a@example.org (unclosed",
		"a@[192.0.2.1",
		"Group: a@example.org;",
		"a@b@example.org",
		"a\001b@example.org",
		"<@relay.example:a@example.org",
		"Name <a@example.org> x",
		/* a display name without its angle brackets */
		"=?UTF-8?Q?B=C3=BCro?= office@example.org",
		/* RFC 6854's group in From: not a mailbox-list */
		"A Group:Ed Jones <c@a.test>,joe@where.test;",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mailboxes(bad[i]) == DANEGATE_E_INVALID,
		    "accepted \"%s\"", bad[i]);
	/* a NUL byte inside */
	ck_assert_int_eq(header_scan_mailboxes("a\0b@example.org", 15, addrs,
	    HEADER_SCAN_ADDRS_MAX, &naddrs), DANEGATE_E_INVALID);
	/* a quoted pair of a NUL byte */
	ck_assert_int_eq(header_scan_mailboxes("\"q\\\0\"@x.org", 12, addrs,
	    HEADER_SCAN_ADDRS_MAX, &naddrs), DANEGATE_E_INVALID);
	/* more mailboxes than asked for */
	ck_assert_int_eq(header_scan_mailboxes("a@x.org, b@x.org", 16, addrs,
	    1, &naddrs), DANEGATE_E_INVALID);
	/* an address longer than HEADER_SCAN_ADDR_MAX */
	{
		char big[HEADER_SCAN_ADDR_MAX + 32];

		memset(big, 'a', sizeof(big));
		memcpy(big + HEADER_SCAN_ADDR_MAX - 6, "@x.org", 7);
		ck_assert_int_eq(mailboxes(big), 0);
		ck_assert_uint_eq(strlen(addrs[0]), HEADER_SCAN_ADDR_MAX);
		big[HEADER_SCAN_ADDR_MAX - 6] = 'a';
		memcpy(big + HEADER_SCAN_ADDR_MAX - 5, "@x.org", 7);
		ck_assert_int_eq(mailboxes(big), DANEGATE_E_INVALID);
	}
}
END_TEST

START_TEST(refuse_tls_required)
{
	static const char *bad[] = {
		"TLS-Required: Yes\r\n\r\n",
		"TLS-Required: Nope\r\n\r\n",
		"TLS-Required: No, thanks\r\n\r\n",
		"TLS-Required:\r\n\r\n",
		"TLS-Required: No\r\nTLS-Required: No\r\n\r\n",
		"X-TLS-Required: No\r\n\r\n",
		/* after the header block: body text */
		"Subject: x\r\n\r\nTLS-Required: No\r\n",
		/* after a line that is not a field, which starts the body */
		"Subject: x\r\nnot a field\r\nTLS-Required: No\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		scan(bad[i], 0);
		ck_assert_msg(!header_scan_tls_required_no(&hs),
		    "honoured \"%s\"", bad[i]);
		scan(bad[i], 1);
		ck_assert_msg(!header_scan_tls_required_no(&hs),
		    "honoured bytewise \"%s\"", bad[i]);
	}
}
END_TEST

START_TEST(refuse_bounds)
{
	char *big;
	size_t n = 3 * HEADER_SCAN_LIMIT_DEFAULT;

	/* a header block beyond the limit: fields after it are unseen */
	big = malloc(n + 64);
	ck_assert_ptr_nonnull(big);
	strcpy(big, "Subject: x");
	memset(big + 10, 'y', n);
	strcpy(big + 10 + n, "\r\nTLS-Required: No\r\n\r\n");
	ck_assert_int_eq(scan(big, 0), HEADER_SCAN_DONE);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_LIMIT);
	ck_assert_uint_eq(hs.bytes, HEADER_SCAN_LIMIT_DEFAULT);
	ck_assert(!header_scan_tls_required_no(&hs));

	/* a From value over HEADER_SCAN_VALUE_MAX: truncated, no address */
	strcpy(big, "From: a@x.org (");
	memset(big + 15, 'c', HEADER_SCAN_VALUE_MAX);
	strcpy(big + 15 + HEADER_SCAN_VALUE_MAX, ")\r\n\r\n");
	scan(big, 0);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_BLANK);
	ck_assert(hs.from.truncated);
	ck_assert_uint_eq(hs.from.len, HEADER_SCAN_VALUE_MAX);
	ck_assert(!hs.from_addrs_ok);
	free(big);

	/* two From fields: the first value, counted twice, no address */
	scan("From: a@x.org\r\nFrom: b@y.org\r\n\r\n", 0);
	ck_assert_uint_eq(hs.from.count, 2);
	ck_assert_str_eq(hs.from.value, "a@x.org");
	ck_assert(!hs.from_addrs_ok);
	ck_assert_uint_eq(hs.from_naddrs, 0);
}
END_TEST

START_TEST(header_block)
{
	static const char msg[] =
	    "Received: from a by b;\r\n"
	    "\tFri, 4 Dec 2026 12:00:00 +0000\r\n"
	    "..Dotted: stuffed\r\n"
	    "from:   \"Smith, John\" <john@example.org>,\r\n"
	    "   mary@example.net (Mary)  \r\n"
	    "Sender : <list@example.com>\r\n"
	    "tls-REQUIRED:\r\n  nO \r\n"
	    "\r\n"
	    "From: body@example.org\r\n";

	for (size_t piece = 0; piece < 8; piece++) {
		ck_assert_int_eq(scan(msg, piece), HEADER_SCAN_DONE);
		ck_assert_int_eq(hs.end, HEADER_SCAN_END_BLANK);
		ck_assert_uint_eq(hs.bytes, strstr(msg, "\r\n\r\n") + 4 - msg);
		ck_assert_str_eq(hs.from.value, "\"Smith, John\" "
		    "<john@example.org>,   mary@example.net (Mary)");
		ck_assert_uint_eq(hs.from.count, 1);
		ck_assert(hs.from_addrs_ok);
		ck_assert_uint_eq(hs.from_naddrs, 2);
		ck_assert_str_eq(hs.from_addrs[0], "john@example.org");
		ck_assert_str_eq(hs.from_addrs[1], "mary@example.net");
		ck_assert_str_eq(hs.sender.value, "<list@example.com>");
		ck_assert(hs.sender_addr_ok);
		ck_assert_str_eq(hs.sender_addr, "list@example.com");
		ck_assert_str_eq(hs.tls_required.value, "nO");
		ck_assert(header_scan_tls_required_no(&hs));
	}
}
END_TEST

/* A From: folded over lines, with an encoded word and comments, as a
 * mail client writes it. */
START_TEST(folded_from)
{
	static const char msg[] =
	    "From: =?UTF-8?Q?B=C3=BCro_der?=\r\n"
	    " =?UTF-8?Q?Schule?= (the office,\r\n"
	    "\t still a comment) <office@school.example>,\r\n"
	    " \"Desk; \\\"2\\\"\"\r\n"
	    "  <desk@school.example>\r\n"
	    "Subject: x\r\n"
	    "\r\n";

	for (size_t piece = 0; piece < 5; piece++) {
		ck_assert_int_eq(scan(msg, piece), HEADER_SCAN_DONE);
		ck_assert(hs.from_addrs_ok);
		ck_assert_uint_eq(hs.from_naddrs, 2);
		ck_assert_str_eq(hs.from_addrs[0], "office@school.example");
		ck_assert_str_eq(hs.from_addrs[1], "desk@school.example");
	}
	/* two From: fields: no addresses to check */
	scan("From: a@x.org\r\nFrom: b@x.org\r\n\r\n", 0);
	ck_assert(!hs.from_addrs_ok);
	ck_assert_uint_eq(hs.from_naddrs, 0);
	ck_assert_uint_eq(hs.from.count, 2);
}
END_TEST

START_TEST(block_ends)
{
	/* a line that is not a header field starts the body */
	ck_assert_int_eq(scan("TLS-Required: No\r\nno colon here\r\n", 0),
	    HEADER_SCAN_DONE);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_BODY);
	ck_assert(header_scan_tls_required_no(&hs));
	/* a first line that starts with WSP */
	scan(" folded: x\r\n\r\n", 0);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_BODY);
	/* the data ends inside the header block */
	ck_assert_int_eq(scan("TLS-Required: No\r\n", 0), HEADER_SCAN_MORE);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_DATA);
	ck_assert(header_scan_tls_required_no(&hs));
	/* an empty message */
	scan("", 0);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_DATA);
	ck_assert(!hs.from_addrs_ok);
	/* the data ends with no CRLF after the value */
	scan("From: a@example.org", 0);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_DATA);
	ck_assert_str_eq(hs.from_addrs[0], "a@example.org");
	/* a feed after the end does nothing */
	scan("Subject: x\r\n\r\n", 0);
	ck_assert_int_eq(header_scan_feed(&hs, (const uint8_t *)"From: a@b\r\n",
	    11), HEADER_SCAN_DONE);
	ck_assert_uint_eq(hs.from.count, 0);
	/* a field name as long as the name buffer and longer */
	scan("TLS-Required-Not-Really: No\r\nX: y\r\n\r\n", 0);
	ck_assert_uint_eq(hs.tls_required.count, 0);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_BLANK);
	/* a smaller limit */
	header_scan_init(&hs, 8);
	ck_assert_int_eq(header_scan_feed(&hs,
	    (const uint8_t *)"Subject: x\r\n\r\n", 14), HEADER_SCAN_DONE);
	ck_assert_int_eq(hs.end, HEADER_SCAN_END_LIMIT);
}
END_TEST

START_TEST(good_mailboxes)
{
	static const struct {
		const char *in;
		const char *out[3];
	} good[] = {
		{ "a@example.org", { "a@example.org" } },
		{ " <a@example.org> ", { "a@example.org" } },
		{ "John Smith <j.smith@example.org>",
		  { "j.smith@example.org" } },
		{ "\"Smith, J\" <j@example.org>, k@x.org",
		  { "j@example.org", "k@x.org" } },
		{ "\"a b\"@example.org", { "\"a b\"@example.org" } },
		{ "\"a\\\"b\".c@example.org", { "\"a\\\"b\".c@example.org" } },
		{ "a(c1)@(c2 (nested) \\) )example.org(c3)",
		  { "a@example.org" } },
		{ "a@[192.0.2.1]", { "a@[192.0.2.1]" } },
		{ "a @ example . org", { "a@example.org" } },
		{ "<@relay.example,@r2.example:a@example.org>",
		  { "a@example.org" } },
		{ ", a@x.org,, b@y.org ,", { "a@x.org", "b@y.org" } },
		{ "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc\x63her.example>",
		  { "j\xc3\xb6rg@b\xc3\xbc\x63her.example" } },
		{ "=?UTF-8?Q?J=C3=B6rg?= <j@example.org>",
		  { "j@example.org" } },
		{ "a!#$%&'*+-/=?^_`{|}~@example.org",
		  { "a!#$%&'*+-/=?^_`{|}~@example.org" } },
		/* RFC 5322 appendix A and RFC 2047 display names */
		{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his "
		  "host)>", { "pete@silly.test" } },
		{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? "
		  "<one@y.test>",
		  { "mary@x.test", "jdoe@example.org", "one@y.test" } },
		{ "John Q. Public <JQB@bar.com>", { "JQB@bar.com" } },
		{ "\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
		  { "sysservices@example.net" } },
		{ "=?ISO-8859-1?B?SvZyZw==?= =?UTF-8?Q?_M=C3=BCller?= "
		  "<j@example.org>", { "j@example.org" } },
		{ "\"=?UTF-8?Q?not_decoded?=\" <q@example.org>",
		  { "q@example.org" } },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		unsigned want = 0;

		while (want < 3 && good[i].out[want] != NULL)
			want++;
		ck_assert_msg(mailboxes(good[i].in) == 0, "refused \"%s\"",
		    good[i].in);
		ck_assert_uint_eq(naddrs, want);
		for (unsigned k = 0; k < want; k++)
			ck_assert_str_eq(addrs[k], good[i].out[k]);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_header");
	TCase *invalid = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_test(invalid, refuse_mailboxes);
	tcase_add_test(invalid, refuse_tls_required);
	tcase_add_test(invalid, refuse_bounds);
	tcase_add_test(good, header_block);
	tcase_add_test(good, block_ends);
	tcase_add_test(good, good_mailboxes);
	tcase_add_test(good, folded_from);
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
