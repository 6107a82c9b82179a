/*
 * test_relay_oauth2.c - unit tests for plugin/relay/oauth2.c: the
 * XOAUTH2 initial response, the JWT client assertion (decoded and its
 * RS256 signature verified with GnuTLS), the AADSTS table, the token
 * endpoint's answers, the cache's keying and renewal, the secret file
 * check. Refusals first, then the good cases.
 *
 * SECURITY: test program; writes and reads only temporary files.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "plugin/danegate.h"
#include "plugin/relay/oauth2.h"

/* Decodes base64 (url if url) into a NUL-terminated buffer; caller frees. */
static unsigned char *
unb64(const char *s, size_t n, bool url, size_t *outlen)
{
	char *t = calloc(1, n + 4);
	gnutls_datum_t in, out;
	unsigned char *r;
	size_t i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < n; i++)
		t[i] = !url ? s[i] : s[i] == '-' ? '+' : s[i] == '_' ? '/' :
		    s[i];
	while (i % 4 != 0)
		t[i++] = '=';
	in.data = (unsigned char *)t;
	in.size = (unsigned)i;
	ck_assert_int_eq(gnutls_base64_decode2(&in, &out), 0);
	r = malloc(out.size + 1);
	ck_assert_ptr_nonnull(r);
	memcpy(r, out.data, out.size);
	r[out.size] = '\0';
	*outlen = out.size;
	gnutls_free(out.data);
	free(t);
	return r;
}

START_TEST(test_xoauth2_refusals)
{
	char *out;

	ck_assert_int_eq(oauth2_xoauth2_encode("", "t", &out),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(oauth2_xoauth2_encode("u@x", "", &out),
	    DANEGATE_E_INVALID);
	/* A \x01 in a field would forge a field separator. */
	ck_assert_int_eq(oauth2_xoauth2_encode("u@x\x01" "auth=x", "t", &out),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(oauth2_xoauth2_encode("u@x", "t\x01", &out),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_xoauth2_vector)
{
	/* The example of Google's XOAUTH2 protocol page. */
	char *out;

	ck_assert_int_eq(oauth2_xoauth2_encode("someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", &out), 0);
	ck_assert_str_eq(out, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYX"
	    "JlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cB"
	    "AQ==");
	oauth2_secret_free(out);
}
END_TEST

START_TEST(test_b64url)
{
	static const unsigned char d[] = { 0xfb, 0xff, 0xfe };
	char *s = oauth2_b64url(d, sizeof(d));

	ck_assert_str_eq(s, "-__-");
	free(s);
	s = oauth2_b64url((const unsigned char *)"a", 1);
	ck_assert_str_eq(s, "YQ");	/* no padding */
	free(s);
}
END_TEST

static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	ck_assert(json_object_object_get_ex(o, k, &v));
	return json_object_get_string(v);
}

static int64_t
jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	ck_assert(json_object_object_get_ex(o, k, &v));
	return json_object_get_int64(v);
}

/* The assertion decodes, has the claims, and verifies with the key. */
START_TEST(test_jwt_assertion)
{
	static unsigned char certbytes[] = "not really a certificate, but "
	    "x5t#S256 is only the SHA-256 of these bytes";
	gnutls_datum_t cert = { certbytes, sizeof(certbytes) - 1 }, data, sig;
	gnutls_privkey_t key;
	gnutls_pubkey_t pub;
	unsigned char thumb[32], *hdr, *cl, *sg;
	struct json_object *h, *c;
	char *jwt, *d1, *d2, *x5t, *jwt2;
	size_t hl, cl_len, sl;

	ck_assert_int_eq(gnutls_privkey_init(&key), 0);
	ck_assert_int_eq(gnutls_privkey_generate(key, GNUTLS_PK_RSA, 2048, 0),
	    0);
	ck_assert_int_eq(oauth2_jwt_assertion(NULL, &cert, "aud", "id", 1000,
	    &jwt), DANEGATE_E_INVALID);
	ck_assert_int_eq(oauth2_jwt_assertion(key, &cert, "aud", "", 1000,
	    &jwt), DANEGATE_E_INVALID);
	ck_assert_int_eq(oauth2_jwt_assertion(key, &cert,
	    "https://login.example/t/oauth2/v2.0/token", "app-id", 1700000000,
	    &jwt), 0);
	d1 = strchr(jwt, '.');
	ck_assert_ptr_nonnull(d1);
	d2 = strchr(d1 + 1, '.');
	ck_assert_ptr_nonnull(d2);
	ck_assert_ptr_null(strchr(d2 + 1, '.'));
	ck_assert_ptr_null(strchr(jwt, '='));	/* unpadded base64url */
	hdr = unb64(jwt, (size_t)(d1 - jwt), true, &hl);
	cl = unb64(d1 + 1, (size_t)(d2 - d1 - 1), true, &cl_len);
	sg = unb64(d2 + 1, strlen(d2 + 1), true, &sl);
	h = json_tokener_parse((char *)hdr);
	c = json_tokener_parse((char *)cl);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(jstr(h, "alg"), "RS256");
	ck_assert_str_eq(jstr(h, "typ"), "JWT");
	gnutls_hash_fast(GNUTLS_DIG_SHA256, cert.data, cert.size, thumb);
	x5t = oauth2_b64url(thumb, sizeof(thumb));
	ck_assert_str_eq(jstr(h, "x5t#S256"), x5t);
	ck_assert_str_eq(jstr(c, "aud"),
	    "https://login.example/t/oauth2/v2.0/token");
	ck_assert_str_eq(jstr(c, "iss"), "app-id");
	ck_assert_str_eq(jstr(c, "sub"), "app-id");
	ck_assert_int_eq(strlen(jstr(c, "jti")), 36);
	ck_assert_int_eq(jint(c, "nbf"), 1700000000);
	ck_assert_int_eq(jint(c, "exp"), 1700000600);
	/* The signature covers "header.claims" and verifies (RS256). */
	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_privkey(pub, key, 0, 0), 0);
	data.data = (unsigned char *)jwt;
	data.size = (unsigned)(d2 - jwt);
	sig.data = sg;
	sig.size = (unsigned)sl;
	ck_assert_int_eq(gnutls_pubkey_verify_data2(pub,
	    GNUTLS_SIGN_RSA_SHA256, 0, &data, &sig), 0);
	/* A modified claim does not verify. */
	jwt[(d1 - jwt) + 3] ^= 1;
	ck_assert_int_lt(gnutls_pubkey_verify_data2(pub,
	    GNUTLS_SIGN_RSA_SHA256, 0, &data, &sig), 0);
	/* jti is fresh each time. */
	ck_assert_int_eq(oauth2_jwt_assertion(key, &cert, "a", "app-id",
	    1700000000, &jwt2), 0);
	json_object_put(c);
	cl_len = (size_t)(strchr(strchr(jwt2, '.') + 1, '.') -
	    strchr(jwt2, '.') - 1);
	free(cl);
	cl = unb64(strchr(jwt2, '.') + 1, cl_len, true, &cl_len);
	c = json_tokener_parse((char *)cl);
	ck_assert_str_ne(jstr(c, "jti"), "");
	json_object_put(h);
	json_object_put(c);
	free(hdr);
	free(cl);
	free(sg);
	free(x5t);
	oauth2_secret_free(jwt);
	oauth2_secret_free(jwt2);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
}
END_TEST

START_TEST(test_aadsts)
{
	static const struct {
		const char *text;
		unsigned code, smtp;
	} v[] = {
		{ "AADSTS50126: Error validating credentials due to invalid "
		    "username or password.", 50126, 535 },
		{ "AADSTS7000215: Invalid client secret provided.", 7000215,
		    535 },
		{ "AADSTS700027: Client assertion failed signature "
		    "validation.", 700027, 535 },
		{ "AADSTS65001: The user or administrator has not consented",
		    65001, 535 },
		{ "AADSTS50076: Due to a configuration change made by your "
		    "administrator ... multi-factor", 50076, 535 },
		{ "AADSTS99999999: something new", 0, 454 },
		{ "AADSTS: no digits", 0, 454 },
		{ "AADSTS12345678901234567890: too long", 0, 454 },
		{ "no code at all", 0, 454 },
		{ NULL, 0, 454 },
	};
	const struct oauth2_aadsts *e;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		e = oauth2_aadsts_lookup(v[i].text);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->code, v[i].code);
		ck_assert_uint_eq(e->smtp, v[i].smtp);
		ck_assert_ptr_nonnull(e->cause);
		ck_assert_ptr_nonnull(e->fix);
		ck_assert_ptr_null(strchr(e->cause, '\n'));
	}
}
END_TEST

START_TEST(test_token_parse)
{
	struct oauth2_token t;
	char err[OAUTH2_ERR_MAX];
	unsigned smtp;
	const char *bad[] = { "", "[]", "not json", "{\"token_type\":\"B\"}",
	    "{\"access_token\":\"\"}", "{\"access_token\":7}" };
	const char *s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_lt(oauth2_token_parse(bad[i], strlen(bad[i]), 0,
		    &t, &smtp, err, sizeof(err)), 0);
		ck_assert_uint_eq(smtp, 454);
		ck_assert_ptr_null(t.access);
	}
	s = "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50126:"
	    " Error validating credentials\",\"error_codes\":[50126]}";
	ck_assert_int_eq(oauth2_token_parse(s, strlen(s), 0, &t, &smtp, err,
	    sizeof(err)), DANEGATE_E_INVALID);
	ck_assert_uint_eq(smtp, 535);
	ck_assert_str_eq(err, "AADSTS50126: wrong username or password for the "
	    "mailbox; check the mailbox password the client sends");
	s = "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
	    "\"access_token\":\"AT\",\"refresh_token\":\"RT\"}";
	ck_assert_int_eq(oauth2_token_parse(s, strlen(s), 1000, &t, &smtp, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(t.access, "AT");
	ck_assert_str_eq(t.refresh, "RT");
	ck_assert_int_eq(t.expires_at, 1000 + 3599);
	oauth2_token_clear(&t);
	ck_assert_ptr_null(t.access);
	/* expires_in as a string (as some endpoints send it); no refresh. */
	s = "{\"expires_in\":\"60\",\"access_token\":\"AT\"}";
	ck_assert_int_eq(oauth2_token_parse(s, strlen(s), 1000, &t, &smtp, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(t.expires_at, 1060);
	ck_assert_ptr_null(t.refresh);
	oauth2_token_clear(&t);
}
END_TEST

/* Keyed to the password; renewed before expiry; dropped on revocation. */
START_TEST(test_cache)
{
	struct oauth2_cache *c = oauth2_cache_new();
	char *tok, *rt;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(oauth2_cache_get(c, "a@x", "pw", 0, &rt));
	ck_assert_int_eq(oauth2_cache_put(c, "a@x", "pw", "T1", "R1", 10000,
	    0), 0);
	/* The right password, case-insensitive mailbox: the token. */
	tok = oauth2_cache_get(c, "A@x", "pw", 1000, &rt);
	ck_assert_str_eq(tok, "T1");
	ck_assert_ptr_null(rt);
	oauth2_secret_free(tok);
	/* A wrong password never gets the token, nor its refresh token. */
	ck_assert_ptr_null(oauth2_cache_get(c, "a@x", "pW", 1000, &rt));
	ck_assert_ptr_null(rt);
	ck_assert_ptr_null(oauth2_cache_get(c, "a@x", NULL, 1000, &rt));
	ck_assert_ptr_null(oauth2_cache_get(c, "b@x", "pw", 1000, &rt));
	/* Within the renewal margin: no token, the refresh token instead. */
	ck_assert_ptr_null(oauth2_cache_get(c, "a@x", "pw",
	    10000 - OAUTH2_RENEW_MARGIN, &rt));
	ck_assert_str_eq(rt, "R1");
	oauth2_secret_free(rt);
	tok = oauth2_cache_get(c, "a@x", "pw", 10000 - OAUTH2_RENEW_MARGIN - 1,
	    NULL);
	ck_assert_str_eq(tok, "T1");
	oauth2_secret_free(tok);
	/* A new token replaces the old one; drop forgets it. */
	ck_assert_int_eq(oauth2_cache_put(c, "a@x", "pw2", "T2", NULL, 20000,
	    0), 0);
	ck_assert_ptr_null(oauth2_cache_get(c, "a@x", "pw", 1000, NULL));
	tok = oauth2_cache_get(c, "a@x", "pw2", 1000, NULL);
	ck_assert_str_eq(tok, "T2");
	oauth2_secret_free(tok);
	oauth2_cache_drop(c, "a@x");
	ck_assert_ptr_null(oauth2_cache_get(c, "a@x", "pw2", 1000, NULL));
	/* Client credentials: no password, one entry per mailbox. */
	ck_assert_int_eq(oauth2_cache_put(c, "app@x", NULL, "T3", NULL, 20000,
	    0), 0);
	tok = oauth2_cache_get(c, "app@x", NULL, 1000, NULL);
	ck_assert_str_eq(tok, "T3");
	oauth2_secret_free(tok);
	ck_assert_ptr_null(oauth2_cache_get(c, "app@x", "x", 1000, NULL));
	/* A token shorter-lived than twice the margin: renewed when half
	 * its life is left (issued at 500, expires at 540: from 520). */
	ck_assert_int_eq(oauth2_cache_put(c, "app@x", NULL, "T4", NULL, 540,
	    500), 0);
	tok = oauth2_cache_get(c, "app@x", NULL, 519, NULL);
	ck_assert_str_eq(tok, "T4");
	oauth2_secret_free(tok);
	ck_assert_ptr_null(oauth2_cache_get(c, "app@x", NULL, 520, NULL));
	oauth2_cache_free(c);
	oauth2_cache_free(NULL);
}
END_TEST

START_TEST(test_secret_file)
{
	char path[] = "/tmp/test_oauth2_XXXXXX", err[OAUTH2_ERR_MAX], *s;
	size_t n;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "s3cret\n", 7), 7);
	close(fd);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(oauth2_secret_file_read(path, &s, &n, err,
	    sizeof(err)), DANEGATE_E_INVALID);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "mode 0640: readable by group or "
	    "others; chmod 600"));
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(oauth2_secret_file_read(path, &s, &n, err,
	    sizeof(err)), DANEGATE_E_INVALID);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(oauth2_secret_file_read(path, &s, &n, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(s, "s3cret");
	ck_assert_uint_eq(n, 6);
	oauth2_secret_free(s);
	ck_assert_int_eq(oauth2_secret_file_read("/nonexistent/x", &s, &n,
	    err, sizeof(err)), DANEGATE_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x: "));
	ck_assert_int_eq(oauth2_secret_file_read("/tmp", &s, &n, err,
	    sizeof(err)), DANEGATE_E_INVALID);
	unlink(path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("relay_oauth2");
	TCase *tc = tcase_create("oauth2");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_xoauth2_refusals);
	tcase_add_test(tc, test_xoauth2_vector);
	tcase_add_test(tc, test_b64url);
	tcase_add_test(tc, test_jwt_assertion);
	tcase_add_test(tc, test_aadsts);
	tcase_add_test(tc, test_token_parse);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_secret_file);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
