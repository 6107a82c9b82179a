/*
 * spf.c - RFC 7208 check_host() over a cache of DNS answers (see spf.h).
 *
 * SECURITY: untrusted text from DNS; every term is read with its length,
 * copied with its length checked into fixed buffers before inet_pton
 * reads it; macro expansion writes through a bounded cursor; recursion
 * (include, redirect) is bounded by the 10-term limit.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "internal.h"
#include "spf.h"

/* a macro expansion's buffer before §7.3's truncation */
#define SPF_EXPAND_MAX	1024
#define SPF_PARTS_MAX	256

/* ---- the cache ---------------------------------------------------------- */

/* name without its final dot into out (lower case); false if too long */
static bool
name_norm(const char *name, char out[SPF_NAME_MAX])
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n >= SPF_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return true;
}

static void
entry_clear(struct spf_dns_entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->items[i]);
	free(e->items);
	free(e->lens);
	e->items = NULL;
	e->lens = NULL;
	e->n = 0;
}

static const struct spf_dns_entry *
dns_find(const struct spf_dns *c, const char *name, uint16_t type)
{
	char key[SPF_NAME_MAX];

	if (c == NULL || !name_norm(name, key))
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].type == type && strcmp(c->e[i].name, key) == 0)
			return &c->e[i];
	return NULL;
}

/* spf.h */
int
spf_dns_add(struct spf_dns *c, const char *name, uint16_t type,
    enum spf_dns_status status, const uint8_t *const *items,
    const size_t *lens, size_t n)
{
	struct spf_dns_entry e, *slot = NULL;

	memset(&e, 0, sizeof(e));
	if (!name_norm(name, e.name))
		return DANEGATE_E_INVALID;
	e.type = type;
	e.status = status;
	if (n > 0) {
		if ((e.items = calloc(n, sizeof(*e.items))) == NULL ||
		    (e.lens = calloc(n, sizeof(*e.lens))) == NULL) {
			free(e.items);
			return DANEGATE_E_NOMEM;
		}
		for (; e.n < n; e.n++) {
			/* one more byte: TXT texts stay NUL-terminated */
			if ((e.items[e.n] = malloc(lens[e.n] + 1)) == NULL) {
				entry_clear(&e);
				return DANEGATE_E_NOMEM;
			}
			memcpy(e.items[e.n], items[e.n], lens[e.n]);
			e.items[e.n][lens[e.n]] = '\0';
			e.lens[e.n] = lens[e.n];
		}
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].type == type && strcmp(c->e[i].name, e.name) == 0)
			slot = &c->e[i];
	if (slot != NULL)
		entry_clear(slot);
	else {
		if (c->n >= SPF_DNS_ENTRIES_MAX) {
			entry_clear(&e);
			return DANEGATE_E_INVALID;
		}
		if (c->n == c->cap) {
			size_t cap = c->cap > 0 ? c->cap * 2 : 16;
			struct spf_dns_entry *ne = realloc(c->e,
			    cap * sizeof(*ne));

			if (ne == NULL) {
				entry_clear(&e);
				return DANEGATE_E_NOMEM;
			}
			c->e = ne;
			c->cap = cap;
		}
		slot = &c->e[c->n++];
	}
	*slot = e;
	return 0;
}

/* spf.h */
void
spf_dns_clear(struct spf_dns *c)
{
	for (size_t i = 0; i < c->n; i++)
		entry_clear(&c->e[i]);
	free(c->e);
	memset(c, 0, sizeof(*c));
}

/* ---- names -------------------------------------------------------------- */

/*
 * Whether s is a name to query: 1-253 bytes, labels of 1-63 bytes, no
 * byte a resolver's text form would read as syntax; multi: 2+ labels.
 */
static bool
name_ok(const char *s, bool multi)
{
	size_t n = strlen(s), label = 0, labels = 1;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '"' ||
		    c == '(' || c == ')' || c == ';' || c == '@' || c == '$')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && (!multi || labels >= 2);
}

/* §4.6.1 toplabel: alphanumerics and inner hyphens, not all digits */
static bool
toplabel_ok(const char *t, size_t n)
{
	bool alpha = false;

	if (n == 0 || t[0] == '-' || t[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '-')
			alpha = true;
		else if (c < '0' || c > '9')
			return false;
	}
	return alpha;
}

/* §4.6.1 domain-end: "." toplabel ["."] or a macro-expand at the end */
static bool
domain_end_ok(const char *s, size_t n)
{
	size_t dot;

	if (n > 0 && s[n - 1] == '}')
		return true;
	if (n > 0 && s[n - 1] == '.')
		n--;
	for (dot = n; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return false;
	return toplabel_ok(s + dot, n - dot);
}

/* ---- macros (§7) -------------------------------------------------------- */

struct out {
	char *buf;		/* NULL: a dry run (syntax only) */
	size_t cap, len;
	bool full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->buf == NULL)
		return;
	if (o->len + n >= o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* The raw value of macro letter c (lower case) into v (cap bytes). */
static void
macro_value(char c, const struct spf_request *req, const char *d,
    char *v, size_t cap)
{
	const char *sender = req->sender != NULL ? req->sender : "";
	const char *at = strrchr(sender, '@');
	const struct sockaddr *sa = req->addr;
	uint8_t ip[16];
	bool v4 = true;

	v[0] = '\0';
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		memcpy(ip, a6, 16);
		if (IN6_IS_ADDR_V4MAPPED(a6))
			memmove(ip, ip + 12, 4);
		else
			v4 = false;
	} else if (sa->sa_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
	else
		memset(ip, 0, sizeof(ip));
	switch (c) {
	case 's':
		/* §4.3: no local-part is "postmaster" */
		if (sender[0] == '\0')
			snprintf(v, cap, "postmaster@%s", req->domain);
		else if (at == NULL)
			snprintf(v, cap, "postmaster@%s", sender);
		else if (at == sender)
			snprintf(v, cap, "postmaster%s", sender);
		else
			snprintf(v, cap, "%s", sender);
		break;
	case 'l':
		if (at == NULL || at == sender)
			snprintf(v, cap, "postmaster");
		else
			snprintf(v, cap, "%.*s", (int)(at - sender), sender);
		break;
	case 'o':
		snprintf(v, cap, "%s", at != NULL ? at + 1 :
		    sender[0] != '\0' ? sender : req->domain);
		break;
	case 'd':
		snprintf(v, cap, "%s", d);
		break;
	case 'i':
		if (v4)
			snprintf(v, cap, "%u.%u.%u.%u", ip[0], ip[1], ip[2],
			    ip[3]);
		else {
			/* §7.3: 32 nibbles, dot-separated */
			size_t k = 0;

			for (int i = 0; i < 16 && k + 4 < cap; i++) {
				static const char hx[] = "0123456789abcdef";

				v[k++] = hx[ip[i] >> 4];
				v[k++] = '.';
				v[k++] = hx[ip[i] & 15];
				v[k++] = '.';
			}
			v[k > 0 ? k - 1 : 0] = '\0';
		}
		break;
	case 'p':
		snprintf(v, cap, "unknown");	/* §7.3 allows it */
		break;
	case 'v':
		snprintf(v, cap, "%s", v4 ? "in-addr" : "ip6");
		break;
	case 'h':
		snprintf(v, cap, "%s", req->helo != NULL &&
		    req->helo[0] != '\0' ? req->helo : "unknown");
		break;
	default:
		break;
	}
}

/* Splits v on delims, reverses, keeps the rightmost keep (0: all). */
static void
macro_transform(const char *v, const char *delims, bool rev, unsigned keep,
    bool upper, struct out *o)
{
	const char *part[SPF_PARTS_MAX];
	size_t plen[SPF_PARTS_MAX], np = 0, first;
	const char *p = v;

	for (;;) {
		size_t n = strcspn(p, delims);

		if (np == SPF_PARTS_MAX) {
			o->full = true;
			return;
		}
		part[np] = p;
		plen[np++] = n;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	if (rev)
		for (size_t i = 0; i < np / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[np - 1 - i];
			plen[i] = plen[np - 1 - i];
			part[np - 1 - i] = tp;
			plen[np - 1 - i] = tl;
		}
	first = keep > 0 && keep < np ? np - keep : 0;
	for (size_t i = first; i < np; i++) {
		if (i > first)
			put(o, ".", 1);
		if (!upper) {
			put(o, part[i], plen[i]);
			continue;
		}
		/* §7.3: upper case is URL-escaped (RFC 3986 unreserved
		 * characters stay) */
		for (size_t k = 0; k < plen[i]; k++) {
			unsigned char c = (unsigned char)part[i][k];
			char esc[4];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			    c == '_' || c == '~')
				put(o, (const char *)&part[i][k], 1);
			else {
				snprintf(esc, sizeof(esc), "%%%02X", c);
				put(o, esc, 3);
			}
		}
	}
}

/* The expansion into o; req NULL: syntax only. Returns 0 or -1. */
static int
expand(const char *s, size_t len, const struct spf_request *req,
    const char *d, struct out *o)
{
	size_t i = 0;

	while (i < len) {
		char c = s[i];
		char delims[8] = "";
		size_t nd = 0;
		unsigned keep = 0;
		bool rev = false, digits = false, upper;
		char letter;

		if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
			return -1;
		if (c != '%') {
			put(o, &s[i++], 1);
			continue;
		}
		if (++i >= len)
			return -1;
		c = s[i++];
		if (c == '%') {
			put(o, "%", 1);
			continue;
		}
		if (c == '_') {
			put(o, " ", 1);
			continue;
		}
		if (c == '-') {
			put(o, "%20", 3);
			continue;
		}
		if (c != '{' || i >= len)
			return -1;
		letter = s[i++];
		upper = letter >= 'A' && letter <= 'Z';
		if (upper)
			letter = (char)(letter - 'A' + 'a');
		/* c, r, t are exp= only (§7.2) */
		if (strchr("slodiphv", letter) == NULL || letter == '\0')
			return -1;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			digits = true;
			if (keep < 1000)
				keep = keep * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (digits && keep == 0)
			return -1;	/* §7.1: nonzero */
		if (i < len && (s[i] == 'r' || s[i] == 'R')) {
			rev = true;
			i++;
		}
		while (i < len && s[i] != '}') {
			if (strchr(".-+,/_=", s[i]) == NULL || s[i] == '\0')
				return -1;
			if (nd < sizeof(delims) - 1 &&
			    strchr(delims, s[i]) == NULL)
				delims[nd++] = s[i];
			i++;
		}
		if (i >= len)
			return -1;
		i++;		/* '}' */
		if (nd == 0)
			delims[nd++] = '.';
		delims[nd] = '\0';
		if (req != NULL) {
			char v[SPF_EXPAND_MAX];

			macro_value(letter, req, d, v, sizeof(v));
			macro_transform(v, delims, rev, keep, upper, o);
		}
	}
	return o->full ? -1 : 0;
}

/* spf.h */
int
spf_macro_expand(const char *spec, size_t len, const struct spf_request *req,
    const char *d, bool is_domain, char *out, size_t cap)
{
	char buf[SPF_EXPAND_MAX];
	struct out o = { buf, sizeof(buf), 0, false };
	const char *p = buf;
	size_t n;

	if (cap == 0)
		return -1;
	buf[0] = '\0';
	if (expand(spec, len, req, d, &o) != 0)
		return -1;
	n = o.len;
	if (is_domain) {
		/* §7.3: labels removed from the left to fit 253 */
		while (n > 253) {
			const char *dot = memchr(p, '.', n);

			if (dot == NULL)
				return -1;
			n -= (size_t)(dot + 1 - p);
			p = dot + 1;
		}
	}
	if (n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* ---- terms (§4.6, §5, §6) ----------------------------------------------- */

enum term_kind {
	T_ALL, T_INCLUDE, T_A, T_MX, T_PTR, T_IP4, T_IP6, T_EXISTS,
	T_REDIRECT, T_EXP, T_UNKNOWN_MOD,
};

struct term {
	enum term_kind kind;
	enum spf_result qual;
	const char *spec;		/* domain-spec / value; NULL: none */
	size_t spec_len;
	unsigned cidr4, cidr6;
	uint8_t net[16];		/* ip4, ip6 */
};

/* digits of a cidr-length (§5.6) of at most max: its value or -1 */
static int
cidr_len(const char *t, size_t n, unsigned max)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && t[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(t[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

/* ip4/ip6 "ADDR[/LEN]" into the term; -1 if bad */
static int
ip_network(const char *t, size_t len, int af, struct term *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(t, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - t) : len;
	unsigned max = af == AF_INET ? 32 : 128;
	int bits = (int)max;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, t, alen);
	buf[alen] = '\0';
	if (inet_pton(af, buf, out->net) != 1)
		return -1;
	if (slash != NULL &&
	    (bits = cidr_len(slash + 1, len - alen - 1, max)) < 0)
		return -1;
	if (af == AF_INET)
		out->cidr4 = (unsigned)bits;
	else
		out->cidr6 = (unsigned)bits;
	return 0;
}

/* The run of digits ending at n: its start, or n if none. */
static size_t
digits_back(const char *t, size_t n)
{
	while (n > 0 && t[n - 1] >= '0' && t[n - 1] <= '9')
		n--;
	return n;
}

/* [":" domain-spec] [dual-cidr] of a/mx (with_cidr) or ptr */
static int
spec_and_cidr(const char *t, size_t n, bool with_cidr, bool required,
    struct term *out)
{
	out->cidr4 = 32;
	out->cidr6 = 128;
	if (with_cidr) {
		size_t d = digits_back(t, n);
		int v;

		/* "//" ip6-cidr-length at the end */
		if (d < n && d >= 2 && t[d - 1] == '/' && t[d - 2] == '/') {
			if ((v = cidr_len(t + d, n - d, 128)) < 0)
				return -1;
			out->cidr6 = (unsigned)v;
			n = d - 2;
			d = digits_back(t, n);
		}
		/* then "/" ip4-cidr-length */
		if (d < n && d >= 1 && t[d - 1] == '/') {
			if ((v = cidr_len(t + d, n - d, 32)) < 0)
				return -1;
			out->cidr4 = (unsigned)v;
			n = d - 1;
		}
	}
	if (n == 0)
		return required ? -1 : 0;
	if (t[0] != ':' || n == 1)
		return -1;
	out->spec = t + 1;
	out->spec_len = n - 1;
	if (!domain_end_ok(out->spec, out->spec_len))
		return -1;
	{
		struct out dry = { NULL, 0, 0, false };

		return expand(out->spec, out->spec_len, NULL, "", &dry);
	}
}

/* One term (without blanks) into out; -1: outside the grammar. */
static int
parse_term(const char *t, size_t tl, struct term *out)
{
	size_t nl = 0;
	bool qualified = false;

	memset(out, 0, sizeof(*out));
	out->qual = SPF_R_PASS;
	switch (tl > 0 ? t[0] : '\0') {
	case '+': qualified = true; break;
	case '-': out->qual = SPF_R_FAIL; qualified = true; break;
	case '~': out->qual = SPF_R_SOFTFAIL; qualified = true; break;
	case '?': out->qual = SPF_R_NEUTRAL; qualified = true; break;
	default: break;
	}
	if (qualified) {
		t++;
		tl--;
	}
	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
	if (tl == 0 || !((t[0] >= 'a' && t[0] <= 'z') ||
	    (t[0] >= 'A' && t[0] <= 'Z')))
		return -1;
	while (nl < tl && ((t[nl] >= 'a' && t[nl] <= 'z') ||
	    (t[nl] >= 'A' && t[nl] <= 'Z') || (t[nl] >= '0' && t[nl] <= '9') ||
	    t[nl] == '-' || t[nl] == '_' || t[nl] == '.'))
		nl++;
	if (nl < tl && t[nl] == '=') {
		struct out dry = { NULL, 0, 0, false };

		if (qualified)
			return -1;
		out->spec = t + nl + 1;
		out->spec_len = tl - nl - 1;
		if (nl == 8 && strncasecmp(t, "redirect", 8) == 0) {
			out->kind = T_REDIRECT;
			if (!domain_end_ok(out->spec, out->spec_len))
				return -1;
		} else if (nl == 3 && strncasecmp(t, "exp", 3) == 0) {
			out->kind = T_EXP;
			if (!domain_end_ok(out->spec, out->spec_len))
				return -1;
		} else
			out->kind = T_UNKNOWN_MOD;
		return expand(out->spec, out->spec_len, NULL, "", &dry);
	}
#define IS(w) (nl == sizeof(w) - 1 && strncasecmp(t, w, nl) == 0)
	if (IS("all")) {
		out->kind = T_ALL;
		return nl == tl ? 0 : -1;
	}
	if (IS("ip4") || IS("ip6")) {
		out->kind = IS("ip4") ? T_IP4 : T_IP6;
		if (nl + 1 >= tl || t[nl] != ':')
			return -1;
		return ip_network(t + nl + 1, tl - nl - 1,
		    out->kind == T_IP4 ? AF_INET : AF_INET6, out);
	}
	if (IS("a") || IS("mx")) {
		out->kind = IS("a") ? T_A : T_MX;
		return spec_and_cidr(t + nl, tl - nl, true, false, out);
	}
	if (IS("ptr")) {
		out->kind = T_PTR;
		return spec_and_cidr(t + nl, tl - nl, false, false, out);
	}
	if (IS("include") || IS("exists")) {
		out->kind = IS("include") ? T_INCLUDE : T_EXISTS;
		return spec_and_cidr(t + nl, tl - nl, false, true, out);
	}
#undef IS
	return -1;		/* §4.6: an unknown mechanism */
}

/* ---- check_host() (§4) -------------------------------------------------- */

struct eval {
	const struct spf_dns *c;
	const struct spf_request *req;
	bool v4;
	uint8_t ip[16];
	unsigned terms, voids;
	struct spf_query *need;
};

/* Whether the first bits of a and b agree. */
static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (a[full] & mask) == (b[full] & mask);
}

/*
 * The answer to (name, type): 0 and *e, or the result to stop with:
 * NEEDS_LOOKUP (*ev->need set) or TEMPERROR (a DNS failure).
 */
static int
ask(struct eval *ev, const char *name, uint16_t type,
    const struct spf_dns_entry **e)
{
	*e = dns_find(ev->c, name, type);
	if (*e == NULL) {
		if (ev->need != NULL) {
			ev->need->type = type;
			if (!name_norm(name, ev->need->name))
				return SPF_R_PERMERROR;
		}
		return SPF_R_NEEDS_LOOKUP;
	}
	if ((*e)->status == SPF_DNS_FAIL)
		return SPF_R_TEMPERROR;
	return 0;
}

/* A void lookup (§4.6.4): true when the limit is now exceeded. */
static bool
void_lookup(struct eval *ev, const struct spf_dns_entry *e)
{
	if (e->status != SPF_DNS_NXDOMAIN && e->n > 0)
		return false;
	return ++ev->voids > SPF_VOID_MAX;
}

/* Whether an address answer (A or AAAA) holds the address. */
static bool
addr_match(const struct eval *ev, const struct spf_dns_entry *e,
    const struct term *t)
{
	size_t want = ev->v4 ? 4 : 16;

	for (size_t i = 0; i < e->n; i++)
		if (e->lens[i] == want && prefix_match(e->items[i], ev->ip,
		    ev->v4 ? t->cidr4 : t->cidr6))
			return true;
	return false;
}

/* The target domain of a term: its expanded domain-spec or d. 0, or -1:
 * not a name to ask (no match). */
static int
target(const struct eval *ev, const struct term *t, const char *d,
    char out[SPF_NAME_MAX])
{
	if (t->spec == NULL) {
		snprintf(out, SPF_NAME_MAX, "%s", d);
		return 0;
	}
	if (spf_macro_expand(t->spec, t->spec_len, ev->req, d, true, out,
	    SPF_NAME_MAX) != 0 || !name_ok(out, false))
		return -1;
	return 0;
}

static enum spf_result check_host(struct eval *ev, const char *domain,
    unsigned depth);

/* a, mx: 1 match, 0 no, or a result to stop with (negative of it) */
static int
mech_a_mx(struct eval *ev, const struct term *t, const char *name)
{
	const struct spf_dns_entry *e, *ae;
	uint16_t atype = ev->v4 ? DNS_TYPE_A : DNS_TYPE_AAAA;
	int rc;

	if (t->kind == T_A) {
		if ((rc = ask(ev, name, atype, &e)) != 0)
			return -rc;
		if (void_lookup(ev, e))
			return -SPF_R_PERMERROR;
		return addr_match(ev, e, t) ? 1 : 0;
	}
	if ((rc = ask(ev, name, DNS_TYPE_MX, &e)) != 0)
		return -rc;
	if (void_lookup(ev, e))
		return -SPF_R_PERMERROR;
	if (e->status != SPF_DNS_OK)
		return 0;
	if (e->n > SPF_MX_NAMES_MAX)
		return -SPF_R_PERMERROR;	/* §4.6.4 */
	for (size_t i = 0; i < e->n; i++) {
		const char *mx = (const char *)e->items[i];

		/* RFC 7505's null MX "." (stored as "") names no host */
		if (!name_ok(mx, false))
			continue;
		if ((rc = ask(ev, mx, atype, &ae)) != 0)
			return -rc;
		if (ae->status == SPF_DNS_OK && addr_match(ev, ae, t))
			return 1;
	}
	return 0;
}

/* RFC 7208 §4.5: "v=spf1" then a space or the end, in any case */
static bool
is_spf(const char *t, size_t n)
{
	return n >= 6 && strncasecmp(t, "v=spf1", 6) == 0 &&
	    (n == 6 || t[6] == ' ');
}

/* §4.6-§4.7 over one record's text for domain d */
/* The next blank-separated term of rec from *pos: its start and length;
 * false at the end. */
static bool
next_term(const char *rec, size_t len, size_t *pos, size_t *start,
    size_t *tlen)
{
	while (*pos < len && rec[*pos] == ' ')
		(*pos)++;
	if (*pos == len)
		return false;
	*start = *pos;
	while (*pos < len && rec[*pos] != ' ')
		(*pos)++;
	*tlen = *pos - *start;
	return true;
}

static enum spf_result
check_record(struct eval *ev, const char *rec, size_t len, const char *d,
    unsigned depth)
{
	const struct term *redirect = NULL;
	struct term t, redir;
	unsigned n_redirect = 0, n_exp = 0;
	size_t pos, start, tlen;

	/* §4.6: a syntax error anywhere is a permerror before anything is
	 * evaluated; redirect= and exp= at most once each (§6) */
	for (pos = 6; next_term(rec, len, &pos, &start, &tlen);) {
		if (parse_term(rec + start, tlen, &t) != 0)
			return SPF_R_PERMERROR;
		if (t.kind == T_REDIRECT) {
			redir = t;
			redirect = &redir;
			n_redirect++;
		} else if (t.kind == T_EXP)
			n_exp++;
	}
	if (n_redirect > 1 || n_exp > 1)
		return SPF_R_PERMERROR;
	for (pos = 6; next_term(rec, len, &pos, &start, &tlen);) {
		char name[SPF_NAME_MAX];
		const struct spf_dns_entry *e;
		int m = 0, rc;

		(void)parse_term(rec + start, tlen, &t);
		switch (t.kind) {
		case T_ALL:
			return t.qual;
		case T_IP4:
			m = ev->v4 && prefix_match(t.net, ev->ip, t.cidr4);
			break;
		case T_IP6:
			m = !ev->v4 && prefix_match(t.net, ev->ip, t.cidr6);
			break;
		case T_A:
		case T_MX:
		case T_PTR:
		case T_EXISTS:
		case T_INCLUDE:
			if (++ev->terms > SPF_TERMS_MAX)
				return SPF_R_PERMERROR;
			if (t.kind == T_PTR)
				break;	/* never matches: spf.h */
			if (target(ev, &t, d, name) != 0) {
				/* not a name: include finds no record */
				if (t.kind == T_INCLUDE)
					return SPF_R_PERMERROR;
				break;
			}
			if (t.kind == T_INCLUDE) {
				enum spf_result r = check_host(ev, name,
				    depth + 1);

				/* §5.2's table */
				if (r == SPF_R_PASS)
					m = 1;
				else if (r == SPF_R_NEEDS_LOOKUP ||
				    r == SPF_R_TEMPERROR)
					return r;
				else if (r == SPF_R_PERMERROR ||
				    r == SPF_R_NONE)
					return SPF_R_PERMERROR;
				break;
			}
			if (t.kind == T_EXISTS) {
				/* §5.7: always an A query */
				if ((rc = ask(ev, name, DNS_TYPE_A, &e)) != 0)
					return (enum spf_result)rc;
				if (void_lookup(ev, e))
					return SPF_R_PERMERROR;
				m = e->status == SPF_DNS_OK && e->n > 0;
				break;
			}
			if ((m = mech_a_mx(ev, &t, name)) < 0)
				return (enum spf_result)-m;
			break;
		default:
			break;		/* modifiers */
		}
		if (m)
			return t.qual;
	}
	if (redirect != NULL) {
		char name[SPF_NAME_MAX];
		enum spf_result r;

		/* §6.1: only without an "all"; counts as a DNS term */
		if (++ev->terms > SPF_TERMS_MAX)
			return SPF_R_PERMERROR;
		if (target(ev, redirect, d, name) != 0)
			return SPF_R_PERMERROR;
		r = check_host(ev, name, depth + 1);
		return r == SPF_R_NONE ? SPF_R_PERMERROR : r;
	}
	return SPF_R_NEUTRAL;
}

static enum spf_result
check_host(struct eval *ev, const char *domain, unsigned depth)
{
	const struct spf_dns_entry *e;
	const char *rec = NULL;
	size_t len = 0, count = 0;
	int rc;

	/* §4.3: a malformed or single-label domain has no record */
	if (depth > SPF_TERMS_MAX + 1 || !name_ok(domain, true))
		return SPF_R_NONE;
	if ((rc = ask(ev, domain, DNS_TYPE_TXT, &e)) != 0)
		return (enum spf_result)rc;
	/* an include's or redirect's query is a DNS term's (§4.6.4) */
	if (depth > 0 && void_lookup(ev, e))
		return SPF_R_PERMERROR;
	if (e->status != SPF_DNS_OK)
		return SPF_R_NONE;
	for (size_t i = 0; i < e->n; i++)
		if (is_spf((const char *)e->items[i], e->lens[i])) {
			rec = (const char *)e->items[i];
			len = e->lens[i];
			count++;
		}
	if (count == 0)
		return SPF_R_NONE;
	if (count > 1)
		return SPF_R_PERMERROR;	/* §4.5 */
	return check_record(ev, rec, len, domain, depth);
}

/* Fills ev's address; false for another family. */
static bool
eval_init(struct eval *ev, const struct spf_request *req)
{
	const struct sockaddr *sa = req->addr;

	memset(ev, 0, sizeof(*ev));
	ev->req = req;
	if (sa->sa_family == AF_INET) {
		memcpy(ev->ip, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		ev->v4 = true;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		memcpy(ev->ip, in6, 16);
		/* §5: a v4-mapped address is the IPv4 address */
		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			memmove(ev->ip, ev->ip + 12, 4);
			ev->v4 = true;
		}
	} else
		return false;
	return true;
}

/* spf.h */
enum spf_result
spf_eval(const struct spf_dns *c, const struct spf_request *req,
    struct spf_query *need)
{
	struct eval ev;

	if (!eval_init(&ev, req))
		return SPF_R_PERMERROR;
	ev.c = c;
	ev.need = need;
	return check_host(&ev, req->domain, 0);
}

/* spf.h */
enum spf_result
spf_check_static(const char *rec, size_t len, const struct sockaddr *sa)
{
	struct spf_request req = { sa, "domain.invalid", NULL, NULL };
	struct eval ev;

	if (!eval_init(&ev, &req))
		return SPF_R_PERMERROR;
	if (!is_spf(rec, len))
		return SPF_R_NONE;
	return check_record(&ev, rec, len, req.domain, 0);
}

/* spf.h */
const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = {
		"none", "neutral", "pass", "fail", "softfail", "permerror",
		"needs-lookup", "temperror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ?
	    names[r] : "?";
}
