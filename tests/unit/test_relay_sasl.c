/*
 * test_relay_sasl.c - unit tests for plugin/relay/sasl.c (SMTP AUTH's
 * wire formats: AUTH arguments, strict base64, PLAIN and LOGIN) and
 * plugin/relay/clients.c (the client file and crypt(3) checks): refusals
 * first, then good input.
 *
 * SECURITY: test program; no I/O but the logs.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "log.h"
#include "sasl.h"

static struct sasl_auth auth;
static uint8_t dec[SASL_B64_MAX];
static size_t declen;

static int
aparse(const char *s)
{
	return sasl_auth_parse((const uint8_t *)s, strlen(s), &auth);
}

static int
b64(const char *s)
{
	return sasl_b64_decode((const uint8_t *)s, strlen(s), dec, sizeof(dec),
	    &declen);
}

static int
plain(const char *msg, size_t len, struct sasl_creds *cr)
{
	return sasl_plain_decode((const uint8_t *)msg, len, cr);
}

START_TEST(refuse_auth)
{
	ck_assert_int_eq(aparse("AUTH"), SASL_E_SYNTAX);
	ck_assert_int_eq(aparse("AUTH "), SASL_E_SYNTAX);
	ck_assert_int_eq(aparse("AUTH PLAIN "), SASL_E_SYNTAX);
	ck_assert_int_eq(aparse("AUTH PL*IN"), SASL_E_SYNTAX);
	ck_assert_int_eq(aparse("AUTH ABCDEFGHIJKLMNOPQRSTU"), SASL_E_SYNTAX);
	ck_assert_int_eq(aparse("AUTH CRAM-MD5"), SASL_E_MECH);
	ck_assert_int_eq(aparse("AUTH XOAUTH2 dGVzdA=="), SASL_E_MECH);
	ck_assert_int_eq(aparse("AUTH PLAINX"), SASL_E_MECH);
	ck_assert_int_eq(aparse("AUTH PLAIN a b"), SASL_E_SYNTAX);
	ck_assert_int_eq(aparse("AUTH PLAIN a\x80"), SASL_E_SYNTAX);
}
END_TEST

START_TEST(refuse_b64)
{
	char big[SASL_B64_MAX * 2 + 1];

	ck_assert_int_eq(b64(""), SASL_E_BASE64);
	ck_assert_int_eq(b64("abc"), SASL_E_BASE64);
	ck_assert_int_eq(b64("ab c"), SASL_E_BASE64);
	ck_assert_int_eq(b64("ab=c"), SASL_E_BASE64);
	ck_assert_int_eq(b64("a==="), SASL_E_BASE64);
	ck_assert_int_eq(b64("ab==abcd"), SASL_E_BASE64);	/* pad inside */
	ck_assert_int_eq(b64("ab-_"), SASL_E_BASE64);		/* base64url */
	ck_assert_int_eq(b64("YR=="), SASL_E_BASE64);		/* bits left */
	ck_assert_int_eq(b64("YWJ="), SASL_E_BASE64);
	ck_assert_int_eq(b64("*"), SASL_E_CANCEL);
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(b64(big), SASL_E_LONG);
}
END_TEST

START_TEST(refuse_plain)
{
	struct sasl_creds cr;
	char longu[300];

	ck_assert_int_eq(plain("userpass", 8, &cr), SASL_E_MESSAGE);
	ck_assert_int_eq(plain("\0user", 5, &cr), SASL_E_MESSAGE);
	ck_assert_int_eq(plain("\0\0pass", 6, &cr), SASL_E_MESSAGE);
	ck_assert_int_eq(plain("\0user\0", 6, &cr), SASL_E_MESSAGE);
	ck_assert_int_eq(plain("\0user\0pa\0ss", 11, &cr), SASL_E_MESSAGE);
	ck_assert_int_eq(plain("other\0user\0pass", 15, &cr), SASL_E_AUTHZ);
	ck_assert_str_eq(cr.pass, "");		/* wiped */
	ck_assert_int_eq(plain("\0us\ter\0pass", 11, &cr), SASL_E_UTF8);
	ck_assert_int_eq(plain("\0us\xc3\x28\0pass", 10, &cr), SASL_E_UTF8);
	memset(longu, 'u', sizeof(longu));
	longu[0] = '\0';
	longu[257] = '\0';
	ck_assert_int_eq(plain(longu, 260, &cr), SASL_E_LONG);
}
END_TEST

START_TEST(good_sasl)
{
	struct sasl_creds cr;
	char f[SASL_FIELD_MAX + 1];

	ck_assert_int_eq(aparse("AUTH PLAIN"), SASL_OK);
	ck_assert_int_eq(auth.mech, SASL_MECH_PLAIN);
	ck_assert_str_eq(auth.initial, "");
	ck_assert_int_eq(aparse("auth login dXNlcg=="), SASL_OK);
	ck_assert_int_eq(auth.mech, SASL_MECH_LOGIN);
	ck_assert_str_eq(auth.initial, "dXNlcg==");
	ck_assert_int_eq(aparse("AUTH PLAIN ="), SASL_OK);
	ck_assert_str_eq(auth.initial, "=");

	ck_assert_int_eq(b64("="), SASL_OK);
	ck_assert_uint_eq(declen, 0);
	ck_assert_int_eq(b64("YQ=="), SASL_OK);
	ck_assert_uint_eq(declen, 1);
	ck_assert_int_eq(b64("YWI="), SASL_OK);
	ck_assert_uint_eq(declen, 2);
	ck_assert_int_eq(b64("AHVzZXIAcGFzcw=="), SASL_OK);	/* RFC 4616 */
	ck_assert_uint_eq(declen, 10);
	ck_assert_int_eq(memcmp(dec, "\0user\0pass", 10), 0);

	ck_assert_int_eq(plain((const char *)dec, declen, &cr), SASL_OK);
	ck_assert_str_eq(cr.user, "user");
	ck_assert_str_eq(cr.pass, "pass");
	ck_assert_int_eq(plain("user\0user\0p w\x01", 14, &cr), SASL_OK);
	ck_assert_str_eq(cr.pass, "p w\x01");
	ck_assert_int_eq(plain("\0sch\xc3\xb6n\0x", 9, &cr), SASL_OK);
	ck_assert_str_eq(cr.user, "sch\xc3\xb6n");
	sasl_creds_wipe(&cr);
	ck_assert_str_eq(cr.user, "");

	ck_assert_int_eq(sasl_login_field((const uint8_t *)"a\tb", 3, f, 0),
	    SASL_OK);
	ck_assert_int_eq(sasl_login_field((const uint8_t *)"a\tb", 3, f, 1),
	    SASL_E_UTF8);
	ck_assert_int_eq(sasl_login_field((const uint8_t *)"", 0, f, 0),
	    SASL_E_MESSAGE);
	ck_assert_str_ne(sasl_strerror(SASL_E_AUTHZ), "unknown SASL status");
}
END_TEST

/* a syntactically good yescrypt prefix for the refusals */
#define H_Y "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$"

static char hy[256], h6[256];

static void
make_hashes(void)
{
	ck_assert_int_eq(clients_hash("secret", hy, sizeof(hy)), 0);
	ck_assert(strncmp(hy, "$y$", 3) == 0);
	struct clients *c;
	char text[1024];

	snprintf(text, sizeof(text), "a:%s:a@x.example\n", hy);
	ck_assert_int_eq(clients_parse("t", text, strlen(text), &c), 0);
	clients_free(c);
	/* "secret" with SHA-512 crypt, as an older file may hold */
	snprintf(h6, sizeof(h6), "%s", "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1");
}

START_TEST(refuse_clients)
{
	static const char *bad[] = {
		"scanner\n",
		"scanner:" H_Y "x\n",
		":" H_Y "x:a@x.example\n",
		"sc anner:" H_Y "x:a@x.example\n",
		"scanner:$1$md5$abc:a@x.example\n",	/* MD5 crypt */
		"scanner:plaintext:a@x.example\n",
		"scanner:" H_Y "x:\n",
		"scanner:" H_Y "x:nodomain\n",
		"scanner:" H_Y "x:a@x.example,@x.example\n",
		"scanner:" H_Y "x:a@x.example\nscanner:" H_Y "y:b@x.example\n",
		"  scanner:" H_Y "x:a@x.example\n",
	};
	struct clients *c = (struct clients *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(clients_parse("t", bad[i], strlen(bad[i]), &c)
		    > 0, "accepted: %s", bad[i]);
		ck_assert_ptr_null(c);
	}
	/* every bad line counts: -t shows all at once */
	const char *two = "x\n# ok\ny\n";

	ck_assert_int_eq(clients_parse("t", two, strlen(two), &c), 2);
	ck_assert_int_eq(clients_parse("t", "a\0b:c:d@e", 9, &c), 1);
}
END_TEST

START_TEST(good_clients)
{
	struct clients *c;
	char text[2048];

	make_hashes();
	snprintf(text, sizeof(text),
	    "# scanners\n\nscanner:%s:office@school.example,Desk@School.example\r\n"
	    "erp:%s:erp@school.example", hy, h6);
	ck_assert_int_eq(clients_parse("t", text, strlen(text), &c), 0);
	ck_assert_uint_eq(clients_count(c), 2);
	ck_assert(clients_check(c, "scanner", "secret"));
	ck_assert(!clients_check(c, "scanner", "Secret"));
	ck_assert(!clients_check(c, "scanner", ""));
	ck_assert(!clients_check(c, "nobody", "secret"));
	ck_assert(!clients_check(c, "Scanner", "secret"));
	ck_assert(clients_check(c, "erp", "secret"));
	ck_assert(!clients_check(c, "erp", "other"));
	ck_assert(clients_may_send_as(c, "scanner", "office@school.example"));
	ck_assert(clients_may_send_as(c, "scanner", "desk@school.EXAMPLE"));
	ck_assert(!clients_may_send_as(c, "scanner", "erp@school.example"));
	ck_assert(!clients_may_send_as(c, "scanner", ""));
	ck_assert(!clients_may_send_as(c, "nobody", "erp@school.example"));
	ck_assert_str_eq(clients_mailbox(c, "scanner"), "office@school.example");
	ck_assert_ptr_null(clients_mailbox(c, "nobody"));
	clients_free(c);
	clients_free(NULL);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_sasl");
	TCase *invalid = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_set_timeout(good, 30);
	tcase_add_test(invalid, refuse_auth);
	tcase_add_test(invalid, refuse_b64);
	tcase_add_test(invalid, refuse_plain);
	tcase_add_test(invalid, refuse_clients);
	tcase_add_test(good, good_sasl);
	tcase_add_test(good, good_clients);
	suite_add_tcase(s, invalid);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	log_init("test_relay_sasl", 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
