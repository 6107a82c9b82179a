/*
 * test_relay_cmd.c - unit tests for plugin/relay/smtp_cmd.c, the relay's
 * SMTP/LMTP command parser: every refusal first (length, control bytes,
 * verbs, arguments, address syntax and lengths, UTF-8, parameters), then
 * good commands (verbs, null sender, quoted local parts, source routes,
 * address literals, SMTPUTF8, every parameter).
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

static struct smtp_cmd cmd;

static int
parse(const char *s)
{
	return smtp_cmd_parse((const uint8_t *)s, strlen(s), &cmd);
}

static int
parse_n(const char *s, size_t n)
{
	return smtp_cmd_parse((const uint8_t *)s, n, &cmd);
}

START_TEST(refuse_line)
{
	char buf[SMTP_CMD_LINE_MAX + 2];

	memset(buf, 'x', sizeof(buf));
	buf[0] = 'N';
	buf[1] = buf[2] = 'O';
	buf[3] = 'P';
	buf[4] = ' ';
	ck_assert_int_eq(parse_n(buf, SMTP_CMD_LINE_MAX + 1),
	    SMTP_CMD_E_LONG);
	ck_assert_int_eq(parse_n(buf, SMTP_CMD_LINE_MAX), SMTP_CMD_OK);
	ck_assert_int_eq(parse_n("NOOP\0x", 6), SMTP_CMD_E_CONTROL);
	/* a bare CR or LF inside a line: smuggling and injection */
	ck_assert_int_eq(parse("RCPT TO:<a@b.example>\rDATA"),
	    SMTP_CMD_E_CONTROL);
	ck_assert_int_eq(parse("NOOP\nQUIT"), SMTP_CMD_E_CONTROL);
	ck_assert_int_eq(parse("NOOP\tx"), SMTP_CMD_E_CONTROL);
	ck_assert_int_eq(parse(""), SMTP_CMD_E_VERB);
	ck_assert_int_eq(parse("FOO"), SMTP_CMD_E_VERB);
	ck_assert_int_eq(parse("MAILFROM:<a@b.example>"), SMTP_CMD_E_VERB);
	ck_assert_int_eq(parse(" HELO x"), SMTP_CMD_E_VERB);
	ck_assert_str_eq(smtp_cmd_reply(SMTP_CMD_E_VERB, SMTP_VERB_NONE),
	    "500 5.5.2 Command unrecognized");
}
END_TEST

START_TEST(refuse_args)
{
	ck_assert_int_eq(parse("EHLO"), SMTP_CMD_E_ARG);
	ck_assert_int_eq(parse("EHLO   "), SMTP_CMD_E_ARG);
	ck_assert_int_eq(parse("EHLO a b"), SMTP_CMD_E_HELO);
	ck_assert_int_eq(parse("DATA x"), SMTP_CMD_E_ARG);
	ck_assert_int_eq(parse("STARTTLS x"), SMTP_CMD_E_ARG);
	ck_assert_int_eq(parse("QUIT now"), SMTP_CMD_E_ARG);
	ck_assert_int_eq(parse("VRFY"), SMTP_CMD_E_ARG);
	ck_assert_int_eq(parse("MAIL"), SMTP_CMD_E_FROMTO);
	ck_assert_int_eq(parse("MAIL TO:<a@b.example>"), SMTP_CMD_E_FROMTO);
	ck_assert_int_eq(parse("MAIL FROM:a@b.example"), SMTP_CMD_E_FROMTO);
	ck_assert_int_eq(parse("RCPT FROM:<a@b.example>"), SMTP_CMD_E_FROMTO);
	ck_assert_int_eq(parse("RCPT TO:"), SMTP_CMD_E_FROMTO);
	ck_assert_str_eq(smtp_cmd_reply(SMTP_CMD_E_FROMTO, SMTP_VERB_RCPT),
	    "501 5.5.4 Syntax: RCPT TO:<address>");
}
END_TEST

START_TEST(refuse_path)
{
	static const char *bad[] = {
		"RCPT TO:<>",			/* null path only for MAIL */
		"RCPT TO:<a>",			/* no domain */
		"RCPT TO:<a@>",
		"RCPT TO:<@b.example>",
		"RCPT TO:<.a@b.example>",
		"RCPT TO:<a.@b.example>",
		"RCPT TO:<a..b@b.example>",
		"RCPT TO:<a b@b.example>",
		"RCPT TO:<a(b)@b.example>",
		"RCPT TO:<a@b..example>",
		"RCPT TO:<a@b.example.>",
		"RCPT TO:<a@-b.example>",
		"RCPT TO:<a@b-.example>",
		"RCPT TO:<a@b_c.example>",
		"RCPT TO:<a@b.example",
		"RCPT TO:<a@b.example>x",
		"RCPT TO:<a@b.example>>",
		"RCPT TO:<\"a@b.example>",	/* unterminated quote */
		"RCPT TO:<\"a\\\x01\"@b.example>",
		"RCPT TO:<a@[192.0.2.300]>",
		"RCPT TO:<a@[IPv6:1::2::3]>",
		"RCPT TO:<a@[]>",
		"RCPT TO:<a@[x y]>",
		"RCPT TO:<a@[:x]>",
		"RCPT TO:<@x:a@b.example>x",
		"RCPT TO:<@x;a@b.example>",
		"RCPT TO:<a@b.example@c.example>",
		"MAIL FROM:<<a@b.example>>",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i]);

		if (rc != SMTP_CMD_E_PATH && rc != SMTP_CMD_E_CONTROL &&
		    rc != SMTP_CMD_E_FROMTO)
			ck_abort_msg("%s: %s", bad[i], smtp_cmd_strerror(rc));
		ck_assert_int_ne(rc, SMTP_CMD_OK);
	}
	ck_assert_int_eq(parse("RCPT TO:<a@b.example>x"), SMTP_CMD_E_PATH);
	ck_assert_str_eq(smtp_cmd_reply(SMTP_CMD_E_PATH, SMTP_VERB_MAIL),
	    "501 5.1.7 Bad sender address syntax");
	ck_assert_str_eq(smtp_cmd_reply(SMTP_CMD_E_PATH, SMTP_VERB_RCPT),
	    "501 5.1.3 Bad recipient address syntax");
}
END_TEST

START_TEST(refuse_lengths)
{
	char buf[1200];
	char local[70], label[70];

	memset(local, 'l', 65);
	local[65] = '\0';
	snprintf(buf, sizeof(buf), "RCPT TO:<%s@b.example>", local);
	ck_assert_int_eq(parse(buf), SMTP_CMD_E_PATH_LONG);
	local[64] = '\0';
	snprintf(buf, sizeof(buf), "RCPT TO:<%s@b.example>", local);
	ck_assert_int_eq(parse(buf), SMTP_CMD_OK);

	memset(label, 'd', 64);
	label[64] = '\0';
	snprintf(buf, sizeof(buf), "RCPT TO:<a@%s.example>", label);
	ck_assert_int_eq(parse(buf), SMTP_CMD_E_PATH_LONG);
	label[63] = '\0';
	/* four 63-byte labels: a 255-byte domain is fine, 256 is not */
	snprintf(buf, sizeof(buf), "RCPT TO:<a@%s.%s.%s.%s>", label, label,
	    label, label);
	ck_assert_int_eq(parse(buf), SMTP_CMD_E_PATH_LONG);
	label[61] = '\0';
	snprintf(buf, sizeof(buf), "RCPT TO:<a@%s.%s.%s.%s>", label, label,
	    label, label);
	ck_assert_int_eq(parse(buf), SMTP_CMD_OK);
	/* local 64 + @ + domain 247 + <> > 256: the path is too long */
	snprintf(buf, sizeof(buf), "RCPT TO:<%s@%s.%s.%s.%s>", local, label,
	    label, label, label);
	ck_assert_int_eq(parse(buf), SMTP_CMD_E_PATH_LONG);
}
END_TEST

START_TEST(refuse_utf8)
{
	/* overlong '/', a surrogate, above U+10FFFF, a lone continuation,
	 * a truncated sequence */
	static const char *bad[] = {
		"MAIL FROM:<a\xc0\xaf@b.example> SMTPUTF8",
		"MAIL FROM:<a\xed\xa0\x80@b.example> SMTPUTF8",
		"MAIL FROM:<a\xf4\x90\x80\x80@b.example> SMTPUTF8",
		"MAIL FROM:<a\x80@b.example> SMTPUTF8",
		"MAIL FROM:<a\xe2\x82@b.example> SMTPUTF8",
		"MAIL FROM:<a@b\xff.example> SMTPUTF8",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(parse(bad[i]), SMTP_CMD_E_UTF8);
	ck_assert_int_eq(parse("MAIL FROM:<j\xc3\xb6rg@b.example>"),
	    SMTP_CMD_E_NEED_UTF8);
	ck_assert_str_eq(smtp_cmd_reply(SMTP_CMD_E_NEED_UTF8, SMTP_VERB_MAIL),
	    "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address");
}
END_TEST

START_TEST(refuse_params)
{
	ck_assert_int_eq(parse("MAIL FROM:<a@b.example> FOO=1"),
	    SMTP_CMD_E_PARAM);
	ck_assert_int_eq(parse("MAIL FROM:<a@b.example> NOTIFY=NEVER"),
	    SMTP_CMD_E_PARAM);
	ck_assert_int_eq(parse("RCPT TO:<a@b.example> SIZE=1"),
	    SMTP_CMD_E_PARAM);
	ck_assert_int_eq(parse("MAIL FROM:<a@b.example> -X"),
	    SMTP_CMD_E_PARAM);
	ck_assert_int_eq(parse("MAIL FROM:<a@b.example> SIZE=1 SIZE=2"),
	    SMTP_CMD_E_PARAM_DUP);
	static const char *bad[] = {
		"MAIL FROM:<a@b.example> SIZE",
		"MAIL FROM:<a@b.example> SIZE=",
		"MAIL FROM:<a@b.example> SIZE=-1",
		"MAIL FROM:<a@b.example> SIZE=1k",
		"MAIL FROM:<a@b.example> SIZE=9999999999999999999",
		"MAIL FROM:<a@b.example> BODY=BINARYMIME",
		"MAIL FROM:<a@b.example> SMTPUTF8=yes",
		"MAIL FROM:<a@b.example> RET=ALL",
		"MAIL FROM:<a@b.example> ENVID=a+2",
		"MAIL FROM:<a@b.example> ENVID=a+2b",
		"MAIL FROM:<a@b.example> ENVID=a=b",
		"RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS",
		"RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS",
		"RCPT TO:<a@b.example> NOTIFY=SUCCESS,",
		"RCPT TO:<a@b.example> NOTIFY=SOMETIMES",
		"RCPT TO:<a@b.example> ORCPT=a@b.example",
		"RCPT TO:<a@b.example> ORCPT=;a@b.example",
		"RCPT TO:<a@b.example> ORCPT=rfc822;a+zz",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i]);

		if (rc != SMTP_CMD_E_PARAM_VALUE)
			ck_abort_msg("%s: %s", bad[i], smtp_cmd_strerror(rc));
	}
	{
		char buf[700];

		memset(buf, 0, sizeof(buf));
		strcpy(buf, "MAIL FROM:<a@b.example> ENVID=");
		memset(buf + strlen(buf), 'e', 101);
		ck_assert_int_eq(parse(buf), SMTP_CMD_E_PARAM_VALUE);
	}
	ck_assert_str_eq(smtp_cmd_reply(SMTP_CMD_E_PARAM, SMTP_VERB_MAIL),
	    "555 5.5.4 Unsupported parameter");
}
END_TEST

START_TEST(good_verbs)
{
	ck_assert_int_eq(parse("ehlo client.example.org"), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_EHLO);
	ck_assert_str_eq(cmd.helo, "client.example.org");
	ck_assert_int_eq(parse("HELO WIN_PC-01 "), SMTP_CMD_OK);
	ck_assert_str_eq(cmd.helo, "WIN_PC-01");
	ck_assert_int_eq(parse("LHLO [192.0.2.1]"), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_LHLO);
	ck_assert_int_eq(parse("data"), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_DATA);
	ck_assert_int_eq(parse("RSET "), SMTP_CMD_OK);
	ck_assert_int_eq(parse("NOOP anything at all"), SMTP_CMD_OK);
	ck_assert_int_eq(parse("Quit"), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_QUIT);
	ck_assert_int_eq(parse("StartTLS"), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_STARTTLS);
	ck_assert_int_eq(parse("VRFY postmaster"), SMTP_CMD_OK);
	ck_assert_int_eq(parse("BDAT 100 LAST"), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_BDAT);
}
END_TEST

START_TEST(good_mail)
{
	ck_assert_int_eq(parse("MAIL FROM:<>"), SMTP_CMD_OK);
	ck_assert_str_eq(cmd.addr, "");
	ck_assert_str_eq(cmd.domain, "");
	ck_assert_int_eq(cmd.size, -1);
	ck_assert_int_eq(parse("mail from: <Alice@Example.ORG> size=12345 "
	    "body=8bitmime RET=HDRS ENVID=QQ+2B314 "), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_VERB_MAIL);
	ck_assert_str_eq(cmd.addr, "Alice@Example.ORG");
	ck_assert_str_eq(cmd.domain, "example.org");
	ck_assert_int_eq(cmd.size, 12345);
	ck_assert_int_eq(cmd.body, SMTP_BODY_8BITMIME);
	ck_assert_int_eq(cmd.ret, SMTP_RET_HDRS);
	ck_assert_str_eq(cmd.envid, "QQ+2B314");
	ck_assert_uint_eq(cmd.n_params, 4);
	ck_assert_int_eq(parse("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>"
	    " SMTPUTF8 BODY=7BIT"), SMTP_CMD_OK);
	ck_assert(cmd.utf8);
	ck_assert(cmd.smtputf8);
	ck_assert_str_eq(cmd.domain, "b\xc3\xbc" "cher.example");
	/* a source route is skipped (RFC 5321 §4.1.2) */
	ck_assert_int_eq(parse("MAIL FROM:<@relay.example,@[192.0.2.1]:"
	    "bob@example.org>"), SMTP_CMD_OK);
	ck_assert_str_eq(cmd.addr, "bob@example.org");
	ck_assert_int_eq(parse("MAIL FROM:<a@b.example> SIZE=999999999999999999"),
	    SMTP_CMD_OK);
	ck_assert_int_eq(cmd.size, 999999999999999999LL);
}
END_TEST

START_TEST(good_rcpt)
{
	ck_assert_int_eq(parse("RCPT TO:<\"john \\\"q\\\" doe\"@Example.NET> "
	    "NOTIFY=success,FAILURE ORCPT=rfc822;john+40example.net"),
	    SMTP_CMD_OK);
	ck_assert_str_eq(cmd.addr, "\"john \\\"q\\\" doe\"@Example.NET");
	ck_assert_str_eq(cmd.domain, "example.net");
	ck_assert_uint_eq(cmd.notify, SMTP_NOTIFY_SUCCESS |
	    SMTP_NOTIFY_FAILURE);
	ck_assert_str_eq(cmd.orcpt, "rfc822;john+40example.net");
	ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=NEVER"),
	    SMTP_CMD_OK);
	ck_assert_uint_eq(cmd.notify, SMTP_NOTIFY_NEVER);
	ck_assert_int_eq(parse("RCPT TO:<Postmaster>"), SMTP_CMD_OK);
	ck_assert(cmd.postmaster);
	ck_assert_str_eq(cmd.domain, "");
	ck_assert_int_eq(parse("RCPT TO:<user@[192.0.2.1]>"), SMTP_CMD_OK);
	ck_assert(cmd.domain_literal);
	ck_assert_str_eq(cmd.domain, "[192.0.2.1]");
	ck_assert_int_eq(parse("RCPT TO:<user@[IPv6:2001:db8::1]>"),
	    SMTP_CMD_OK);
	ck_assert_int_eq(parse("RCPT TO:<user@[x-tag:stuff]>"), SMTP_CMD_OK);
	ck_assert_int_eq(parse("RCPT TO:<!#$%&'*+-/=?^_`{|}~@b.example>"),
	    SMTP_CMD_OK);
	ck_assert_int_eq(parse("RCPT TO:<\"\"@b.example>"), SMTP_CMD_OK);
	/* UTF-8 in RCPT: the session checks it against MAIL's SMTPUTF8 */
	ck_assert_int_eq(parse("RCPT TO:<\xe2\x82\xac@b.example> "
	    "ORCPT=utf-8;\xe2\x82\xac@b.example"), SMTP_CMD_OK);
	ck_assert(cmd.utf8);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_cmd");
	TCase *invalid = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_test(invalid, refuse_line);
	tcase_add_test(invalid, refuse_args);
	tcase_add_test(invalid, refuse_path);
	tcase_add_test(invalid, refuse_lengths);
	tcase_add_test(invalid, refuse_utf8);
	tcase_add_test(invalid, refuse_params);
	tcase_add_test(good, good_verbs);
	tcase_add_test(good, good_mail);
	tcase_add_test(good, good_rcpt);
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
