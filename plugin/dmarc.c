/*
 * dmarc.c - DMARC policy records (see dmarc.h).
 *
 * SECURITY: untrusted text from DNS, read with bounds (lib/wire.h's
 * cursor); nothing allocated.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

#include "dmarc.h"
#include "internal.h"
#include "wire.h"

/* the list: loaded once, never freed (psl_latest's) or static (the
 * built-in one) */
static const psl_ctx_t *dmarc_psl;
static psl_ctx_t *dmarc_psl_own;

static int
peek(const struct wire *w)
{
	return wire_left(w) > 0 ? w->buf[w->pos] : -1;
}

static void
skip_wsp(struct wire *w)
{
	while (peek(w) == ' ' || peek(w) == '\t')
		wire_skip(w, 1);
}

/* Reads up to (not including) the next ';' or the end, trailing blanks
 * dropped: *v, *vlen. */
static void
take_value(struct wire *w, const char **v, size_t *vlen)
{
	size_t start = w->pos;

	while (peek(w) != -1 && peek(w) != ';')
		wire_skip(w, 1);
	*v = (const char *)w->buf + start;
	*vlen = w->pos - start;
	while (*vlen > 0 && ((*v)[*vlen - 1] == ' ' || (*v)[*vlen - 1] == '\t'))
		(*vlen)--;
}

static bool
value_is(const char *v, size_t vlen, const char *word)
{
	/* ABNF strings are case-insensitive (RFC 5234 §2.3) */
	return strlen(word) == vlen && strncasecmp(v, word, vlen) == 0;
}

static int
policy_value(const char *v, size_t vlen, enum dmarc_policy *p)
{
	if (value_is(v, vlen, "none"))
		*p = DMARC_P_NONE;
	else if (value_is(v, vlen, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (value_is(v, vlen, "reject"))
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

/* dmarc.h */
int
dmarc_record_parse(const char *text, size_t len, struct dmarc_record *out)
{
	struct wire w;
	bool first = true, p_ok = false, sp_ok = false, rua_ok = false;
	unsigned seen = 0;	/* bits: p, sp, pct, rua */

	memset(out, 0, sizeof(*out));
	out->pct = 100;
	wire_init(&w, (const uint8_t *)text, len);
	while (wire_left(&w) > 0) {
		const char *name, *v;
		size_t nlen, vlen, start;
		unsigned bit = 0;

		/* RFC 7489 §6.4: the record starts with "v" itself; blanks
		 * are allowed only around the separators after it */
		if (!first)
			skip_wsp(&w);
		if (!first && wire_left(&w) == 0)
			break;		/* a trailing ';' */
		start = w.pos;
		while ((peek(&w) >= 'a' && peek(&w) <= 'z') ||
		    (peek(&w) >= 'A' && peek(&w) <= 'Z') ||
		    (peek(&w) >= '0' && peek(&w) <= '9') || peek(&w) == '_')
			wire_skip(&w, 1);
		name = text + start;
		nlen = w.pos - start;
		skip_wsp(&w);
		if (nlen == 0 || peek(&w) != '=')
			return first ? DMARC_E_VERSION : DMARC_E_SYNTAX;
		wire_skip(&w, 1);
		skip_wsp(&w);
		take_value(&w, &v, &vlen);
		if (peek(&w) == ';')
			wire_skip(&w, 1);
		if (first) {
			/* RFC 7489 §6.4: "v=DMARC1" exactly, first */
			if (nlen != 1 || name[0] != 'v' || vlen != 6 ||
			    memcmp(v, "DMARC1", 6) != 0)
				return DMARC_E_VERSION;
			first = false;
			continue;
		}
		if (value_is(name, nlen, "p"))
			bit = 1;
		else if (value_is(name, nlen, "sp"))
			bit = 2;
		else if (value_is(name, nlen, "pct"))
			bit = 4;
		else if (value_is(name, nlen, "rua"))
			bit = 8;
		else
			continue;	/* §6.3: unknown tags are ignored */
		if (seen & bit)
			return DMARC_E_DUP;
		seen |= bit;
		if (bit == 1)
			p_ok = policy_value(v, vlen, &out->p) == 0;
		else if (bit == 2)
			sp_ok = policy_value(v, vlen, &out->sp) == 0;
		else if (bit == 4) {
			unsigned n = 0;

			if (vlen == 0 || vlen > 3)
				return DMARC_E_SYNTAX;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return DMARC_E_SYNTAX;
				n = n * 10 + (unsigned)(v[i] - '0');
			}
			if (n > 100)
				return DMARC_E_SYNTAX;
			out->pct = n;
		} else
			/* a mailto: URI list; its content is not checked
			 * here, only that there is one */
			rua_ok = vlen > 7 && strncasecmp(v, "mailto:", 7) == 0;
	}
	if (first)
		return DMARC_E_VERSION;
	if (!p_ok) {
		/* §6.6.3: no valid p= but a valid rua=: as p=none */
		if (!rua_ok)
			return DMARC_E_POLICY;
		out->p = DMARC_P_NONE;
	}
	if (!sp_ok)
		out->sp = out->p;
	return DMARC_OK;
}

/* dmarc.h */
int
dmarc_psl_load(void)
{
	if (dmarc_psl_own == NULL && (dmarc_psl_own = psl_latest(NULL)) != NULL)
		dmarc_psl = dmarc_psl_own;
	if (dmarc_psl == NULL)
		dmarc_psl = psl_builtin();
	return dmarc_psl != NULL ? 0 : DANEGATE_E_NOMEM;
}

/* dmarc.h */
const char *
dmarc_org_domain(const char *domain)
{
	char lower[256];
	size_t n = strlen(domain);
	const char *reg;

	if (dmarc_psl == NULL && (dmarc_psl = psl_builtin()) == NULL &&
	    dmarc_psl_load() != 0)
		return NULL;
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(lower))
		return NULL;
	/* libpsl wants lower case */
	for (size_t i = 0; i < n; i++) {
		char c = domain[i];

		lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	lower[n] = '\0';
	if ((reg = psl_registrable_domain(dmarc_psl, lower)) == NULL)
		return NULL;
	/* a suffix of lower: the same place in domain */
	return domain + (reg - lower);
}

/* dmarc.h */
const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	case DMARC_P_NONE:
	default:
		return "none";
	}
}
