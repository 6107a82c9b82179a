/*
 * test_tlsa.c - unit tests for plugin/tlsa.c: TLSA parsing and judging,
 * wire form, formatting, records computed from certificates, and chain
 * matching under RFC 7672/7671 (DANE-EE, DANE-TA by certificate, by SPKI
 * and by bare key, dates, names, unusable records).
 *
 * Invalid input first, then vectors. The certificates are made here, at
 * start-up, with GnuTLS (ECDSA P-256): a CA, an intermediate, leaves with
 * a SAN dNSName, an expired and a not-yet-valid leaf, a leaf for another
 * name, a self-signed leaf, a rogue CA with the real CA's name, and a
 * chain that breaks a path-length constraint. Selector data for the
 * expected records is computed independently of tlsa.c (the DER as
 * exported, the SPKI as GnuTLS exports the public key).
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <check.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "danegate.h"

#define DAY (24 * 60 * 60)
#define YEAR (365 * DAY)

/* ---- certificates made for the tests ------------------------------------ */

struct tcert {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t der;
};

#define NOT_CA (-2)
#define CA_ANY (-1)

static time_t now;
static struct tcert ca, inter, leaf_ta, leaf_int, leaf_expired, leaf_future,
    leaf_other, leaf_self, leaf_wild, rogue_ca, leaf_rogue, leaf_by_leaf,
    inter_len0, inter_below, leaf_deep, leaf_forever;

static void
die(const char *what, int rc)
{
	fprintf(stderr, "test_tlsa: %s: %s\n", what, gnutls_strerror(rc));
	exit(EXIT_FAILURE);
}

#define TRY(call) \
	do { \
		int rc_ = (call); \
		if (rc_ < 0) \
			die(#call, rc_); \
	} while (0)

/*
 * Makes a certificate for dn with a fresh P-256 key. pathlen: NOT_CA, CA_ANY
 * or a CA's path length; san: a dNSName or NULL; issuer NULL: self-signed.
 */
static void
cert_make(struct tcert *c, const char *dn, const char *san, int pathlen,
    const struct tcert *issuer, time_t from, time_t until)
{
	static unsigned serial = 1000;
	unsigned char sn[4];
	const char *err = NULL;

	serial++;
	sn[0] = (unsigned char)(serial >> 24);
	sn[1] = (unsigned char)(serial >> 16);
	sn[2] = (unsigned char)(serial >> 8);
	sn[3] = (unsigned char)serial;
	TRY(gnutls_x509_privkey_init(&c->key));
	TRY(gnutls_x509_privkey_generate(c->key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	TRY(gnutls_x509_crt_init(&c->crt));
	TRY(gnutls_x509_crt_set_version(c->crt, 3));
	TRY(gnutls_x509_crt_set_serial(c->crt, sn, sizeof(sn)));
	TRY(gnutls_x509_crt_set_activation_time(c->crt, from));
	TRY(gnutls_x509_crt_set_expiration_time(c->crt, until));
	TRY(gnutls_x509_crt_set_dn(c->crt, dn, &err));
	TRY(gnutls_x509_crt_set_key(c->crt, c->key));
	if (pathlen == NOT_CA) {
		TRY(gnutls_x509_crt_set_basic_constraints(c->crt, 0, -1));
		TRY(gnutls_x509_crt_set_key_usage(c->crt,
		    GNUTLS_KEY_DIGITAL_SIGNATURE));
	} else {
		TRY(gnutls_x509_crt_set_basic_constraints(c->crt, 1, pathlen));
		TRY(gnutls_x509_crt_set_key_usage(c->crt,
		    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN));
	}
	if (san != NULL)
		TRY(gnutls_x509_crt_set_subject_alt_name(c->crt,
		    GNUTLS_SAN_DNSNAME, san, (unsigned)strlen(san),
		    GNUTLS_FSAN_SET));
	TRY(gnutls_x509_crt_sign2(c->crt, issuer ? issuer->crt : c->crt,
	    issuer ? issuer->key : c->key, GNUTLS_DIG_SHA256, 0));
	TRY(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &c->der));
}

static void
certs_make(void)
{
	time_t from = now - DAY, until = now + YEAR;

	cert_make(&ca, "CN=Test CA", NULL, CA_ANY, NULL, from, until);
	cert_make(&inter, "CN=Test Intermediate", NULL, CA_ANY, &ca, from,
	    until);
	cert_make(&leaf_ta, "CN=mx.dane-ta.example", "mx.dane-ta.example",
	    NOT_CA, &ca, from, until);
	cert_make(&leaf_int, "CN=mx.inter.example", "mx.inter.example", NOT_CA,
	    &inter, from, until);
	cert_make(&leaf_expired, "CN=mx.dane-ta.example", "mx.dane-ta.example",
	    NOT_CA, &ca, now - 2 * YEAR, now - YEAR);
	cert_make(&leaf_future, "CN=mx.dane-ta.example", "mx.dane-ta.example",
	    NOT_CA, &ca, now + DAY, until);
	cert_make(&leaf_other, "CN=mx.other.example", "mx.other.example",
	    NOT_CA, &ca, from, until);
	cert_make(&leaf_self, "CN=mx.self.example", "mx.self.example", NOT_CA,
	    NULL, from, until);
	cert_make(&leaf_wild, "CN=wild", "*.wild.example", NOT_CA, &ca, from,
	    until);
	/* same name as the real CA, another key */
	cert_make(&rogue_ca, "CN=Test CA", NULL, CA_ANY, NULL, from, until);
	cert_make(&leaf_rogue, "CN=mx.dane-ta.example", "mx.dane-ta.example",
	    NOT_CA, &rogue_ca, from, until);
	/* signed by a leaf, which is no CA */
	cert_make(&leaf_by_leaf, "CN=mx.by-leaf.example", "mx.by-leaf.example",
	    NOT_CA, &leaf_ta, from, until);
	/* ca -> inter_len0 (path length 0) -> inter_below -> leaf_deep */
	cert_make(&inter_len0, "CN=Test Intermediate len 0", NULL, 0, &ca,
	    from, until);
	cert_make(&inter_below, "CN=Test Intermediate below", NULL, CA_ANY,
	    &inter_len0, from, until);
	cert_make(&leaf_deep, "CN=mx.deep.example", "mx.deep.example", NOT_CA,
	    &inter_below, from, until);
	/* 99991231235959Z: no well-defined expiration (RFC 5280); GnuTLS
	 * writes it for (time_t)-1 and reads it back as that date */
	cert_make(&leaf_forever, "CN=mx.dane-ta.example", "mx.dane-ta.example",
	    NOT_CA, &ca, from, (time_t)-1);
}

/* ---- independent selector data -------------------------------------------- */

/* The SPKI DER as GnuTLS exports the certificate's public key: for P-256
 * the same bytes as in the certificate. Caller frees with gnutls_free. */
static gnutls_datum_t
spki_of(const struct tcert *c)
{
	gnutls_pubkey_t pub;
	gnutls_datum_t d = { NULL, 0 };

	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_x509(pub, c->crt, 0), 0);
	ck_assert_int_eq(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d),
	    0);
	gnutls_pubkey_deinit(pub);
	return d;
}

/* A record for c computed without tlsa.c; caller clears it. */
static struct danegate_tlsa
rec(const struct tcert *c, uint8_t usage, uint8_t selector, uint8_t mtype)
{
	struct danegate_tlsa r;
	gnutls_datum_t spki = { NULL, 0 };
	const gnutls_datum_t *src = &c->der;

	memset(&r, 0, sizeof(r));
	r.usage = usage;
	r.selector = selector;
	r.mtype = mtype;
	if (selector == 1) {
		spki = spki_of(c);
		src = &spki;
	}
	switch (mtype) {
	case 0:
		r.len = src->size;
		break;
	case 1:
		r.len = 32;
		break;
	default:
		r.len = 64;
		break;
	}
	r.data = malloc(r.len);
	ck_assert_ptr_nonnull(r.data);
	if (mtype == 0)
		memcpy(r.data, src->data, r.len);
	else
		ck_assert_int_eq(gnutls_hash_fast(mtype == 1 ?
		    GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512, src->data,
		    src->size, r.data), 0);
	r.usability = DANEGATE_TLSA_USABLE;
	gnutls_free(spki.data);
	return r;
}

/* ---- matching helpers ------------------------------------------------------ */

#define CHAIN_MAX 24

static struct danegate_match
match_at(const struct danegate_tlsa *recs, size_t n_recs,
    const struct tcert *const *chain, size_t n_chain,
    const char *const *names, size_t n_names, time_t when)
{
	const uint8_t *der[CHAIN_MAX];
	size_t len[CHAIN_MAX];
	struct danegate_match m;

	ck_assert_uint_le(n_chain, CHAIN_MAX);
	for (size_t i = 0; i < n_chain; i++) {
		der[i] = chain[i]->der.data;
		len[i] = chain[i]->der.size;
	}
	ck_assert_int_eq(danegate_tlsa_match(recs, n_recs, der, len, n_chain,
	    names, n_names, when, &m), 0);
	ck_assert_msg(strlen(m.why) > 0, "empty why");
	/* TLSA_SHOW=1 prints every verdict, to read the sentences */
	if (getenv("TLSA_SHOW") != NULL)
		printf("%s: %s\n", danegate_reason_name(m.reason), m.why);
	return m;
}

static const char *const names_ta[] = {
	"dane-ta.example",		/* next-hop */
	"mx.dane-ta.example",		/* MX host = TLSA base */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct danegate_match
match(const struct danegate_tlsa *recs, size_t n_recs,
    const struct tcert *const *chain, size_t n_chain)
{
	return match_at(recs, n_recs, chain, n_chain, names_ta, N(names_ta),
	    now);
}

static void
expect_ok(const struct danegate_match *m, int record, int depth)
{
	ck_assert_msg(m->matched, "not matched: %s", m->why);
	ck_assert_int_eq(m->reason, DANEGATE_R_DANE_VERIFIED);
	ck_assert_int_eq(m->record, record);
	ck_assert_int_eq(m->depth, depth);
}

static void
expect_fail(const struct danegate_match *m, enum danegate_reason reason)
{
	ck_assert_msg(!m->matched, "matched: %s", m->why);
	ck_assert_msg(m->reason == reason, "reason %s, want %s: %s",
	    danegate_reason_name(m->reason), danegate_reason_name(reason),
	    m->why);
	ck_assert_int_eq(m->record, -1);
	ck_assert_int_eq(m->depth, -1);
}

/* 32 or 64 bytes of 0xAB in hex, for records whose data does not matter */
static char *
hex_of(size_t bytes)
{
	char *s = malloc(2 * bytes + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < bytes; i++)
		memcpy(s + 2 * i, "AB", 2);
	s[2 * bytes] = '\0';
	return s;
}

/* ---- invalid input -------------------------------------------------------- */

static const char *const bad_text[] = {
	"",
	"   ",
	"3",
	"3 1",
	"3 1 1",
	"3 1 1 ",
	"3 1 1\t \t",
	"3 1 1 ABC",			/* odd number of digits */
	"3 1 1 A B C",
	"3 1 1 0G",
	"3 1 1 0x00",
	"3 1 1 AB;comment",
	"3 1 1 AB\n",			/* blanks are spaces and tabs only */
	"3 1 1 AB\r",
	"3 1 1 (AB)",
	"256 1 1 AB",
	"3 256 1 AB",
	"3 1 256 AB",
	"999 1 1 AB",
	"0003 1 1 AB",			/* at most three digits */
	"99999999999999999999 1 1 AB",
	"-1 1 1 AB",
	"+3 1 1 AB",
	"3,1,1 AB",
	"3 1 1,AB",
	"3 1 1AB",			/* the hex must be its own field */
	"3 1 x AB",
	"a 1 1 AB",
	"3\n1 1 AB",
	"3 1 1 AB\xc3\xa9",
};

START_TEST(test_parse_bad)
{
	struct danegate_tlsa t;

	memset(&t, 0x55, sizeof(t));
	ck_assert_msg(danegate_tlsa_parse(bad_text[_i], &t) ==
	    DANEGATE_E_INVALID, "accepted '%s'", bad_text[_i]);
	/* out is zeroed, so clearing it is safe */
	ck_assert_ptr_null(t.data);
	ck_assert_uint_eq(t.len, 0);
	danegate_tlsa_clear(&t);
}
END_TEST

START_TEST(test_parse_null)
{
	struct danegate_tlsa t;

	ck_assert_int_eq(danegate_tlsa_parse(NULL, &t), DANEGATE_E_INVALID);
	ck_assert_ptr_null(t.data);
	ck_assert_int_eq(danegate_tlsa_parse("3 1 1 AB", NULL),
	    DANEGATE_E_INVALID);
	danegate_tlsa_clear(NULL);
}
END_TEST

START_TEST(test_parse_too_long)
{
	/* 65533 bytes of data: more than rdata can carry */
	size_t bytes = 65533;
	char *text = malloc(6 + 2 * bytes + 1);
	struct danegate_tlsa t;

	ck_assert_ptr_nonnull(text);
	memcpy(text, "3 1 0 ", 6);
	memset(text + 6, 'a', 2 * bytes);
	text[6 + 2 * bytes] = '\0';
	ck_assert_int_eq(danegate_tlsa_parse(text, &t), DANEGATE_E_INVALID);
	/* one byte less fits */
	text[6 + 2 * bytes - 2] = '\0';
	ck_assert_int_eq(danegate_tlsa_parse(text, &t), 0);
	ck_assert_uint_eq(t.len, 65532);
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_USABLE);
	danegate_tlsa_clear(&t);
	free(text);
}
END_TEST

START_TEST(test_wire_bad)
{
	static const uint8_t rd[] = { 3, 1, 1, 0xab };
	struct danegate_tlsa t;

	ck_assert_int_eq(danegate_tlsa_from_wire(NULL, 4, &t),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_from_wire(rd, 0, &t),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_from_wire(rd, 2, &t),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_null(t.data);
	ck_assert_int_eq(danegate_tlsa_from_wire(rd, 65536, &t),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_from_wire(rd, 4, NULL),
	    DANEGATE_E_INVALID);
}
END_TEST

START_TEST(test_format_bad)
{
	uint8_t data[2] = { 0xab, 0xcd };
	struct danegate_tlsa t = { 3, 1, 0, data, 2, DANEGATE_TLSA_USABLE };
	char buf[16];

	ck_assert_int_eq(danegate_tlsa_format(NULL, buf, sizeof(buf)),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_format(&t, NULL, 16),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, 0), DANEGATE_E_INVALID);
	/* "3 1 0 ABCD" is 10 characters: 11 bytes are needed */
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, 10), DANEGATE_E_INVALID);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, 4), DANEGATE_E_INVALID);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, 11), 0);
	ck_assert_str_eq(buf, "3 1 0 ABCD");
	/* data missing although a length is given */
	t.data = NULL;
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, sizeof(buf)),
	    DANEGATE_E_INVALID);
}
END_TEST

START_TEST(test_for_cert_bad)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	struct danegate_tlsa t;
	uint8_t *copy;
	size_t len = leaf_ta.der.size;

	ck_assert_int_eq(danegate_tlsa_for_cert(NULL, 10, 3, 1, 1, &t),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_for_cert(junk, 0, 3, 1, 1, &t),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_for_cert(junk, sizeof(junk), 3, 1, 1,
	    &t), DANEGATE_E_INVALID);
	ck_assert_ptr_null(t.data);
	ck_assert_int_eq(danegate_tlsa_for_cert(leaf_ta.der.data, len, 3, 2, 1,
	    &t), DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_for_cert(leaf_ta.der.data, len, 3, 1, 3,
	    &t), DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_for_cert(leaf_ta.der.data, len, 3, 1, 1,
	    NULL), DANEGATE_E_INVALID);
	/* truncated, and with a byte after the certificate */
	ck_assert_int_eq(danegate_tlsa_for_cert(leaf_ta.der.data, len - 1, 3,
	    0, 1, &t), DANEGATE_E_INVALID);
	copy = malloc(len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, leaf_ta.der.data, len);
	copy[len] = 0;
	ck_assert_int_eq(danegate_tlsa_for_cert(copy, len + 1, 3, 0, 1, &t),
	    DANEGATE_E_INVALID);
	/* one flipped byte in the signature: DER still fine, so it loads
	 * (for_cert does not verify signatures) */
	copy[len - 1] ^= 0x01;
	ck_assert_int_eq(danegate_tlsa_for_cert(copy, len, 3, 0, 1, &t), 0);
	danegate_tlsa_clear(&t);
	/* DER shapes the walk refuses: an indefinite length, a high tag
	 * number, a length of five octets */
	{
		static const uint8_t indef[] = { 0x30, 0x80, 0x00, 0x00 };
		static const uint8_t high[] = { 0x3f, 0x01, 0x00 };
		static const uint8_t five[] = { 0x30, 0x85, 0, 0, 0, 0, 1, 0 };

		ck_assert_int_eq(danegate_tlsa_for_cert(indef, sizeof(indef),
		    3, 0, 1, &t), DANEGATE_E_INVALID);
		ck_assert_int_eq(danegate_tlsa_for_cert(high, sizeof(high), 3,
		    0, 1, &t), DANEGATE_E_INVALID);
		ck_assert_int_eq(danegate_tlsa_for_cert(five, sizeof(five), 3,
		    0, 1, &t), DANEGATE_E_INVALID);
	}
	/* the shape of a certificate with nothing in it: the walk accepts
	 * it, GnuTLS does not */
	{
		static const uint8_t skel[] = {
			0x30, 0x19,
			0x30, 0x10,
			0xa0, 0x00, 0x02, 0x00, 0x30, 0x00, 0x30, 0x00,
			0x30, 0x00, 0x30, 0x00, 0x30, 0x00,
			0x30, 0x00,
			0x03, 0x01, 0x00,
		};

		ck_assert_int_eq(danegate_tlsa_for_cert(skel, sizeof(skel), 3,
		    1, 0, &t), DANEGATE_E_INVALID);
	}
	/* a wrong outer length */
	memcpy(copy, leaf_ta.der.data, len);
	copy[3] ^= 0x01;
	ck_assert_int_eq(danegate_tlsa_for_cert(copy, len, 3, 0, 1, &t),
	    DANEGATE_E_INVALID);
	free(copy);
}
END_TEST

START_TEST(test_match_bad_args)
{
	struct danegate_tlsa r = rec(&leaf_ta, 3, 1, 1);
	const uint8_t *der[1] = { leaf_ta.der.data };
	size_t len[1] = { leaf_ta.der.size };
	struct danegate_match m;

	ck_assert_int_eq(danegate_tlsa_match(&r, 1, der, len, 1, NULL, 0, now,
	    NULL), DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_match(NULL, 1, der, len, 1, NULL, 0,
	    now, &m), DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_match(&r, 1, NULL, len, 1, NULL, 0, now,
	    &m), DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_match(&r, 1, der, NULL, 1, NULL, 0, now,
	    &m), DANEGATE_E_INVALID);
	ck_assert_int_eq(danegate_tlsa_match(&r, 1, der, len, 1, NULL, 2, now,
	    &m), DANEGATE_E_INVALID);
	ck_assert(!m.matched);
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_match_bad_der)
{
	static const uint8_t junk[] = { 0x30, 0x82, 0xff, 0xff, 0x00 };
	struct danegate_tlsa r[2] = { rec(&leaf_ta, 3, 0, 1),
		rec(&ca, 2, 0, 1) };
	const uint8_t *der[3] = { junk, leaf_ta.der.data, ca.der.data };
	size_t len[3] = { sizeof(junk), leaf_ta.der.size, ca.der.size };
	struct danegate_match m;

	/* a leaf that does not parse matches nothing */
	ck_assert_int_eq(danegate_tlsa_match(r, 2, der, len, 3, names_ta, 2,
	    now, &m), 0);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	ck_assert_msg(strstr(m.why, "could not be parsed") != NULL, "%s",
	    m.why);
	/* nor does one of zero length */
	len[0] = 0;
	ck_assert_int_eq(danegate_tlsa_match(r, 2, der, len, 3, names_ta, 2,
	    now, &m), 0);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	/* junk between the leaf and the anchor is stepped over */
	der[0] = leaf_ta.der.data;
	len[0] = leaf_ta.der.size;
	der[1] = junk;
	len[1] = sizeof(junk);
	ck_assert_int_eq(danegate_tlsa_match(&r[1], 1, der, len, 3, names_ta,
	    2, now, &m), 0);
	expect_ok(&m, 0, 2);
	/* no certificate at all */
	ck_assert_int_eq(danegate_tlsa_match(r, 2, der, len, 0, names_ta, 2,
	    now, &m), 0);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	danegate_tlsa_clear(&r[0]);
	danegate_tlsa_clear(&r[1]);
}
END_TEST

/* ---- parsing, wire form, formatting ------------------------------------- */

START_TEST(test_parse_good)
{
	struct danegate_tlsa t;
	char buf[256];

	ck_assert_int_eq(danegate_tlsa_parse("3 1 0 0aFf", &t), 0);
	ck_assert_uint_eq(t.usage, 3);
	ck_assert_uint_eq(t.selector, 1);
	ck_assert_uint_eq(t.mtype, 0);
	ck_assert_uint_eq(t.len, 2);
	ck_assert_uint_eq(t.data[0], 0x0a);
	ck_assert_uint_eq(t.data[1], 0xff);
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_USABLE);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "3 1 0 0AFF");
	danegate_tlsa_clear(&t);
	ck_assert_ptr_null(t.data);

	/* blanks around, between and inside the hex, even inside a byte */
	ck_assert_int_eq(danegate_tlsa_parse(" \t2  0\t\t1 a b\tcd EF 0 1 ",
	    &t), 0);
	ck_assert_uint_eq(t.usage, 2);
	ck_assert_uint_eq(t.len, 4);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2 0 1 ABCDEF01");
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_BAD_LENGTH);
	danegate_tlsa_clear(&t);

	/* leading zeros and the largest field values */
	ck_assert_int_eq(danegate_tlsa_parse("003 01 000 00", &t), 0);
	ck_assert_uint_eq(t.usage, 3);
	ck_assert_uint_eq(t.selector, 1);
	ck_assert_uint_eq(t.mtype, 0);
	ck_assert_uint_eq(t.len, 1);
	danegate_tlsa_clear(&t);
	ck_assert_int_eq(danegate_tlsa_parse("255 255 255 FF", &t), 0);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "255 255 255 FF");
	danegate_tlsa_clear(&t);
}
END_TEST

static const struct {
	const char *fields;		/* "U S M" */
	size_t bytes;			/* of data */
	enum danegate_tlsa_usability want;
} usability_vectors[] = {
	{ "3 1 1", 32, DANEGATE_TLSA_USABLE },
	{ "3 0 1", 32, DANEGATE_TLSA_USABLE },
	{ "3 1 2", 64, DANEGATE_TLSA_USABLE },
	{ "3 0 0", 1, DANEGATE_TLSA_USABLE },	/* full data: any length */
	{ "3 1 0", 300, DANEGATE_TLSA_USABLE },
	{ "2 0 1", 32, DANEGATE_TLSA_USABLE },
	{ "2 1 2", 64, DANEGATE_TLSA_USABLE },
	{ "2 1 0", 91, DANEGATE_TLSA_USABLE },
	{ "0 0 1", 32, DANEGATE_TLSA_PKIX_USAGE },
	{ "1 1 1", 32, DANEGATE_TLSA_PKIX_USAGE },
	{ "1 1 2", 64, DANEGATE_TLSA_PKIX_USAGE },
	{ "4 1 1", 32, DANEGATE_TLSA_UNKNOWN_USAGE },
	{ "255 1 1", 32, DANEGATE_TLSA_UNKNOWN_USAGE },
	{ "3 2 1", 32, DANEGATE_TLSA_UNKNOWN_SELECTOR },
	{ "2 255 0", 5, DANEGATE_TLSA_UNKNOWN_SELECTOR },
	{ "3 1 3", 32, DANEGATE_TLSA_UNKNOWN_MTYPE },
	{ "3 0 255", 64, DANEGATE_TLSA_UNKNOWN_MTYPE },
	{ "3 1 1", 31, DANEGATE_TLSA_BAD_LENGTH },
	{ "3 1 1", 33, DANEGATE_TLSA_BAD_LENGTH },
	{ "3 1 1", 64, DANEGATE_TLSA_BAD_LENGTH },
	{ "2 0 2", 32, DANEGATE_TLSA_BAD_LENGTH },
	{ "2 0 2", 65, DANEGATE_TLSA_BAD_LENGTH },
	/* the order of the checks: usage, selector, mtype, length */
	{ "0 2 3", 1, DANEGATE_TLSA_PKIX_USAGE },
	{ "4 2 3", 1, DANEGATE_TLSA_UNKNOWN_USAGE },
	{ "3 2 3", 1, DANEGATE_TLSA_UNKNOWN_SELECTOR },
	{ "3 1 3", 1, DANEGATE_TLSA_UNKNOWN_MTYPE },
	{ "1 1 1", 1, DANEGATE_TLSA_PKIX_USAGE },
};

START_TEST(test_usability)
{
	char text[1024];
	char *hex = hex_of(usability_vectors[_i].bytes);
	struct danegate_tlsa t, w;
	uint8_t wire[3 + 400];
	char out[1024];

	snprintf(text, sizeof(text), "%s %s", usability_vectors[_i].fields,
	    hex);
	ck_assert_int_eq(danegate_tlsa_parse(text, &t), 0);
	ck_assert_msg(t.usability == usability_vectors[_i].want,
	    "%s (%zu bytes): %s, want %s", usability_vectors[_i].fields,
	    usability_vectors[_i].bytes,
	    danegate_tlsa_usability_name(t.usability),
	    danegate_tlsa_usability_name(usability_vectors[_i].want));
	/* the text round trip */
	ck_assert_int_eq(danegate_tlsa_format(&t, out, sizeof(out)), 0);
	ck_assert_str_eq(out, text);

	/* the same from wire form */
	wire[0] = t.usage;
	wire[1] = t.selector;
	wire[2] = t.mtype;
	memcpy(wire + 3, t.data, t.len);
	ck_assert_int_eq(danegate_tlsa_from_wire(wire, 3 + t.len, &w), 0);
	ck_assert_int_eq(w.usability, t.usability);
	ck_assert_uint_eq(w.len, t.len);
	ck_assert_mem_eq(w.data, t.data, t.len);
	danegate_tlsa_clear(&w);
	danegate_tlsa_clear(&t);
	free(hex);
}
END_TEST

START_TEST(test_wire_good)
{
	static const uint8_t rd[] = { 3, 1, 0, 0x30, 0x00 };
	static const uint8_t empty[] = { 3, 1, 0 };
	struct danegate_tlsa t;
	char buf[64];

	ck_assert_int_eq(danegate_tlsa_from_wire(rd, sizeof(rd), &t), 0);
	ck_assert_uint_eq(t.usage, 3);
	ck_assert_uint_eq(t.selector, 1);
	ck_assert_uint_eq(t.mtype, 0);
	ck_assert_uint_eq(t.len, 2);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "3 1 0 3000");
	danegate_tlsa_clear(&t);

	/* empty data: possible on the wire, never usable, and formatted as
	 * the three fields alone */
	ck_assert_int_eq(danegate_tlsa_from_wire(empty, sizeof(empty), &t), 0);
	ck_assert_ptr_null(t.data);
	ck_assert_uint_eq(t.len, 0);
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_BAD_LENGTH);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "3 1 0");
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, 6), 0);
	ck_assert_int_eq(danegate_tlsa_format(&t, buf, 5), DANEGATE_E_INVALID);
	danegate_tlsa_clear(&t);
	/* an unknown usage still comes first */
	{
		static const uint8_t odd[] = { 7, 9, 9 };

		ck_assert_int_eq(danegate_tlsa_from_wire(odd, 3, &t), 0);
		ck_assert_int_eq(t.usability, DANEGATE_TLSA_UNKNOWN_USAGE);
		danegate_tlsa_clear(&t);
	}
}
END_TEST

/* ---- records from certificates ------------------------------------------ */

START_TEST(test_for_cert)
{
	/* every selector and matching type, against the independent
	 * computation; then the text round trip */
	const struct tcert *certs[] = { &leaf_ta, &ca, &leaf_self };

	for (size_t c = 0; c < N(certs); c++)
		for (uint8_t s = 0; s <= 1; s++)
			for (uint8_t mt = 0; mt <= 2; mt++) {
				struct danegate_tlsa want = rec(certs[c], 3, s,
				    mt);
				struct danegate_tlsa got, back;
				char text[2048];

				ck_assert_int_eq(danegate_tlsa_for_cert(
				    certs[c]->der.data, certs[c]->der.size, 3,
				    s, mt, &got), 0);
				ck_assert_uint_eq(got.usage, 3);
				ck_assert_uint_eq(got.selector, s);
				ck_assert_uint_eq(got.mtype, mt);
				ck_assert_uint_eq(got.len, want.len);
				ck_assert_mem_eq(got.data, want.data, want.len);
				ck_assert_int_eq(got.usability,
				    DANEGATE_TLSA_USABLE);
				ck_assert_int_eq(danegate_tlsa_format(&got,
				    text, sizeof(text)), 0);
				ck_assert_int_eq(danegate_tlsa_parse(text,
				    &back), 0);
				ck_assert_uint_eq(back.len, got.len);
				ck_assert_mem_eq(back.data, got.data, got.len);
				danegate_tlsa_clear(&back);
				danegate_tlsa_clear(&got);
				danegate_tlsa_clear(&want);
			}
}
END_TEST

START_TEST(test_for_cert_usage)
{
	struct danegate_tlsa t;

	/* usages are written as given, and judged */
	ck_assert_int_eq(danegate_tlsa_for_cert(ca.der.data, ca.der.size, 1, 0,
	    1, &t), 0);
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_PKIX_USAGE);
	danegate_tlsa_clear(&t);
	ck_assert_int_eq(danegate_tlsa_for_cert(ca.der.data, ca.der.size, 2, 1,
	    2, &t), 0);
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_USABLE);
	ck_assert_uint_eq(t.len, 64);
	danegate_tlsa_clear(&t);
	ck_assert_int_eq(danegate_tlsa_for_cert(ca.der.data, ca.der.size, 9, 1,
	    1, &t), 0);
	ck_assert_int_eq(t.usability, DANEGATE_TLSA_UNKNOWN_USAGE);
	danegate_tlsa_clear(&t);
}
END_TEST

/* ---- DANE-EE -------------------------------------------------------------- */

START_TEST(test_ee_match)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };

	for (uint8_t s = 0; s <= 1; s++)
		for (uint8_t mt = 0; mt <= 2; mt++) {
			struct danegate_tlsa r = rec(&leaf_ta, 3, s, mt);
			struct danegate_match m = match(&r, 1, chain, 2);

			expect_ok(&m, 0, 0);
			ck_assert_msg(strstr(m.why, "DANE-EE") != NULL, "%s",
			    m.why);
			/* the leaf alone is enough */
			m = match(&r, 1, chain, 1);
			expect_ok(&m, 0, 0);
			danegate_tlsa_clear(&r);
		}
}
END_TEST

START_TEST(test_ee_ignores_names_dates)
{
	const struct tcert *expired[] = { &leaf_expired };
	const struct tcert *future[] = { &leaf_future };
	const struct tcert *other[] = { &leaf_other };
	const struct tcert *self[] = { &leaf_self };
	struct danegate_tlsa r;
	struct danegate_match m;

	r = rec(&leaf_expired, 3, 1, 1);
	m = match(&r, 1, expired, 1);
	expect_ok(&m, 0, 0);
	danegate_tlsa_clear(&r);

	r = rec(&leaf_future, 3, 0, 2);
	m = match(&r, 1, future, 1);
	expect_ok(&m, 0, 0);
	danegate_tlsa_clear(&r);

	r = rec(&leaf_other, 3, 1, 1);		/* names_ta do not fit it */
	m = match(&r, 1, other, 1);
	expect_ok(&m, 0, 0);
	m = match_at(&r, 1, other, 1, NULL, 0, now + 10 * YEAR);
	expect_ok(&m, 0, 0);
	danegate_tlsa_clear(&r);

	r = rec(&leaf_self, 3, 0, 0);
	m = match(&r, 1, self, 1);
	expect_ok(&m, 0, 0);
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_ee_mismatch)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };
	struct danegate_tlsa r[2] = { rec(&leaf_other, 3, 1, 1),
		rec(&ca, 3, 0, 1) };	/* DANE-EE for a non-leaf */
	struct danegate_match m = match(r, 2, chain, 2);

	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	ck_assert_msg(strstr(m.why, "3 1 1, 3 0 1") != NULL, "%s", m.why);
	danegate_tlsa_clear(&r[0]);
	danegate_tlsa_clear(&r[1]);
}
END_TEST

/* ---- DANE-TA -------------------------------------------------------------- */

START_TEST(test_ta_cert_depth1)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };
	struct danegate_tlsa r = rec(&ca, 2, 0, 1);
	struct danegate_match m = match(&r, 1, chain, 2);

	expect_ok(&m, 0, 1);
	ck_assert_str_eq(m.why, "TLSA 2 0 1 matched the certificate at depth "
	    "1 (CN=Test CA), chain verified, name mx.dane-ta.example matches");
	danegate_tlsa_clear(&r);

	/* every selector and matching type */
	for (uint8_t s = 0; s <= 1; s++)
		for (uint8_t mt = 0; mt <= 2; mt++) {
			r = rec(&ca, 2, s, mt);
			m = match(&r, 1, chain, 2);
			expect_ok(&m, 0, 1);
			danegate_tlsa_clear(&r);
		}
}
END_TEST

START_TEST(test_ta_intermediate)
{
	const struct tcert *chain[] = { &leaf_int, &inter, &ca };
	const struct tcert *unordered[] = { &leaf_int, &ca, &inter };
	const char *const names[] = { "mx.inter.example" };
	struct danegate_tlsa r = rec(&ca, 2, 1, 1);
	struct danegate_match m;

	/* the root's SPKI, two levels up */
	m = match_at(&r, 1, chain, 3, names, 1, now);
	expect_ok(&m, 0, 2);
	/* chains may come unordered: depth is the position presented */
	m = match_at(&r, 1, unordered, 3, names, 1, now);
	expect_ok(&m, 0, 1);
	danegate_tlsa_clear(&r);

	/* the intermediate as anchor, with or without the root sent */
	r = rec(&inter, 2, 0, 2);
	m = match_at(&r, 1, chain, 3, names, 1, now);
	expect_ok(&m, 0, 1);
	m = match_at(&r, 1, chain, 2, names, 1, now);
	expect_ok(&m, 0, 1);
	danegate_tlsa_clear(&r);

	/* the root as anchor but not sent: a digest gives no key */
	r = rec(&ca, 2, 1, 1);
	m = match_at(&r, 1, chain, 2, names, 1, now);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	danegate_tlsa_clear(&r);
	r = rec(&ca, 2, 0, 0);
	m = match_at(&r, 1, chain, 2, names, 1, now);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_ta_bare_key)
{
	const struct tcert *chain[] = { &leaf_int, &inter };
	const struct tcert *direct[] = { &leaf_ta };
	const struct tcert *rogue[] = { &leaf_rogue, &rogue_ca };
	const char *const names[] = { "mx.inter.example" };
	struct danegate_tlsa r = rec(&ca, 2, 1, 0);
	struct danegate_match m;

	/* RFC 7671 §5.2.2: the key signed the top of the chain */
	m = match_at(&r, 1, chain, 2, names, 1, now);
	expect_ok(&m, 0, 2);
	ck_assert_msg(strstr(m.why, "the key that signed the certificate at "
	    "depth 1 (CN=Test Intermediate)") != NULL, "%s", m.why);
	/* or the leaf itself */
	m = match(&r, 1, direct, 1);
	expect_ok(&m, 0, 1);
	/* a key that signed nothing here */
	m = match(&r, 1, rogue, 2);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	/* the key, but the name does not fit */
	m = match_at(&r, 1, chain, 2, names_ta, N(names_ta), now);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	danegate_tlsa_clear(&r);

	/* full data that is no key */
	{
		uint8_t junk[40];
		struct danegate_tlsa j = { 2, 1, 0, junk, sizeof(junk),
			DANEGATE_TLSA_USABLE };

		memset(junk, 0x30, sizeof(junk));
		m = match_at(&j, 1, chain, 2, names, 1, now);
		expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	}
}
END_TEST

START_TEST(test_ta_names)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };
	const struct tcert *other[] = { &leaf_other, &ca };
	const struct tcert *wild[] = { &leaf_wild, &ca };
	const char *const base_only[] = { "mx.dane-ta.example" };
	const char *const mx_dot[] = { NULL, "nexthop.example",
		"MX.Dane-TA.Example." };
	const char *const nexthop[] = { "mx.dane-ta.example", NULL };
	const char *const wrong[] = { "dane-ta.example", "mail.dane-ta.example",
		"ta.example", "", "." };
	const char *const wild_ok[] = { "mx.wild.example" };
	const char *const wild_bad[] = { "a.mx.wild.example", "wild.example",
		"mx.wild.example.com" };
	struct danegate_tlsa r = rec(&ca, 2, 0, 1);
	struct danegate_match m;

	m = match_at(&r, 1, chain, 2, base_only, 1, now);
	expect_ok(&m, 0, 1);
	/* NULL entries skipped, case and a trailing dot do not matter */
	m = match_at(&r, 1, chain, 2, mx_dot, N(mx_dot), now);
	expect_ok(&m, 0, 1);
	m = match_at(&r, 1, chain, 2, nexthop, N(nexthop), now);
	expect_ok(&m, 0, 1);

	m = match_at(&r, 1, chain, 2, wrong, N(wrong), now);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	ck_assert_msg(strstr(m.why, "dane-ta.example, mail.dane-ta.example")
	    != NULL, "%s", m.why);
	m = match_at(&r, 1, chain, 2, NULL, 0, now);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	m = match(&r, 1, other, 2);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);

	/* a wildcard covers exactly one leftmost label */
	m = match_at(&r, 1, wild, 2, wild_ok, 1, now);
	expect_ok(&m, 0, 1);
	m = match_at(&r, 1, wild, 2, wild_bad, N(wild_bad), now);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_ta_dates)
{
	const struct tcert *expired[] = { &leaf_expired, &ca };
	const struct tcert *future[] = { &leaf_future, &ca };
	const struct tcert *chain[] = { &leaf_ta, &ca };
	struct danegate_tlsa r = rec(&ca, 2, 0, 1);
	struct danegate_match m;

	m = match(&r, 1, expired, 2);
	expect_fail(&m, DANEGATE_R_CERT_EXPIRED);
	ck_assert_msg(strstr(m.why, "expired at") != NULL, "%s", m.why);
	m = match(&r, 1, future, 2);
	expect_fail(&m, DANEGATE_R_CERT_EXPIRED);
	ck_assert_msg(strstr(m.why, "not valid before") != NULL, "%s", m.why);
	/* the caller's time decides, not the clock; the anchor counts too */
	m = match_at(&r, 1, expired, 2, names_ta, 2, now - YEAR - DAY);
	ck_assert_msg(!m.matched, "%s", m.why);	/* CA not yet valid then */
	ck_assert_int_eq(m.reason, DANEGATE_R_CERT_EXPIRED);
	m = match_at(&r, 1, chain, 2, names_ta, 2, now + 2 * YEAR);
	expect_fail(&m, DANEGATE_R_CERT_EXPIRED);
	m = match_at(&r, 1, future, 2, names_ta, 2, now + 2 * DAY);
	expect_ok(&m, 0, 1);
	/* a leaf without expiry date, checked far in the future: only the
	 * anchor's date is in the way */
	{
		const struct tcert *forever[] = { &leaf_forever, &ca };

		m = match(&r, 1, forever, 2);
		expect_ok(&m, 0, 1);
		m = match_at(&r, 1, forever, 2, names_ta, 2, now + 50 * YEAR);
		expect_fail(&m, DANEGATE_R_CERT_EXPIRED);
		ck_assert_msg(strstr(m.why, "depth 1 (CN=Test CA) expired") !=
		    NULL, "%s", m.why);
	}
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_ta_untrusted)
{
	const struct tcert *rogue[] = { &leaf_rogue, &ca };
	const struct tcert *rogue_chain[] = { &leaf_rogue, &rogue_ca };
	const struct tcert *by_leaf[] = { &leaf_by_leaf, &leaf_ta };
	const struct tcert *deep[] = { &leaf_deep, &inter_below, &inter_len0,
		&ca };
	const char *const by_leaf_names[] = { "mx.by-leaf.example" };
	const char *const deep_names[] = { "mx.deep.example" };
	struct danegate_tlsa r = rec(&ca, 2, 0, 1);
	struct danegate_match m;

	/* the leaf carries the anchor's name but not its signature */
	m = match(&r, 1, rogue, 2);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	ck_assert_msg(strstr(m.why, "does not chain") != NULL, "%s", m.why);
	/* a look-alike anchor is not the anchor */
	m = match(&r, 1, rogue_chain, 2);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	ck_assert_msg(strstr(m.why, "no TLSA record (2 0 1) matched") != NULL,
	    "%s", m.why);
	/* the path length constraint of the intermediate under the anchor */
	m = match_at(&r, 1, deep, 4, deep_names, 1, now);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	danegate_tlsa_clear(&r);

	/* an anchor that is no CA signs nothing */
	r = rec(&leaf_ta, 2, 0, 1);
	m = match_at(&r, 1, by_leaf, 2, by_leaf_names, 1, now);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	danegate_tlsa_clear(&r);

	/* the deep chain is fine from the constrained CA's child down */
	r = rec(&inter_below, 2, 1, 2);
	m = match_at(&r, 1, deep, 4, deep_names, 1, now);
	expect_ok(&m, 0, 1);
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_ta_leaf_anchor)
{
	/* DANE-TA naming the leaf itself (depth 0): dates and names still
	 * apply */
	const struct tcert *self[] = { &leaf_self };
	const char *const names[] = { "mx.self.example" };
	struct danegate_tlsa r = rec(&leaf_self, 2, 0, 1);
	struct danegate_match m;

	m = match_at(&r, 1, self, 1, names, 1, now);
	expect_ok(&m, 0, 0);
	m = match(&r, 1, self, 1);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	m = match_at(&r, 1, self, 1, names, 1, now + 2 * YEAR);
	expect_fail(&m, DANEGATE_R_CERT_EXPIRED);
	danegate_tlsa_clear(&r);
}
END_TEST

START_TEST(test_ta_chain_cap)
{
	/* only the first 16 certificates are looked at */
	const struct tcert *chain[18];
	struct danegate_tlsa r = rec(&ca, 2, 0, 1);
	struct danegate_match m;

	chain[0] = &leaf_ta;
	for (size_t i = 1; i < 17; i++)
		chain[i] = &leaf_other;
	chain[17] = &ca;
	m = match(&r, 1, chain, 18);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	chain[15] = &ca;
	m = match(&r, 1, chain, 18);
	expect_ok(&m, 0, 15);
	danegate_tlsa_clear(&r);
}
END_TEST

/* ---- several records, unusable records ----------------------------------- */

START_TEST(test_unusable)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };
	struct danegate_tlsa r[3] = { rec(&leaf_ta, 1, 1, 1),
		rec(&ca, 0, 0, 1), rec(&leaf_ta, 3, 1, 1) };
	struct danegate_match m;

	/* PKIX usages only, though they would match */
	m = match(r, 2, chain, 2);
	expect_fail(&m, DANEGATE_R_TLSA_UNUSABLE);
	ck_assert_msg(strstr(m.why, "pkix-usage") != NULL, "%s", m.why);
	/* no records */
	m = match(r, 0, chain, 2);
	expect_fail(&m, DANEGATE_R_TLSA_UNUSABLE);
	/* a digest of the wrong length is skipped, though it says usable */
	r[2].len = 31;
	r[2].usability = DANEGATE_TLSA_USABLE;
	m = match(&r[2], 1, chain, 2);
	expect_fail(&m, DANEGATE_R_TLSA_UNUSABLE);
	ck_assert_msg(strstr(m.why, "bad-digest-length") != NULL, "%s", m.why);
	/* data missing although a length is given */
	r[2].len = 32;
	{
		uint8_t *keep = r[2].data;

		r[2].data = NULL;
		m = match(&r[2], 1, chain, 2);
		expect_fail(&m, DANEGATE_R_TLSA_UNUSABLE);
		r[2].data = keep;
	}
	/* and the usable one beside them matches */
	m = match(r, 3, chain, 2);
	expect_ok(&m, 2, 0);
	for (size_t i = 0; i < 3; i++)
		danegate_tlsa_clear(&r[i]);
}
END_TEST

START_TEST(test_bad_length_beside_good)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };
	struct danegate_tlsa r[3];
	struct danegate_match m;
	char *hex = hex_of(31);
	char text[128];

	/* a short SHA2-256 digest with the good one's first 31 bytes, an
	 * SHA2-512 record with 32 bytes, then the good one */
	r[2] = rec(&leaf_ta, 3, 1, 1);
	r[0] = r[2];
	r[0].data = malloc(31);
	ck_assert_ptr_nonnull(r[0].data);
	memcpy(r[0].data, r[2].data, 31);
	r[0].len = 31;
	snprintf(text, sizeof(text), "3 1 2 %sAB", hex);
	ck_assert_int_eq(danegate_tlsa_parse(text, &r[1]), 0);
	ck_assert_int_eq(r[1].usability, DANEGATE_TLSA_BAD_LENGTH);
	m = match(r, 3, chain, 2);
	expect_ok(&m, 2, 0);
	for (size_t i = 0; i < 3; i++)
		danegate_tlsa_clear(&r[i]);
	free(hex);
}
END_TEST

START_TEST(test_several_records)
{
	const struct tcert *chain[] = { &leaf_ta, &ca };
	const struct tcert *expired[] = { &leaf_expired, &ca };
	const struct tcert *other[] = { &leaf_other, &ca };
	struct danegate_tlsa r[3] = { rec(&leaf_other, 3, 1, 1),
		rec(&ca, 2, 0, 1), rec(&leaf_ta, 3, 0, 1) };
	struct danegate_tlsa late[2] = { rec(&ca, 2, 0, 1),
		rec(&leaf_expired, 3, 1, 1) };
	struct danegate_match m;

	/* the first record that fully succeeds wins */
	m = match(r, 3, chain, 2);
	expect_ok(&m, 1, 1);
	m = match(&r[1], 2, chain, 2);
	expect_ok(&m, 0, 1);
	m = match(r, 3, other, 2);
	expect_ok(&m, 0, 0);
	/* the most specific failure: expiry over not trusted ... */
	m = match(r, 3, expired, 2);
	expect_fail(&m, DANEGATE_R_CERT_EXPIRED);
	/* ... and a name mismatch over not trusted */
	m = match(&r[1], 2, other, 2);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	/* a failed DANE-TA does not stop a later DANE-EE */
	m = match(late, 2, expired, 2);
	expect_ok(&m, 1, 0);
	for (size_t i = 0; i < 3; i++)
		danegate_tlsa_clear(&r[i]);
	danegate_tlsa_clear(&late[0]);
	danegate_tlsa_clear(&late[1]);
}
END_TEST

START_TEST(test_several_ta)
{
	/* two anchors on one chain, both failing on the name: the second
	 * reuses what the first learnt about the chain */
	const struct tcert *chain[] = { &leaf_int, &inter, &ca };
	const char *const names[] = { "mx.inter.example" };
	struct danegate_tlsa r[2] = { rec(&ca, 2, 0, 1), rec(&inter, 2, 1, 1) };
	struct danegate_match m;

	m = match(r, 2, chain, 3);
	expect_fail(&m, DANEGATE_R_CERT_HOST_MISMATCH);
	ck_assert_msg(strstr(m.why, "TLSA 2 0 1") != NULL, "%s", m.why);
	m = match_at(r, 2, chain, 3, names, 1, now);
	expect_ok(&m, 0, 2);
	danegate_tlsa_clear(&r[0]);
	danegate_tlsa_clear(&r[1]);
}
END_TEST

START_TEST(test_many_records)
{
	/* twenty records that match nothing: the sentence lists what fits */
	const struct tcert *chain[] = { &leaf_ta, &ca };
	struct danegate_tlsa r[20];
	struct danegate_match m;

	for (size_t i = 0; i < N(r); i++) {
		r[i] = rec(&leaf_other, 3, 1, 1);
		r[i].data[0] ^= (uint8_t)(i + 1);
	}
	m = match(r, N(r), chain, 2);
	expect_fail(&m, DANEGATE_R_CERT_NOT_TRUSTED);
	ck_assert_msg(strstr(m.why, "3 1 1, 3 1 1") != NULL, "%s", m.why);
	ck_assert_msg(strstr(m.why, "...") != NULL, "%s", m.why);
	ck_assert_uint_lt(strlen(m.why), sizeof(m.why));
	/* the last one matches */
	danegate_tlsa_clear(&r[19]);
	r[19] = rec(&leaf_ta, 3, 1, 2);
	m = match(r, N(r), chain, 2);
	expect_ok(&m, 19, 0);
	for (size_t i = 0; i < N(r); i++)
		danegate_tlsa_clear(&r[i]);
}
END_TEST

static Suite *
tlsa_suite(void)
{
	Suite *s = suite_create("tlsa");
	TCase *bad = tcase_create("invalid");
	TCase *rr = tcase_create("records");
	TCase *ee = tcase_create("dane-ee");
	TCase *ta = tcase_create("dane-ta");
	TCase *multi = tcase_create("records-together");

	tcase_add_loop_test(bad, test_parse_bad, 0, N(bad_text));
	tcase_add_test(bad, test_parse_null);
	tcase_add_test(bad, test_parse_too_long);
	tcase_add_test(bad, test_wire_bad);
	tcase_add_test(bad, test_format_bad);
	tcase_add_test(bad, test_for_cert_bad);
	tcase_add_test(bad, test_match_bad_args);
	tcase_add_test(bad, test_match_bad_der);
	suite_add_tcase(s, bad);

	tcase_add_test(rr, test_parse_good);
	tcase_add_loop_test(rr, test_usability, 0, N(usability_vectors));
	tcase_add_test(rr, test_wire_good);
	tcase_add_test(rr, test_for_cert);
	tcase_add_test(rr, test_for_cert_usage);
	suite_add_tcase(s, rr);

	tcase_add_test(ee, test_ee_match);
	tcase_add_test(ee, test_ee_ignores_names_dates);
	tcase_add_test(ee, test_ee_mismatch);
	suite_add_tcase(s, ee);

	tcase_add_test(ta, test_ta_cert_depth1);
	tcase_add_test(ta, test_ta_intermediate);
	tcase_add_test(ta, test_ta_bare_key);
	tcase_add_test(ta, test_ta_names);
	tcase_add_test(ta, test_ta_dates);
	tcase_add_test(ta, test_ta_untrusted);
	tcase_add_test(ta, test_ta_leaf_anchor);
	tcase_add_test(ta, test_ta_chain_cap);
	suite_add_tcase(s, ta);

	tcase_add_test(multi, test_unusable);
	tcase_add_test(multi, test_bad_length_beside_good);
	tcase_add_test(multi, test_several_records);
	tcase_add_test(multi, test_several_ta);
	tcase_add_test(multi, test_many_records);
	suite_add_tcase(s, multi);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	now = time(NULL);
	certs_make();
	sr = srunner_create(tlsa_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
