/*
 * test_smtp_reply.c - unit tests for plugin/smtp_reply.c, the bounded SMTP
 * reply parser: every error (bad codes, separators, mixed codes, overlong
 * lines, too many lines, NUL bytes, use after the end), then good replies
 * (single and multi-line, EHLO keywords in any case, bare LF, pipelined
 * leftovers, replies fed one byte at a time).
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

/* Feeds all of s (len bytes) in one piece. */
static int
feed(struct smtp_reply_parser *p, const char *s, size_t len, size_t *used)
{
	smtp_reply_init(p);
	return smtp_reply_feed(p, (const uint8_t *)s, len, used);
}

/* Feeds s one byte at a time; returns the first status other than MORE
 * (or MORE) and the total of bytes used. */
static int
feed_bytewise(struct smtp_reply_parser *p, const char *s, size_t len,
    size_t *used)
{
	int rc = SMTP_REPLY_MORE;

	smtp_reply_init(p);
	*used = 0;
	for (size_t i = 0; i < len && rc == SMTP_REPLY_MORE; i++) {
		size_t u = 0;

		rc = smtp_reply_feed(p, (const uint8_t *)s + i, 1, &u);
		*used += u;
	}
	return rc;
}

/* Builds n lines "250-x\r\n" then a last "250 end\r\n" into a malloc'd
 * buffer; *len gets its size. */
static char *
many_lines(unsigned n_continued, size_t *len)
{
	char *buf = malloc(n_continued * 7 + 10);
	size_t off = 0;

	ck_assert_ptr_nonnull(buf);
	for (unsigned i = 0; i < n_continued; i++) {
		memcpy(buf + off, "250-x\r\n", 7);
		off += 7;
	}
	memcpy(buf + off, "250 end\r\n", 9);
	off += 9;
	*len = off;
	return buf;
}

/* A line "250 aaa...\r\n" whose text makes the line total bytes long
 * (CRLF excluded), followed by eol. */
static char *
long_line(size_t total, const char *eol, size_t *len)
{
	size_t eol_len = strlen(eol);
	char *buf = malloc(total + eol_len + 1);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "250 ", 4);
	memset(buf + 4, 'a', total - 4);
	memcpy(buf + total, eol, eol_len + 1);
	*len = total + eol_len;
	return buf;
}

/* ---- invalid --------------------------------------------------------- */

static const struct {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	int status;
	const char *why;
} bad[] = {
	{ "hello\r\n", 0, SMTP_REPLY_E_CODE, "no code" },
	{ "\r\n", 0, SMTP_REPLY_E_CODE, "empty line" },
	{ "\n", 0, SMTP_REPLY_E_CODE, "empty line, bare LF" },
	{ "25\r\n", 0, SMTP_REPLY_E_CODE, "two digits" },
	{ "2a0 x\r\n", 0, SMTP_REPLY_E_CODE, "letter in code" },
	{ "25a x\r\n", 0, SMTP_REPLY_E_CODE, "letter last in code" },
	{ "150 x\r\n", 0, SMTP_REPLY_E_CODE, "1xx is not SMTP" },
	{ "050 x\r\n", 0, SMTP_REPLY_E_CODE, "0xx" },
	{ "650 x\r\n", 0, SMTP_REPLY_E_CODE, "6xx" },
	{ "-250 x\r\n", 0, SMTP_REPLY_E_CODE, "sign" },
	{ " 250 x\r\n", 0, SMTP_REPLY_E_CODE, "leading blank" },
	{ "HTTP/1.1 400 Bad Request\r\n\r\n", 0, SMTP_REPLY_E_CODE,
	  "an HTTP server" },
	{ "250x\r\n", 0, SMTP_REPLY_E_SEPARATOR, "letter after code" },
	{ "250\tok\r\n", 0, SMTP_REPLY_E_SEPARATOR, "tab after code" },
	{ "2500 ok\r\n", 0, SMTP_REPLY_E_SEPARATOR, "four digits" },
	{ "250-a\r\n250_b\r\n", 0, SMTP_REPLY_E_SEPARATOR,
	  "bad separator on line 2" },
	{ "250-a\r\n251 b\r\n", 0, SMTP_REPLY_E_MIXED, "251 after 250" },
	{ "250-a\r\n550 b\r\n", 0, SMTP_REPLY_E_MIXED, "550 after 250" },
	{ "220-a\r\n220-b\r\n250 c\r\n", 0, SMTP_REPLY_E_MIXED,
	  "mixed on line 3" },
	{ "250-a\r\nxyz\r\n", 0, SMTP_REPLY_E_CODE, "garbage on line 2" },
	{ "250 a\0b\r\n", 9, SMTP_REPLY_E_NUL, "NUL in text" },
	{ "\0", 1, SMTP_REPLY_E_NUL, "NUL alone" },
	{ "25\0 ok\r\n", 8, SMTP_REPLY_E_NUL, "NUL in code" },
};

START_TEST(test_bad_vector)
{
	struct smtp_reply_parser p;
	size_t len = bad[_i].len ? bad[_i].len : strlen(bad[_i].in);
	size_t used = 0;
	int rc;

	rc = feed(&p, bad[_i].in, len, &used);
	ck_assert_msg(rc == bad[_i].status, "%s: got %d (%s), want %d",
	    bad[_i].why, rc, smtp_reply_strerror(rc), bad[_i].status);
	ck_assert_uint_le(used, len);
	/* the same split into single bytes */
	rc = feed_bytewise(&p, bad[_i].in, len, &used);
	ck_assert_msg(rc == bad[_i].status, "%s bytewise: got %d",
	    bad[_i].why, rc);
}
END_TEST

START_TEST(test_error_messages)
{
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_CODE),
	    "reply code is not three digits from 200 to 599");
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_SEPARATOR),
	    "reply code not followed by '-', ' ' or the end of the line");
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_MIXED),
	    "lines of one reply carry different codes");
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_LONG),
	    "reply line longer than 2048 bytes");
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_LINES),
	    "reply longer than 100 lines");
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_NUL),
	    "NUL byte in a reply");
	ck_assert_str_eq(smtp_reply_strerror(SMTP_REPLY_E_STATE),
	    "reply parser used after the end of a reply");
	ck_assert_str_eq(smtp_reply_strerror(42),
	    "unknown reply parser status");
}
END_TEST

START_TEST(test_overlong_line)
{
	struct smtp_reply_parser p;
	size_t len, used;
	char *s;

	/* 2049 bytes of line before CRLF */
	s = long_line(SMTP_REPLY_LINE_MAX + 1, "\r\n", &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_E_LONG);
	free(s);
	/* the same with a bare LF */
	s = long_line(SMTP_REPLY_LINE_MAX + 1, "\n", &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_E_LONG);
	free(s);
	/* 2048 bytes, then a CR that is not followed by LF: text, too long */
	s = long_line(SMTP_REPLY_LINE_MAX, "\rx\r\n", &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_E_LONG);
	free(s);
	/* 2048 bytes, then two CRs: the first is text */
	s = long_line(SMTP_REPLY_LINE_MAX, "\r\r\n", &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_E_LONG);
	free(s);
}
END_TEST

START_TEST(test_overlong_without_newline)
{
	struct smtp_reply_parser p;
	char *s = malloc(10000);
	size_t used;

	/* refused as soon as the buffer is full, not when (if ever) the LF
	 * arrives */
	ck_assert_ptr_nonnull(s);
	memset(s, '2', 10000);
	ck_assert_int_eq(feed(&p, s, 10000, &used), SMTP_REPLY_E_LONG);
	ck_assert_uint_le(used, SMTP_REPLY_LINE_MAX + 2);
	free(s);
}
END_TEST

START_TEST(test_too_many_lines)
{
	struct smtp_reply_parser p;
	size_t len, used;
	char *s = many_lines(SMTP_REPLY_LINES_MAX, &len);	/* 101 lines */

	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_E_LINES);
	free(s);
}
END_TEST

START_TEST(test_incomplete_needs_more)
{
	struct smtp_reply_parser p;
	size_t used = 99;

	ck_assert_int_eq(feed(&p, "", 0, &used), SMTP_REPLY_MORE);
	ck_assert_uint_eq(used, 0);
	smtp_reply_init(&p);
	ck_assert_int_eq(smtp_reply_feed(&p, NULL, 0, &used),
	    SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&p, "250 ok", 6, &used), SMTP_REPLY_MORE);
	ck_assert_uint_eq(used, 6);
	ck_assert_int_eq(feed(&p, "250 ok\r", 7, &used), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&p, "250-a\r\n", 7, &used), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&p, "250-a\r\n250-b\n", 13, &used),
	    SMTP_REPLY_MORE);
	/* and the rest completes it */
	ck_assert_int_eq(smtp_reply_feed(&p, (const uint8_t *)"250 c\r\n", 7,
	    &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(p.reply.n_lines, 3);
}
END_TEST

START_TEST(test_sticky_and_state)
{
	struct smtp_reply_parser p;
	size_t used;

	/* an error sticks: good bytes after it do not help */
	ck_assert_int_eq(feed(&p, "xyz\r\n", 5, &used), SMTP_REPLY_E_CODE);
	ck_assert_int_eq(smtp_reply_feed(&p, (const uint8_t *)"250 ok\r\n",
	    8, &used), SMTP_REPLY_E_CODE);
	ck_assert_uint_eq(used, 0);
	/* feeding after DONE without init is a caller error */
	ck_assert_int_eq(feed(&p, "250 ok\r\n", 8, &used), SMTP_REPLY_DONE);
	ck_assert_int_eq(smtp_reply_feed(&p, (const uint8_t *)"250 ok\r\n",
	    8, &used), SMTP_REPLY_E_STATE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(p.reply.code, 250);	/* the reply is kept */
	/* init makes it usable again */
	ck_assert_int_eq(feed(&p, "221 bye\r\n", 9, &used), SMTP_REPLY_DONE);
	ck_assert_int_eq(p.reply.code, 221);
}
END_TEST

START_TEST(test_error_position)
{
	struct smtp_reply_parser p;
	size_t used;

	/* used stops right after the offending line's LF */
	ck_assert_int_eq(feed(&p, "250-a\r\n999 b\r\n250 c\r\n", 21, &used),
	    SMTP_REPLY_E_CODE);
	ck_assert_uint_eq(used, 14);
	/* or right after the NUL */
	ck_assert_int_eq(feed(&p, "250 a\0bc\r\n", 10, &used),
	    SMTP_REPLY_E_NUL);
	ck_assert_uint_eq(used, 6);
}
END_TEST

/* ---- good ------------------------------------------------------------- */

START_TEST(test_single_line)
{
	struct smtp_reply_parser p;
	const char *s = "220 mx.example.test ESMTP Postfix\r\n";
	size_t used;

	ck_assert_int_eq(feed(&p, s, strlen(s), &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(used, strlen(s));
	ck_assert_int_eq(p.reply.code, 220);
	ck_assert_uint_eq(p.reply.n_lines, 1);
	ck_assert_str_eq(p.reply.text, "mx.example.test ESMTP Postfix");
	ck_assert(!p.reply.truncated);
	ck_assert_uint_eq(p.reply.ext, 0);
	/* used may be NULL */
	smtp_reply_init(&p);
	ck_assert_int_eq(smtp_reply_feed(&p, (const uint8_t *)s, strlen(s),
	    NULL), SMTP_REPLY_DONE);
}
END_TEST

START_TEST(test_code_only_and_edges)
{
	struct smtp_reply_parser p;
	size_t used;

	ck_assert_int_eq(feed(&p, "250\r\n", 5, &used), SMTP_REPLY_DONE);
	ck_assert_int_eq(p.reply.code, 250);
	ck_assert_str_eq(p.reply.text, "");
	ck_assert_int_eq(feed(&p, "554 \r\n", 6, &used), SMTP_REPLY_DONE);
	ck_assert_int_eq(p.reply.code, 554);
	ck_assert_str_eq(p.reply.text, "");
	ck_assert_int_eq(feed(&p, "200 x\r\n", 7, &used), SMTP_REPLY_DONE);
	ck_assert_int_eq(p.reply.code, 200);
	ck_assert_int_eq(feed(&p, "599 x\r\n", 7, &used), SMTP_REPLY_DONE);
	ck_assert_int_eq(p.reply.code, 599);
	/* "250-" with nothing after it continues; "250" alone ends */
	ck_assert_int_eq(feed(&p, "250-\r\n250\r\n", 11, &used),
	    SMTP_REPLY_DONE);
	ck_assert_uint_eq(p.reply.n_lines, 2);
}
END_TEST

START_TEST(test_ehlo_starttls)
{
	static const char *const offered[] = {
		("250-mx.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
		    "250 8BITMIME\r\n"),
		"250-mx\r\n250-starttls\r\n250 DSN\r\n",
		"250-mx\r\n250-StartTLS\r\n250 DSN\r\n",
		"250-mx\r\n250 STARTTLS\r\n",		/* last line */
		"250-mx\r\n250-STARTTLS   \r\n250 DSN\r\n", /* trailing */
		"250-mx\r\n250-STARTTLS\t\r\n250 DSN\r\n",
	};
	static const char *const not_offered[] = {
		"250-mx.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
		"250 STARTTLS\r\n",	/* one line: the server's name */
		"250-STARTTLS\r\n250 DSN\r\n",	/* the greeting line */
		"250-mx\r\n250-STARTTLSX\r\n250 DSN\r\n",
		"250-mx\r\n250-X-STARTTLS\r\n250 DSN\r\n",
		"250-mx\r\n250-STARTTL\r\n250 DSN\r\n",
		"250-mx\r\n250- STARTTLS\r\n250 DSN\r\n",
		"250-mx\r\n250-XSTARTTLS STARTTLS\r\n250 DSN\r\n",
	};
	struct smtp_reply_parser p;
	size_t used;

	for (size_t i = 0; i < sizeof(offered) / sizeof(offered[0]); i++) {
		ck_assert_int_eq(feed(&p, offered[i], strlen(offered[i]),
		    &used), SMTP_REPLY_DONE);
		ck_assert_msg(p.reply.ext & SMTP_EXT_STARTTLS,
		    "STARTTLS not seen in vector %zu", i);
		ck_assert_int_eq(p.reply.code, 250);
	}
	for (size_t i = 0; i < sizeof(not_offered) / sizeof(not_offered[0]);
	    i++) {
		ck_assert_int_eq(feed(&p, not_offered[i],
		    strlen(not_offered[i]), &used), SMTP_REPLY_DONE);
		ck_assert_msg(!(p.reply.ext & SMTP_EXT_STARTTLS),
		    "STARTTLS wrongly seen in vector %zu", i);
	}
}
END_TEST

START_TEST(test_ehlo_keywords)
{
	struct smtp_reply_parser p;
	const char *s =
	    "250-mx.example.test Hello [192.0.2.1]\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n"
	    "250-8bitmime\r\n"
	    "250-SMTPUTF8\r\n"
	    "250-CHUNKING\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250-DSN\r\n"
	    "250-REQUIRETLS\r\n"
	    "250-AUTH PLAIN LOGIN\r\n"
	    "250 X-UNKNOWN-THING\r\n";
	size_t used;

	ck_assert_int_eq(feed(&p, s, strlen(s), &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(used, strlen(s));
	ck_assert_uint_eq(p.reply.n_lines, 11);
	ck_assert_str_eq(p.reply.text, "mx.example.test Hello [192.0.2.1]");
	ck_assert_uint_eq(p.reply.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
	    SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_CHUNKING |
	    SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN | SMTP_EXT_REQUIRETLS);
	ck_assert(p.reply.size_max == 10240000);
}
END_TEST

START_TEST(test_size_values)
{
	struct smtp_reply_parser p;
	size_t used;
	const char *nolimit = "250-mx\r\n250 SIZE\r\n";
	const char *huge = "250-mx\r\n250 SIZE 99999999999999999999999\r\n";
	const char *max = "250-mx\r\n250 SIZE 18446744073709551609\r\n";

	ck_assert_int_eq(feed(&p, nolimit, strlen(nolimit), &used),
	    SMTP_REPLY_DONE);
	ck_assert(p.reply.ext & SMTP_EXT_SIZE);
	ck_assert(p.reply.size_max == 0);
	/* too big for 64 bits: no limit rather than a wrapped one */
	ck_assert_int_eq(feed(&p, huge, strlen(huge), &used),
	    SMTP_REPLY_DONE);
	ck_assert(p.reply.ext & SMTP_EXT_SIZE);
	ck_assert(p.reply.size_max == 0);
	ck_assert_int_eq(feed(&p, max, strlen(max), &used), SMTP_REPLY_DONE);
	ck_assert(p.reply.size_max == 18446744073709551609u);
}
END_TEST

START_TEST(test_bare_lf)
{
	struct smtp_reply_parser p;
	const char *s = "220-first\n220-second\r\n220 third\n";
	size_t used;

	ck_assert_int_eq(feed(&p, s, strlen(s), &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(used, strlen(s));
	ck_assert_int_eq(p.reply.code, 220);
	ck_assert_uint_eq(p.reply.n_lines, 3);
	ck_assert_str_eq(p.reply.text, "first");
}
END_TEST

START_TEST(test_limits_exactly)
{
	struct smtp_reply_parser p;
	size_t len, used;
	char *s;

	/* 2048 bytes of line: the most allowed, with CRLF or bare LF */
	s = long_line(SMTP_REPLY_LINE_MAX, "\r\n", &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(used, len);
	ck_assert(p.reply.truncated);
	ck_assert_uint_eq(strlen(p.reply.text), SMTP_REPLY_TEXT_MAX - 1);
	free(s);
	s = long_line(SMTP_REPLY_LINE_MAX, "\n", &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_DONE);
	free(s);
	/* 100 lines: the most allowed */
	s = many_lines(SMTP_REPLY_LINES_MAX - 1, &len);
	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(p.reply.n_lines, SMTP_REPLY_LINES_MAX);
	free(s);
}
END_TEST

START_TEST(test_text_made_printable)
{
	struct smtp_reply_parser p;
	const char *s = "220 caf\xc3\xa9 \x1b[31mred\x7f a\rb\t.\r\n";
	size_t used;

	ck_assert_int_eq(feed(&p, s, strlen(s), &used), SMTP_REPLY_DONE);
	ck_assert_str_eq(p.reply.text, "caf?? ?[31mred? a?b?.");
	ck_assert(!p.reply.truncated);
}
END_TEST

START_TEST(test_pipelined_leftover)
{
	struct smtp_reply_parser p;
	const char *s = "250-a\r\n250 b\r\n354 go on\r\n221 bye";
	size_t len = strlen(s), off, used;

	ck_assert_int_eq(feed(&p, s, len, &used), SMTP_REPLY_DONE);
	ck_assert_uint_eq(used, 14);
	ck_assert_int_eq(p.reply.code, 250);
	off = used;
	ck_assert_int_eq(feed(&p, s + off, len - off, &used),
	    SMTP_REPLY_DONE);
	ck_assert_int_eq(p.reply.code, 354);
	ck_assert_str_eq(p.reply.text, "go on");
	off += used;
	ck_assert_int_eq(feed(&p, s + off, len - off, &used),
	    SMTP_REPLY_MORE);
	ck_assert_uint_eq(off + used, len);
}
END_TEST

START_TEST(test_bytewise_same_as_whole)
{
	static const char *const vectors[] = {
		"220 mx.example.test ESMTP\r\n",
		"220-mx.example.test\r\n220-more\n220 ESMTP\r\n",
		("250-mx\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
		    "250-starttls\r\n250 SMTPUTF8\r\n"),
		"454 4.7.0 TLS not available due to local problem\r\n",
		"250\n",
	};
	struct smtp_reply_parser whole, bytes;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t len = strlen(vectors[i]), used_w, used_b;

		ck_assert_int_eq(feed(&whole, vectors[i], len, &used_w),
		    SMTP_REPLY_DONE);
		ck_assert_int_eq(feed_bytewise(&bytes, vectors[i], len,
		    &used_b), SMTP_REPLY_DONE);
		ck_assert_uint_eq(used_w, len);
		ck_assert_uint_eq(used_b, len);
		ck_assert_int_eq(whole.reply.code, bytes.reply.code);
		ck_assert_uint_eq(whole.reply.n_lines, bytes.reply.n_lines);
		ck_assert_uint_eq(whole.reply.ext, bytes.reply.ext);
		ck_assert(whole.reply.size_max == bytes.reply.size_max);
		ck_assert_str_eq(whole.reply.text, bytes.reply.text);
	}
	ck_assert(bytes.reply.code == 250);
}
END_TEST

START_TEST(test_split_everywhere)
{
	/* every split point in two pieces gives the same reply */
	const char *s =
	    "250-mx.example.test\r\n250-STARTTLS\r\n250 SIZE 100\r\n";
	size_t len = strlen(s);

	for (size_t cut = 0; cut <= len; cut++) {
		struct smtp_reply_parser p;
		size_t u1 = 0, u2 = 0;
		int rc;

		smtp_reply_init(&p);
		rc = smtp_reply_feed(&p, (const uint8_t *)s, cut, &u1);
		if (rc == SMTP_REPLY_MORE)
			rc = smtp_reply_feed(&p, (const uint8_t *)s + cut,
			    len - cut, &u2);
		ck_assert_int_eq(rc, SMTP_REPLY_DONE);
		ck_assert_uint_eq(u1 + u2, len);
		ck_assert_uint_eq(p.reply.ext, SMTP_EXT_STARTTLS |
		    SMTP_EXT_SIZE);
		ck_assert(p.reply.size_max == 100);
		ck_assert_str_eq(p.reply.text, "mx.example.test");
	}
}
END_TEST

static Suite *
smtp_reply_suite(void)
{
	Suite *s = suite_create("smtp_reply");
	TCase *invalid = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_loop_test(invalid, test_bad_vector, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(invalid, test_error_messages);
	tcase_add_test(invalid, test_overlong_line);
	tcase_add_test(invalid, test_overlong_without_newline);
	tcase_add_test(invalid, test_too_many_lines);
	tcase_add_test(invalid, test_incomplete_needs_more);
	tcase_add_test(invalid, test_sticky_and_state);
	tcase_add_test(invalid, test_error_position);
	suite_add_tcase(s, invalid);

	tcase_add_test(good, test_single_line);
	tcase_add_test(good, test_code_only_and_edges);
	tcase_add_test(good, test_ehlo_starttls);
	tcase_add_test(good, test_ehlo_keywords);
	tcase_add_test(good, test_size_values);
	tcase_add_test(good, test_bare_lf);
	tcase_add_test(good, test_limits_exactly);
	tcase_add_test(good, test_text_made_printable);
	tcase_add_test(good, test_pipelined_leftover);
	tcase_add_test(good, test_bytewise_same_as_whole);
	tcase_add_test(good, test_split_everywhere);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_reply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
