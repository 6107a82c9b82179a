/*
 * dest.c - the RFC 7672 destination: which MX hosts, their addresses and
 * TLSA records, and the TLS each one requires (see dest.h). The decision,
 * dest_evaluate(), is pure; the driver below runs it over lookups on the
 * resolver's event base until it has every answer it asked for, and backs
 * danegate_destination_lookup(), danegate_host_lookup() and
 * danegate_destination_lookup_async().
 *
 * The rules, in the order they are applied (DESIGN.md "SMTP DANE rules",
 * Postfix's dane_init() and tls_dane_resolve() as the model):
 *
 *   MX bogus or indeterminate      defer the domain (dnssec-invalid)
 *   MX NXDOMAIN                    defer (no-address): no such domain
 *   MX NODATA                      implicit MX: the domain, preference 0
 *   MX = one record "N ."          no mail (null-mx, RFC 7505)
 *   MX insecure                    each host checked; DANE "trusted"
 *   per host, A + AAAA:
 *     bogus or indeterminate       defer the host (dnssec-invalid)
 *     no addresses                 defer the host (no-address)
 *     insecure, no CNAME           may (insecure-address), no TLSA lookup
 *     insecure behind a CNAME      CNAME query for the original name:
 *                                  failed or no CNAME: defer (dnssec-
 *                                  invalid); insecure: may (insecure-
 *                                  address); secure: TLSA at
 *                                  _PORT._tcp.<original name> only
 *     secure                       TLSA at _PORT._tcp.<expanded name>,
 *                                  then at the original name
 *   per host, TLSA:
 *     bogus or indeterminate       defer the host (dnssec-invalid)
 *     insecure                     may (insecure-tlsa)
 *     secure denial                may (no-tlsa)
 *     secure, none usable          encrypt (tlsa-unusable)
 *     secure, some usable          dane
 *   destination                    the first host in MX order that is not
 *                                  deferred; defer if all are
 *
 * SECURITY: reads DNS records (validated by libunbound, otherwise
 * untrusted) through a bounded cursor; names are checked label by label
 * before they are turned into text. No I/O in the decision itself.
 *
 * Ownership: a destination and everything in it come from one
 * dest_evaluate() and go with danegate_destination_free(). A lookup in
 * flight (struct dest_job) is attached to its resolver: freeing the
 * resolver cancels it without calling back.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "internal.h"
#include "dname.h"
#include "wire.h"
#include "dest.h"
#include "resolver.h"

#define NAME_TEXT_MAX	253		/* without the trailing dot */

static void why_set(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_set(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* Appends to a why that may already be full (then silently truncated). */
static void why_add(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_add(char *why, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(why);
	va_list ap;

	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why + n, cap - n, fmt, ap);
	va_end(ap);
}

/*
 * Checks a name given by the caller and copies it without a trailing dot:
 * printable ASCII, no blanks, no empty label, at most 253 characters.
 */
static int
dest_name_normalize(const char *in, char *out, size_t cap)
{
	size_t len;

	if (in == NULL)
		return DANEGATE_E_INVALID;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_TEXT_MAX || len >= cap)
		return DANEGATE_E_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c <= ' ' || c >= 0x7f)
			return DANEGATE_E_INVALID;
		/* an empty label: leading dot or two in a row (an escaped
		 * dot, "\.", is fine) */
		if (c == '.' && (i == 0 || (in[i - 1] == '.' &&
		    (i < 2 || in[i - 2] != '\\'))))
			return DANEGATE_E_INVALID;
	}
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

/* ---- the decision ------------------------------------------------------ */

struct eval {
	dest_get_fn *get;
	void *arg;
	uint16_t port;
	bool pending;
	uint32_t ttl;			/* the smallest of the answers' */
};

/* Every answer the decision reads is one it rests on: its TTL bounds the
 * destination's. */
static const struct lookup_answer *
eval_get(struct eval *e, const char *name, uint16_t type)
{
	const struct lookup_answer *a = e->get(e->arg, name, type);

	if (a == NULL)
		e->pending = true;
	else if (a->ttl < e->ttl)
		e->ttl = a->ttl;
	return a;
}

static bool
answer_failed(const struct lookup_answer *a)
{
	return a->state == DANEGATE_BOGUS ||
	    a->state == DANEGATE_INDETERMINATE;
}

/* The worse of two states: bogus, indeterminate, insecure, secure. */
static enum danegate_dnssec
state_worst(enum danegate_dnssec a, enum danegate_dnssec b)
{
	static const int rank[] = {
		[DANEGATE_SECURE] = 0,
		[DANEGATE_INSECURE] = 1,
		[DANEGATE_INDETERMINATE] = 2,
		[DANEGATE_BOGUS] = 3,
	};

	return rank[b] > rank[a] ? b : a;
}

static const char *
type_name(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_MX:
		return "MX";
	case DNS_TYPE_TLSA:
		return "TLSA";
	default:
		return "?";
	}
}

/* "bogus: <why>" or "indeterminate: <why>" */
static void
why_failed(char *why, size_t cap, const char *what,
    const struct lookup_answer *a)
{
	why_set(why, cap, "%s is %s%s%s", what, danegate_dnssec_name(a->state),
	    a->why[0] != '\0' ? ": " : "", a->why);
}

static void
host_defer(struct danegate_mx_host *h, enum danegate_reason reason)
{
	h->policy = DANEGATE_POLICY_DEFER;
	h->reason = reason;
}

static int
host_addresses(struct danegate_mx_host *h, const struct lookup_answer *a4,
    const struct lookup_answer *a6, uint16_t port)
{
	size_t n = a4->n_rrs + a6->n_rrs, k = 0;

	if (n == 0)
		return 0;
	if ((h->addresses = calloc(n, sizeof(*h->addresses))) == NULL)
		return DANEGATE_E_NOMEM;
	for (size_t i = 0; i < a4->n_rrs; i++) {
		struct danegate_address *d = &h->addresses[k];
		struct sockaddr_in *sin = (struct sockaddr_in *)&d->ss;

		if (a4->rrs[i].len != 4)	/* not an A record */
			continue;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a4->rrs[i].data, 4);
		d->len = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, d->text, sizeof(d->text));
		k++;
	}
	for (size_t i = 0; i < a6->n_rrs; i++) {
		struct danegate_address *d = &h->addresses[k];
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->ss;

		if (a6->rrs[i].len != 16)
			continue;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a6->rrs[i].data, 16);
		d->len = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, d->text,
		    sizeof(d->text));
		k++;
	}
	h->n_addresses = k;
	return 0;
}

/* Parses a secure TLSA RRset into h: records that do not parse at all
 * are left out, like Postfix drops malformed ones. */
static int
host_tlsa_records(struct danegate_mx_host *h, const struct lookup_answer *t,
    size_t *usable)
{
	*usable = 0;
	if (t->n_rrs == 0)
		return 0;
	if ((h->tlsa = calloc(t->n_rrs, sizeof(*h->tlsa))) == NULL)
		return DANEGATE_E_NOMEM;
	for (size_t i = 0; i < t->n_rrs; i++) {
		struct danegate_tlsa *rec = &h->tlsa[h->n_tlsa];
		int rc = danegate_tlsa_from_wire(t->rrs[i].data,
		    t->rrs[i].len, rec);

		if (rc == DANEGATE_E_NOMEM)
			return rc;
		if (rc != 0)
			continue;
		if (rec->usability == DANEGATE_TLSA_USABLE)
			(*usable)++;
		h->n_tlsa++;
	}
	return 0;
}

/* "_25._tcp.<base>", or -1 if that is longer than a name may be. */
static int
tlsa_qname(char *out, size_t cap, uint16_t port, const char *base)
{
	char prefix[16];
	int n = snprintf(prefix, sizeof(prefix), "_%u._tcp.", port);
	size_t len = strlen(base);

	if (n < 0 || (size_t)n + len > NAME_TEXT_MAX || (size_t)n + len >= cap)
		return -1;
	memcpy(out, prefix, (size_t)n);
	memcpy(out + n, base, len + 1);
	return 0;
}

/*
 * The TLSA half of one host: with secure addresses the CNAME-expanded
 * name first, then the original; with alias_only (addresses insecure
 * behind a secure CNAME, see host_alias()) only the original name.
 */
static int
host_tlsa(struct eval *e, struct danegate_mx_host *h, bool alias_only)
{
	char qname[DANEGATE_NAME_MAX];
	const struct lookup_answer *t;
	const char *base;
	size_t usable;
	int rc;

	/* RFC 7672 §2.2.2: the CNAME-expanded name first, when the whole
	 * expansion is secure */
	base = !alias_only && h->expanded[0] != '\0' ? h->expanded : h->name;
	if (tlsa_qname(qname, sizeof(qname), e->port, base) != 0) {
		h->tlsa_looked_up = true;
		h->tlsa_state = DANEGATE_INDETERMINATE;
		host_defer(h, DANEGATE_R_DNSSEC_INVALID);
		why_set(h->why, sizeof(h->why), "the TLSA name for %s is too "
		    "long to look up: host skipped", base);
		return 0;
	}
	if ((t = eval_get(e, qname, DNS_TYPE_TLSA)) == NULL)
		return 0;
	/*
	 * Nothing usable at the expanded name (secure denial, or an
	 * insecure answer): try the name from the MX record. A failed
	 * lookup is not "nothing": it defers, as in Postfix.
	 */
	if (base != h->name && !answer_failed(t) &&
	    (t->state != DANEGATE_SECURE || t->n_rrs == 0)) {
		base = h->name;
		if (tlsa_qname(qname, sizeof(qname), e->port, base) == 0) {
			if ((t = eval_get(e, qname, DNS_TYPE_TLSA)) == NULL)
				return 0;
		} else
			base = h->expanded;
	}
	h->tlsa_looked_up = true;
	h->tlsa_state = t->state;
	snprintf(h->tlsa_base, sizeof(h->tlsa_base), "%s", base);
	(void)tlsa_qname(qname, sizeof(qname), e->port, base);

	if (answer_failed(t)) {
		host_defer(h, DANEGATE_R_DNSSEC_INVALID);
		why_failed(h->why, sizeof(h->why), "the TLSA lookup", t);
		why_add(h->why, sizeof(h->why), " (%s): host skipped", qname);
		return 0;
	}
	if (t->state == DANEGATE_INSECURE) {
		h->policy = DANEGATE_POLICY_MAY;
		h->reason = DANEGATE_R_INSECURE_TLSA;
		why_set(h->why, sizeof(h->why), "%s is not DNSSEC-signed: "
		    "opportunistic TLS", qname);
		return 0;
	}
	if (t->n_rrs == 0) {
		h->policy = DANEGATE_POLICY_MAY;
		h->reason = DANEGATE_R_NO_TLSA;
		why_set(h->why, sizeof(h->why), "no TLSA records at %s "
		    "(secure %s): opportunistic TLS", qname,
		    t->nxdomain ? "NXDOMAIN" : "NODATA");
		return 0;
	}
	if ((rc = host_tlsa_records(h, t, &usable)) != 0)
		return rc;
	if (usable == 0) {
		/* RFC 7672 §2.2: secure TLSA, none usable: TLS is still
		 * mandatory, only unauthenticated */
		h->policy = DANEGATE_POLICY_ENCRYPT;
		h->reason = DANEGATE_R_TLSA_UNUSABLE;
		why_set(h->why, sizeof(h->why), "%zu TLSA record%s at %s, none "
		    "usable: TLS required, not authenticated", t->n_rrs,
		    t->n_rrs == 1 ? "" : "s", qname);
		return 0;
	}
	h->policy = DANEGATE_POLICY_DANE;
	h->reason = DANEGATE_R_NONE;
	why_set(h->why, sizeof(h->why), "%zu of %zu TLSA records at %s usable: "
	    "DANE", usable, t->n_rrs, qname);
	if (alias_only)
		why_add(h->why, sizeof(h->why), " (%s is a secure CNAME; the "
		    "addresses of %s are not signed)", h->name, h->expanded);
	if (h->trusted_only)
		why_add(h->why, sizeof(h->why), " (insecure MX RRset: a match "
		    "is trusted, not verified)");
	return 0;
}

/*
 * A CNAME answer for the host's own name: the chain's first link. The
 * packet reader follows CNAMEs from the question, so for a CNAME query
 * it may report the link as the canonical name rather than as a record:
 * either counts.
 */
static bool
answer_is_cname(const struct lookup_answer *c)
{
	return c->n_rrs > 0 || c->canonname[0] != '\0';
}

/*
 * A host whose addresses are insecure because its CNAME chain leaves
 * signed space. RFC 7672 §2.2.2: the TLSA base is then the original
 * name, if that name's own CNAME record is secure; the expanded name is
 * never used. Postfix (tls_dane_resolve(), qname_secure()) decides this
 * with a validated CNAME query for the original name and defers when
 * that query fails or finds no CNAME any more; so does this.
 */
static int
host_alias(struct eval *e, struct danegate_mx_host *h)
{
	const struct lookup_answer *c;
	char what[DANEGATE_NAME_MAX + 32];

	if ((c = eval_get(e, h->name, DNS_TYPE_CNAME)) == NULL)
		return 0;
	if (answer_failed(c)) {
		host_defer(h, DANEGATE_R_DNSSEC_INVALID);
		snprintf(what, sizeof(what), "the CNAME lookup for %s",
		    h->name);
		why_failed(h->why, sizeof(h->why), what, c);
		why_add(h->why, sizeof(h->why), ": host skipped");
		return 0;
	}
	if (!answer_is_cname(c)) {
		/* the A/AAAA answers said CNAME, this one does not: the
		 * zone changed in between; try again later */
		host_defer(h, DANEGATE_R_DNSSEC_INVALID);
		why_set(h->why, sizeof(h->why), "%s is no longer a CNAME (%s "
		    "%s): DNSSEC status unknown, host skipped", h->name,
		    danegate_dnssec_name(c->state), c->nxdomain ? "NXDOMAIN" :
		    "NODATA");
		return 0;
	}
	if (c->state != DANEGATE_SECURE) {
		h->policy = DANEGATE_POLICY_MAY;
		h->reason = DANEGATE_R_INSECURE_ADDRESS;
		why_set(h->why, sizeof(h->why), "the addresses of %s and its "
		    "CNAME to %s are not DNSSEC-signed: no TLSA lookup, "
		    "opportunistic TLS", h->name, h->expanded);
		return 0;
	}
	return host_tlsa(e, h, true);
}

/* One host: its addresses, then (if secure) its TLSA records. */
static int
host_evaluate(struct eval *e, struct danegate_mx_host *h)
{
	const struct lookup_answer *a4, *a6, *bad;
	char what[DANEGATE_NAME_MAX + 32];
	int rc;

	/* both asked for before either is looked at: they run together */
	a4 = eval_get(e, h->name, DNS_TYPE_A);
	a6 = eval_get(e, h->name, DNS_TYPE_AAAA);
	if (a4 == NULL || a6 == NULL)
		return 0;

	h->address_state = state_worst(a4->state, a6->state);
	if (a4->canonname[0] != '\0' &&
	    strcasecmp(a4->canonname, h->name) != 0)
		snprintf(h->expanded, sizeof(h->expanded), "%s", a4->canonname);
	else if (a6->canonname[0] != '\0' &&
	    strcasecmp(a6->canonname, h->name) != 0)
		snprintf(h->expanded, sizeof(h->expanded), "%s", a6->canonname);

	/* A bogus or failed family is not "no such records": defer. */
	if (answer_failed(a4) || answer_failed(a6)) {
		bad = a4->state == h->address_state ? a4 : a6;
		snprintf(what, sizeof(what), "the %s lookup for %s",
		    type_name(bad->type), h->name);
		host_defer(h, DANEGATE_R_DNSSEC_INVALID);
		why_failed(h->why, sizeof(h->why), what, bad);
		why_add(h->why, sizeof(h->why), ": host skipped");
		return 0;
	}
	if ((rc = host_addresses(h, a4, a6, e->port)) != 0)
		return rc;
	if (h->n_addresses == 0) {
		host_defer(h, DANEGATE_R_NO_ADDRESS);
		if (a4->nxdomain)
			why_set(h->why, sizeof(h->why), "%s does not exist",
			    h->name);
		else
			why_set(h->why, sizeof(h->why), "%s has no A or AAAA "
			    "records", h->name);
		return 0;
	}
	/* RFC 7672 §2.2.2: TLSA only where the addresses are secure, or
	 * at the original name when its CNAME is (host_alias()) */
	if (h->address_state != DANEGATE_SECURE) {
		if (h->expanded[0] != '\0')
			return host_alias(e, h);
		h->policy = DANEGATE_POLICY_MAY;
		h->reason = DANEGATE_R_INSECURE_ADDRESS;
		why_set(h->why, sizeof(h->why), "the addresses of %s are not "
		    "DNSSEC-signed: no TLSA lookup, opportunistic TLS",
		    h->name);
		return 0;
	}
	return host_tlsa(e, h, false);
}

struct mx_entry {
	uint16_t preference;
	size_t index;			/* in the RRset: keeps the sort stable */
	char name[DANEGATE_NAME_MAX];
};

static int
mx_entry_cmp(const void *pa, const void *pb)
{
	const struct mx_entry *a = pa, *b = pb;

	if (a->preference != b->preference)
		return a->preference < b->preference ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static void
dest_defer(struct danegate_destination *d, enum danegate_reason reason)
{
	d->policy = DANEGATE_POLICY_DEFER;
	d->reason = reason;
}

/*
 * Turns the MX answer into d->hosts, or decides the destination without
 * any host (failure, NXDOMAIN, null MX). *decided says which.
 */
static int
dest_mx(struct danegate_destination *d, const struct lookup_answer *mx,
    bool *decided, size_t *dropped)
{
	char what[DANEGATE_NAME_MAX + 32];
	struct mx_entry *e;
	size_t n = 0, k = 0, roots = 0;

	*decided = true;
	*dropped = 0;
	d->mx_state = mx->state;
	if (answer_failed(mx)) {
		dest_defer(d, DANEGATE_R_DNSSEC_INVALID);
		snprintf(what, sizeof(what), "the MX lookup for %s", d->domain);
		why_failed(d->why, sizeof(d->why), what, mx);
		return 0;
	}
	if (mx->nxdomain) {
		/* permanent in Postfix (a bounce); the API has no such
		 * policy: defer, and say so */
		dest_defer(d, DANEGATE_R_NO_ADDRESS);
		why_set(d->why, sizeof(d->why), "domain %s does not exist "
		    "(%s NXDOMAIN)", d->domain, danegate_dnssec_name(mx->state));
		return 0;
	}
	if (mx->n_rrs == 0) {
		/* RFC 5321 §5.1: no MX, the domain is its own mail host */
		if ((d->hosts = calloc(1, sizeof(*d->hosts))) == NULL)
			return DANEGATE_E_NOMEM;
		d->implicit_mx = true;
		d->n_hosts = 1;
		snprintf(d->hosts[0].name, sizeof(d->hosts[0].name), "%s",
		    d->domain);
		*decided = false;
		return 0;
	}
	if ((e = calloc(mx->n_rrs, sizeof(*e))) == NULL)
		return DANEGATE_E_NOMEM;
	for (size_t i = 0; i < mx->n_rrs; i++) {
		struct wire w;
		const uint8_t *name;

		wire_init(&w, mx->rrs[i].data, mx->rrs[i].len);
		e[n].preference = wire_u16(&w);
		e[n].index = i;
		name = wire_take(&w, wire_left(&w));
		if (!wire_ok(&w) || name == NULL ||
		    dname_to_text(name, mx->rrs[i].len - 2u, true, e[n].name,
		    sizeof(e[n].name)) != 0) {
			(*dropped)++;
			continue;
		}
		if (strcmp(e[n].name, ".") == 0) {
			roots++;
			continue;
		}
		n++;
	}
	/* RFC 7505: a lone "." is a null MX. Among other records a "."
	 * is no host at all and is left out. */
	if (mx->n_rrs == 1 && roots == 1) {
		free(e);
		d->null_mx = true;
		d->policy = DANEGATE_POLICY_NO_MAIL;
		d->reason = DANEGATE_R_NULL_MX;
		why_set(d->why, sizeof(d->why), "%s does not accept mail "
		    "(null MX, RFC 7505)", d->domain);
		return 0;
	}
	qsort(e, n, sizeof(*e), mx_entry_cmp);
	if ((d->hosts = calloc(n > 0 ? n : 1, sizeof(*d->hosts))) == NULL) {
		free(e);
		return DANEGATE_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		/* a name listed twice is looked at once, at its lowest
		 * preference */
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcasecmp(d->hosts[j].name, e[i].name) == 0;
		if (dup)
			continue;
		if (k == DEST_MAX_HOSTS) {
			(*dropped)++;
			continue;
		}
		snprintf(d->hosts[k].name, sizeof(d->hosts[k].name), "%s",
		    e[i].name);
		d->hosts[k].preference = e[i].preference;
		k++;
	}
	free(e);
	d->n_hosts = k;
	if (k == 0) {
		dest_defer(d, DANEGATE_R_NO_ADDRESS);
		why_set(d->why, sizeof(d->why), "the MX RRset of %s names no "
		    "usable host", d->domain);
		return 0;
	}
	*decided = false;
	return 0;
}

/* The destination's verdict from its hosts'. */
static void
dest_summarise(struct danegate_destination *d, size_t dropped)
{
	const struct danegate_mx_host *first = NULL;
	bool dnssec_invalid = false;

	for (size_t i = 0; i < d->n_hosts && first == NULL; i++)
		if (d->hosts[i].policy != DANEGATE_POLICY_DEFER)
			first = &d->hosts[i];
	if (first != NULL) {
		d->policy = first->policy;
		d->reason = first->reason;
		why_set(d->why, sizeof(d->why), "%s%s (preference %u): %s",
		    d->implicit_mx ? "no MX records, the domain itself: " : "",
		    first->name, first->preference, first->why);
	} else {
		for (size_t i = 0; i < d->n_hosts; i++)
			if (d->hosts[i].reason == DANEGATE_R_DNSSEC_INVALID)
				dnssec_invalid = true;
		dest_defer(d, dnssec_invalid ? DANEGATE_R_DNSSEC_INVALID :
		    d->hosts[0].reason);
		if (d->n_hosts == 1)
			why_set(d->why, sizeof(d->why), "%s", d->hosts[0].why);
		else {
			why_set(d->why, sizeof(d->why), "all %zu MX hosts "
			    "deferred:", d->n_hosts);
			for (size_t i = 0; i < d->n_hosts; i++)
				why_add(d->why, sizeof(d->why), "%s %s (%s)",
				    i > 0 ? "," : "", d->hosts[i].name,
				    danegate_reason_name(d->hosts[i].reason));
		}
	}
	if (dropped > 0)
		why_add(d->why, sizeof(d->why), "; %zu more MX record%s not "
		    "used", dropped, dropped == 1 ? "" : "s");
}

int
dest_evaluate(const char *domain, uint16_t port, bool host_only,
    dest_get_fn *get, void *arg, struct danegate_destination **out)
{
	struct eval e = { get, arg, port, false, UINT32_MAX };
	struct danegate_destination *d;
	const struct lookup_answer *mx;
	size_t dropped = 0;
	bool decided = false;
	int rc = 0;

	*out = NULL;
	if (port == 0 || get == NULL)
		return DANEGATE_E_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return DANEGATE_E_NOMEM;
	if ((rc = dest_name_normalize(domain, d->domain,
	    sizeof(d->domain))) != 0)
		goto fail;
	d->port = port;

	if (host_only) {
		/* the caller named the host: authentic by definition */
		if ((d->hosts = calloc(1, sizeof(*d->hosts))) == NULL) {
			rc = DANEGATE_E_NOMEM;
			goto fail;
		}
		d->mx_state = DANEGATE_SECURE;
		d->implicit_mx = true;
		d->n_hosts = 1;
		snprintf(d->hosts[0].name, sizeof(d->hosts[0].name), "%s",
		    d->domain);
	} else {
		if ((mx = eval_get(&e, d->domain, DNS_TYPE_MX)) == NULL) {
			rc = DEST_PENDING;
			goto fail;
		}
		if ((rc = dest_mx(d, mx, &decided, &dropped)) != 0)
			goto fail;
		if (decided) {
			d->ttl = e.ttl;
			*out = d;
			return 0;
		}
	}

	for (size_t i = 0; i < d->n_hosts; i++) {
		struct danegate_mx_host *h = &d->hosts[i];

		/*
		 * RFC 7672 §2.2.1: a host named by an insecure MX RRset
		 * still gets DANE from its own secure records, but the
		 * name could have been forged: a match only "trusts". The
		 * implicit MX is the domain itself, named by the caller.
		 */
		h->trusted_only = !d->implicit_mx &&
		    d->mx_state != DANEGATE_SECURE;
		h->tlsa_state = DANEGATE_INDETERMINATE;
		if ((rc = host_evaluate(&e, h)) != 0)
			goto fail;
	}
	if (e.pending) {
		rc = DEST_PENDING;
		goto fail;
	}
	dest_summarise(d, dropped);
	d->ttl = e.ttl == UINT32_MAX ? 0 : e.ttl;	/* host_only, no address
							 * lookup: impossible */
	*out = d;
	return 0;
fail:
	danegate_destination_free(d);
	return rc;
}

DANEGATE_EXPORT void
danegate_destination_free(struct danegate_destination *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct danegate_mx_host *h = &d->hosts[i];

		for (size_t j = 0; j < h->n_tlsa; j++)
			danegate_tlsa_clear(&h->tlsa[j]);
		free(h->tlsa);
		free(h->addresses);
	}
	free(d->hosts);
	free(d);
}

/* ---- the driver -------------------------------------------------------- */

enum memo_state { MEMO_NEW, MEMO_INFLIGHT, MEMO_DONE };

/* One lookup of a job: asked for by dest_evaluate(), then in flight, then
 * answered. The resolver's callback holds a pointer to it. */
struct dest_memo {
	struct dest_memo *next;
	struct dest_job *job;
	char name[DANEGATE_NAME_MAX];
	uint16_t type;
	enum memo_state state;
	struct lookup_answer ans;
};

struct dest_job {
	struct resolver_owner owner;	/* first: the resolver's handle */
	struct danegate_resolver *r;
	char domain[DANEGATE_NAME_MAX];
	uint16_t port;
	bool host_only;
	struct dest_memo *memo;
	unsigned inflight;
	bool running;			/* inside job_step() */
	bool dirty;			/* answers came during it */
	bool finished;			/* rc/result are set */
	bool delivered;			/* the caller has the result */
	int nomem;
	int rc;
	struct danegate_destination *result;
	danegate_destination_fn *cb;	/* NULL: blocking */
	void *arg;
	struct event *done_ev;
};

static void
job_free(struct dest_job *job)
{
	resolver_detach(job->r, &job->owner);
	while (job->memo != NULL) {
		struct dest_memo *m = job->memo;

		job->memo = m->next;
		lookup_answer_clear(&m->ans);
		free(m);
	}
	danegate_destination_free(job->result);
	if (job->done_ev != NULL)
		event_free(job->done_ev);
	free(job);
}

/* danegate_resolver_free() with this job in flight: no callback. */
static void
job_cancel(struct resolver_owner *o)
{
	job_free((struct dest_job *)(void *)o);
}

static const struct lookup_answer *
job_get(void *arg, const char *name, uint16_t type)
{
	struct dest_job *job = arg;
	struct dest_memo *m;

	for (m = job->memo; m != NULL; m = m->next)
		if (m->type == type && strcasecmp(m->name, name) == 0)
			return m->state == MEMO_DONE ? &m->ans : NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		job->nomem = DANEGATE_E_NOMEM;
		return NULL;
	}
	m->job = job;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->type = type;
	m->state = MEMO_NEW;
	m->next = job->memo;
	job->memo = m;
	return NULL;
}

static void
job_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct dest_job *job = arg;
	struct danegate_destination *d = job->result;
	danegate_destination_fn *cb = job->cb;
	void *cb_arg = job->arg;
	int rc = job->rc;

	(void)fd;
	(void)what;
	job->result = NULL;
	job->delivered = true;
	/* Freed before the callback, which may free the resolver; lookups
	 * still in flight (only after an error) keep it until they end. */
	if (job->inflight == 0)
		job_free(job);
	cb(cb_arg, rc, rc == 0 ? d : NULL);
	if (rc != 0)
		danegate_destination_free(d);
}

static void
job_finish(struct dest_job *job, int rc, struct danegate_destination *d)
{
	struct timeval now = { 0, 0 };

	job->finished = true;
	job->rc = rc;
	job->result = d;
	/* Async: the caller hears from the event loop, never from inside
	 * a libunbound callback (where it could not free the resolver). */
	if (job->cb != NULL)
		evtimer_add(job->done_ev, &now);
}

static void job_on_answer(void *arg, struct lookup_answer *ans);

/* Runs dest_evaluate() until it is done or waits for answers. */
static void
job_step(struct dest_job *job)
{
	struct danegate_destination *d;
	int rc;

	if (job->running) {
		job->dirty = true;
		return;
	}
	job->running = true;
	do {
		job->dirty = false;
		rc = dest_evaluate(job->domain, job->port, job->host_only,
		    job_get, job, &d);
		if (rc == DEST_PENDING && job->nomem != 0)
			rc = job->nomem;
		if (rc != DEST_PENDING) {
			job_finish(job, rc, d);
			break;
		}
		for (struct dest_memo *m = job->memo; m != NULL; m = m->next) {
			if (m->state != MEMO_NEW)
				continue;
			m->state = MEMO_INFLIGHT;
			job->inflight++;
			/* may answer at once: job_on_answer() sets dirty */
			if ((rc = resolver_lookup_async(job->r, m->name,
			    m->type, job_on_answer, m)) != 0) {
				m->state = MEMO_NEW;
				job->inflight--;
				job_finish(job, rc, NULL);
				job->running = false;
				return;
			}
		}
		if (!job->dirty && job->inflight == 0) {
			/* pending, yet nothing asked for: cannot happen */
			job_finish(job, DANEGATE_E_INVALID, NULL);
			break;
		}
	} while (job->dirty);
	job->running = false;
}

static void
job_on_answer(void *arg, struct lookup_answer *ans)
{
	struct dest_memo *m = arg;
	struct dest_job *job = m->job;

	m->ans = *ans;			/* moved */
	m->state = MEMO_DONE;
	job->inflight--;
	/* the caller is gone (an error ended the job early): the last
	 * answer frees it */
	if (job->delivered) {
		if (job->inflight == 0)
			job_free(job);
		return;
	}
	if (!job->finished)
		job_step(job);
}

static int
job_new(struct danegate_resolver *r, const char *domain, uint16_t port,
    bool host_only, danegate_destination_fn *cb, void *arg,
    struct dest_job **out)
{
	struct dest_job *job;
	int rc;

	if (r == NULL || port == 0)
		return DANEGATE_E_INVALID;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return DANEGATE_E_NOMEM;
	if ((rc = dest_name_normalize(domain, job->domain,
	    sizeof(job->domain))) != 0) {
		free(job);
		return rc;
	}
	job->r = r;
	job->port = port;
	job->host_only = host_only;
	job->cb = cb;
	job->arg = arg;
	job->owner.cancel = job_cancel;
	if (cb != NULL && (job->done_ev = evtimer_new(resolver_base(r),
	    job_on_done, job)) == NULL) {
		free(job);
		return DANEGATE_E_NOMEM;
	}
	resolver_attach(r, &job->owner);
	*out = job;
	return 0;
}

static int
dest_lookup_blocking(struct danegate_resolver *r, const char *name,
    uint16_t port, bool host_only, struct danegate_destination **out)
{
	struct dest_job *job;
	int rc;

	if (out == NULL)
		return DANEGATE_E_INVALID;
	*out = NULL;
	if (r == NULL || resolver_is_async(r))
		return DANEGATE_E_INVALID;
	if ((rc = job_new(r, name, port, host_only, NULL, NULL, &job)) != 0)
		return rc;
	job_step(job);
	if ((rc = resolver_run(r, &job->finished)) == 0) {
		rc = job->rc;
		if (rc == 0) {
			*out = job->result;
			job->result = NULL;
		}
	}
	job->delivered = true;
	if (job->inflight == 0)
		job_free(job);
	return rc;
}

DANEGATE_EXPORT int
danegate_destination_lookup(struct danegate_resolver *r, const char *domain,
    uint16_t port, struct danegate_destination **out)
{
	return dest_lookup_blocking(r, domain, port, false, out);
}

DANEGATE_EXPORT int
danegate_host_lookup(struct danegate_resolver *r, const char *host,
    uint16_t port, struct danegate_destination **out)
{
	return dest_lookup_blocking(r, host, port, true, out);
}

DANEGATE_EXPORT int
danegate_destination_lookup_async(struct danegate_resolver *r,
    const char *domain, uint16_t port, danegate_destination_fn *cb,
    void *arg)
{
	struct dest_job *job;
	int rc;

	if (r == NULL || cb == NULL || !resolver_is_async(r))
		return DANEGATE_E_INVALID;
	if ((rc = job_new(r, domain, port, false, cb, arg, &job)) != 0)
		return rc;
	job_step(job);
	return 0;
}
