/*
 * test_dest.c - the RFC 7672 destination logic (plugin/dest.c) over
 * recorded lookup results, and the turning of libunbound's answer packets
 * into lookup results (plugin/resolver.c).
 *
 * A test records answers in a table (name, type -> struct lookup_answer)
 * and runs dest_evaluate() over it. A name the table does not have is
 * "not answered yet": dest_evaluate() must then say DEST_PENDING, and the
 * table remembers what was asked, so the tests also check the order of the
 * lookups (no TLSA lookup before the addresses, the original name only
 * after the expanded one, nothing after a failed MX).
 *
 * The world's names are used (secure.example, insecure.example, ...) but
 * no DNS is involved.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danegate.h"
#include "dest.h"
#include "dname.h"

/* ---- the recorded world ------------------------------------------------ */

#define REC_MAX 96

struct rec {
	struct lookup_answer a;
	bool asked;
};

static struct rec recs[REC_MAX];
static size_t n_recs;

/* what dest_evaluate() asked for and did not get */
static char missing[REC_MAX][DANEGATE_NAME_MAX + 8];
static size_t n_missing;

static void
world_reset(void)
{
	for (size_t i = 0; i < n_recs; i++)
		lookup_answer_clear(&recs[i].a);
	memset(recs, 0, sizeof(recs));
	n_recs = 0;
	n_missing = 0;
}

static const struct lookup_answer *
world_get(void *arg, const char *name, uint16_t type)
{
	(void)arg;
	for (size_t i = 0; i < n_recs; i++)
		if (recs[i].a.type == type &&
		    strcasecmp(recs[i].a.name, name) == 0) {
			recs[i].asked = true;
			return &recs[i].a;
		}
	ck_assert_uint_lt(n_missing, REC_MAX);
	snprintf(missing[n_missing++], sizeof(missing[0]), "%s/%u", name,
	    type);
	return NULL;
}

static bool
was_missing(const char *name, uint16_t type)
{
	char key[DANEGATE_NAME_MAX + 8];

	snprintf(key, sizeof(key), "%s/%u", name, type);
	for (size_t i = 0; i < n_missing; i++)
		if (strcasecmp(missing[i], key) == 0)
			return true;
	return false;
}

static bool
was_asked(const char *name, uint16_t type)
{
	for (size_t i = 0; i < n_recs; i++)
		if (recs[i].a.type == type &&
		    strcasecmp(recs[i].a.name, name) == 0)
			return recs[i].asked;
	return was_missing(name, type);
}

static struct lookup_answer *
ans(const char *name, uint16_t type, enum danegate_dnssec state)
{
	struct lookup_answer *a;

	ck_assert_uint_lt(n_recs, REC_MAX);
	a = &recs[n_recs++].a;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->type = type;
	a->state = state;
	a->rcode = DNS_RCODE_NOERROR;
	a->nodata = true;
	return a;
}

static void
ans_rr(struct lookup_answer *a, const uint8_t *data, size_t len)
{
	a->rrs = realloc(a->rrs, (a->n_rrs + 1) * sizeof(*a->rrs));
	ck_assert_ptr_nonnull(a->rrs);
	a->rrs[a->n_rrs].data = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(a->rrs[a->n_rrs].data);
	memcpy(a->rrs[a->n_rrs].data, data, len);
	a->rrs[a->n_rrs].len = (uint16_t)len;
	a->n_rrs++;
	a->nodata = false;
}

/* "mx.secure.example" -> wire; "." -> the root */
static size_t
name_wire(const char *text, uint8_t *out)
{
	size_t n = 0;

	if (strcmp(text, ".") != 0) {
		const char *p = text;

		while (*p != '\0') {
			size_t l = strcspn(p, ".");

			out[n++] = (uint8_t)l;
			memcpy(out + n, p, l);
			n += l;
			p += l;
			if (*p == '.')
				p++;
		}
	}
	out[n++] = 0;
	return n;
}

static void
ans_mx(struct lookup_answer *a, uint16_t pref, const char *host)
{
	uint8_t rd[2 + 256];
	size_t n;

	rd[0] = (uint8_t)(pref >> 8);
	rd[1] = (uint8_t)pref;
	n = name_wire(host, rd + 2);
	ans_rr(a, rd, 2 + n);
}

static void
ans_addr(struct lookup_answer *a, const char *text)
{
	uint8_t buf[16];

	if (a->type == DNS_TYPE_A) {
		ck_assert_int_eq(inet_pton(AF_INET, text, buf), 1);
		ans_rr(a, buf, 4);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, buf), 1);
		ans_rr(a, buf, 16);
	}
}

static void
ans_tlsa(struct lookup_answer *a, uint8_t u, uint8_t s, uint8_t m,
    size_t len)
{
	uint8_t rd[3 + 64];

	ck_assert_uint_le(len, 64);
	rd[0] = u;
	rd[1] = s;
	rd[2] = m;
	for (size_t i = 0; i < len; i++)
		rd[3 + i] = (uint8_t)(0xa0 + i);
	ans_rr(a, rd, 3 + len);
}

static struct lookup_answer *
ans_nx(const char *name, uint16_t type, enum danegate_dnssec state)
{
	struct lookup_answer *a = ans(name, type, state);

	a->rcode = DNS_RCODE_NXDOMAIN;
	a->nxdomain = true;
	a->nodata = false;
	return a;
}

static struct lookup_answer *
ans_fail(const char *name, uint16_t type, enum danegate_dnssec state,
    const char *why)
{
	struct lookup_answer *a = ans(name, type, state);

	a->rcode = state == DANEGATE_BOGUS ? DNS_RCODE_NOERROR :
	    DNS_RCODE_SERVFAIL;
	a->nodata = false;
	snprintf(a->why, sizeof(a->why), "%s", why);
	return a;
}

/* A host with secure A and AAAA (AAAA: secure NODATA if v6 is NULL). */
static void
host_secure(const char *name, const char *v4, const char *v6)
{
	struct lookup_answer *a;

	a = ans(name, DNS_TYPE_A, DANEGATE_SECURE);
	if (v4 != NULL)
		ans_addr(a, v4);
	a = ans(name, DNS_TYPE_AAAA, DANEGATE_SECURE);
	if (v6 != NULL)
		ans_addr(a, v6);
}

static void
host_insecure(const char *name, const char *v4)
{
	ans_addr(ans(name, DNS_TYPE_A, DANEGATE_INSECURE), v4);
	(void)ans(name, DNS_TYPE_AAAA, DANEGATE_INSECURE);
}

/* _25._tcp.<host> with one usable 3 1 1 record */
static void
tlsa_usable(const char *host)
{
	char q[DANEGATE_NAME_MAX];

	snprintf(q, sizeof(q), "_25._tcp.%s", host);
	ans_tlsa(ans(q, DNS_TYPE_TLSA, DANEGATE_SECURE), 3, 1, 1, 32);
}

static char *
tname(const char *host)
{
	static char q[4][DANEGATE_NAME_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(q[k], sizeof(q[k]), "_25._tcp.%s", host);
	return q[k];
}

static struct danegate_destination *
evaluate(const char *domain)
{
	struct danegate_destination *d = NULL;

	n_missing = 0;
	ck_assert_int_eq(dest_evaluate(domain, 25, false, world_get, NULL,
	    &d), 0);
	ck_assert_ptr_nonnull(d);
	return d;
}

static void
expect_pending(const char *domain, bool host_only)
{
	struct danegate_destination *d = (void *)1;

	n_missing = 0;
	ck_assert_int_eq(dest_evaluate(domain, 25, host_only, world_get,
	    NULL, &d), DEST_PENDING);
	ck_assert_ptr_null(d);
}

static void
teardown(void)
{
	world_reset();
}

/* ---- invalid input ----------------------------------------------------- */

START_TEST(invalid_arguments)
{
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "with space", "tab\there",
		"ctl\001x", "high\377",
	};
	struct danegate_destination *d = (void *)1;
	char longname[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(dest_evaluate(bad[i], 25, false, world_get,
		    NULL, &d), DANEGATE_E_INVALID);
		ck_assert_ptr_null(d);
	}
	ck_assert_int_eq(dest_evaluate(NULL, 25, false, world_get, NULL, &d),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(dest_evaluate("secure.example", 0, false, world_get,
	    NULL, &d), DANEGATE_E_INVALID);
	memset(longname, 'a', sizeof(longname));
	for (size_t i = 60; i < sizeof(longname); i += 61)
		longname[i] = '.';
	longname[254] = '\0';		/* 254 characters: one too many */
	ck_assert_int_eq(dest_evaluate(longname, 25, false, world_get, NULL,
	    &d), DANEGATE_E_INVALID);
	longname[253] = '.';		/* 253 + the trailing dot: fine */
	ck_assert_int_eq(dest_evaluate(longname, 25, false, world_get, NULL,
	    &d), DEST_PENDING);
	/* an escaped dot is not an empty label */
	ck_assert_int_eq(dest_evaluate("a\\..b", 25, false, world_get, NULL,
	    &d), DEST_PENDING);
	ck_assert_int_eq(n_recs, 0);
}
END_TEST

/* ---- the MX RRset ------------------------------------------------------ */

START_TEST(lookup_order)
{
	struct lookup_answer *a;
	struct danegate_destination *d;

	/* nothing known: only the MX is asked for */
	expect_pending("secure.example", false);
	ck_assert_uint_eq(n_missing, 1);
	ck_assert(was_missing("secure.example", DNS_TYPE_MX));

	a = ans("secure.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 10, "mx1.secure.example");
	ans_mx(a, 20, "mx2.secure.example");
	/* then A and AAAA of every host at once, and no TLSA yet */
	expect_pending("secure.example", false);
	ck_assert_uint_eq(n_missing, 4);
	ck_assert(was_missing("mx1.secure.example", DNS_TYPE_A));
	ck_assert(was_missing("mx1.secure.example", DNS_TYPE_AAAA));
	ck_assert(was_missing("mx2.secure.example", DNS_TYPE_A));
	ck_assert(was_missing("mx2.secure.example", DNS_TYPE_AAAA));

	host_secure("mx1.secure.example", "192.0.2.25", NULL);
	expect_pending("secure.example", false);
	ck_assert_uint_eq(n_missing, 3);
	ck_assert(was_missing(tname("mx1.secure.example"), DNS_TYPE_TLSA));

	host_insecure("mx2.secure.example", "192.0.2.26");
	tlsa_usable("mx1.secure.example");
	d = evaluate("secure.example");
	ck_assert_uint_eq(n_missing, 0);
	/* insecure addresses: no TLSA lookup */
	ck_assert(!was_asked(tname("mx2.secure.example"), DNS_TYPE_TLSA));
	ck_assert(!d->hosts[1].tlsa_looked_up);
	danegate_destination_free(d);
}
END_TEST

START_TEST(mx_bogus)
{
	struct danegate_destination *d;
	struct lookup_answer *a;

	a = ans_fail("bogus.example", DNS_TYPE_MX, DANEGATE_BOGUS,
	    "signature crypto failed");
	ans_mx(a, 10, "mx.bogus.example");	/* the data is never used */
	d = evaluate("bogus.example");
	ck_assert_int_eq(d->mx_state, DANEGATE_BOGUS);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_uint_eq(d->n_hosts, 0);
	ck_assert_str_eq(d->why,
	    "the MX lookup for bogus.example is bogus: signature crypto "
	    "failed");
	ck_assert(!was_asked("mx.bogus.example", DNS_TYPE_A));
	danegate_destination_free(d);
}
END_TEST

START_TEST(mx_indeterminate)
{
	struct danegate_destination *d;

	ans_fail("down.example", DNS_TYPE_MX, DANEGATE_INDETERMINATE,
	    "SERVFAIL");
	d = evaluate("down.example.");		/* trailing dot dropped */
	ck_assert_str_eq(d->domain, "down.example");
	ck_assert_int_eq(d->mx_state, DANEGATE_INDETERMINATE);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->why, "the MX lookup for down.example is "
	    "indeterminate: SERVFAIL");
	ck_assert_uint_eq(d->n_hosts, 0);
	danegate_destination_free(d);
}
END_TEST

START_TEST(mx_nxdomain)
{
	struct danegate_destination *d;

	ans_nx("nx.secure.example", DNS_TYPE_MX, DANEGATE_SECURE);
	d = evaluate("nx.secure.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_NO_ADDRESS);
	ck_assert_str_eq(d->why,
	    "domain nx.secure.example does not exist (secure NXDOMAIN)");
	ck_assert_uint_eq(d->n_hosts, 0);
	ck_assert(!d->implicit_mx);
	ck_assert(!was_asked("nx.secure.example", DNS_TYPE_A));
	danegate_destination_free(d);
}
END_TEST

START_TEST(null_mx)
{
	struct danegate_destination *d;

	ans_mx(ans("nomail.example", DNS_TYPE_MX, DANEGATE_SECURE), 0, ".");
	d = evaluate("nomail.example");
	ck_assert(d->null_mx);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_NO_MAIL);
	ck_assert_int_eq(d->reason, DANEGATE_R_NULL_MX);
	ck_assert_uint_eq(d->n_hosts, 0);
	ck_assert_str_eq(d->why,
	    "nomail.example does not accept mail (null MX, RFC 7505)");
	ck_assert(!was_asked("nomail.example", DNS_TYPE_A));
	danegate_destination_free(d);
	world_reset();

	/* an insecure null MX is still no mail */
	ans_mx(ans("nomail.example", DNS_TYPE_MX, DANEGATE_INSECURE), 0, ".");
	d = evaluate("nomail.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_NO_MAIL);
	ck_assert_int_eq(d->mx_state, DANEGATE_INSECURE);
	danegate_destination_free(d);
	world_reset();

	/* "." among real hosts is no host: left out */
	{
		struct lookup_answer *a = ans("mixed.example", DNS_TYPE_MX,
		    DANEGATE_SECURE);

		ans_mx(a, 0, ".");
		ans_mx(a, 10, "mx.secure.example");
	}
	host_secure("mx.secure.example", "192.0.2.25", "2001:db8::25");
	tlsa_usable("mx.secure.example");
	d = evaluate("mixed.example");
	ck_assert(!d->null_mx);
	ck_assert_uint_eq(d->n_hosts, 1);
	ck_assert_str_eq(d->hosts[0].name, "mx.secure.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(implicit_mx)
{
	struct danegate_destination *d;

	(void)ans("www.secure.example", DNS_TYPE_MX, DANEGATE_SECURE);
	host_secure("www.secure.example", "192.0.2.10", "2001:db8::10");
	tlsa_usable("www.secure.example");
	d = evaluate("www.secure.example");
	ck_assert(d->implicit_mx);
	ck_assert_uint_eq(d->n_hosts, 1);
	ck_assert_str_eq(d->hosts[0].name, "www.secure.example");
	ck_assert_uint_eq(d->hosts[0].preference, 0);
	ck_assert(!d->hosts[0].trusted_only);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->reason, DANEGATE_R_NONE);
	ck_assert_str_eq(d->why, "no MX records, the domain itself: "
	    "www.secure.example (preference 0): 1 of 1 TLSA records at "
	    "_25._tcp.www.secure.example usable: DANE");
	danegate_destination_free(d);
	world_reset();

	/* an insecure denial of MX: the name is still the caller's own, so
	 * DANE is verified, not merely trusted (as in Postfix) */
	(void)ans("plain.example", DNS_TYPE_MX, DANEGATE_INSECURE);
	host_secure("plain.example", "192.0.2.11", NULL);
	tlsa_usable("plain.example");
	d = evaluate("plain.example");
	ck_assert(d->implicit_mx);
	ck_assert_int_eq(d->mx_state, DANEGATE_INSECURE);
	ck_assert(!d->hosts[0].trusted_only);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(mx_sorted_stable_deduplicated)
{
	struct danegate_destination *d;
	struct lookup_answer *a;
	static const char *const names[] = { "b.example", "a.example",
		"c.example", "a.example" };
	static const uint16_t prefs[] = { 20, 10, 10, 30 };

	a = ans("sort.example", DNS_TYPE_MX, DANEGATE_SECURE);
	for (size_t i = 0; i < 4; i++)
		ans_mx(a, prefs[i], names[i]);
	/* a malformed record (a compression pointer) is dropped */
	{
		static const uint8_t bad[] = { 0, 5, 1, 'x', 0xc0, 0x0c };

		ans_rr(a, bad, sizeof(bad));
	}
	for (size_t i = 0; i < 3; i++)
		host_insecure(names[i], "192.0.2.1");
	d = evaluate("sort.example");
	ck_assert_uint_eq(d->n_hosts, 3);
	ck_assert_str_eq(d->hosts[0].name, "a.example");
	ck_assert_uint_eq(d->hosts[0].preference, 10);
	ck_assert_str_eq(d->hosts[1].name, "c.example");
	ck_assert_uint_eq(d->hosts[1].preference, 10);
	ck_assert_str_eq(d->hosts[2].name, "b.example");
	ck_assert_uint_eq(d->hosts[2].preference, 20);
	ck_assert_ptr_nonnull(strstr(d->why, "; 1 more MX record not used"));
	danegate_destination_free(d);
}
END_TEST

START_TEST(mx_host_limit)
{
	struct danegate_destination *d;
	struct lookup_answer *a;
	char name[32];

	a = ans("many.example", DNS_TYPE_MX, DANEGATE_SECURE);
	for (unsigned i = 0; i < DEST_MAX_HOSTS + 4; i++) {
		snprintf(name, sizeof(name), "mx%02u.many.example", i);
		ans_mx(a, (uint16_t)(100 - i), name);
	}
	for (unsigned i = 0; i < DEST_MAX_HOSTS + 4; i++) {
		snprintf(name, sizeof(name), "mx%02u.many.example", i);
		host_insecure(name, "192.0.2.1");
	}
	d = evaluate("many.example");
	ck_assert_uint_eq(d->n_hosts, DEST_MAX_HOSTS);
	/* lowest preference first: the last ones listed */
	ck_assert_str_eq(d->hosts[0].name, "mx19.many.example");
	ck_assert(!was_asked("mx00.many.example", DNS_TYPE_A));
	ck_assert_ptr_nonnull(strstr(d->why, "; 4 more MX records not used"));
	danegate_destination_free(d);
}
END_TEST

START_TEST(mx_no_usable_host)
{
	struct danegate_destination *d;
	struct lookup_answer *a;
	static const uint8_t shorty[] = { 0 };

	a = ans("junk.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_rr(a, shorty, sizeof(shorty));
	ans_mx(a, 10, ".");
	d = evaluate("junk.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_NO_ADDRESS);
	ck_assert(!d->null_mx);
	ck_assert_uint_eq(d->n_hosts, 0);
	danegate_destination_free(d);
}
END_TEST

/* ---- one host ---------------------------------------------------------- */

START_TEST(secure_dane)
{
	struct danegate_destination *d;
	const struct danegate_mx_host *h;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct lookup_answer *a;

	ans_mx(ans("secure.example", DNS_TYPE_MX, DANEGATE_SECURE), 10,
	    "mx.secure.example");
	host_secure("mx.secure.example", "192.0.2.25", "2001:db8::25");
	a = ans(tname("mx.secure.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	ans_tlsa(a, 3, 1, 1, 32);
	ans_tlsa(a, 2, 1, 1, 32);
	ans_tlsa(a, 1, 1, 1, 32);		/* PKIX-EE: unusable */
	d = evaluate("secure.example");
	ck_assert_str_eq(d->domain, "secure.example");
	ck_assert_uint_eq(d->port, 25);
	ck_assert_int_eq(d->mx_state, DANEGATE_SECURE);
	ck_assert(!d->implicit_mx);
	ck_assert_uint_eq(d->n_hosts, 1);
	h = &d->hosts[0];
	ck_assert_str_eq(h->name, "mx.secure.example");
	ck_assert_uint_eq(h->preference, 10);
	ck_assert_str_eq(h->expanded, "");
	ck_assert_int_eq(h->address_state, DANEGATE_SECURE);
	ck_assert_uint_eq(h->n_addresses, 2);
	ck_assert_str_eq(h->addresses[0].text, "192.0.2.25");
	sin = (const struct sockaddr_in *)&h->addresses[0].ss;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 25);
	ck_assert_uint_eq(h->addresses[0].len, sizeof(*sin));
	ck_assert_str_eq(h->addresses[1].text, "2001:db8::25");
	sin6 = (const struct sockaddr_in6 *)&h->addresses[1].ss;
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 25);
	ck_assert(h->tlsa_looked_up);
	ck_assert_int_eq(h->tlsa_state, DANEGATE_SECURE);
	ck_assert_str_eq(h->tlsa_base, "mx.secure.example");
	ck_assert_uint_eq(h->n_tlsa, 3);
	ck_assert_uint_eq(h->tlsa[0].usage, 3);
	ck_assert_int_eq(h->tlsa[0].usability, DANEGATE_TLSA_USABLE);
	ck_assert_int_eq(h->tlsa[2].usability, DANEGATE_TLSA_PKIX_USAGE);
	ck_assert_int_eq(h->policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(h->reason, DANEGATE_R_NONE);
	ck_assert(!h->trusted_only);
	ck_assert_str_eq(h->why, "2 of 3 TLSA records at "
	    "_25._tcp.mx.secure.example usable: DANE");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->reason, DANEGATE_R_NONE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(other_port)
{
	struct danegate_destination *d = NULL;

	host_secure("mx.secure.example", "192.0.2.25", NULL);
	ans_tlsa(ans("_587._tcp.mx.secure.example", DNS_TYPE_TLSA,
	    DANEGATE_SECURE), 3, 1, 2, 64);
	ck_assert_int_eq(dest_evaluate("mx.secure.example", 587, true,
	    world_get, NULL, &d), 0);
	ck_assert_uint_eq(ntohs(((const struct sockaddr_in *)
	    &d->hosts[0].addresses[0].ss)->sin_port), 587);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert(!was_asked(tname("mx.secure.example"), DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

START_TEST(host_only)
{
	struct danegate_destination *d = NULL;

	expect_pending("mx.secure.example", true);
	ck_assert_uint_eq(n_missing, 2);	/* A and AAAA, no MX */
	ck_assert(!was_missing("mx.secure.example", DNS_TYPE_MX));
	host_secure("mx.secure.example", "192.0.2.25", "2001:db8::25");
	tlsa_usable("mx.secure.example");
	ck_assert_int_eq(dest_evaluate("mx.secure.example", 25, true,
	    world_get, NULL, &d), 0);
	ck_assert(d->implicit_mx);
	ck_assert_int_eq(d->mx_state, DANEGATE_SECURE);
	ck_assert_uint_eq(d->n_hosts, 1);
	ck_assert(!d->hosts[0].trusted_only);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(insecure_mx_secure_host)
{
	struct danegate_destination *d;

	ans_mx(ans("insecure.example", DNS_TYPE_MX, DANEGATE_INSECURE), 10,
	    "mx.secure.example");
	host_secure("mx.secure.example", "192.0.2.25", "2001:db8::25");
	tlsa_usable("mx.secure.example");
	d = evaluate("insecure.example");
	ck_assert_int_eq(d->mx_state, DANEGATE_INSECURE);
	ck_assert(d->hosts[0].trusted_only);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NONE);
	ck_assert_str_eq(d->hosts[0].why, "1 of 1 TLSA records at "
	    "_25._tcp.mx.secure.example usable: DANE (insecure MX RRset: a "
	    "match is trusted, not verified)");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(insecure_mx_insecure_host)
{
	struct danegate_destination *d;

	ans_mx(ans("insecure.example", DNS_TYPE_MX, DANEGATE_INSECURE), 10,
	    "mx.insecure.example");
	host_insecure("mx.insecure.example", "192.0.2.31");
	d = evaluate("insecure.example");
	ck_assert(d->hosts[0].trusted_only);
	ck_assert_int_eq(d->hosts[0].address_state, DANEGATE_INSECURE);
	ck_assert(!d->hosts[0].tlsa_looked_up);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_INSECURE_ADDRESS);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "");
	ck_assert_uint_eq(d->hosts[0].n_addresses, 1);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->reason, DANEGATE_R_INSECURE_ADDRESS);
	ck_assert(!was_asked(tname("mx.insecure.example"), DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

/* helper for the per-host cases: an MX of one host */
static struct danegate_destination *
one_host(const char *host)
{
	ans_mx(ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE), 10, host);
	return evaluate("d.example");
}

START_TEST(addresses_secure_with_nodata)
{
	struct danegate_destination *d;

	host_secure("h.secure.example", "192.0.2.1", NULL);
	tlsa_usable("h.secure.example");
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].address_state, DANEGATE_SECURE);
	ck_assert_uint_eq(d->hosts[0].n_addresses, 1);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(addresses_one_family_bogus)
{
	struct danegate_destination *d;

	ans_addr(ans("h.secure.example", DNS_TYPE_A, DANEGATE_SECURE),
	    "192.0.2.1");
	ans_fail("h.secure.example", DNS_TYPE_AAAA, DANEGATE_BOGUS,
	    "signature expired");
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].address_state, DANEGATE_BOGUS);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_uint_eq(d->hosts[0].n_addresses, 0);
	ck_assert_str_eq(d->hosts[0].why, "the AAAA lookup for "
	    "h.secure.example is bogus: signature expired: host skipped");
	ck_assert(!was_asked(tname("h.secure.example"), DNS_TYPE_TLSA));
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->why, d->hosts[0].why);
	danegate_destination_free(d);
}
END_TEST

START_TEST(addresses_indeterminate)
{
	struct danegate_destination *d;

	ans_fail("h.example", DNS_TYPE_A, DANEGATE_INDETERMINATE,
	    "no answer within 5000 ms");
	host_insecure("x", "192.0.2.9");	/* unrelated */
	(void)ans("h.example", DNS_TYPE_AAAA, DANEGATE_INSECURE);
	d = one_host("h.example");
	ck_assert_int_eq(d->hosts[0].address_state, DANEGATE_INDETERMINATE);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->hosts[0].why, "the A lookup for h.example is "
	    "indeterminate: no answer within 5000 ms: host skipped");
	danegate_destination_free(d);
}
END_TEST

START_TEST(addresses_mixed_insecure)
{
	struct danegate_destination *d;

	/* one family insecure: the host is insecure, no TLSA lookup */
	ans_addr(ans("h.example", DNS_TYPE_A, DANEGATE_INSECURE),
	    "192.0.2.1");
	ans_addr(ans("h.example", DNS_TYPE_AAAA, DANEGATE_SECURE),
	    "2001:db8::1");
	d = one_host("h.example");
	ck_assert_int_eq(d->hosts[0].address_state, DANEGATE_INSECURE);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_INSECURE_ADDRESS);
	ck_assert_uint_eq(d->hosts[0].n_addresses, 2);
	ck_assert(!was_asked(tname("h.example"), DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

START_TEST(no_addresses)
{
	struct danegate_destination *d;

	host_secure("h.secure.example", NULL, NULL);
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_ADDRESS);
	ck_assert_str_eq(d->hosts[0].why,
	    "h.secure.example has no A or AAAA records");
	ck_assert(!was_asked(tname("h.secure.example"), DNS_TYPE_TLSA));
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_NO_ADDRESS);
	danegate_destination_free(d);
	world_reset();

	ans_nx("nx.secure.example", DNS_TYPE_A, DANEGATE_SECURE);
	ans_nx("nx.secure.example", DNS_TYPE_AAAA, DANEGATE_SECURE);
	d = one_host("nx.secure.example");
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_ADDRESS);
	ck_assert_str_eq(d->hosts[0].why, "nx.secure.example does not exist");
	danegate_destination_free(d);
	world_reset();

	/* insecure and empty: still no address */
	(void)ans("h.insecure.example", DNS_TYPE_A, DANEGATE_INSECURE);
	(void)ans("h.insecure.example", DNS_TYPE_AAAA, DANEGATE_INSECURE);
	d = one_host("h.insecure.example");
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_ADDRESS);
	danegate_destination_free(d);
}
END_TEST

START_TEST(tlsa_bogus_and_indeterminate)
{
	struct danegate_destination *d;

	host_secure("h.secure.example", "192.0.2.1", NULL);
	ans_fail(tname("h.secure.example"), DNS_TYPE_TLSA, DANEGATE_BOGUS,
	    "signature crypto failed");
	d = one_host("h.secure.example");
	ck_assert(d->hosts[0].tlsa_looked_up);
	ck_assert_int_eq(d->hosts[0].tlsa_state, DANEGATE_BOGUS);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->hosts[0].why, "the TLSA lookup is bogus: "
	    "signature crypto failed (_25._tcp.h.secure.example): host "
	    "skipped");
	ck_assert_uint_eq(d->hosts[0].n_tlsa, 0);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_DNSSEC_INVALID);
	danegate_destination_free(d);
	world_reset();

	host_secure("h.secure.example", "192.0.2.1", NULL);
	ans_fail(tname("h.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_INDETERMINATE, "SERVFAIL");
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].tlsa_state, DANEGATE_INDETERMINATE);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	danegate_destination_free(d);
}
END_TEST

START_TEST(tlsa_unusable)
{
	struct danegate_destination *d;
	struct lookup_answer *a;
	static const uint8_t tooshort[] = { 3, 1 };

	host_secure("h.secure.example", "192.0.2.1", NULL);
	a = ans(tname("h.secure.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	ans_tlsa(a, 0, 0, 1, 32);		/* PKIX-TA */
	ans_tlsa(a, 3, 1, 1, 20);		/* SHA2-256 of 20 bytes */
	ans_tlsa(a, 3, 2, 1, 32);		/* unknown selector */
	ans_tlsa(a, 4, 1, 1, 32);		/* unknown usage */
	ans_rr(a, tooshort, sizeof(tooshort));	/* does not parse: dropped */
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_ENCRYPT);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_TLSA_UNUSABLE);
	ck_assert_uint_eq(d->hosts[0].n_tlsa, 4);
	ck_assert_int_eq(d->hosts[0].tlsa[1].usability,
	    DANEGATE_TLSA_BAD_LENGTH);
	ck_assert_str_eq(d->hosts[0].why, "5 TLSA records at "
	    "_25._tcp.h.secure.example, none usable: TLS required, not "
	    "authenticated");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_ENCRYPT);
	ck_assert_int_eq(d->reason, DANEGATE_R_TLSA_UNUSABLE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(tlsa_absent)
{
	struct danegate_destination *d;

	host_secure("h.secure.example", "192.0.2.1", NULL);
	ans_nx(tname("h.secure.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_TLSA);
	ck_assert_int_eq(d->hosts[0].tlsa_state, DANEGATE_SECURE);
	ck_assert_str_eq(d->hosts[0].why, "no TLSA records at "
	    "_25._tcp.h.secure.example (secure NXDOMAIN): opportunistic TLS");
	ck_assert_int_eq(d->reason, DANEGATE_R_NO_TLSA);
	danegate_destination_free(d);
	world_reset();

	host_secure("h.secure.example", "192.0.2.1", NULL);
	(void)ans(tname("h.secure.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_TLSA);
	ck_assert_ptr_nonnull(strstr(d->hosts[0].why, "secure NODATA"));
	danegate_destination_free(d);
}
END_TEST

START_TEST(tlsa_insecure)
{
	struct danegate_destination *d;

	host_secure("h.secure.example", "192.0.2.1", NULL);
	ans_tlsa(ans(tname("h.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_INSECURE), 3, 1, 1, 32);
	d = one_host("h.secure.example");
	ck_assert_int_eq(d->hosts[0].tlsa_state, DANEGATE_INSECURE);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_INSECURE_TLSA);
	ck_assert_uint_eq(d->hosts[0].n_tlsa, 0);
	danegate_destination_free(d);
}
END_TEST

/* ---- CNAMEs ------------------------------------------------------------ */

static void
cname_host(const char *name, const char *target)
{
	struct lookup_answer *a;

	a = ans(name, DNS_TYPE_A, DANEGATE_SECURE);
	ans_addr(a, "192.0.2.10");
	snprintf(a->canonname, sizeof(a->canonname), "%s", target);
	a = ans(name, DNS_TYPE_AAAA, DANEGATE_SECURE);
	ans_addr(a, "2001:db8::10");
	snprintf(a->canonname, sizeof(a->canonname), "%s", target);
}

START_TEST(cname_expanded_first)
{
	struct danegate_destination *d;

	cname_host("chain.secure.example", "www.secure.example");
	tlsa_usable("www.secure.example");
	tlsa_usable("chain.secure.example");
	d = one_host("chain.secure.example");
	ck_assert_str_eq(d->hosts[0].expanded, "www.secure.example");
	ck_assert_str_eq(d->hosts[0].tlsa_base, "www.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	/* found at the expanded name: the original is not looked at */
	ck_assert(!was_asked(tname("chain.secure.example"), DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_then_original)
{
	struct danegate_destination *d;

	cname_host("chain.secure.example", "www.secure.example");
	(void)ans(tname("www.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_SECURE);
	/* the original is asked for only once the expanded one is known to
	 * be empty */
	ans_mx(ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE), 10,
	    "chain.secure.example");
	expect_pending("d.example", false);
	ck_assert_uint_eq(n_missing, 1);
	ck_assert(was_missing(tname("chain.secure.example"), DNS_TYPE_TLSA));

	tlsa_usable("chain.secure.example");
	d = evaluate("d.example");
	ck_assert_str_eq(d->hosts[0].expanded, "www.secure.example");
	ck_assert_str_eq(d->hosts[0].tlsa_base, "chain.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_str_eq(d->hosts[0].why, "1 of 1 TLSA records at "
	    "_25._tcp.chain.secure.example usable: DANE");
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_neither)
{
	struct danegate_destination *d;

	cname_host("chain.secure.example", "www.secure.example");
	ans_nx(tname("www.secure.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	(void)ans(tname("chain.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_SECURE);
	d = one_host("chain.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_TLSA);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "chain.secure.example");
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_expanded_failed)
{
	struct danegate_destination *d;

	cname_host("chain.secure.example", "www.secure.example");
	ans_fail(tname("www.secure.example"), DNS_TYPE_TLSA, DANEGATE_BOGUS,
	    "signature crypto failed");
	tlsa_usable("chain.secure.example");
	d = one_host("chain.secure.example");
	/* a failure is not "nothing there": no fallback, defer */
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "www.secure.example");
	ck_assert(!was_asked(tname("chain.secure.example"), DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_expanded_insecure)
{
	struct danegate_destination *d;

	/* an insecure answer at the expanded name is nothing usable: the
	 * original name is tried (Postfix) */
	cname_host("chain.secure.example", "www.secure.example");
	ans_tlsa(ans(tname("www.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_INSECURE), 3, 1, 1, 32);
	tlsa_usable("chain.secure.example");
	d = one_host("chain.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "chain.secure.example");
	danegate_destination_free(d);
}
END_TEST

/*
 * A host whose CNAME chain leaves signed space: A and AAAA insecure, the
 * chain ending at target. The CNAME query for the original name comes
 * back as the packet reader reports it: the link as canonname, no record.
 */
static void
cname_host_insecure(const char *name, const char *target)
{
	struct lookup_answer *a;

	a = ans(name, DNS_TYPE_A, DANEGATE_INSECURE);
	ans_addr(a, "192.0.2.30");
	snprintf(a->canonname, sizeof(a->canonname), "%s", target);
	a = ans(name, DNS_TYPE_AAAA, DANEGATE_INSECURE);
	snprintf(a->canonname, sizeof(a->canonname), "%s", target);
}

static struct lookup_answer *
cname_link(const char *name, const char *target, enum danegate_dnssec state)
{
	struct lookup_answer *a = ans(name, DNS_TYPE_CNAME, state);

	snprintf(a->canonname, sizeof(a->canonname), "%s", target);
	return a;
}

START_TEST(cname_insecure_target)
{
	struct danegate_destination *d;

	/* the CNAME itself is unsigned: insecure, no TLSA at all */
	cname_host_insecure("alias.insecure.example", "www.insecure.example");
	cname_link("alias.insecure.example", "www.insecure.example",
	    DANEGATE_INSECURE);
	tlsa_usable("alias.insecure.example");
	d = one_host("alias.insecure.example");
	ck_assert_str_eq(d->hosts[0].expanded, "www.insecure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_INSECURE_ADDRESS);
	ck_assert(was_asked("alias.insecure.example", DNS_TYPE_CNAME));
	ck_assert(!was_asked(tname("alias.insecure.example"), DNS_TYPE_TLSA));
	ck_assert(!was_asked(tname("www.insecure.example"), DNS_TYPE_TLSA));
	ck_assert(!d->hosts[0].tlsa_looked_up);
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_secure_into_unsigned)
{
	struct danegate_destination *d;

	/* issue 6 §1: mx.cname-unsigned.example is a secure CNAME to a host
	 * in an unsigned zone, a secure TLSA RRset at the alias: Postfix
	 * verifies with it */
	cname_host_insecure("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example");
	ans_mx(ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE), 10,
	    "mx.cname-unsigned.example");
	/* the CNAME query only once the addresses are known insecure */
	expect_pending("d.example", false);
	ck_assert_uint_eq(n_missing, 1);
	ck_assert(was_missing("mx.cname-unsigned.example", DNS_TYPE_CNAME));
	cname_link("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example", DANEGATE_SECURE);
	/* then the alias's TLSA, never the target's */
	expect_pending("d.example", false);
	ck_assert_uint_eq(n_missing, 1);
	ck_assert(was_missing(tname("mx.cname-unsigned.example"),
	    DNS_TYPE_TLSA));
	tlsa_usable("mx.cname-unsigned.example");
	ans_tlsa(ans(tname("host.cname-insecure-target.example"),
	    DNS_TYPE_TLSA, DANEGATE_INSECURE), 3, 1, 1, 32);

	d = evaluate("d.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->hosts[0].address_state, DANEGATE_INSECURE);
	ck_assert_str_eq(d->hosts[0].expanded,
	    "host.cname-insecure-target.example");
	ck_assert_str_eq(d->hosts[0].tlsa_base, "mx.cname-unsigned.example");
	ck_assert(d->hosts[0].tlsa_looked_up);
	ck_assert_int_eq(d->hosts[0].tlsa_state, DANEGATE_SECURE);
	ck_assert_uint_eq(d->hosts[0].n_tlsa, 1);
	ck_assert(!d->hosts[0].trusted_only);
	ck_assert(!was_asked(tname("host.cname-insecure-target.example"),
	    DNS_TYPE_TLSA));
	ck_assert_str_eq(d->hosts[0].why, "1 of 1 TLSA records at "
	    "_25._tcp.mx.cname-unsigned.example usable: DANE "
	    "(mx.cname-unsigned.example is a secure CNAME; the addresses of "
	    "host.cname-insecure-target.example are not signed)");
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_secure_into_unsigned_record_form)
{
	struct danegate_destination *d;
	struct lookup_answer *c;
	uint8_t rd[256];
	size_t n;

	/* a CNAME answer that carries the link as a record counts too */
	cname_host_insecure("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example");
	c = ans("mx.cname-unsigned.example", DNS_TYPE_CNAME, DANEGATE_SECURE);
	n = name_wire("host.cname-insecure-target.example", rd);
	ans_rr(c, rd, n);
	tlsa_usable("mx.cname-unsigned.example");
	d = one_host("mx.cname-unsigned.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "mx.cname-unsigned.example");
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_secure_into_unsigned_host_only)
{
	struct danegate_destination *d = NULL;

	cname_host_insecure("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example");
	cname_link("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example", DANEGATE_SECURE);
	tlsa_usable("mx.cname-unsigned.example");
	ck_assert_int_eq(dest_evaluate("mx.cname-unsigned.example", 25, true,
	    world_get, NULL, &d), 0);
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "mx.cname-unsigned.example");
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_secure_into_unsigned_alias_tlsa)
{
	struct danegate_destination *d;

	/* what is at the alias decides, as for any TLSA base */
	cname_host_insecure("a.secure.example", "www.insecure.example");
	cname_link("a.secure.example", "www.insecure.example",
	    DANEGATE_SECURE);
	ans_nx(tname("a.secure.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	d = one_host("a.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_NO_TLSA);
	ck_assert_str_eq(d->hosts[0].tlsa_base, "a.secure.example");
	danegate_destination_free(d);
	world_reset();

	cname_host_insecure("a.secure.example", "www.insecure.example");
	cname_link("a.secure.example", "www.insecure.example",
	    DANEGATE_SECURE);
	ans_fail(tname("a.secure.example"), DNS_TYPE_TLSA, DANEGATE_BOGUS,
	    "signature crypto failed");
	d = one_host("a.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	danegate_destination_free(d);
	world_reset();

	cname_host_insecure("a.secure.example", "www.insecure.example");
	cname_link("a.secure.example", "www.insecure.example",
	    DANEGATE_SECURE);
	ans_tlsa(ans(tname("a.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_SECURE), 0, 0, 1, 32);
	d = one_host("a.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_ENCRYPT);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_TLSA_UNUSABLE);
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_link_failed)
{
	struct danegate_destination *d;

	/* Postfix: "DNSSEC status lookup error", TLSA lookup error: defer */
	cname_host_insecure("a.secure.example", "www.insecure.example");
	ans_fail("a.secure.example", DNS_TYPE_CNAME, DANEGATE_BOGUS,
	    "signature crypto failed");
	tlsa_usable("a.secure.example");
	d = one_host("a.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert(!was_asked(tname("a.secure.example"), DNS_TYPE_TLSA));
	ck_assert_str_eq(d->hosts[0].why, "the CNAME lookup for "
	    "a.secure.example is bogus: signature crypto failed: host "
	    "skipped");
	danegate_destination_free(d);
	world_reset();

	/* no CNAME any more: not known to be secure either: defer */
	cname_host_insecure("a.secure.example", "www.insecure.example");
	(void)ans("a.secure.example", DNS_TYPE_CNAME, DANEGATE_SECURE);
	tlsa_usable("a.secure.example");
	d = one_host("a.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert(!was_asked(tname("a.secure.example"), DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_chain_secure)
{
	struct danegate_destination *d;

	/* mx -> hop -> chain, all signed: the end of the chain first; the
	 * hop is no TLSA base */
	cname_host("mx.cname-chain.example",
	    "chain.cname-secure-target.example");
	tlsa_usable("chain.cname-secure-target.example");
	tlsa_usable("hop.cname-secure-target.example");
	d = one_host("mx.cname-chain.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_str_eq(d->hosts[0].tlsa_base,
	    "chain.cname-secure-target.example");
	ck_assert(!was_asked(tname("hop.cname-secure-target.example"),
	    DNS_TYPE_TLSA));
	ck_assert(!was_asked("mx.cname-chain.example", DNS_TYPE_CNAME));
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_chain_leaves_signed_space)
{
	struct danegate_destination *d;

	/* mx (signed) -> hop (unsigned) -> leave (signed): the addresses
	 * are insecure, the first link secure: the alias's TLSA, never the
	 * (secure) TLSA at the end of the chain */
	cname_host_insecure("mx.cname-chain-unsigned.example",
	    "leave.cname-secure-target.example");
	cname_link("mx.cname-chain-unsigned.example",
	    "hop.cname-insecure-target.example", DANEGATE_SECURE);
	tlsa_usable("leave.cname-secure-target.example");
	tlsa_usable("mx.cname-chain-unsigned.example");
	d = one_host("mx.cname-chain-unsigned.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert_str_eq(d->hosts[0].tlsa_base,
	    "mx.cname-chain-unsigned.example");
	ck_assert(!was_asked(tname("leave.cname-secure-target.example"),
	    DNS_TYPE_TLSA));
	ck_assert(!was_asked(tname("hop.cname-insecure-target.example"),
	    DNS_TYPE_TLSA));
	danegate_destination_free(d);
}
END_TEST

START_TEST(cname_insecure_mx_secure_alias)
{
	struct danegate_destination *d;

	/* an insecure MX RRset naming such a host: a match only trusts */
	cname_host_insecure("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example");
	cname_link("mx.cname-unsigned.example",
	    "host.cname-insecure-target.example", DANEGATE_SECURE);
	tlsa_usable("mx.cname-unsigned.example");
	ans_mx(ans("insecure.example", DNS_TYPE_MX, DANEGATE_INSECURE), 10,
	    "mx.cname-unsigned.example");
	d = evaluate("insecure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DANE);
	ck_assert(d->hosts[0].trusted_only);
	danegate_destination_free(d);
}
END_TEST

/* ---- several hosts ----------------------------------------------------- */

START_TEST(all_hosts_defer)
{
	struct danegate_destination *d;
	struct lookup_answer *a;

	a = ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 10, "mx1.example");
	ans_mx(a, 20, "mx2.example");
	host_secure("mx1.example", NULL, NULL);		/* no address */
	ans_fail("mx2.example", DNS_TYPE_A, DANEGATE_BOGUS, "expired");
	(void)ans("mx2.example", DNS_TYPE_AAAA, DANEGATE_SECURE);
	d = evaluate("d.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[1].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	/* a DNSSEC failure anywhere is the reason worth reporting */
	ck_assert_int_eq(d->reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->why, "all 2 MX hosts deferred: mx1.example "
	    "(no-address), mx2.example (dnssec-invalid)");
	danegate_destination_free(d);
	world_reset();

	a = ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 10, "mx1.example");
	ans_mx(a, 20, "mx2.example");
	host_secure("mx1.example", NULL, NULL);
	host_insecure("mx2.example", "192.0.2.2");
	(void)ans("mx2.example", DNS_TYPE_AAAA, DANEGATE_SECURE);
	d = evaluate("d.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_MAY);
	danegate_destination_free(d);
	world_reset();

	a = ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 10, "mx1.example");
	ans_mx(a, 20, "mx2.example");
	host_secure("mx1.example", NULL, NULL);
	host_secure("mx2.example", NULL, NULL);
	d = evaluate("d.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->reason, DANEGATE_R_NO_ADDRESS);
	danegate_destination_free(d);
}
END_TEST

START_TEST(one_of_two_broken)
{
	struct danegate_destination *d;
	struct lookup_answer *a;

	a = ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 20, "mx2.secure.example");
	ans_mx(a, 10, "mx1.secure.example");
	host_secure("mx1.secure.example", "192.0.2.1", NULL);
	ans_fail(tname("mx1.secure.example"), DNS_TYPE_TLSA,
	    DANEGATE_INDETERMINATE, "SERVFAIL");
	host_secure("mx2.secure.example", "192.0.2.2", NULL);
	tlsa_usable("mx2.secure.example");
	d = evaluate("d.example");
	ck_assert_uint_eq(d->n_hosts, 2);
	ck_assert_str_eq(d->hosts[0].name, "mx1.secure.example");
	ck_assert_int_eq(d->hosts[0].policy, DANEGATE_POLICY_DEFER);
	ck_assert_int_eq(d->hosts[0].reason, DANEGATE_R_DNSSEC_INVALID);
	ck_assert_str_eq(d->hosts[1].name, "mx2.secure.example");
	ck_assert_int_eq(d->hosts[1].policy, DANEGATE_POLICY_DANE);
	/* the next MX is used */
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->reason, DANEGATE_R_NONE);
	ck_assert_str_eq(d->why, "mx2.secure.example (preference 20): 1 of "
	    "1 TLSA records at _25._tcp.mx2.secure.example usable: DANE");
	danegate_destination_free(d);
}
END_TEST

START_TEST(first_usable_in_mx_order)
{
	struct danegate_destination *d;
	struct lookup_answer *a;

	/* the first host that is not deferred decides, even if a later
	 * one has DANE: it is the one the relay will try first */
	a = ans("d.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 10, "mx1.example");
	ans_mx(a, 20, "mx2.secure.example");
	host_insecure("mx1.example", "192.0.2.1");
	host_secure("mx2.secure.example", "192.0.2.2", NULL);
	tlsa_usable("mx2.secure.example");
	d = evaluate("d.example");
	ck_assert_int_eq(d->hosts[1].policy, DANEGATE_POLICY_DANE);
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_MAY);
	ck_assert_int_eq(d->reason, DANEGATE_R_INSECURE_ADDRESS);
	danegate_destination_free(d);
}
END_TEST

START_TEST(free_null)
{
	danegate_destination_free(NULL);
	lookup_answer_clear(NULL);
}
END_TEST

/* ---- libunbound's answer packets --------------------------------------- */

struct pkt {
	uint8_t b[512];
	size_t n;
};

static void
pkt_bytes(struct pkt *p, const void *data, size_t len)
{
	ck_assert_uint_le(p->n + len, sizeof(p->b));
	memcpy(p->b + p->n, data, len);
	p->n += len;
}

static void
pkt_u16(struct pkt *p, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	pkt_bytes(p, b, 2);
}

static void
pkt_name(struct pkt *p, const char *text)
{
	uint8_t w[256];

	pkt_bytes(p, w, name_wire(text, w));
}

/* header + question */
static void
pkt_start(struct pkt *p, uint8_t rcode, uint16_t ancount, const char *qname,
    uint16_t qtype)
{
	static const uint8_t hdr[4] = { 0x12, 0x34, 0x81, 0x80 };

	p->n = 0;
	pkt_bytes(p, hdr, sizeof(hdr));
	p->b[3] |= rcode;
	pkt_u16(p, 1);
	pkt_u16(p, ancount);
	pkt_u16(p, 0);
	pkt_u16(p, 0);
	pkt_name(p, qname);		/* at offset 12 */
	pkt_u16(p, qtype);
	pkt_u16(p, 1);
}

/* type, class IN, TTL, rdlength: after the owner */
static void
pkt_rr_head(struct pkt *p, uint16_t type, uint16_t rdlen)
{
	static const uint8_t ttl[4] = { 0, 0, 0x0e, 0x10 };

	pkt_u16(p, type);
	pkt_u16(p, 1);
	pkt_bytes(p, ttl, 4);
	pkt_u16(p, rdlen);
}

START_TEST(packet_cname_chain_compressed)
{
	/* chain.secure.example A: CNAME hop.nsec3.internal (compressed
	 * owner), CNAME www.secure.example (pointer into the question),
	 * A 192.0.2.10, an RRSIG to skip */
	static const uint8_t ptr_q[2] = { 0xc0, 12 };
	static const uint8_t addr[4] = { 192, 0, 2, 10 };
	struct lookup_answer a;
	struct pkt p;
	size_t hop_at;
	uint8_t ptr_hop[2], www_suffix[2] = { 0xc0, 12 + 6 };

	pkt_start(&p, 0, 4, "chain.secure.example", DNS_TYPE_A);
	pkt_bytes(&p, ptr_q, 2);
	pkt_rr_head(&p, DNS_TYPE_CNAME, 20);
	hop_at = p.n;
	pkt_name(&p, "hop.nsec3.internal");
	ptr_hop[0] = (uint8_t)(0xc0 | hop_at >> 8);
	ptr_hop[1] = (uint8_t)hop_at;
	pkt_bytes(&p, ptr_hop, 2);
	pkt_rr_head(&p, DNS_TYPE_CNAME, 6);
	pkt_bytes(&p, "\003www", 4);
	pkt_bytes(&p, www_suffix, 2);		/* -> secure.example */
	pkt_name(&p, "www.secure.example");
	pkt_rr_head(&p, DNS_TYPE_A, 4);
	pkt_bytes(&p, addr, 4);
	pkt_name(&p, "www.secure.example");
	pkt_rr_head(&p, 46, 2);			/* RRSIG, junk rdata */
	pkt_u16(&p, 0);

	lookup_answer_from_packet(&a, "chain.secure.example", DNS_TYPE_A, 0,
	    p.b, p.n, 2, NULL);
	ck_assert_int_eq(a.state, DANEGATE_SECURE);
	ck_assert_str_eq(a.why, "");
	ck_assert_int_eq(a.rcode, 0);
	ck_assert(!a.nxdomain);
	ck_assert(!a.nodata);
	ck_assert_str_eq(a.name, "chain.secure.example");
	ck_assert_str_eq(a.canonname, "www.secure.example");
	ck_assert_uint_eq(a.n_rrs, 1);
	ck_assert_uint_eq(a.rrs[0].len, 4);
	ck_assert_mem_eq(a.rrs[0].data, addr, 4);
	lookup_answer_clear(&a);

	/* insecure: the same data, state insecure */
	lookup_answer_from_packet(&a, "chain.secure.example", DNS_TYPE_A, 0,
	    p.b, p.n, 0, NULL);
	ck_assert_int_eq(a.state, DANEGATE_INSECURE);
	ck_assert_uint_eq(a.n_rrs, 1);
	lookup_answer_clear(&a);

	/* bogus: reported as such, data never kept */
	lookup_answer_from_packet(&a, "chain.secure.example", DNS_TYPE_A, 0,
	    p.b, p.n, 1, "signature crypto failed");
	ck_assert_int_eq(a.state, DANEGATE_BOGUS);
	ck_assert_str_eq(a.why, "signature crypto failed");
	ck_assert_uint_eq(a.n_rrs, 0);
	lookup_answer_clear(&a);
}
END_TEST

/* A record head with a chosen TTL. */
static void
pkt_rr_head_ttl(struct pkt *p, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
	uint8_t t[4] = { (uint8_t)(ttl >> 24), (uint8_t)(ttl >> 16),
		(uint8_t)(ttl >> 8), (uint8_t)ttl };

	pkt_u16(p, type);
	pkt_u16(p, 1);
	pkt_bytes(p, t, 4);
	pkt_u16(p, rdlen);
}

/* An SOA in the authority section: TTL soa_ttl, MINIMUM minimum. */
static void
pkt_soa(struct pkt *p, uint32_t soa_ttl, uint32_t minimum)
{
	static const uint8_t ptr_q[2] = { 0xc0, 12 };

	p->b[9] = (uint8_t)(p->b[9] + 1);	/* NSCOUNT */
	pkt_bytes(p, ptr_q, 2);
	pkt_rr_head_ttl(p, DNS_TYPE_SOA, soa_ttl, 2 + 2 + 20);
	pkt_bytes(p, ptr_q, 2);			/* MNAME */
	pkt_bytes(p, ptr_q, 2);			/* RNAME */
	for (int i = 0; i < 4; i++)		/* serial .. expire */
		pkt_bytes(p, "\0\0\0\1", 4);
	pkt_bytes(p, (uint8_t[4]){ (uint8_t)(minimum >> 24),
	    (uint8_t)(minimum >> 16), (uint8_t)(minimum >> 8),
	    (uint8_t)minimum }, 4);
}

START_TEST(packet_ttl)
{
	static const uint8_t ptr_q[2] = { 0xc0, 12 };
	struct lookup_answer a;
	struct pkt p;

	/* the smallest of the CNAME chain and the records */
	pkt_start(&p, 0, 3, "a.ttl.example", DNS_TYPE_A);
	pkt_bytes(&p, ptr_q, 2);
	pkt_rr_head_ttl(&p, DNS_TYPE_CNAME, 300, 4);
	pkt_bytes(&p, "\001b", 2);
	pkt_bytes(&p, (uint8_t[2]){ 0xc0, 12 + 2 }, 2);	/* b.ttl.example */
	pkt_name(&p, "b.ttl.example");
	pkt_rr_head_ttl(&p, DNS_TYPE_A, 3600, 4);
	pkt_bytes(&p, "\001\002\003\004", 4);
	pkt_name(&p, "b.ttl.example");
	pkt_rr_head_ttl(&p, DNS_TYPE_A, 2, 4);
	pkt_bytes(&p, "\001\002\003\005", 4);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_A, 0, p.b,
	    p.n, 2, NULL);
	ck_assert_uint_eq(a.n_rrs, 2);
	ck_assert_uint_eq(a.ttl, 2);
	lookup_answer_clear(&a);

	/* the CNAME's when it is the smallest */
	p.b[p.n - 4 - 2 - 4 + 2] = 0x10;	/* second A: TTL 4098 */
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_A, 0, p.b,
	    p.n, 2, NULL);
	ck_assert_uint_eq(a.ttl, 300);
	lookup_answer_clear(&a);

	/* RFC 2181 §8: a TTL with the top bit set is 0 */
	pkt_start(&p, 0, 1, "a.ttl.example", DNS_TYPE_A);
	pkt_bytes(&p, ptr_q, 2);
	pkt_rr_head_ttl(&p, DNS_TYPE_A, 0x80000000u, 4);
	pkt_bytes(&p, "\001\002\003\004", 4);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_A, 0, p.b,
	    p.n, 2, NULL);
	ck_assert_uint_eq(a.ttl, 0);
	lookup_answer_clear(&a);

	/* denials: the SOA's TTL or MINIMUM, the smaller (RFC 2308 §5) */
	pkt_start(&p, 0, 0, "a.ttl.example", DNS_TYPE_TLSA);
	pkt_soa(&p, 3600, 3);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_TLSA, 0, p.b,
	    p.n, 2, NULL);
	ck_assert(a.nodata);
	ck_assert_uint_eq(a.ttl, 3);
	pkt_start(&p, 3, 0, "a.ttl.example", DNS_TYPE_TLSA);
	pkt_soa(&p, 60, 86400);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_TLSA, 0, p.b,
	    p.n, 2, NULL);
	ck_assert(a.nxdomain);
	ck_assert_uint_eq(a.ttl, 60);
	/* no SOA: not to be kept */
	pkt_start(&p, 0, 0, "a.ttl.example", DNS_TYPE_TLSA);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_TLSA, 0, p.b,
	    p.n, 2, NULL);
	ck_assert(a.nodata);
	ck_assert_uint_eq(a.ttl, 0);

	/* failures carry none */
	pkt_start(&p, 0, 0, "a.ttl.example", DNS_TYPE_TLSA);
	pkt_soa(&p, 3600, 3600);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_TLSA, 0, p.b,
	    p.n, 1, "bogus");
	ck_assert_uint_eq(a.ttl, 0);
	lookup_answer_from_packet(&a, "a.ttl.example", DNS_TYPE_TLSA, 2, NULL,
	    0, 0, NULL);
	ck_assert_uint_eq(a.ttl, 0);
}
END_TEST

START_TEST(destination_ttl)
{
	struct danegate_destination *d;
	struct lookup_answer *a;

	/* the smallest TTL of every answer the decision read */
	a = ans("ttl.example", DNS_TYPE_MX, DANEGATE_SECURE);
	ans_mx(a, 10, "mx1.ttl.example");
	ans_mx(a, 20, "mx2.ttl.example");
	a->ttl = 600;
	host_secure("mx1.ttl.example", "192.0.2.1", NULL);
	host_secure("mx2.ttl.example", "192.0.2.2", NULL);
	for (size_t i = 1; i < n_recs; i++)
		recs[i].a.ttl = 300;
	a = ans(tname("mx1.ttl.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	ans_tlsa(a, 3, 1, 1, 32);
	a->ttl = 120;
	a = ans(tname("mx2.ttl.example"), DNS_TYPE_TLSA, DANEGATE_SECURE);
	ans_tlsa(a, 3, 1, 1, 32);
	a->ttl = 3;			/* the second host's TLSA */
	d = evaluate("ttl.example");
	ck_assert_int_eq(d->policy, DANEGATE_POLICY_DANE);
	ck_assert_uint_eq(d->ttl, 3);
	danegate_destination_free(d);
	a->ttl = 900;
	recs[2].a.ttl = 7;		/* mx1's AAAA (a denial) */
	d = evaluate("ttl.example");
	ck_assert_uint_eq(d->ttl, 7);
	danegate_destination_free(d);
	world_reset();

	/* decided at the MX: its TTL alone */
	a = ans_nx("gone.example", DNS_TYPE_MX, DANEGATE_SECURE);
	a->ttl = 42;
	d = evaluate("gone.example");
	ck_assert_uint_eq(d->ttl, 42);
	danegate_destination_free(d);
}
END_TEST

START_TEST(packet_mx_decompressed)
{
	struct lookup_answer a;
	struct pkt p;
	uint8_t ptr_q[2] = { 0xc0, 12 };
	char text[DANEGATE_NAME_MAX];

	pkt_start(&p, 0, 2, "secure.example", DNS_TYPE_MX);
	pkt_bytes(&p, ptr_q, 2);
	pkt_rr_head(&p, DNS_TYPE_MX, 7);
	pkt_u16(&p, 10);
	pkt_bytes(&p, "\002mx", 3);
	pkt_bytes(&p, ptr_q, 2);		/* mx.secure.example */
	pkt_bytes(&p, ptr_q, 2);
	pkt_rr_head(&p, DNS_TYPE_MX, 3);
	pkt_u16(&p, 0);
	pkt_bytes(&p, "", 1);			/* "." */

	lookup_answer_from_packet(&a, "secure.example", DNS_TYPE_MX, 0, p.b,
	    p.n, 2, NULL);
	ck_assert_int_eq(a.state, DANEGATE_SECURE);
	ck_assert_str_eq(a.canonname, "");
	ck_assert_uint_eq(a.n_rrs, 2);
	ck_assert_uint_eq(a.rrs[0].len, 2 + 19);
	ck_assert_int_eq(dname_to_text(a.rrs[0].data + 2, 19, true, text,
	    sizeof(text)), 0);
	ck_assert_str_eq(text, "mx.secure.example");
	ck_assert_uint_eq(a.rrs[1].len, 3);
	lookup_answer_clear(&a);
}
END_TEST

START_TEST(packet_failures)
{
	struct lookup_answer a;
	struct pkt p;
	uint8_t loop[2];

	/* a libunbound error */
	lookup_answer_from_packet(&a, "x.example", DNS_TYPE_A, -2, NULL, 0,
	    0, NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_int_eq(a.rcode, -1);
	ck_assert_ptr_nonnull(strstr(a.why, "lookup failed: "));
	lookup_answer_clear(&a);

	/* a failed resolution on an event context: err is the rcode, not
	 * a libunbound error ("lookup failed: unknown error" before) */
	lookup_answer_from_packet(&a, "x.example", DNS_TYPE_A, 2, NULL, 0, 0,
	    NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_int_eq(a.rcode, 2);
	ck_assert_str_eq(a.why, "SERVFAIL (EDE 22 No Reachable Authority)");

	/* SERVFAIL, with and without libunbound's reason */
	pkt_start(&p, 2, 0, "www.bogus.example", DNS_TYPE_A);
	lookup_answer_from_packet(&a, "www.bogus.example", DNS_TYPE_A, 0, p.b,
	    p.n, 0, NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_int_eq(a.rcode, 2);
	ck_assert_str_eq(a.why, "SERVFAIL (EDE 22 No Reachable Authority)");
	lookup_answer_from_packet(&a, "www.bogus.example", DNS_TYPE_A, 0, p.b,
	    p.n, 0, "validation failure <x>: signature expired");
	ck_assert_str_eq(a.why, "SERVFAIL (EDE 7 Signature Expired): "
	    "validation failure <x>: signature expired");
	pkt_start(&p, 5, 0, "www.bogus.example", DNS_TYPE_A);
	lookup_answer_from_packet(&a, "www.bogus.example", DNS_TYPE_A, 0, p.b,
	    p.n, 0, NULL);
	ck_assert_str_eq(a.why, "REFUSED");
	pkt_start(&p, 9, 0, "www.bogus.example", DNS_TYPE_A);
	lookup_answer_from_packet(&a, "www.bogus.example", DNS_TYPE_A, 0, p.b,
	    p.n, 0, NULL);
	ck_assert_str_eq(a.why, "rcode 9");

	/* NXDOMAIN and NODATA */
	pkt_start(&p, 3, 0, "nx.secure.example", DNS_TYPE_A);
	lookup_answer_from_packet(&a, "nx.secure.example", DNS_TYPE_A, 0, p.b,
	    p.n, 2, NULL);
	ck_assert_int_eq(a.state, DANEGATE_SECURE);
	ck_assert(a.nxdomain);
	ck_assert(!a.nodata);
	pkt_start(&p, 0, 0, "www.nsec3.internal", DNS_TYPE_AAAA);
	lookup_answer_from_packet(&a, "www.nsec3.internal", DNS_TYPE_AAAA, 0,
	    p.b, p.n, 2, NULL);
	ck_assert(a.nodata);
	ck_assert(!a.nxdomain);

	/* short, truncated, wrong question type */
	lookup_answer_from_packet(&a, "x", DNS_TYPE_A, 0, p.b, 11, 2, NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	lookup_answer_from_packet(&a, "x", DNS_TYPE_A, 0, p.b, p.n - 1, 2,
	    NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_str_eq(a.why, "malformed answer (35 bytes)");
	lookup_answer_from_packet(&a, "x", DNS_TYPE_A, 0, p.b, p.n, 2, NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);

	/* a compression pointer to itself, and one pointing forward */
	pkt_start(&p, 0, 1, "x.example", DNS_TYPE_A);
	loop[0] = (uint8_t)(0xc0 | p.n >> 8);
	loop[1] = (uint8_t)p.n;
	pkt_bytes(&p, loop, 2);
	pkt_rr_head(&p, DNS_TYPE_A, 4);
	pkt_bytes(&p, "\001\002\003\004", 4);
	lookup_answer_from_packet(&a, "x.example", DNS_TYPE_A, 0, p.b, p.n, 2,
	    NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_uint_eq(a.n_rrs, 0);
	pkt_start(&p, 0, 1, "x.example", DNS_TYPE_A);
	loop[0] = 0xc0;
	loop[1] = (uint8_t)(p.n + 2);
	pkt_bytes(&p, loop, 2);
	lookup_answer_from_packet(&a, "x.example", DNS_TYPE_A, 0, p.b, p.n, 2,
	    NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);

	/* a record running past the end */
	pkt_start(&p, 0, 1, "x.example", DNS_TYPE_A);
	pkt_name(&p, "x.example");
	pkt_rr_head(&p, DNS_TYPE_A, 40);
	pkt_bytes(&p, "\001\002\003\004", 4);
	lookup_answer_from_packet(&a, "x.example", DNS_TYPE_A, 0, p.b, p.n, 2,
	    NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
}
END_TEST

START_TEST(packet_cname_loop)
{
	struct lookup_answer a;
	struct pkt p;

	/* a CNAME b, b CNAME a: never ends, refused */
	pkt_start(&p, 0, 2, "a.example", DNS_TYPE_A);
	pkt_name(&p, "a.example");
	pkt_rr_head(&p, DNS_TYPE_CNAME, 11);
	pkt_name(&p, "b.example");
	pkt_name(&p, "b.example");
	pkt_rr_head(&p, DNS_TYPE_CNAME, 11);
	pkt_name(&p, "a.example");
	lookup_answer_from_packet(&a, "a.example", DNS_TYPE_A, 0, p.b, p.n, 2,
	    NULL);
	ck_assert_int_eq(a.state, DANEGATE_INDETERMINATE);
	ck_assert_ptr_nonnull(strstr(a.why, "malformed"));
}
END_TEST

static Suite *
dest_suite(void)
{
	Suite *s = suite_create("dest");
	TCase *tc;

	tc = tcase_create("invalid");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, invalid_arguments);
	tcase_add_test(tc, free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("mx");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, lookup_order);
	tcase_add_test(tc, mx_bogus);
	tcase_add_test(tc, mx_indeterminate);
	tcase_add_test(tc, mx_nxdomain);
	tcase_add_test(tc, null_mx);
	tcase_add_test(tc, implicit_mx);
	tcase_add_test(tc, mx_sorted_stable_deduplicated);
	tcase_add_test(tc, mx_host_limit);
	tcase_add_test(tc, mx_no_usable_host);
	suite_add_tcase(s, tc);

	tc = tcase_create("host");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, secure_dane);
	tcase_add_test(tc, other_port);
	tcase_add_test(tc, host_only);
	tcase_add_test(tc, insecure_mx_secure_host);
	tcase_add_test(tc, insecure_mx_insecure_host);
	tcase_add_test(tc, addresses_secure_with_nodata);
	tcase_add_test(tc, addresses_one_family_bogus);
	tcase_add_test(tc, addresses_indeterminate);
	tcase_add_test(tc, addresses_mixed_insecure);
	tcase_add_test(tc, no_addresses);
	tcase_add_test(tc, tlsa_bogus_and_indeterminate);
	tcase_add_test(tc, tlsa_unusable);
	tcase_add_test(tc, tlsa_absent);
	tcase_add_test(tc, tlsa_insecure);
	suite_add_tcase(s, tc);

	tc = tcase_create("cname");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, cname_expanded_first);
	tcase_add_test(tc, cname_then_original);
	tcase_add_test(tc, cname_neither);
	tcase_add_test(tc, cname_expanded_failed);
	tcase_add_test(tc, cname_expanded_insecure);
	tcase_add_test(tc, cname_insecure_target);
	tcase_add_test(tc, cname_secure_into_unsigned);
	tcase_add_test(tc, cname_secure_into_unsigned_record_form);
	tcase_add_test(tc, cname_secure_into_unsigned_host_only);
	tcase_add_test(tc, cname_secure_into_unsigned_alias_tlsa);
	tcase_add_test(tc, cname_link_failed);
	tcase_add_test(tc, cname_chain_secure);
	tcase_add_test(tc, cname_chain_leaves_signed_space);
	tcase_add_test(tc, cname_insecure_mx_secure_alias);
	suite_add_tcase(s, tc);

	tc = tcase_create("hosts");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, all_hosts_defer);
	tcase_add_test(tc, one_of_two_broken);
	tcase_add_test(tc, first_usable_in_mx_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("packet");
	tcase_add_test(tc, packet_cname_chain_compressed);
	tcase_add_test(tc, packet_mx_decompressed);
	tcase_add_test(tc, packet_ttl);
	tcase_add_test(tc, destination_ttl);
	tcase_add_test(tc, packet_failures);
	tcase_add_test(tc, packet_cname_loop);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
