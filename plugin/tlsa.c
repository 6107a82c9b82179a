/*
 * tlsa.c - TLSA records (RFC 6698): parsing, judging, formatting,
 * generating them from certificates, and matching a server's certificate
 * chain against them under the SMTP rules of RFC 7672 with RFC 7671.
 *
 * The matching is done here on GnuTLS's X.509, public-key and hash API,
 * not with libgnutls-dane, which treats usages 0/1 like 2/3, finds DANE-TA
 * anchors only at depth 1 and checks no names (see DESIGN.md, "SMTP DANE
 * rules").
 *
 * SECURITY: parses untrusted input: TLSA rdata from DNS (presentation or
 * wire form) and certificates presented by remote SMTP servers. Every
 * length is checked before use: TLSA data is bounded by the DNS rdata
 * limit, chains by TLSA_CHAIN_MAX certificates, and certificate DER is
 * walked with the bounded cursor of lib/wire.h before GnuTLS parses it.
 * Runs with the caller's privileges; no I/O.
 *
 * Ownership: struct danegate_tlsa owns its data (free with
 * danegate_tlsa_clear()); danegate_tlsa_match() borrows the caller's
 * records and DER buffers for the duration of the call only.
 */
#include "config.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "wire.h"

/* rdata is at most 65535 bytes; usage, selector and mtype take 3 */
#define TLSA_DATA_MAX 65532
/* certificates looked at in a presented chain (GnuTLS's default maximum
 * verification depth); later ones are ignored, which can only lose a
 * match, never make one */
#define TLSA_CHAIN_MAX 16
/* a TLS certificate message cannot carry more (RFC 8446 §4.4.2) */
#define TLSA_DER_MAX (1u << 24)
#define TLSA_SHA256_LEN 32
#define TLSA_SHA512_LEN 64

/* Dates are checked by tlsa_path_dates() against the caller's time, so
 * GnuTLS (which only knows the clock) must not check them. */
#define TLSA_VERIFY_FLAGS \
	(GNUTLS_VERIFY_DISABLE_TIME_CHECKS | \
	 GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS)

/* How far a record got with a chain: higher is more specific, and the
 * most specific failure is the one reported (RFC 8460 result types). */
enum tlsa_rank {
	TLSA_RANK_NO_MATCH = 0,		/* nothing in the chain matched */
	TLSA_RANK_NO_PATH,		/* an anchor matched, no chain to it */
	TLSA_RANK_EXPIRED,		/* chain verified, dates did not */
	TLSA_RANK_HOST,			/* all but the name */
	TLSA_RANK_OK,
};

/* Where the parts of a certificate are inside its DER (borrowed). */
struct tlsa_der {
	const uint8_t *tbs;		/* TBSCertificate, whole TLV */
	size_t tbs_len;
	const uint8_t *spki;		/* SubjectPublicKeyInfo, whole TLV */
	size_t spki_len;
	const uint8_t *sig;		/* signature bits, without the
					 * unused-bits octet */
	size_t sig_len;
};

/* One presented certificate and its TLSA selector data. */
struct tlsa_cert {
	gnutls_x509_crt_t crt;		/* owned; NULL: it did not parse */
	const uint8_t *der;		/* borrowed from the caller */
	size_t der_len;
	struct tlsa_der parts;
	uint8_t cert256[TLSA_SHA256_LEN], cert512[TLSA_SHA512_LEN];
	uint8_t spki256[TLSA_SHA256_LEN], spki512[TLSA_SHA512_LEN];
};

/* The presented chain, leaf first, with what is known about who signed
 * whom (so a hostile chain costs at most n*n signature checks). */
struct tlsa_chain {
	struct tlsa_cert cert[TLSA_CHAIN_MAX];
	size_t n;
	int8_t issued[TLSA_CHAIN_MAX][TLSA_CHAIN_MAX]; /* [i][j]: j signed i;
							* 0 unknown, 1, -1 */
	time_t now;
	const char *const *names;
	size_t n_names;
};

/* A path of chain positions from the leaf (idx[0] == 0) upwards. */
struct tlsa_path {
	size_t idx[TLSA_CHAIN_MAX];
	size_t len;
};

/* ---- records ----------------------------------------------------------- */

/* snprintf() for messages, which are cut to fit their buffer on purpose
 * (a wrapper, so the compiler's truncation warnings stay for real bugs). */
static int tlsa_say(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
tlsa_say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* Judges a record in the order the API documents: usage, selector,
 * matching type, then the length the matching type needs. */
static enum danegate_tlsa_usability
tlsa_judge(uint8_t usage, uint8_t selector, uint8_t mtype, size_t len)
{
	if (usage == 0 || usage == 1)
		return DANEGATE_TLSA_PKIX_USAGE;
	if (usage > 3)
		return DANEGATE_TLSA_UNKNOWN_USAGE;
	if (selector > 1)
		return DANEGATE_TLSA_UNKNOWN_SELECTOR;
	if (mtype > 2)
		return DANEGATE_TLSA_UNKNOWN_MTYPE;
	if ((mtype == 0 && len == 0) ||
	    (mtype == 1 && len != TLSA_SHA256_LEN) ||
	    (mtype == 2 && len != TLSA_SHA512_LEN))
		return DANEGATE_TLSA_BAD_LENGTH;
	return DANEGATE_TLSA_USABLE;
}

static bool
tlsa_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
tlsa_skip_blanks(const char *p)
{
	while (tlsa_blank(*p))
		p++;
	return p;
}

/* Reads a decimal field of one to three digits, 0..255, that a blank must
 * end (the hex data follows every field); NULL if it is not one. */
static const char *
tlsa_parse_field(const char *p, uint8_t *out)
{
	unsigned v = 0;
	size_t n = 0;

	while (*p >= '0' && *p <= '9') {
		if (++n > 3)
			return NULL;
		v = v * 10 + (unsigned)(*p - '0');
		p++;
	}
	if (n == 0 || v > 255 || !tlsa_blank(*p))
		return NULL;
	*out = (uint8_t)v;
	return p;
}

static int
tlsa_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parses one TLSA record's rdata in presentation form: three decimal
 * fields and the data in hex, separated by spaces or tabs, with blanks
 * also allowed inside the hex (RFC 6698 §2.2) and around the whole.
 * Nothing else (comments, parentheses, newlines) is accepted. The data
 * must be present and a whole number of bytes. On success out->data is
 * owned by out (free with danegate_tlsa_clear()) and out->usability says
 * whether SMTP may use it; on failure out is zeroed.
 */
DANEGATE_EXPORT int
danegate_tlsa_parse(const char *text, struct danegate_tlsa *out)
{
	const char *p, *hex;
	size_t digits = 0, i = 0;
	uint8_t usage, selector, mtype;
	uint8_t *data;
	int hi = -1;

	if (out == NULL)
		return DANEGATE_E_INVALID;
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return DANEGATE_E_INVALID;

	p = tlsa_skip_blanks(text);
	if ((p = tlsa_parse_field(p, &usage)) == NULL ||
	    (p = tlsa_parse_field(tlsa_skip_blanks(p), &selector)) == NULL ||
	    (p = tlsa_parse_field(tlsa_skip_blanks(p), &mtype)) == NULL)
		return DANEGATE_E_INVALID;

	/* Count first, so the allocation is exact and bounded. */
	hex = tlsa_skip_blanks(p);
	for (p = hex; *p != '\0'; p++) {
		if (tlsa_blank(*p))
			continue;
		if (tlsa_hex_value(*p) < 0)
			return DANEGATE_E_INVALID;
		if (++digits > 2 * (size_t)TLSA_DATA_MAX)
			return DANEGATE_E_INVALID;
	}
	if (digits == 0 || digits % 2 != 0)
		return DANEGATE_E_INVALID;

	if ((data = malloc(digits / 2)) == NULL)
		return DANEGATE_E_NOMEM;
	for (p = hex; *p != '\0'; p++) {
		int v = tlsa_hex_value(*p);

		if (v < 0)
			continue;	/* a blank: checked above */
		if (hi < 0)
			hi = v;
		else {
			data[i++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}

	out->usage = usage;
	out->selector = selector;
	out->mtype = mtype;
	out->data = data;
	out->len = digits / 2;
	out->usability = tlsa_judge(usage, selector, mtype, out->len);
	return DANEGATE_OK;
}

/*
 * Reads TLSA rdata in wire form (RFC 6698 §2.1): usage, selector and
 * matching type octets, then the data up to the end. Empty data is
 * accepted and judged DANEGATE_TLSA_BAD_LENGTH (data NULL, len 0).
 * Ownership as in danegate_tlsa_parse().
 */
DANEGATE_EXPORT int
danegate_tlsa_from_wire(const uint8_t *rdata, size_t len,
    struct danegate_tlsa *out)
{
	struct wire w;
	const uint8_t *data;
	uint8_t usage, selector, mtype;
	size_t n;

	if (out == NULL)
		return DANEGATE_E_INVALID;
	memset(out, 0, sizeof(*out));
	if (rdata == NULL || len > 3 + (size_t)TLSA_DATA_MAX)
		return DANEGATE_E_INVALID;

	wire_init(&w, rdata, len);
	usage = wire_u8(&w);
	selector = wire_u8(&w);
	mtype = wire_u8(&w);
	n = wire_left(&w);
	data = wire_take(&w, n);
	if (!wire_ok(&w))
		return DANEGATE_E_INVALID;

	if (n > 0) {
		if ((out->data = malloc(n)) == NULL)
			return DANEGATE_E_NOMEM;
		memcpy(out->data, data, n);
	}
	out->usage = usage;
	out->selector = selector;
	out->mtype = mtype;
	out->len = n;
	out->usability = tlsa_judge(usage, selector, mtype, n);
	return DANEGATE_OK;
}

/* Frees t's data and zeroes it; accepts NULL. */
DANEGATE_EXPORT void
danegate_tlsa_clear(struct danegate_tlsa *t)
{
	if (t == NULL)
		return;
	free(t->data);
	memset(t, 0, sizeof(*t));
}

/*
 * Writes t in presentation form, "3 1 1 0A1B..." (hex in upper case, no
 * blanks), NUL-terminated, into out. A record without data (possible only
 * from wire form) is written as its three fields alone. Returns
 * DANEGATE_E_INVALID, leaving out empty when cap > 0, if it does not fit.
 */
DANEGATE_EXPORT int
danegate_tlsa_format(const struct danegate_tlsa *t, char *out, size_t cap)
{
	static const char digit[] = "0123456789ABCDEF";
	int n;
	size_t pos;

	if (out == NULL || cap == 0)
		return DANEGATE_E_INVALID;
	out[0] = '\0';
	if (t == NULL || (t->len > 0 && t->data == NULL))
		return DANEGATE_E_INVALID;

	n = tlsa_say(out, cap, "%u %u %u", t->usage, t->selector, t->mtype);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return DANEGATE_E_INVALID;
	}
	pos = (size_t)n;
	if (t->len == 0)
		return DANEGATE_OK;
	/* a blank, two digits a byte, the NUL; written so it cannot wrap */
	if (t->len > (cap - pos - 2) / 2) {
		out[0] = '\0';
		return DANEGATE_E_INVALID;
	}
	out[pos++] = ' ';
	for (size_t i = 0; i < t->len; i++) {
		out[pos++] = digit[t->data[i] >> 4];
		out[pos++] = digit[t->data[i] & 0x0f];
	}
	out[pos] = '\0';
	return DANEGATE_OK;
}

/* ---- certificates ------------------------------------------------------ */

/* Reads one DER tag and length (single-octet tags, definite lengths of
 * at most four octets, content inside the buffer); sticky error else. */
static size_t
tlsa_der_header(struct wire *w, uint8_t *tag)
{
	uint8_t first;
	size_t len = 0;

	*tag = wire_u8(w);
	if ((*tag & 0x1f) == 0x1f) {
		w->err = true;
		return 0;
	}
	first = wire_u8(w);
	if (first < 0x80)
		len = first;
	else if (first == 0x80 || first > 0x84)
		w->err = true;	/* indefinite (not DER), or absurdly long */
	else
		for (unsigned i = 0; i < (first & 0x7fu); i++)
			len = len << 8 | wire_u8(w);
	if (!wire_ok(w) || len > wire_left(w)) {
		w->err = true;
		return 0;
	}
	return len;
}

/* Steps over one element that must carry tag want. Returns its whole
 * encoding (*full_len bytes) and, if inner is given, a cursor over its
 * content; NULL with the sticky error set otherwise. */
static const uint8_t *
tlsa_der_element(struct wire *w, uint8_t want, size_t *full_len,
    struct wire *inner)
{
	size_t start = w->pos, len;
	const uint8_t *content;
	uint8_t tag;

	/* empty until the element is read: a failed element leaves the
	 * caller an inner cursor that reads nothing, never garbage */
	if (inner != NULL)
		wire_init(inner, NULL, 0);
	len = tlsa_der_header(w, &tag);
	if (!wire_ok(w) || tag != want) {
		w->err = true;
		return NULL;
	}
	/* NULL always comes with the sticky error set, so that callers may
	 * check the outer cursor only (as tlsa_der_parts() does) */
	if ((content = wire_take(w, len)) == NULL) {
		w->err = true;
		return NULL;
	}
	if (inner != NULL)
		wire_init(inner, content, len);
	*full_len = w->pos - start;
	return w->buf + start;
}

/*
 * Finds the TBSCertificate, the SubjectPublicKeyInfo and the signature
 * inside a certificate's DER (RFC 5280 §4.1). TLSA selector 1 is over the
 * SPKI exactly as encoded in the certificate, so it is taken from the DER
 * rather than re-encoded from a parsed key. The certificate must fill the
 * buffer exactly: selector 0 data is then the buffer itself.
 */
static bool
tlsa_der_parts(const uint8_t *der, size_t len, struct tlsa_der *parts)
{
	struct wire w, cert, tbs, bits;
	size_t n;

	wire_init(&w, der, len);
	if (tlsa_der_element(&w, 0x30, &n, &cert) == NULL ||
	    wire_left(&w) != 0)
		return false;

	parts->tbs = tlsa_der_element(&cert, 0x30, &parts->tbs_len, &tbs);
	(void)tlsa_der_element(&cert, 0x30, &n, NULL);	/* signatureAlgorithm */
	(void)tlsa_der_element(&cert, 0x03, &n, &bits);	/* signatureValue */
	if (!wire_ok(&cert) || wire_left(&cert) != 0)
		return false;
	if (wire_u8(&bits) != 0 || !wire_ok(&bits))	/* unused bits: 0 */
		return false;
	parts->sig_len = wire_left(&bits);
	parts->sig = wire_take(&bits, parts->sig_len);

	/* version [0] is optional (v1 certificates) */
	if (wire_left(&tbs) > 0 && tbs.buf[tbs.pos] == 0xa0)
		(void)tlsa_der_element(&tbs, 0xa0, &n, NULL);
	(void)tlsa_der_element(&tbs, 0x02, &n, NULL);	/* serialNumber */
	(void)tlsa_der_element(&tbs, 0x30, &n, NULL);	/* signature */
	(void)tlsa_der_element(&tbs, 0x30, &n, NULL);	/* issuer */
	(void)tlsa_der_element(&tbs, 0x30, &n, NULL);	/* validity */
	(void)tlsa_der_element(&tbs, 0x30, &n, NULL);	/* subject */
	parts->spki = tlsa_der_element(&tbs, 0x30, &parts->spki_len, NULL);
	return wire_ok(&tbs) && wire_ok(&bits) && parts->tbs != NULL &&
	    parts->spki != NULL && parts->sig != NULL;
}

/* GnuTLS datums are not const; the data is only read. */
static gnutls_datum_t
tlsa_datum(const uint8_t *p, size_t len)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)(uintptr_t)p;
	d.size = (unsigned)len;
	return d;
}

/*
 * Loads one DER certificate: both our DER walk and GnuTLS must accept it.
 * Returns 0, DANEGATE_E_INVALID (not a certificate) or DANEGATE_E_NOMEM.
 * On success c->crt is owned by c (tlsa_cert_free()); der is borrowed.
 */
static int
tlsa_cert_load(struct tlsa_cert *c, const uint8_t *der, size_t len)
{
	gnutls_datum_t d;

	memset(c, 0, sizeof(*c));
	if (der == NULL || len == 0 || len > TLSA_DER_MAX ||
	    !tlsa_der_parts(der, len, &c->parts))
		return DANEGATE_E_INVALID;
	if (gnutls_x509_crt_init(&c->crt) < 0) {
		c->crt = NULL;
		return DANEGATE_E_NOMEM;
	}
	d = tlsa_datum(der, len);
	if (gnutls_x509_crt_import(c->crt, &d, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(c->crt);
		c->crt = NULL;
		return DANEGATE_E_INVALID;
	}
	c->der = der;
	c->der_len = len;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, c->cert256) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA512, der, len, c->cert512) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, c->parts.spki,
	    c->parts.spki_len, c->spki256) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA512, c->parts.spki,
	    c->parts.spki_len, c->spki512) < 0) {
		gnutls_x509_crt_deinit(c->crt);
		c->crt = NULL;
		return DANEGATE_E_NOMEM;
	}
	return DANEGATE_OK;
}

static void
tlsa_cert_free(struct tlsa_cert *c)
{
	if (c->crt != NULL)
		gnutls_x509_crt_deinit(c->crt);
	c->crt = NULL;
}

/* The selector data of c for a record's selector and matching type. */
static const uint8_t *
tlsa_cert_data(const struct tlsa_cert *c, uint8_t selector, uint8_t mtype,
    size_t *len)
{
	switch (mtype) {
	case 0:
		*len = selector ? c->parts.spki_len : c->der_len;
		return selector ? c->parts.spki : c->der;
	case 1:
		*len = TLSA_SHA256_LEN;
		return selector ? c->spki256 : c->cert256;
	case 2:
		*len = TLSA_SHA512_LEN;
		return selector ? c->spki512 : c->cert512;
	default:
		*len = 0;
		return NULL;
	}
}

static bool
tlsa_cert_matches(const struct tlsa_cert *c, const struct danegate_tlsa *r)
{
	const uint8_t *data;
	size_t len;

	if (c->crt == NULL)
		return false;
	data = tlsa_cert_data(c, r->selector, r->mtype, &len);
	return data != NULL && len == r->len && memcmp(data, r->data, len) == 0;
}

/*
 * Computes the TLSA record for a DER certificate, for tlsa-check gen:
 * selector 0 is the certificate's DER, 1 its SubjectPublicKeyInfo as
 * encoded in it; mtype 0 the data itself, 1 SHA2-256, 2 SHA2-512. Any
 * usage is written as given and judged (so usage 1 comes out
 * pkix-usage). Returns DANEGATE_E_INVALID for an unknown selector or
 * matching type or input that is not one DER certificate. out owns its
 * data on success (danegate_tlsa_clear()), and is zeroed on failure.
 */
DANEGATE_EXPORT int
danegate_tlsa_for_cert(const uint8_t *der, size_t der_len, uint8_t usage,
    uint8_t selector, uint8_t mtype, struct danegate_tlsa *out)
{
	struct tlsa_cert c;
	const uint8_t *data;
	size_t len;
	int rc;

	if (out == NULL)
		return DANEGATE_E_INVALID;
	memset(out, 0, sizeof(*out));
	if (selector > 1 || mtype > 2)
		return DANEGATE_E_INVALID;
	if ((rc = tlsa_cert_load(&c, der, der_len)) != DANEGATE_OK)
		return rc;

	data = tlsa_cert_data(&c, selector, mtype, &len);
	if ((out->data = malloc(len)) == NULL) {
		tlsa_cert_free(&c);
		return DANEGATE_E_NOMEM;
	}
	memcpy(out->data, data, len);
	out->len = len;
	out->usage = usage;
	out->selector = selector;
	out->mtype = mtype;
	out->usability = tlsa_judge(usage, selector, mtype, len);
	tlsa_cert_free(&c);
	return DANEGATE_OK;
}

/* ---- matching ---------------------------------------------------------- */

/* c's subject for messages: GnuTLS's RFC 4514 string, cut to fit, with
 * control characters (a remote server chose them) replaced. */
static void
tlsa_subject(const struct tlsa_cert *c, char *buf, size_t cap)
{
	gnutls_datum_t dn = { NULL, 0 };
	size_t n;

	if (gnutls_x509_crt_get_dn3(c->crt, &dn, 0) < 0 || dn.size == 0) {
		gnutls_free(dn.data);
		tlsa_say(buf, cap, "no subject");
		return;
	}
	n = dn.size < cap - 1 ? dn.size : cap - 1;
	memcpy(buf, dn.data, n);
	buf[n] = '\0';
	gnutls_free(dn.data);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
}

/* Whether chain position j signed position i (memoised). */
static bool
tlsa_issued(struct tlsa_chain *ch, size_t i, size_t j)
{
	unsigned status = 0;
	bool ok;

	if (ch->issued[i][j] != 0)
		return ch->issued[i][j] > 0;
	/* The names first: cheap, and most pairs stop there. The
	 * signature check also requires j to be a CA. */
	ok = gnutls_x509_crt_check_issuer(ch->cert[i].crt, ch->cert[j].crt) &&
	    gnutls_x509_crt_verify(ch->cert[i].crt, &ch->cert[j].crt, 1,
	    TLSA_VERIFY_FLAGS, &status) >= 0 && status == 0;
	ch->issued[i][j] = ok ? 1 : -1;
	return ok;
}

/* Whether key (a DANE-TA bare key) signed c. */
static bool
tlsa_key_signed(const struct tlsa_cert *c, gnutls_pubkey_t key)
{
	gnutls_datum_t tbs, sig;
	int algo = gnutls_x509_crt_get_signature_algorithm(c->crt);

	if (algo <= 0)
		return false;
	tbs = tlsa_datum(c->parts.tbs, c->parts.tbs_len);
	sig = tlsa_datum(c->parts.sig, c->parts.sig_len);
	return gnutls_pubkey_verify_data2(key, (gnutls_sign_algorithm_t)algo,
	    0, &tbs, &sig) >= 0;
}

/*
 * Depth-first search for a path of signatures from chain position cur up
 * to the anchor: position anchor, or (anchor < 0) a certificate that key
 * signed. seen is shared by the whole search, so every position is
 * expanded once. The next position is tried first, as servers mostly send
 * their chain in order (RFC 8446 §4.4.2 allows any order after the leaf).
 */
static bool
tlsa_path_walk(struct tlsa_chain *ch, size_t cur, long anchor,
    gnutls_pubkey_t key, bool *seen, struct tlsa_path *p)
{
	seen[cur] = true;
	p->idx[p->len++] = cur;
	if (anchor >= 0 && cur == (size_t)anchor)
		return true;
	if (key != NULL && tlsa_key_signed(&ch->cert[cur], key))
		return true;
	for (size_t k = 1; k < ch->n; k++) {
		size_t j = (cur + k) % ch->n;

		if (seen[j] || ch->cert[j].crt == NULL)
			continue;
		if (tlsa_issued(ch, cur, j) &&
		    tlsa_path_walk(ch, j, anchor, key, seen, p))
			return true;
	}
	p->len--;
	return false;
}

/* Lets GnuTLS verify the path found as one chain (path length and CA
 * constraints, algorithm policy), with its top as the only trusted
 * certificate: the anchor, or the certificate the bare key signed. */
static bool
tlsa_path_verify(const struct tlsa_chain *ch, const struct tlsa_path *p)
{
	gnutls_x509_crt_t list[TLSA_CHAIN_MAX];
	gnutls_x509_crt_t top;
	unsigned status = 0;

	if (p->len < 2)
		return true;
	for (size_t i = 0; i + 1 < p->len; i++)
		list[i] = ch->cert[p->idx[i]].crt;
	top = ch->cert[p->idx[p->len - 1]].crt;
	return gnutls_x509_crt_list_verify(list, (unsigned)(p->len - 1), &top,
	    1, NULL, 0, TLSA_VERIFY_FLAGS, &status) >= 0 && status == 0;
}

static void
tlsa_time_text(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		tlsa_say(buf, cap, "%lld", (long long)t);
}

/* Checks every certificate of the path at ch->now; on failure says which
 * in what. GnuTLS reads RFC 5280's "no well-defined expiration date"
 * (99991231235959Z) as that date, so (time_t)-1 is only ever an error
 * and fails closed. */
static bool
tlsa_path_dates(const struct tlsa_chain *ch, const struct tlsa_path *p,
    char *what, size_t cap)
{
	char subject[96], when[40];

	for (size_t i = 0; i < p->len; i++) {
		const struct tlsa_cert *c = &ch->cert[p->idx[i]];
		time_t from = gnutls_x509_crt_get_activation_time(c->crt);
		time_t until = gnutls_x509_crt_get_expiration_time(c->crt);
		bool unreadable = from == (time_t)-1 || until == (time_t)-1;

		if (!unreadable && ch->now >= from && ch->now <= until)
			continue;
		tlsa_subject(c, subject, sizeof(subject));
		if (unreadable) {
			tlsa_say(what, cap, "the certificate at depth %zu "
			    "(%s) has unreadable validity dates", p->idx[i],
			    subject);
		} else if (ch->now > until) {
			tlsa_time_text(until, when, sizeof(when));
			tlsa_say(what, cap, "the certificate at depth %zu "
			    "(%s) expired at %s", p->idx[i], subject, when);
		} else {
			tlsa_time_text(from, when, sizeof(when));
			tlsa_say(what, cap, "the certificate at depth %zu "
			    "(%s) is not valid before %s", p->idx[i], subject,
			    when);
		}
		return false;
	}
	return true;
}

/* Checks the leaf's names against the reference names (RFC 7672 §3.2.3:
 * wildcards only as the whole leftmost label, which is GnuTLS's rule; a
 * trailing dot is dropped). Returns the name that matched, or NULL. */
static const char *
tlsa_leaf_name(const struct tlsa_chain *ch, char *buf, size_t cap)
{
	for (size_t i = 0; i < ch->n_names; i++) {
		const char *name = ch->names[i];
		size_t len;

		if (name == NULL || (len = strlen(name)) == 0 || len >= cap)
			continue;
		memcpy(buf, name, len + 1);
		if (buf[len - 1] == '.')
			buf[len - 1] = '\0';
		if (buf[0] == '\0')
			continue;
		if (gnutls_x509_crt_check_hostname2(ch->cert[0].crt, buf,
		    GNUTLS_VERIFY_DO_NOT_ALLOW_IP_MATCHES))
			return buf;
	}
	return NULL;
}

/* "mx.example, example" for a message; NULL entries skipped. */
static void
tlsa_names_text(const struct tlsa_chain *ch, char *buf, size_t cap)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ch->n_names && pos < cap; i++) {
		int n;

		if (ch->names[i] == NULL || ch->names[i][0] == '\0')
			continue;
		n = tlsa_say(buf + pos, cap - pos, "%s%s", pos ? ", " : "",
		    ch->names[i]);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
	if (buf[0] == '\0')
		tlsa_say(buf, cap, "(no name given)");
}

/*
 * One DANE-TA attempt: record r (index ri) with its anchor at chain
 * position anchor, or the bare key when anchor < 0. Fills m and returns
 * how far it got.
 */
static enum tlsa_rank
tlsa_try_anchor(struct tlsa_chain *ch, const struct danegate_tlsa *r,
    size_t ri, long anchor, gnutls_pubkey_t key, struct danegate_match *m)
{
	bool seen[TLSA_CHAIN_MAX] = { false };
	struct tlsa_path p = { { 0 }, 0 };
	char label[16], ta[160], subject[96], what[160], name[DANEGATE_NAME_MAX];
	const char *matched_name;
	size_t depth;

	tlsa_say(label, sizeof(label), "%u %u %u", r->usage, r->selector,
	    r->mtype);
	if (anchor >= 0) {
		tlsa_subject(&ch->cert[anchor], subject, sizeof(subject));
		tlsa_say(ta, sizeof(ta), "the certificate at depth %ld (%s)",
		    anchor, subject);
	}

	if (!tlsa_path_walk(ch, 0, anchor, key, seen, &p)) {
		if (anchor < 0) {
			/* the key is not in the chain and signed nothing
			 * on it: no more than a record that matched nothing */
			return TLSA_RANK_NO_MATCH;
		}
		tlsa_say(m->why, sizeof(m->why), "TLSA %s matched %s, but the "
		    "leaf certificate does not chain to it", label, ta);
		m->reason = DANEGATE_R_CERT_NOT_TRUSTED;
		return TLSA_RANK_NO_PATH;
	}
	if (anchor < 0) {
		size_t top = p.idx[p.len - 1];

		tlsa_subject(&ch->cert[top], subject, sizeof(subject));
		tlsa_say(ta, sizeof(ta), "the key that signed the certificate "
		    "at depth %zu (%s)", top, subject);
		depth = top + 1;
	} else
		depth = (size_t)anchor;

	if (!tlsa_path_verify(ch, &p)) {
		tlsa_say(m->why, sizeof(m->why), "TLSA %s matched %s, but the "
		    "chain from the leaf to it does not verify", label, ta);
		m->reason = DANEGATE_R_CERT_NOT_TRUSTED;
		return TLSA_RANK_NO_PATH;
	}
	if (!tlsa_path_dates(ch, &p, what, sizeof(what))) {
		tlsa_say(m->why, sizeof(m->why), "TLSA %s matched %s, but %s",
		    label, ta, what);
		m->reason = DANEGATE_R_CERT_EXPIRED;
		return TLSA_RANK_EXPIRED;
	}
	if ((matched_name = tlsa_leaf_name(ch, name, sizeof(name))) == NULL) {
		tlsa_subject(&ch->cert[0], subject, sizeof(subject));
		tlsa_names_text(ch, what, sizeof(what));
		tlsa_say(m->why, sizeof(m->why), "TLSA %s matched %s, chain "
		    "verified, but the leaf (%s) matches none of %s", label,
		    ta, subject, what);
		m->reason = DANEGATE_R_CERT_HOST_MISMATCH;
		return TLSA_RANK_HOST;
	}
	tlsa_say(m->why, sizeof(m->why), "TLSA %s matched %s, chain verified, "
	    "name %s matches", label, ta, matched_name);
	m->matched = true;
	m->record = (int)ri;
	m->depth = (int)depth;
	m->reason = DANEGATE_R_DANE_VERIFIED;
	return TLSA_RANK_OK;
}

/* A DANE-TA record: any matching certificate in the chain, else, for a
 * full SPKI record that matched none, the bare key (RFC 7671 §5.2.2).
 * A digest cannot be turned back into a key: no match then. */
static enum tlsa_rank
tlsa_try_ta(struct tlsa_chain *ch, const struct danegate_tlsa *r, size_t ri,
    struct danegate_match *m, int *err)
{
	enum tlsa_rank best = TLSA_RANK_NO_MATCH;
	struct danegate_match tmp;
	bool any = false;

	for (size_t a = 0; a < ch->n; a++) {
		enum tlsa_rank rank;

		if (!tlsa_cert_matches(&ch->cert[a], r))
			continue;
		any = true;
		memset(&tmp, 0, sizeof(tmp));
		rank = tlsa_try_anchor(ch, r, ri, (long)a, NULL, &tmp);
		if (rank > best) {
			best = rank;
			*m = tmp;
		}
		if (rank == TLSA_RANK_OK)
			return rank;
	}
	if (!any && r->selector == 1 && r->mtype == 0) {
		gnutls_pubkey_t key;
		gnutls_datum_t d = tlsa_datum(r->data, r->len);

		if (gnutls_pubkey_init(&key) < 0) {
			*err = DANEGATE_E_NOMEM;
			return best;
		}
		if (gnutls_pubkey_import(key, &d, GNUTLS_X509_FMT_DER) >= 0) {
			memset(&tmp, 0, sizeof(tmp));
			best = tlsa_try_anchor(ch, r, ri, -1, key, &tmp);
			if (best > TLSA_RANK_NO_MATCH)
				*m = tmp;
		}
		gnutls_pubkey_deinit(key);
	}
	return best;
}

/* A DANE-EE record: the leaf only; names and dates do not matter
 * (RFC 7672 §3.1.1). */
static enum tlsa_rank
tlsa_try_ee(const struct tlsa_chain *ch, const struct danegate_tlsa *r,
    size_t ri, struct danegate_match *m)
{
	if (!tlsa_cert_matches(&ch->cert[0], r))
		return TLSA_RANK_NO_MATCH;
	tlsa_say(m->why, sizeof(m->why), "TLSA %u %u %u matched the leaf "
	    "certificate%s (DANE-EE: names and dates not checked)", r->usage,
	    r->selector, r->mtype, r->selector ? "'s public key" : "");
	m->matched = true;
	m->record = (int)ri;
	m->depth = 0;
	m->reason = DANEGATE_R_DANE_VERIFIED;
	return TLSA_RANK_OK;
}

/* A record is judged again from its fields: callers may build them. */
static enum danegate_tlsa_usability
tlsa_usability(const struct danegate_tlsa *r)
{
	if (r->len > 0 && r->data == NULL)
		return DANEGATE_TLSA_BAD_LENGTH;
	return tlsa_judge(r->usage, r->selector, r->mtype, r->len);
}

/* Appends "3 1 1" to a list in buf (at *pos), or "..." when the next
 * item might not fit; nothing after that. */
static void
tlsa_list_add(char *buf, size_t cap, size_t *pos,
    const struct danegate_tlsa *r)
{
	const char *sep = *pos > 0 ? ", " : "";
	int n;

	if (*pos >= cap)
		return;
	/* the longest item, "255 255 255", with a separator and "..." */
	if (cap - *pos < 2 + 11 + 2 + 3 + 1) {
		tlsa_say(buf + *pos, cap - *pos, "%s...", sep);
		*pos = cap;
		return;
	}
	n = tlsa_say(buf + *pos, cap - *pos, "%s%u %u %u", sep, r->usage,
	    r->selector, r->mtype);
	*pos = n > 0 ? *pos + (size_t)n : cap;
}

/*
 * Matches a presented chain (DER, leaf first) against TLSA records under
 * RFC 7672/7671; see danegate.h. Records are tried in order and the first
 * that fully succeeds wins (out->record, out->depth: the anchor's chain
 * position, or for a bare DANE-TA key one above the certificate it
 * signed). With no success the most specific failure is reported: name
 * mismatch over expiry over an untrusted chain; out->record and
 * out->depth are then -1. Only the first TLSA_CHAIN_MAX certificates are
 * looked at. Returns 0 with *out filled, DANEGATE_E_INVALID for bad
 * arguments, DANEGATE_E_NOMEM.
 */
DANEGATE_EXPORT int
danegate_tlsa_match(const struct danegate_tlsa *records, size_t n_records,
    const uint8_t *const *chain_der, const size_t *chain_len, size_t n_chain,
    const char *const *names, size_t n_names, time_t now,
    struct danegate_match *out)
{
	struct tlsa_chain *ch;
	struct danegate_match best, m;
	enum tlsa_rank best_rank = TLSA_RANK_NO_MATCH;
	const struct danegate_tlsa *unusable = NULL;
	char tried[96];
	size_t tried_pos = 0, n_usable = 0;
	int err = DANEGATE_OK;

	if (out == NULL)
		return DANEGATE_E_INVALID;
	memset(out, 0, sizeof(*out));
	out->record = -1;
	out->depth = -1;
	out->reason = DANEGATE_R_CERT_NOT_TRUSTED;
	if ((records == NULL && n_records > 0) ||
	    (n_chain > 0 && (chain_der == NULL || chain_len == NULL)) ||
	    (names == NULL && n_names > 0))
		return DANEGATE_E_INVALID;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return DANEGATE_E_NOMEM;
	ch->n = n_chain < TLSA_CHAIN_MAX ? n_chain : TLSA_CHAIN_MAX;
	ch->now = now;
	ch->names = names;
	ch->n_names = n_names;
	for (size_t i = 0; i < ch->n; i++) {
		/* a certificate that does not parse stays NULL: it can be
		 * neither an anchor nor a link */
		if (tlsa_cert_load(&ch->cert[i], chain_der[i], chain_len[i]) ==
		    DANEGATE_E_NOMEM) {
			err = DANEGATE_E_NOMEM;
			goto done;
		}
	}

	memset(&best, 0, sizeof(best));
	tried[0] = '\0';
	for (size_t i = 0; i < n_records; i++) {
		const struct danegate_tlsa *r = &records[i];
		enum tlsa_rank rank;

		if (tlsa_usability(r) != DANEGATE_TLSA_USABLE) {
			if (unusable == NULL)
				unusable = r;
			continue;
		}
		n_usable++;
		tlsa_list_add(tried, sizeof(tried), &tried_pos, r);
		if (ch->n == 0 || ch->cert[0].crt == NULL)
			continue;	/* nothing to match: reported below */
		memset(&m, 0, sizeof(m));
		if (r->usage == 3)
			rank = tlsa_try_ee(ch, r, i, &m);
		else
			rank = tlsa_try_ta(ch, r, i, &m, &err);
		if (err != DANEGATE_OK)
			goto done;
		if (rank == TLSA_RANK_OK) {
			*out = m;
			goto done;
		}
		if (rank > best_rank) {
			best_rank = rank;
			best = m;
		}
	}

	if (n_usable == 0) {
		out->reason = DANEGATE_R_TLSA_UNUSABLE;
		if (unusable == NULL)
			tlsa_say(out->why, sizeof(out->why), "no TLSA records "
			    "to match");
		else if (n_records == 1)
			tlsa_say(out->why, sizeof(out->why), "the only TLSA "
			    "record (%u %u %u) is not usable for SMTP: %s",
			    unusable->usage, unusable->selector,
			    unusable->mtype,
			    danegate_tlsa_usability_name(tlsa_usability(
			    unusable)));
		else
			tlsa_say(out->why, sizeof(out->why), "none of the %zu "
			    "TLSA records is usable for SMTP (the first, "
			    "%u %u %u: %s)", n_records, unusable->usage,
			    unusable->selector, unusable->mtype,
			    danegate_tlsa_usability_name(tlsa_usability(
			    unusable)));
	} else if (ch->n == 0) {
		tlsa_say(out->why, sizeof(out->why), "the server presented no "
		    "certificate to match TLSA %s", tried);
	} else if (ch->cert[0].crt == NULL) {
		tlsa_say(out->why, sizeof(out->why), "the server's leaf "
		    "certificate (%zu bytes) could not be parsed", chain_len[0]);
	} else if (best_rank > TLSA_RANK_NO_MATCH) {
		out->reason = best.reason;
		memcpy(out->why, best.why, sizeof(out->why));
	} else {
		tlsa_say(out->why, sizeof(out->why), "no TLSA record (%s) "
		    "matched the %zu certificate%s presented", tried, n_chain,
		    n_chain == 1 ? "" : "s");
	}
done:
	for (size_t i = 0; i < ch->n; i++)
		tlsa_cert_free(&ch->cert[i]);
	free(ch);
	return err;
}
