/*
 * sasl.c - SMTP AUTH's wire formats on the relay's front (see sasl.h).
 *
 * SECURITY: input from unauthenticated clients, read only through the
 * bounded cursor of lib/wire.h into fixed-size fields; nothing allocated.
 * Passwords are wiped from every buffer this file fills on the way out.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "wire.h"
#include "sasl.h"
#include "smtp_cmd.h"

static int
peek(const struct wire *w)
{
	return wire_left(w) > 0 ? w->buf[w->pos] : -1;
}

/* sasl.h */
int
sasl_auth_parse(const uint8_t *line, size_t len, struct sasl_auth *out)
{
	struct wire w;
	static const struct {
		const char *name;
		enum sasl_mech mech;
	} mechs[] = {
		{ "PLAIN", SASL_MECH_PLAIN },
		{ "LOGIN", SASL_MECH_LOGIN },
	};
	const uint8_t *name;
	size_t n = 0, start;

	memset(out, 0, sizeof(*out));
	wire_init(&w, line, len);
	name = wire_take(&w, 4);
	if (name == NULL || strncasecmp((const char *)name, "AUTH", 4) != 0 ||
	    peek(&w) != ' ')
		return SASL_E_SYNTAX;
	wire_skip(&w, 1);
	/* RFC 4422 §3.1: a mechanism name is 1-20 of [A-Z0-9-_] */
	start = w.pos;
	while (peek(&w) != -1 && peek(&w) != ' ') {
		int c = peek(&w);

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return SASL_E_SYNTAX;
		wire_skip(&w, 1);
		n++;
	}
	if (n == 0 || n > 20)
		return SASL_E_SYNTAX;
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == n &&
		    strncasecmp((const char *)line + start, mechs[i].name,
		    n) == 0)
			out->mech = mechs[i].mech;
	if (out->mech == SASL_MECH_NONE)
		return SASL_E_MECH;
	if (wire_left(&w) == 0)
		return SASL_OK;
	wire_skip(&w, 1);	/* the blank */
	n = wire_left(&w);
	if (n == 0)
		return SASL_E_SYNTAX;
	if (n > SASL_B64_MAX)
		return SASL_E_LONG;
	const uint8_t *ir = wire_take(&w, n);

	for (size_t i = 0; i < n; i++)
		if (ir[i] <= ' ' || ir[i] >= 0x7f)
			return SASL_E_SYNTAX;
	memcpy(out->initial, ir, n);
	out->initial[n] = '\0';
	return SASL_OK;
}

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* sasl.h */
int
sasl_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	struct wire w;
	struct wbuf b;

	*outlen = 0;
	if (len == 1 && in[0] == '*')
		return SASL_E_CANCEL;
	if (len == 1 && in[0] == '=')
		return SASL_OK;
	if (len == 0 || len % 4 != 0)
		return SASL_E_BASE64;
	wire_init(&w, in, len);
	wbuf_init(&b, out, cap);
	while (wire_left(&w) > 0) {
		const uint8_t *q = wire_take(&w, 4);
		bool last = wire_left(&w) == 0;
		int v[4], pad = 0;

		for (int i = 0; i < 4; i++) {
			v[i] = b64_value(q[i]);
			if (v[i] < 0) {
				/* '=' only as the last one or two of the
				 * last quantum */
				if (!last || q[i] != '=' || i < 2 ||
				    (i == 2 && q[3] != '='))
					return SASL_E_BASE64;
				v[i] = 0;
				pad++;
			}
		}
		uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];

		/* RFC 4648 §3.5: the bits padding leaves over are zero */
		if ((pad == 1 && (bits & 0xff) != 0) ||
		    (pad == 2 && (bits & 0xffff) != 0))
			return SASL_E_BASE64;
		wbuf_u8(&b, (uint8_t)(bits >> 16));
		if (pad < 2)
			wbuf_u8(&b, (uint8_t)(bits >> 8));
		if (pad < 1)
			wbuf_u8(&b, (uint8_t)bits);
	}
	if (b.err) {
		explicit_bzero(out, cap);
		return SASL_E_LONG;
	}
	*outlen = b.len;
	return SASL_OK;
}

/* A name: UTF-8 (RFC 3629) without control characters. */
static bool
name_ok(const uint8_t *p, size_t len)
{
	struct wire w;

	wire_init(&w, p, len);
	while (wire_left(&w) > 0) {
		int c = peek(&w);

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80)
			wire_skip(&w, 1);
		else if (!smtp_cmd_take_utf8(&w))
			return false;
	}
	return true;
}

/* sasl.h */
int
sasl_login_field(const uint8_t *msg, size_t len, char *dst, int utf8_name)
{
	dst[0] = '\0';
	if (len == 0 || memchr(msg, '\0', len) != NULL)
		return SASL_E_MESSAGE;
	if (len > SASL_FIELD_MAX)
		return SASL_E_LONG;
	if (utf8_name && !name_ok(msg, len))
		return SASL_E_UTF8;
	memcpy(dst, msg, len);
	dst[len] = '\0';
	return SASL_OK;
}

/* sasl.h */
int
sasl_plain_decode(const uint8_t *msg, size_t len, struct sasl_creds *creds)
{
	const uint8_t *nul1, *nul2, *end = msg + len;
	size_t zlen, ulen, plen;
	int rc;

	memset(creds, 0, sizeof(*creds));
	/* message = [authzid] UTF8NUL authcid UTF8NUL passwd */
	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return SASL_E_MESSAGE;
	nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
	if (nul2 == NULL || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1))
	    != NULL)
		return SASL_E_MESSAGE;
	zlen = (size_t)(nul1 - msg);
	ulen = (size_t)(nul2 - nul1 - 1);
	plen = (size_t)(end - nul2 - 1);
	if (zlen > SASL_FIELD_MAX)
		return SASL_E_LONG;
	if ((rc = sasl_login_field(nul1 + 1, ulen, creds->user, 1)) != SASL_OK ||
	    (rc = sasl_login_field(nul2 + 1, plen, creds->pass, 0)) != SASL_OK)
		goto fail;
	/* RFC 4616 §2: an authzid equal to the authcid is the same as
	 * none; anything else asks to act as another identity, which the
	 * relay does not offer (each client's mailboxes are its own). */
	if (zlen > 0 && (zlen != ulen || memcmp(msg, creds->user, zlen) != 0)) {
		rc = SASL_E_AUTHZ;
		goto fail;
	}
	return SASL_OK;
fail:
	sasl_creds_wipe(creds);
	return rc;
}

/* sasl.h */
void
sasl_creds_wipe(struct sasl_creds *creds)
{
	explicit_bzero(creds, sizeof(*creds));
}

/* sasl.h */
const char *
sasl_strerror(int status)
{
	switch (status) {
	case SASL_OK:
		return "ok";
	case SASL_E_SYNTAX:
		return "AUTH syntax error";
	case SASL_E_MECH:
		return "SASL mechanism not offered";
	case SASL_E_BASE64:
		return "invalid base64";
	case SASL_E_LONG:
		return "SASL field too long";
	case SASL_E_MESSAGE:
		return "malformed SASL message";
	case SASL_E_AUTHZ:
		return "authorization identity differs from the user";
	case SASL_E_CANCEL:
		return "authentication cancelled by the client";
	case SASL_E_UTF8:
		return "user name is not UTF-8 text";
	default:
		return "unknown SASL status";
	}
}
